"""The GPU step as a replayed launch plan (``fastnn/device_step.py``).

In the simulator (CI) and on a GPU: the plan trains exactly as the cpu
backend does, counts its launches, and keeps the host's mirrors (the
optimizer's t, dropout offsets) in step. The graph path needs a GPU and
CuPy and is skipped without them.
"""
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastnn
from fastnn import device_step, testing, training
from fastnn.testing.launches import count_launches

from ._compare import assert_histories_alike, assert_trained_alike
from ._fake_cupy import FakeCupy
from .conftest import SIMULATOR

pytestmark = pytest.mark.skipif("cuda" not in fastnn.available_backends(),
                                reason="no GPU and not NUMBA_ENABLE_CUDASIM=1")

M = 44 if SIMULATOR else 4096       # batches of 16: two full ones and a last of 12 in the simulator


def _data(loss, dtype):
    X, y = fastnn.datasets.moons(M, noise=0.2, seed=3)
    X = X.astype(dtype)
    if loss == "binary_cross_entropy":
        return X, y.astype(dtype).reshape(-1, 1)
    if loss == "mean_squared_error":
        return X, np.stack([X[:, 0] * X[:, 1], X[:, 0] - X[:, 1]], axis=1).astype(dtype)
    return X, y


CONFIGS = {
    # loss, layers, optimizer, schedule, shuffle[, l2, l1]
    "sce-dropout-adam": ("softmax_cross_entropy",
                         lambda: [fastnn.Dense(2, 8, "relu"), fastnn.Dropout(0.75), fastnn.Dense(8, 6, "tanh"),
                                  fastnn.Dense(6, 2)],
                         lambda p: fastnn.Adam(p, lr=0.02), None, True),
    "bce-nobias-momentum-decay": ("binary_cross_entropy",
                                  lambda: [fastnn.Dense(2, 6, "tanh", bias=False), fastnn.Dense(6, 1)],
                                  lambda p: fastnn.Momentum(p, lr=0.1, weight_decay=0.01), None, False),
    "mse-leaky-dropout-last-rmsprop": ("mean_squared_error",
                                       lambda: [fastnn.Dense(2, 5, "leaky_relu"), fastnn.Dense(5, 2),
                                                fastnn.Dropout(0.5)],
                                       lambda p: fastnn.RMSprop(p, lr=0.01), None, True),
    "sce-sigmoid-sgd-schedule": ("softmax_cross_entropy",
                                 lambda: [fastnn.Dense(2, 7, "sigmoid"), fastnn.Dropout(0.9), fastnn.Dense(7, 3)],
                                 lambda p: fastnn.SGD(p, lr=0.5),
                                 fastnn.schedules.ExponentialDecay(0.5, 0.7, per="step"), True),
    "sce-bn-relu-dropout-adam": ("softmax_cross_entropy",
                                 lambda: [fastnn.Dense(2, 8, bias=False), fastnn.BatchNorm(8), fastnn.ReLU(),
                                          fastnn.Dropout(0.75), fastnn.Dense(8, 2)],
                                 lambda p: fastnn.Adam(p, lr=0.02), None, True),
    "mse-tanh-layer-bn-momentum": ("mean_squared_error",
                                   lambda: [fastnn.Dense(2, 5), fastnn.Tanh(), fastnn.Dense(5, 4, bias=False),
                                            fastnn.BatchNorm(4), fastnn.Dense(4, 2)],
                                   lambda p: fastnn.Momentum(p, lr=0.05), None, False),
    "sce-bn-dropout-adam-l2": ("softmax_cross_entropy",
                               lambda: [fastnn.Dense(2, 8, "relu", bias=False), fastnn.BatchNorm(8),
                                        fastnn.Dropout(0.75), fastnn.Dense(8, 2)],
                               lambda p: fastnn.Adam(p, lr=0.02), None, True, 0.05, 0.0),
    "bce-tanh-momentum-l1-l2": ("binary_cross_entropy",
                                lambda: [fastnn.Dense(2, 6, "tanh"), fastnn.Dense(6, 1)],
                                lambda p: fastnn.Momentum(p, lr=0.1, weight_decay=0.01), None, False, 0.02, 0.1),
    "sce-adamw": ("softmax_cross_entropy",
                  lambda: [fastnn.Dense(2, 9, "relu"), fastnn.Dense(9, 2)],
                  lambda p: fastnn.AdamW(p, lr=0.01, weight_decay=0.1), None, True),
}


def _fit(name, backend, dtype, monkeypatch=None, epochs=2):
    loss, layers, opt, schedule, shuffle, *penalties = CONFIGS[name]
    l2, l1 = penalties or (0.0, 0.0)
    X, y = _data(loss, dtype)
    model = fastnn.Sequential(layers(), loss=loss, l2=l2, l1=l1, dtype=dtype, backend=backend, seed=5)
    optimizer = opt(model.parameters())
    history = model.fit(X, y, optimizer=optimizer, epochs=epochs, batch_size=16, shuffle=shuffle, seed=1,
                        schedule=schedule, verbose=False)
    return model, optimizer, history


@pytest.mark.parametrize("name", list(CONFIGS))
def test_device_step_trains_as_the_cpu_does(name, dtype, monkeypatch):
    used = []
    real = device_step.DeviceStep.step

    def spy(self, start, stop):
        used.append(stop - start)
        return real(self, start, stop)
    monkeypatch.setattr(device_step.DeviceStep, "step", spy)
    gpu, gpu_opt, hg = _fit(name, "cuda", dtype)
    assert len(used) == 2 * ((M + 15) // 16)                   # every step ran through the plan
    cpu, cpu_opt, hc = _fit(name, "cpu", dtype)
    assert_histories_alike(hg, hc, dtype)
    assert_trained_alike(gpu, gpu_opt, cpu, cpu_opt, dtype)


def _count_builds(monkeypatch):
    built = []
    real = device_step.DeviceStep.__init__

    def spy(self, *a, **k):
        built.append(self)
        real(self, *a, **k)
    monkeypatch.setattr(device_step.DeviceStep, "__init__", spy)
    return built


def test_fit_again_continues_from_the_mirrors(dtype, monkeypatch):
    """A second fit on new host data of the same shape reuses the kept plan
    (the data copied into its buffers), re-reading the host's t and dropout
    offsets: two fits of one epoch equal one fit of two."""
    one, _, h1 = _fit("sce-dropout-adam", "cuda", dtype, epochs=2)
    built = _count_builds(monkeypatch)
    loss, layers, opt, *_ = CONFIGS["sce-dropout-adam"]
    X, y = _data(loss, dtype)
    model = fastnn.Sequential(layers(), loss=loss, dtype=dtype, backend="cuda", seed=5)
    o = opt(model.parameters())
    rng = np.random.default_rng(1)
    perms = [rng.permutation(M) for _ in range(2)]          # what fit(seed=1) shuffles with
    for p in perms:
        model.fit(X[p], y[p], optimizer=o, epochs=1, batch_size=16, shuffle=False, verbose=False)
    assert len(built) == 1                                  # one plan for both calls
    assert o.t == 2 * ((M + 15) // 16)
    assert model.layers[1].offset == one.layers[1].offset
    for wa, wb in zip(one.get_weights(), model.get_weights()):
        for a, b in zip(wa, wb):
            testing.assert_close(a, b, "reduction")


def test_a_kept_plan_never_writes_the_users_device_arrays(monkeypatch):
    """Device arrays are bound in place: a fit on other device arrays builds
    a new plan instead of copying into the first ones."""
    from numba import cuda
    built = _count_builds(monkeypatch)
    X, y = _data("softmax_cross_entropy", np.float64)
    model = fastnn.Sequential([fastnn.Dense(2, 4, "relu"), fastnn.Dense(4, 2)], backend="cuda", seed=0)
    opt = fastnn.Adam(model.parameters())
    d1 = cuda.to_device(X), cuda.to_device(y.astype(np.intp))
    d2 = cuda.to_device(X[::-1].copy()), cuda.to_device(y[::-1].astype(np.intp))
    for data in (d1, d1, d2):
        model.fit(*data, optimizer=opt, epochs=1, batch_size=16, verbose=False)
    assert len(built) == 2                                  # d1 twice on one plan, then a new one for d2
    np.testing.assert_array_equal(d1[0].copy_to_host(), X)
    np.testing.assert_array_equal(d1[1].copy_to_host(), y)


@pytest.mark.parametrize("layers, l2, why", [
    (lambda: [fastnn.Dense(2, 4, "relu"), fastnn.ReLU(), fastnn.Dense(4, 2)], 0.0, "layer 1 (ReLU) does not follow"),
    (lambda: [fastnn.Dense(2, 4), fastnn.Dropout(0.5), fastnn.ReLU(), fastnn.Dense(4, 2)], 0.0,
     "layer 2 (ReLU) does not follow"),
    (lambda: [fastnn.Dropout(0.5), fastnn.Dense(2, 2)], 0.0, "layer 0 (Dropout) does not follow"),
])
def test_what_the_plan_does_not_run_goes_layer_by_layer(layers, l2, why):
    model = fastnn.Sequential(layers(), l2=l2, backend="cuda", seed=0)
    opt = fastnn.Adam(model.parameters())
    assert why in device_step.supported(model, opt)
    X, y = _data("softmax_cross_entropy", np.float64)
    assert isinstance(training.trainer_for(model, opt, None, 16, *_device(model, X, y)), training.DeviceBook)


def _device(model, X, y):
    return model._x(X), model._y(y, X.shape[0])


def test_compiled_false_steps_layer_by_layer():
    model = fastnn.Sequential([fastnn.Dense(2, 4, "relu"), fastnn.Dense(4, 2)], backend="cuda", seed=0)
    opt = fastnn.Adam(model.parameters())
    X, y = _data("softmax_cross_entropy", np.float64)
    assert isinstance(training.trainer_for(model, opt, None, 16, *_device(model, X, y)), device_step.DeviceStep)
    assert isinstance(training.trainer_for(model, opt, False, 16, *_device(model, X, y)), training.DeviceBook)


WIDTHS = [784, 512, 256, 10]       # the MLP; launch counts do not depend on the batch


def _one_step(trainer_cls, engine, execute=True):
    layers = [fastnn.Dense(a, b, "relu" if i < len(WIDTHS) - 2 else None)
              for i, (a, b) in enumerate(zip(WIDTHS, WIDTHS[1:]))]
    model = fastnn.Sequential(layers, dtype=np.float32, backend="cuda", seed=0)
    opt = fastnn.Adam(model.parameters())
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, WIDTHS[0])).astype(np.float32)
    y = np.array([1, 2, 3, 4])
    x_dev, y_dev = _device(model, X, y)
    if trainer_cls is device_step.DeviceStep:
        trainer = device_step.DeviceStep(model, opt, x_dev, y_dev, 2)
    else:
        trainer = training.DeviceBook(model, opt, 2, x_dev, y_dev)
    with count_launches(engine, execute):
        trainer.epoch(None)
        trainer.step(0, 2)                   # the first step builds the plan and compiles
    with count_launches(engine, execute) as n:
        trainer.step(2, 4)
    return n


@pytest.mark.skipif(not SIMULATOR, reason="the GPU run counts with the real engine in test_launches_on_a_gpu")
def test_launches_per_step_within_the_budget(monkeypatch):
    """[784, 512, 256, 10], the cuBLAS engine (NumPy standing in for CuPy):
    at most 3 numba launches per layer plus 3, against the layer path's."""
    from fastnn.kernels.cuda import dense
    monkeypatch.setattr(dense, "gemm_engine", lambda: FakeCupy)
    # counted, not run: the simulator would take minutes over these widths
    layer_path = _one_step(training.DeviceBook, FakeCupy, execute=False)
    plan = _one_step(device_step.DeviceStep, FakeCupy, execute=False)
    layers = len(WIDTHS) - 1
    print(f"\n[784, 512, 256, 10] step: layer path {layer_path}, plan {plan} ({plan.names})")
    assert plan.numba <= 3 * layers + 3
    assert plan.numba == 2 * layers + 5
    assert plan.gemm == 3 * layers - 1
    assert layer_path.numba > plan.numba


@pytest.mark.skipif(SIMULATOR, reason="needs a GPU")
def test_launches_on_a_gpu():
    from fastnn.kernels.cuda import _plan
    n = _one_step(device_step.DeviceStep, None)
    layers = len(WIDTHS) - 1
    if _plan.graphs_wanted():
        assert (n.numba, n.gemm, n.graph) == (0, 0, 1)        # one graph launch per step
    else:
        assert n.numba <= 3 * layers + 3 and n.graph == 0


def test_fused_dropout_masks_are_bitwise_the_cpu_ones(dtype):
    """The epilogue's dropout draws the masks of ``dropout_mask`` on the
    cpu backend, from the offset it reads on the device."""
    from fastnn.kernels import cpu, cuda
    from fastnn.kernels.philox import keep_threshold
    dtype = np.dtype(dtype).type
    rows, cols = (5, 13) if SIMULATOR else (1000, 1001)
    rng = np.random.default_rng(2)
    a = rng.standard_normal((rows, cols)).astype(dtype)
    bias = rng.standard_normal(cols).astype(dtype)
    n = a.size
    seed, slot, offsets = np.uint64(2 ** 40 + 3), 1, np.array([4, 9], np.uint64)
    y = np.zeros_like(a)
    mask = np.zeros((n + 7) // 8, np.uint8)
    flat = a.copy().reshape(-1)
    cuda.dense.bias_act_dropout_kernel[cuda._launch.grid_1d((n + 7) // 8)](
        flat, y.reshape(-1), mask, bias, np.int64(fastnn.kernels.codes.RELU), dtype(0.01), offsets,
        np.int64(slot), seed, keep_threshold(0.35), dtype(1 / 0.35))
    want = np.zeros_like(mask)
    cpu.dropout.dropout_mask(want, n, seed, offsets[slot], keep_threshold(0.35))
    assert np.array_equal(mask, want)
    relu = np.maximum(a + bias, 0)
    testing.assert_close(flat.reshape(rows, cols), relu, "elementwise")
    keep = np.unpackbits(want, bitorder="little")[:n].reshape(rows, cols).astype(bool)
    testing.assert_close(y, np.where(keep, relu * dtype(1 / 0.35), 0), "elementwise")


@pytest.mark.skipif(SIMULATOR, reason="bound launches and graphs need a GPU")
@pytest.mark.parametrize("graph", ["0", "1"], ids=["bound", "graph"])
def test_bound_and_graph_replays_train_as_the_cpu_does(graph, monkeypatch):
    from fastnn.kernels.cuda import _plan
    monkeypatch.setenv("FASTNN_CUDA_GRAPH", graph)
    if graph == "1" and not _plan.graphs_wanted():
        pytest.skip("CUDA graphs need CuPy (pip install cupy-cuda13x)")
    modes = []
    real = device_step.DeviceStep.read

    def spy(self):
        modes.extend(s.plan.mode for s in self._shapes.values())
        return real(self)
    monkeypatch.setattr(device_step.DeviceStep, "read", spy)
    gpu, gpu_opt, hg = _fit("sce-dropout-adam", "cuda", np.float32)
    cpu, cpu_opt, hc = _fit("sce-dropout-adam", "cpu", np.float32)
    assert set(modes) == {"graph" if graph == "1" else "bound"}
    testing.assert_close(np.array(hg.history["cost"], np.float32), np.array(hc.history["cost"], np.float32),
                         "reduction")
    assert_trained_alike(gpu, gpu_opt, cpu, cpu_opt, np.float32)


@pytest.mark.parametrize("name", ["sce-bn-relu-dropout-adam", "bce-tanh-momentum-l1-l2"])
def test_train_step_replays_the_plan_as_the_cpu_steps(name, dtype, monkeypatch):
    """``train_step`` on a device model runs the kept plan for its batch
    size: the same costs and weights as the cpu backend's, interleaved with
    a ``fit`` (the plan re-reads t and the dropout offsets every call)."""
    loss, layers, opt, _, _, *penalties = CONFIGS[name]
    l2, l1 = penalties or (0.0, 0.0)
    X, y = _data(loss, dtype)
    replays = []
    real = device_step.DeviceStep.train_step

    def spy(self, x, yy):
        replays.append(self)
        return real(self, x, yy)
    monkeypatch.setattr(device_step.DeviceStep, "train_step", spy)
    runs = {}
    for backend in ("cuda", "cpu"):
        model = fastnn.Sequential(layers(), loss=loss, l2=l2, l1=l1, dtype=dtype, backend=backend, seed=5)
        o = opt(model.parameters())
        costs = [model.train_step(X[:12], y[:12], o), model.train_step(X[12:24], y[12:24], o)]
        model.fit(X, y, optimizer=o, epochs=1, batch_size=16, seed=2, verbose=False)
        costs.append(model.train_step(X[24:36], y[24:36], o))
        runs[backend] = (model, o, costs)
    (gpu, gpu_opt, gc), (cpu, cpu_opt, cc) = runs["cuda"], runs["cpu"]
    assert len(replays) == 3 and replays[0] is replays[1] is replays[2]       # one plan, kept
    testing.assert_close(np.array(gc, dtype), np.array(cc, dtype), "reduction")
    assert_trained_alike(gpu, gpu_opt, cpu, cpu_opt, dtype)


# ---- random networks: the plan against the cpu backend ----------------------------------------------------------
ACTS = ["linear", "relu", "tanh", "sigmoid", "leaky_relu"]
LAYER_ACTS = {"relu": fastnn.ReLU, "tanh": fastnn.Tanh, "sigmoid": fastnn.Sigmoid, "leaky_relu": fastnn.LeakyReLU}


@st.composite
def networks(draw):
    """(layer factory, loss, optimizer factory, l2, l1, m, batch, epochs, shuffle): stacks of Dense units
    (an activation of their own or an Activation layer), Dense + BatchNorm (+ Activation) units, dropouts
    after any of them, and every loss and optimizer."""
    n_in = draw(st.integers(1, 4))
    loss = draw(st.sampled_from(["softmax_cross_entropy", "binary_cross_entropy", "mean_squared_error"]))
    k = draw(st.integers(2, 4)) if loss == "softmax_cross_entropy" else draw(st.integers(1, 2))
    spec, width, bn = [], n_in, False
    for _ in range(draw(st.integers(0, 2))):
        out = draw(st.integers(1, 6))
        kind = draw(st.sampled_from(["dense", "layer-act", "bn"]))
        act = draw(st.sampled_from(ACTS))
        spec.append((kind, width, out, act, draw(st.booleans()), draw(st.sampled_from([None, 0.5, 0.85]))))
        bn |= kind == "bn"
        width = out
    spec.append(("dense", width, k, "linear", draw(st.booleans()), draw(st.sampled_from([None, None, 0.7]))))

    def layers():
        out = []
        for kind, fin, fout, act, bias, keep in spec:
            if kind == "dense":
                out.append(fastnn.Dense(fin, fout, act, bias=bias))
            elif kind == "layer-act":
                out.append(fastnn.Dense(fin, fout, bias=bias))
                if act != "linear":
                    out.append(LAYER_ACTS[act]())
            else:
                out += [fastnn.Dense(fin, fout, bias=False), fastnn.BatchNorm(fout)]
                if act != "linear":
                    out.append(LAYER_ACTS[act]())
            if keep is not None:
                out.append(fastnn.Dropout(keep))
        return out
    opt = draw(st.sampled_from([lambda p: fastnn.SGD(p, lr=0.05), lambda p: fastnn.Momentum(p, lr=0.05),
                                lambda p: fastnn.RMSprop(p, lr=0.01), lambda p: fastnn.Adam(p, lr=0.01),
                                lambda p: fastnn.AdamW(p, lr=0.01, weight_decay=0.05)]))
    m = draw(st.integers(6, 24))
    batch = draw(st.integers(2, m))
    if bn and (batch < 4 or 0 < m % batch < 4):
        # batch norm over two rows maps them to -1 and +1 whatever they hold: its gradients are zero up to
        # rounding, which depends on the order of the sums, and RMSprop and Adam scale that noise up to
        # lr-sized steps; from four rows on, the comparison is well posed
        batch = m
    return dict(spec=spec, layers=layers, loss=loss, n_in=n_in, k=k, opt=opt, m=m, batch=batch,
                l2=draw(st.sampled_from([0.0, 0.03])), l1=draw(st.sampled_from([0.0, 0.02])),
                epochs=draw(st.integers(1, 2)), shuffle=draw(st.booleans()), seed=draw(st.integers(0, 999)))


# FASTNN_GPU_FUZZ=N runs N random examples (for local runs; CI: a fixed few)
@settings(max_examples=int(os.environ.get("FASTNN_GPU_FUZZ", 6 if SIMULATOR else 40)),
          derandomize="FASTNN_GPU_FUZZ" not in os.environ, deadline=None)
@given(networks())
def test_random_networks_train_as_on_the_cpu(net):
    rng = np.random.default_rng(net["seed"])
    X = rng.standard_normal((net["m"], net["n_in"]))
    if net["loss"] == "softmax_cross_entropy":
        y = rng.integers(0, net["k"], net["m"])
    elif net["loss"] == "binary_cross_entropy":
        y = (rng.random((net["m"], net["k"])) < 0.5).astype(float)
    else:
        y = rng.standard_normal((net["m"], net["k"]))
    runs = {}
    for backend in ("cuda", "cpu"):
        model = fastnn.Sequential(net["layers"](), loss=net["loss"], l2=net["l2"], l1=net["l1"], backend=backend,
                                  seed=net["seed"])
        opt = net["opt"](model.parameters())
        h = model.fit(X, y, optimizer=opt, epochs=net["epochs"], batch_size=net["batch"], shuffle=net["shuffle"],
                      seed=1, verbose=False)
        runs[backend] = (model, opt, h)
    (gpu, gpu_opt, hg), (cpu, cpu_opt, hc) = runs["cuda"], runs["cpu"]
    assert isinstance(gpu.__dict__.get("_device_fit_step"), device_step.DeviceStep)   # the plan ran it
    testing.assert_close(np.array(hg.history["cost"]), np.array(hc.history["cost"]), "reduction")
    assert_trained_alike(gpu, gpu_opt, cpu, cpu_opt, np.float64)
