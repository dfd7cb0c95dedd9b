"""fastnn against the libraries its users would pick instead, on a ladder of
MLPs, timed in alternation: PyTorch eager, JAX ``jit`` with optax, and
scikit-learn's ``MLPClassifier`` (plain networks only), each skipped where
it is not installed.

Each rung is a network and a batch size. Per framework the figure is the
time per optimizer step (Adam, lr 1e-3), measured over an epoch of
``EPOCH`` shuffled batches as its users train (fastnn ``fit``; a Python
loop over the jitted or eager step for JAX and PyTorch; ``MLPClassifier.fit``
with ``max_iter=1``), plus fastnn's ``train_step`` and its bare compiled
step on one batch. Every round times a block of each framework (its epoch
repeated to last about ``BLOCK``), in a shuffled order with a pause after
each (``SETTLE``), so the machine's phases fall on all alike; the figure is
the median over rounds. Also per rung:

- the GEMM ceiling: the step's GEMMs (forward, dW, dX) each timed alone
  with NumPy's BLAS on all threads and with fastnn's, the faster of the two
  per GEMM, summed; the report gives the bare step's time over that sum;
- inference throughput on ``INFER_ROWS`` rows: fastnn ``predict`` against
  each peer's forward and argmax (scikit-learn's ``predict``).

float64 runs the same ladder for fastnn, PyTorch and JAX, reported without
a target. ``python -m fastnn.bench`` turns ``extra_info["peers"]`` into its
"Peers" table and ``peers.png``. With benchmarks disabled (the test run)
each framework runs one round on the two smallest rungs, as a smoke test.
"""
import time
import warnings

import numpy as np
import pytest

import fastnn
from fastnn.__main__ import best_time
from fastnn.compiled import CompiledStep

EPOCH = 16            # batches per timed epoch
INFER_ROWS = 4096
BUDGET = 8.0          # seconds of alternated rounds per rung, at least MIN_ROUNDS rounds
MIN_ROUNDS = 5
# A pause after each framework's epoch, not timed: the BLAS and OpenMP pools
# of PyTorch, JAX and scikit-learn spin for a while after a call, and would
# otherwise run on the cores of whichever framework comes next (fastnn's
# steps on [784, 256, 128, 10] took 1.15 ms after them and 0.66 ms alone)
SETTLE = 0.1
BLOCK = 0.1           # each framework's timed block repeats its epoch to last about this long

# name -> (hidden and output sizes after the 784 or 2 inputs, batch, batch norm + dropout)
RUNGS = {
    "2-20-7-5-1": ([2, 20, 7, 5, 1], 64, False),
    "784-128-64-10-bn-dropout": ([784, 128, 64, 10], 64, True),
    "784-256-128-10": ([784, 256, 128, 10], 64, False),
    "784-512-256-10": ([784, 512, 256, 10], 256, False),
    "784-1024-1024-10": ([784, 1024, 1024, 10], 512, False),
}
KEEP = 0.8


def _data(sizes, batch, dtype, rows):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, sizes[0])).astype(dtype)
    if sizes[-1] == 1:
        y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)                   # XOR-like, learnable
    else:
        y = rng.integers(0, sizes[-1], rows)
    return X, y


# --- fastnn -------------------------------------------------------------------------------

def _fastnn_model(sizes, bn, dtype):
    layers = []
    for i in range(len(sizes) - 1):
        last = i == len(sizes) - 2
        if bn and not last:
            layers += [fastnn.Dense(sizes[i], sizes[i + 1], bias=False), fastnn.BatchNorm(sizes[i + 1]),
                       fastnn.ReLU(), fastnn.Dropout(KEEP)]
        else:
            layers.append(fastnn.Dense(sizes[i], sizes[i + 1], None if last else "relu"))
    loss = "binary_cross_entropy" if sizes[-1] == 1 else "softmax_cross_entropy"
    return fastnn.Sequential(layers, loss=loss, dtype=dtype, seed=0)


def _fastnn(sizes, batch, bn, dtype, X, y):
    model = _fastnn_model(sizes, bn, dtype)
    opt = fastnn.Adam(model.parameters(), lr=1e-3)
    # targets in the model's dtype, as the peers get them (converted once, outside the loop)
    yy = y.reshape(-1, 1).astype(dtype) if sizes[-1] == 1 else y
    xb, yb = X[:batch], yy[:batch]
    bare_model = _fastnn_model(sizes, bn, dtype)
    bare = CompiledStep(bare_model, fastnn.Adam(bare_model.parameters(), lr=1e-3), batch)
    bx, by = bare_model._x(xb), bare_model._y(yb, batch)
    ts_model = _fastnn_model(sizes, bn, dtype)
    ts_opt = fastnn.Adam(ts_model.parameters(), lr=1e-3)

    def fit():
        model.fit(X, yy, optimizer=opt, epochs=1, batch_size=batch, verbose=False)

    def train_step():
        for _ in range(EPOCH):
            ts_model.train_step(xb, yb, ts_opt)

    def bare_step():
        for _ in range(EPOCH):
            bare(bx, by)

    return {"fastnn fit": fit, "fastnn train_step": train_step, "fastnn bare step": bare_step}, \
        lambda Xi: model.predict(Xi), lambda: float(model.evaluate(X[:batch], yy[:batch])["cost"])


# --- PyTorch eager --------------------------------------------------------------------------

def _torch(sizes, batch, bn, dtype, X, y):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    mods = []
    for i in range(len(sizes) - 1):
        last = i == len(sizes) - 2
        mods.append(nn.Linear(sizes[i], sizes[i + 1], bias=last or not bn))
        if not last:
            if bn:
                mods += [nn.BatchNorm1d(sizes[i + 1]), nn.ReLU(), nn.Dropout(1 - KEEP)]
            else:
                mods.append(nn.ReLU())
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    net = nn.Sequential(*mods).to(tdt)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    xt = torch.from_numpy(X)
    if sizes[-1] == 1:
        lossf, yt = nn.BCEWithLogitsLoss(), torch.from_numpy(y.astype(dtype)).reshape(-1, 1)
    else:
        lossf, yt = nn.CrossEntropyLoss(), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(0)

    def epoch():
        net.train()
        perm = torch.randperm(xt.shape[0], generator=gen)
        for s in range(0, xt.shape[0], batch):
            idx = perm[s:s + batch]
            opt.zero_grad()
            value = lossf(net(xt[idx]), yt[idx])
            value.backward()
            opt.step()

    def predict(Xi):
        net.eval()
        with torch.no_grad():
            z = net(torch.from_numpy(Xi))
        return (z[:, 0] > 0).numpy() if sizes[-1] == 1 else z.argmax(1).numpy()

    def cost():
        net.eval()
        with torch.no_grad():
            return float(lossf(net(xt[:batch]), yt[:batch]))

    return {"PyTorch eager": epoch}, predict, cost


# --- JAX jit + optax ------------------------------------------------------------------------

def _jax(sizes, batch, bn, dtype, X, y):
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    jnp = jax.numpy
    if dtype == np.float64:
        jax.config.update("jax_enable_x64", True)
    key = jax.random.PRNGKey(0)
    params = []
    for i in range(len(sizes) - 1):
        key, sub = jax.random.split(key)
        w = (jax.random.normal(sub, (sizes[i], sizes[i + 1]), dtype) * np.sqrt(2.0 / sizes[i])).astype(dtype)
        layer = {"w": w, "b": jnp.zeros(sizes[i + 1], dtype)}
        if bn and i < len(sizes) - 2:
            layer.update(gamma=jnp.ones(sizes[i + 1], dtype), beta=jnp.zeros(sizes[i + 1], dtype))
        params.append(layer)
    binary = sizes[-1] == 1

    def forward(params, x, key, training):
        for i, layer in enumerate(params):
            x = x @ layer["w"] + layer["b"]
            if i < len(params) - 1:
                if bn:
                    mean, var = x.mean(0), x.var(0)
                    x = (x - mean) / jnp.sqrt(var + 1e-5) * layer["gamma"] + layer["beta"]
                x = jax.nn.relu(x)
                if bn and training:
                    key, sub = jax.random.split(key)
                    x = jnp.where(jax.random.bernoulli(sub, KEEP, x.shape), x / KEEP, 0)
        return x

    def loss(params, x, yb, key):
        z = forward(params, x, key, True)
        if binary:
            return optax.sigmoid_binary_cross_entropy(z[:, 0], yb.astype(z.dtype)).mean()
        return optax.softmax_cross_entropy_with_integer_labels(z, yb).mean()

    tx = optax.adam(1e-3)
    state = {"params": params, "opt": tx.init(params), "key": jax.random.PRNGKey(1)}

    @jax.jit
    def step(params, opt_state, x, yb, key):
        key, sub = jax.random.split(key)
        value, grads = jax.value_and_grad(loss)(params, x, yb, sub)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, key, value

    xj, yj = jnp.asarray(X), jnp.asarray(y)
    rng = np.random.default_rng(0)

    def epoch():
        perm = rng.permutation(X.shape[0])
        p, o, k = state["params"], state["opt"], state["key"]
        for s in range(0, X.shape[0], batch):
            idx = perm[s:s + batch]
            p, o, k, value = step(p, o, xj[idx], yj[idx], k)
        value.block_until_ready()
        state.update(params=p, opt=o, key=k)

    infer = jax.jit(lambda params, x: forward(params, x, None, False))

    def predict(Xi):
        z = np.asarray(infer(state["params"], jnp.asarray(Xi)))
        return z[:, 0] > 0 if binary else z.argmax(1)

    def cost():
        return float(loss(state["params"], xj[:batch], yj[:batch], jax.random.PRNGKey(2)))

    return {"JAX jit + optax": epoch}, predict, cost


# --- scikit-learn ---------------------------------------------------------------------------

def _sklearn(sizes, batch, bn, dtype, X, y):
    neural = pytest.importorskip("sklearn.neural_network")
    if bn or dtype != np.float32:
        pytest.skip("MLPClassifier has no batch norm or dropout; float32 only here")
    from sklearn.exceptions import ConvergenceWarning
    clf = neural.MLPClassifier(hidden_layer_sizes=tuple(sizes[1:-1]), solver="adam", learning_rate_init=1e-3,
                               batch_size=batch, max_iter=1, shuffle=True, random_state=0, warm_start=True,
                               alpha=0.0, tol=0.0, n_iter_no_change=10 ** 9)

    def epoch():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)

    return {"scikit-learn MLPClassifier": epoch}, clf.predict, lambda: float(clf.loss_)


PEERS = (_fastnn, _torch, _jax, _sklearn)


def _gemm_ceiling(sizes, batch, dtype):
    """The step's GEMMs each timed alone with NumPy (all BLAS threads) and
    with fastnn's ``gemm_rows``; the sum over GEMMs of the faster time (s)."""
    from fastnn.kernels.cpu._blas import gemm_rows
    rng = np.random.default_rng(0)
    total = {"numpy": 0.0, "fastnn": 0.0, "best": 0.0}
    for i in range(len(sizes) - 1):
        fin, fout = sizes[i], sizes[i + 1]
        x = rng.standard_normal((batch, fin)).astype(dtype)
        w = rng.standard_normal((fin, fout)).astype(dtype)
        dz = rng.standard_normal((batch, fout)).astype(dtype)
        shapes = [("fwd", np.empty((batch, fout), dtype), x, w, False, False),
                  ("dW", np.empty((fin, fout), dtype), x, dz, True, False)]
        if i > 0:
            shapes.append(("dX", np.empty((batch, fin), dtype), dz, w, False, True))
        for _, c, a, b, ta, tb in shapes:
            aa, bb = (a.T if ta else a), (b.T if tb else b)
            t_np = best_time(lambda: np.matmul(aa, bb, out=c), min_time=0.02, warmup=0.02)
            t_fn = best_time(lambda: gemm_rows(c, a, b, ta, tb, 1.0, 0.0), min_time=0.02, warmup=0.02)
            total["numpy"] += t_np
            total["fastnn"] += t_fn
            total["best"] += min(t_np, t_fn)
    time.sleep(0.3)          # NumPy's OpenBLAS threads spin for a while after a call
    return total


def _ladder(benchmark, rung, dtype):
    sizes, batch, bn = RUNGS[rung]
    X, y = _data(sizes, batch, dtype, EPOCH * batch)
    Xi, _ = _data(sizes, batch, dtype, INFER_ROWS)
    runs, predicts, costs = {}, {}, {}
    for peer in PEERS:
        try:
            fns, predict, cost = peer(sizes, batch, bn, dtype, X, y)
        except pytest.skip.Exception:
            continue
        runs.update(fns)
        predicts[next(iter(fns)).split(" ")[0]] = predict
        costs[next(iter(fns))] = cost
    smoke = benchmark.disabled
    reps = {}
    for name, fn in runs.items():                # compiled, jitted and warm; then each block's length
        fn()
        t = time.perf_counter()
        fn()
        reps[name] = 1 if smoke else max(1, int(BLOCK / max(time.perf_counter() - t, 1e-6)))
    times = {name: [] for name in runs}
    order = np.random.default_rng(0)
    t_end = time.perf_counter() + BUDGET
    r = 0
    while r < (1 if smoke else MIN_ROUNDS) or (not smoke and time.perf_counter() < t_end and r < 200):
        for name in order.permutation(list(runs)):
            t = time.perf_counter()
            for _ in range(reps[name]):
                runs[name]()
            times[name].append((time.perf_counter() - t) / (EPOCH * reps[name]))
            if not smoke:
                time.sleep(SETTLE)
        r += 1
    per_step = {name: float(np.median(v)) for name, v in times.items()}
    for name, cost in costs.items():
        assert np.isfinite(cost()), name             # every peer trained to a finite cost
    infer = {}
    for name, predict in predicts.items():
        predict(Xi)
        infer[name] = INFER_ROWS / best_time(lambda: predict(Xi), min_time=0 if smoke else 0.05,
                                             repeat=1 if smoke else 5, warmup=0 if smoke else 0.05)
    gemm = _gemm_ceiling(sizes, batch, dtype) if not smoke else None
    record = {"rung": rung, "batch": batch, "dtype": np.dtype(dtype).name, "rounds": r,
              "per_step": per_step, "predict_rows_per_s": infer}
    if gemm:
        record["gemm"] = gemm
        record["step_over_gemm"] = per_step["fastnn bare step"] / gemm["best"]
    benchmark.group = f"peers|{rung}|b{batch}|{np.dtype(dtype).name}"
    benchmark.extra_info.update(backend="cpu", peers=record)
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    assert set(per_step) >= {"fastnn fit", "fastnn train_step", "fastnn bare step"}


SMOKE = ["2-20-7-5-1", "784-128-64-10-bn-dropout"]


@pytest.mark.parametrize("rung", list(RUNGS))
def test_peers_float32(benchmark, rung):
    if benchmark.disabled and rung not in SMOKE:
        pytest.skip("the larger rungs run with --benchmark-enable")
    _ladder(benchmark, rung, np.float32)


@pytest.mark.parametrize("rung", list(RUNGS))
def test_peers_float64(benchmark, rung):
    if benchmark.disabled:
        pytest.skip("float64 runs with --benchmark-enable")
    _ladder(benchmark, rung, np.float64)
