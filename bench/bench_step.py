"""A whole training step (forward, loss, backward, update), float32, batch 64:
fastnn compiled (one call), fastnn layer by layer, the NumPy reference, and
PyTorch eager when installed. Groups: ``train_step|<net>|b64|float32``."""
import numpy as np
import pytest

import fastnn
from fastnn.compiled import CompiledStep

from .conftest import interleaved

NETS = {
    # the course's 2D network: [2, 20, 7, 5, 1], relu, binary cross-entropy, Adam
    "2-20-7-5-1": lambda: ([fastnn.Dense(2, 20, "relu"), fastnn.Dense(20, 7, "relu"), fastnn.Dense(7, 5, "relu"),
                            fastnn.Dense(5, 1)], "binary_cross_entropy", 2, 1),
    # an MNIST-sized MLP with batch norm, dropout and Adam
    "784-128-64-10-bn-dropout": lambda: ([fastnn.Dense(784, 128, bias=False), fastnn.BatchNorm(128), fastnn.ReLU(),
                                          fastnn.Dropout(0.8), fastnn.Dense(128, 64, bias=False),
                                          fastnn.BatchNorm(64), fastnn.ReLU(), fastnn.Dropout(0.8),
                                          fastnn.Dense(64, 10)], "softmax_cross_entropy", 784, 10),
}
BATCH = 64


def _data(n_in, n_out, loss):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((BATCH, n_in)).astype(np.float32)
    y = rng.integers(0, 2 if loss == "binary_cross_entropy" else n_out, BATCH)
    return X, y


@pytest.mark.parametrize("mode", ["compiled", "layers", "ref"])
@pytest.mark.parametrize("net", list(NETS))
def test_train_step(benchmark, net, mode):
    layers, loss, n_in, n_out = NETS[net]()
    model = fastnn.Sequential(layers, loss=loss, dtype=np.float32, seed=0, backend="ref" if mode == "ref" else None)
    opt = fastnn.Adam(model.parameters(), lr=1e-3)
    X, y = _data(n_in, n_out, loss)
    if mode == "compiled":
        step = CompiledStep(model, opt, BATCH)
        xb, yb = model._x(X), model._y(y, BATCH)
        fn = lambda: step(xb, yb)            # noqa: E731
    else:
        fn = lambda: model.train_step(X, y, opt)     # noqa: E731
    first = fn()
    benchmark.group = f"train_step|{net}|b{BATCH}|float32"
    benchmark.extra_info.update(backend=mode, net=net)
    benchmark(fn)
    assert np.isfinite(first) and np.isfinite(fn())


def _torch_step(net):
    """The same network, loss, data and Adam in PyTorch eager: a step function."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    layers, loss, n_in, n_out = NETS[net]()
    mods = []
    for layer in layers:
        if isinstance(layer, fastnn.Dense):
            mods.append(nn.Linear(layer.in_features, layer.out_features, bias=layer.bias))
            if layer.activation == "relu":
                mods.append(nn.ReLU())
        elif isinstance(layer, fastnn.BatchNorm):
            mods.append(nn.BatchNorm1d(layer.features))
        elif isinstance(layer, fastnn.ReLU):
            mods.append(nn.ReLU())
        elif isinstance(layer, fastnn.Dropout):
            mods.append(nn.Dropout(1 - layer.keep_prob))
    tm = nn.Sequential(*mods)
    opt = torch.optim.Adam(tm.parameters(), lr=1e-3)
    X, y = _data(n_in, n_out, loss)
    xt = torch.from_numpy(X)
    if loss == "binary_cross_entropy":
        lossf, yt = nn.BCEWithLogitsLoss(), torch.from_numpy(y.astype(np.float32)).reshape(-1, 1)
    else:
        lossf, yt = nn.CrossEntropyLoss(), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        value = lossf(tm(xt), yt)
        value.backward()
        opt.step()
        return value.item()

    return step


@pytest.mark.parametrize("net", list(NETS))
def test_train_step_torch(benchmark, net):
    step = _torch_step(net)
    assert np.isfinite(step())
    benchmark.group = f"train_step|{net}|b{BATCH}|float32"
    benchmark.extra_info.update(backend="torch-eager", net=net)
    benchmark(step)


@pytest.mark.parametrize("net", list(NETS))
def test_train_step_vs_torch_interleaved(benchmark, net):
    """The target's ratio, compiled step / torch eager step, both timed in
    each round. Both are bound by arithmetic (small GEMMs), and this
    machine has phases in which such code runs about 2x slower while memory
    streams do not (the batch-norm MLP step took 0.55 ms and 1.0 ms within
    one process): separately timed medians decided the ratio by the phase
    each landed in."""
    torch_step = _torch_step(net)
    layers, loss, n_in, n_out = NETS[net]()
    model = fastnn.Sequential(layers, loss=loss, dtype=np.float32, seed=0)
    step = CompiledStep(model, fastnn.Adam(model.parameters(), lr=1e-3), BATCH)
    X, y = _data(n_in, n_out, loss)
    xb, yb = model._x(X), model._y(y, BATCH)
    interleaved(benchmark, f"interleaved|train_step|{net}|b{BATCH}|float32", lambda: step(xb, yb), torch_step,
                "torch-eager", backend="compiled")
    assert np.isfinite(step(xb, yb)) and np.isfinite(torch_step())


FIT_STEPS = 200      # batches per epoch in the fit-overhead benchmark


def test_fit_overhead(benchmark):
    """What ``fit`` adds per step around the compiled step (target: under
    20 us), on the course's ``[2, 20, 7, 5, 1]`` at batch 64.

    Each round times one epoch of ``fit`` (``FIT_STEPS`` batches, shuffled,
    its training metrics the running ones, the default), then the bare
    compiled calls of the same steps (``CompiledStep.call_args``, the kernel
    called from Python with its arguments prepared beforehand); the overhead
    per step is the median over rounds of (fit - bare) / FIT_STEPS. What it
    counts: the batch slicing, the step's bookkeeping in Python, the
    per-step checks of the cost, the gradient norms and right predictions,
    the epoch's shuffle and History, and finding the kept CompiledStep
    once per ``fit`` call; numba's dispatch of the kernel counts as the
    kernel's. Stored as ``extra_info["fit_overhead"]``.
    """
    import time

    layers, loss, n_in, n_out = NETS["2-20-7-5-1"]()
    model = fastnn.Sequential(layers, loss=loss, dtype=np.float32, seed=0)
    opt = fastnn.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((FIT_STEPS * BATCH, n_in)).astype(np.float32)
    y = (X[:, :1] * X[:, 1:] > 0).astype(np.int64)          # a learnable XOR-like target
    x, yy = model._x(X), model._y(y, X.shape[0])
    batches = [(x[i:i + BATCH], yy[i:i + BATCH]) for i in range(0, x.shape[0], BATCH)]

    # the bare side does the same work as fit: with the same start and no
    # shuffle, the two end on the same parameters, bit for bit
    twin = fastnn.Sequential(NETS["2-20-7-5-1"]()[0], loss=loss, dtype=np.float32, seed=0)
    twin_opt = fastnn.Adam(twin.parameters(), lr=1e-3)
    twin.fit(X, y, twin_opt, epochs=1, batch_size=BATCH, shuffle=False, verbose=False)
    same = fastnn.Sequential(NETS["2-20-7-5-1"]()[0], loss=loss, dtype=np.float32, seed=0)
    step = CompiledStep(same, fastnn.Adam(same.parameters(), lr=1e-3), BATCH)
    for xb, yb in batches:
        kernel, args = step.call_args(xb, yb)
        kernel(*args)
    np.testing.assert_array_equal(same.parameters().data, twin.parameters().data)

    step = CompiledStep(model, opt, BATCH)
    calls = [step.call_args(xb, yb) for xb, yb in batches]   # prepared once: not timed

    def fit():
        model.fit(X, y, opt, epochs=1, batch_size=BATCH, verbose=False)

    def bare():
        for kernel, args in calls:
            kernel(*args)

    fit()
    bare()
    rounds = 1 if benchmark.disabled else 60
    per_step, fit_s, bare_s = [], [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fit()
        t1 = time.perf_counter()
        bare()
        t2 = time.perf_counter()
        fit_s.append(t1 - t0)
        bare_s.append(t2 - t1)
        per_step.append(((t1 - t0) - (t2 - t1)) / FIT_STEPS)
    overhead = float(np.median(per_step))
    benchmark.group = "fit_overhead|2-20-7-5-1|b64|float32"
    benchmark.extra_info.update(backend="cpu", fit_overhead={
        "us_per_step": overhead * 1e6, "steps": FIT_STEPS, "rounds": rounds,
        "fit_ms": float(np.median(fit_s)) * 1e3, "bare_ms": float(np.median(bare_s)) * 1e3})
    benchmark.pedantic(fit, rounds=1, iterations=1)
    assert np.isfinite(model.parameters().data).all()


def test_fit_one_epoch_per_call_interleaved(benchmark):
    """``fit`` called one epoch at a time, as tuners, callbacks and custom
    loops call it, against one call over as many epochs, on [784, 256, 128,
    10] at batch 64 (60 batches an epoch): the per-call set-up (finding the
    kept compiled step, validating the data) must cost next to nothing. Both
    sides train the same number of epochs; the ratio is time(5 calls of 1
    epoch) / time(1 call of 5 epochs)."""
    layers = [fastnn.Dense(784, 256, "relu"), fastnn.Dense(256, 128, "relu"), fastnn.Dense(128, 10)]
    model = fastnn.Sequential(layers, dtype=np.float32, seed=0)
    opt = fastnn.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60 * BATCH, 784)).astype(np.float32)
    y = rng.integers(0, 10, X.shape[0])

    def per_epoch():
        for _ in range(5):
            model.fit(X, y, optimizer=opt, epochs=1, batch_size=BATCH, verbose=False)

    def one_call():
        model.fit(X, y, optimizer=opt, epochs=5, batch_size=BATCH, verbose=False)

    interleaved(benchmark, "interleaved|fit_epochs_per_call|784-256-128-10|b64|float32", per_epoch, one_call,
                "fit-5-epochs", backend="fit-1-epoch", budget=3.0, block=0.05)
    assert np.isfinite(model.parameters().data).all()
