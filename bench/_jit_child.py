"""One JIT-cost measurement in a fresh process (run by ``bench_jit.py``).

``python bench/_jit_child.py MODE OUT.json`` with MODE one of

- ``import``: seconds for ``import fastnn``;
- ``main``: the compilation in ``python -m fastnn --no-plots --no-ref``: the
  sum over the run of numba's top-level ``Dispatcher.compile`` calls (a
  kernel compiled while compiling its caller counts once, in the caller),
  and the run's wall time. Compiles in the search's worker processes are
  not counted: they load what this process compiled from the disk cache;
- ``epoch``: seconds from the process's start (before ``import fastnn``)
  to the end of the first ``fit`` epoch of the search's digits MLP;
- ``first FRAMEWORK`` (fastnn, torch or jax): the first-contact figure. A
  new user's script: import, load the digits, build the MLP [64, 128 relu,
  10] with softmax cross-entropy in float32 and Adam (lr 1e-3), train one
  epoch of shuffled batches of 64 (the last one partial) and read the
  epoch's training accuracy, as ``fit`` does. ``seconds`` runs from the
  process's start to the end of that epoch, ``fit`` from the start of
  training; fastnn also reports how many kernels it ``compiled`` (loads
  from a cache are not compiles). PyTorch runs eagerly, JAX jits the whole
  step (optax's Adam) and the accuracy;
- ``second``: fastnn's ``first``, then a model that needs other kernels
  (float64, tanh, RMSprop, L1) trained the same way in the same process;
  ``seconds`` is the second model's, from its construction to the end of
  its first epoch.

The caller sets ``NUMBA_CACHE_DIR``: empty for a cold figure, filled by an
earlier child for a warm one.
"""
import time

START = time.perf_counter()

import json  # noqa: E402
import sys  # noqa: E402


def _import():
    import fastnn  # noqa: F401
    return {"seconds": time.perf_counter() - START}


def _main():
    import contextlib
    import io

    from numba.core.dispatcher import Dispatcher
    compile_, depth, total = Dispatcher.compile, [0], [0.0]

    def timed(self, sig):
        depth[0] += 1
        t = time.perf_counter()
        try:
            return compile_(self, sig)
        finally:
            depth[0] -= 1
            if depth[0] == 0:
                total[0] += time.perf_counter() - t

    Dispatcher.compile = timed
    from fastnn.__main__ import main
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["--no-plots", "--no-ref"])
    if code:
        raise SystemExit(f"python -m fastnn exited with {code}")
    return {"compile": total[0], "wall": time.perf_counter() - t}


def _epoch():
    from fastnn.experiments import _digits_data, search_build
    Xt, yt, _, _ = _digits_data()
    model, opt = search_build({"lr": 1e-3, "beta1": 0.9}, seed=0)
    model.fit(Xt, yt, optimizer=opt, epochs=1, batch_size=64, verbose=False)
    return {"seconds": time.perf_counter() - START}


def _digits():
    import os

    import numpy as np
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fastnn", "datasets",
                        "digits.npz")
    with np.load(path, allow_pickle=False) as d:
        return d["images"].reshape(-1, 64).astype(np.float32), d["target"].astype(np.int64)


def _compiles():
    from numba.core import event

    class Count(event.Listener):
        n = 0

        def on_start(self, ev):
            pass

        def on_end(self, ev):
            Count.n += 1

    event.register("numba:compile", Count())
    return Count


def _fastnn_epoch(dtype="float32", act="relu", opt="Adam", l1=0.0):
    import fastnn
    X, y = _digits()
    model = fastnn.Sequential([fastnn.Dense(64, 128, activation=act), fastnn.Dense(128, 10)],
                              loss="softmax_cross_entropy", dtype=dtype, l1=l1, seed=0)
    optimizer = getattr(fastnn, opt)(model.parameters(), lr=1e-3)
    t = time.perf_counter()
    model.fit(X, y, optimizer=optimizer, epochs=1, batch_size=64, verbose=False)
    return t


def _torch_epoch():
    import numpy as np
    import torch
    X, y = _digits()
    torch.manual_seed(0)
    X, y = torch.from_numpy(X), torch.from_numpy(y)
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    t = time.perf_counter()
    perm = torch.from_numpy(np.random.default_rng(0).permutation(len(y)))
    for s in range(0, len(y), 64):
        idx = perm[s:s + 64]
        opt.zero_grad()
        loss_fn(model(X[idx]), y[idx]).backward()
        opt.step()
    with torch.no_grad():
        float((model(X).argmax(1) == y).float().mean())
    return t


def _jax_epoch():
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax
    X, y = _digits()
    k1, k2 = jax.random.split(jax.random.PRNGKey(0))
    params = {"w1": jax.random.normal(k1, (64, 128)) * (2 / 64) ** 0.5, "b1": jnp.zeros(128),
              "w2": jax.random.normal(k2, (128, 10)) * (2 / 128) ** 0.5, "b2": jnp.zeros(10)}

    def logits(p, x):
        return jax.nn.relu(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]

    def loss(p, x, t):
        return optax.softmax_cross_entropy_with_integer_labels(logits(p, x), t).mean()

    opt = optax.adam(1e-3)
    state = opt.init(params)

    @jax.jit
    def step(p, s, x, t):
        value, g = jax.value_and_grad(loss)(p, x, t)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s, value

    accuracy = jax.jit(lambda p, x, t: (logits(p, x).argmax(1) == t).mean())
    t0 = time.perf_counter()
    perm = np.random.default_rng(0).permutation(len(y))
    for s in range(0, len(y), 64):
        idx = perm[s:s + 64]
        params, state, _ = step(params, state, X[idx], y[idx])
    float(accuracy(params, X, y))
    return t0


def _first():
    framework = sys.argv[3]
    count = _compiles() if framework == "fastnn" else None
    t = {"fastnn": _fastnn_epoch, "torch": _torch_epoch, "jax": _jax_epoch}[framework]()
    end = time.perf_counter()
    result = {"seconds": end - START, "fit": end - t}
    if count is not None:
        result["compiled"] = count.n
    return result


def _second():
    _fastnn_epoch()
    t = time.perf_counter()
    _fastnn_epoch("float64", "tanh", "RMSprop", l1=1e-3)
    return {"seconds": time.perf_counter() - t}


if __name__ == "__main__":
    mode, out = sys.argv[1], sys.argv[2]
    result = {"import": _import, "main": _main, "epoch": _epoch, "first": _first, "second": _second}[mode]()
    with open(out, "w") as f:
        json.dump(result, f)
