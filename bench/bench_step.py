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
