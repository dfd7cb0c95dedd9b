"""Device-resident training: a cuda model keeps its buffers on the GPU, fit
keeps every step there, and the results equal the cpu backend's.

Runs in the simulator in CI (tiny models, a few batches) and on a GPU as is.
"""
import numpy as np
import pytest

import fastnn
from fastnn import testing

from ._compare import assert_histories_alike, assert_trained_alike
from .conftest import SIMULATOR

pytestmark = pytest.mark.skipif("cuda" not in fastnn.available_backends(),
                                reason="no GPU and not NUMBA_ENABLE_CUDASIM=1")

M = 48 if SIMULATOR else 4096


def _data(loss, dtype):
    X, y = fastnn.datasets.moons(M, noise=0.2, seed=3)
    X = X.astype(dtype)
    if loss == "binary_cross_entropy":
        return X, y.astype(dtype)
    if loss == "mean_squared_error":
        return X, np.stack([X[:, 0] * X[:, 1], X[:, 0] - X[:, 1]], axis=1).astype(dtype)
    return X, y


CONFIGS = {
    # loss, layers, optimizer, l2, l1, shuffle
    "sce-bn-dropout-adam-l2": ("softmax_cross_entropy",
                               lambda: [fastnn.Dense(2, 8, "relu", bias=False), fastnn.BatchNorm(8),
                                        fastnn.Dropout(0.75), fastnn.Dense(8, 2)],
                               lambda p: fastnn.Adam(p, lr=0.02), 0.05, 0.0, True),
    "bce-tanh-momentum-l1": ("binary_cross_entropy",
                             lambda: [fastnn.Dense(2, 6, "tanh"), fastnn.Dense(6, 1)],
                             lambda p: fastnn.Momentum(p, lr=0.1, weight_decay=0.01), 0.0, 0.1, False),
    "mse-leaky-rmsprop": ("mean_squared_error",
                          lambda: [fastnn.Dense(2, 5), fastnn.LeakyReLU(), fastnn.Dense(5, 2)],
                          lambda p: fastnn.RMSprop(p, lr=0.01), 0.0, 0.0, True),
}


def _fit(name, backend, dtype, X=None, y=None, epochs=2, batch_size=16):
    loss, layers, opt, l2, l1, shuffle = CONFIGS[name]
    if X is None:
        X, y = _data(loss, dtype)
    model = fastnn.Sequential(layers(), loss=loss, l2=l2, l1=l1, dtype=dtype, backend=backend, seed=5)
    optimizer = opt(model.parameters())
    history = model.fit(X, y, optimizer=optimizer, epochs=epochs, batch_size=batch_size, shuffle=shuffle,
                        seed=1, verbose=False, compiled=False)
    return model, optimizer, history


@pytest.mark.parametrize("name", list(CONFIGS))
def test_fit_on_device_matches_cpu(name, dtype):
    gpu, gpu_opt, hg = _fit(name, "cuda", dtype)
    cpu, cpu_opt, hc = _fit(name, "cpu", dtype)
    # the model really lives on the device
    assert fastnn._arrays.is_device(gpu.parameters().data)
    assert all(fastnn._arrays.is_device(v) for v in gpu_opt.state.values())
    assert_histories_alike(hg, hc, dtype)
    assert_trained_alike(gpu, gpu_opt, cpu, cpu_opt, dtype)


class _Transfers:
    """Counts host<->device copies made through numba (simulator or GPU).

    Only the outermost call counts: on a GPU ``cuda.to_device`` does its
    copy through ``copy_to_device`` (the simulator's does not), and one
    upload must count once on both.
    """

    def __init__(self, monkeypatch):
        from numba import cuda
        self.count = 0
        self.depth = 0
        self._wrap(monkeypatch, cuda, "to_device")
        cls = type(cuda.device_array(1))
        for method in ("copy_to_host", "copy_to_device"):
            self._wrap(monkeypatch, cls, method)

    def _wrap(self, monkeypatch, owner, name):
        real = getattr(owner, name)

        def counted(*a, **k):
            self.count += self.depth == 0
            self.depth += 1
            try:
                return real(*a, **k)
            finally:
                self.depth -= 1
        monkeypatch.setattr(owner, name, counted)


def test_fit_transfers_do_not_grow_with_steps(monkeypatch):
    """Copies per epoch are the same for 2 and for 6 batches: none per step."""
    from numba import cuda
    X, y = _data("softmax_cross_entropy", np.float64)
    dX, dy = cuda.to_device(X), cuda.to_device(y.astype(np.intp))
    counts = []
    for batch_size in (M // 2, M // 6):
        model = fastnn.Sequential([fastnn.Dense(2, 4, "relu"), fastnn.Dropout(0.5), fastnn.Dense(4, 2)],
                                  l2=0.1, backend="cuda", seed=0)
        opt = fastnn.Adam(model.parameters(), lr=0.01)
        t = _Transfers(monkeypatch)
        model.fit(dX, dy, optimizer=opt, epochs=1, batch_size=batch_size, verbose=False)
        counts.append(t.count)
        monkeypatch.undo()
    assert counts[0] == counts[1], counts
    assert counts[0] <= 8, counts          # labels check, perm upload, costs+norms read, evaluate read...


def test_device_inputs_are_used_in_place(monkeypatch):
    from numba import cuda
    model = fastnn.Sequential([fastnn.Dense(3, 4, "tanh"), fastnn.Dense(4, 2)], backend="cuda", seed=0)
    x = np.random.default_rng(0).standard_normal((5, 3))
    dx = cuda.to_device(x)
    t = _Transfers(monkeypatch)
    out = model.forward(dx)
    assert t.count == 0                     # nothing crossed the bus
    assert fastnn._arrays.is_device(out)
    host = model.forward(x)                 # host in, host out
    assert isinstance(host, np.ndarray)
    testing.assert_close(out.copy_to_host(), host, "exact")
    cpu = fastnn.Sequential([fastnn.Dense(3, 4, "tanh"), fastnn.Dense(4, 2)], backend="cpu", seed=0)
    testing.assert_close(host, cpu.forward(x), "reduction")
    np.testing.assert_array_equal(model.predict(dx), cpu.predict(x))


def test_device_model_input_errors():
    from numba import cuda
    gpu = fastnn.Sequential([fastnn.Dense(3, 2)], backend="cuda")
    cpu = fastnn.Sequential([fastnn.Dense(3, 2)], backend="cpu")
    d32 = cuda.to_device(np.zeros((4, 3), np.float32))
    with pytest.raises(TypeError, match="model is on the host"):
        cpu.forward(cuda.to_device(np.zeros((4, 3))))
    with pytest.raises(TypeError, match="float32 device array but the model is float64"):
        gpu.forward(d32)
    with pytest.raises(ValueError, match="must lie in"):
        gpu.evaluate(cuda.to_device(np.zeros((4, 3))), cuda.to_device(np.array([0, 1, 2, 0])))
    with pytest.raises(TypeError, match="backend is 'cpu'"):
        fastnn.dense_forward(d32, np.zeros((3, 2), np.float32), backend="cpu")


def test_divergence_on_device_names_the_batch():
    X, y = _data("mean_squared_error", np.float64)
    model = fastnn.Sequential([fastnn.Dense(2, 4), fastnn.Dense(4, 2)], loss="mean_squared_error",
                              backend="cuda", seed=0)
    X[M // 3 + 1, 0] = 1e300                    # in the second of three batches: its squared error overflows
    with pytest.raises(fastnn.DivergenceError, match=r"epoch 0, batch 1 "):
        model.fit(X, y, optimizer=fastnn.SGD(model.parameters(), lr=0.1), epochs=1,
                  batch_size=M // 3, shuffle=False, verbose=False)


def test_checkpoint_of_a_device_model_loads_on_cpu(tmp_path):
    model, opt, _ = _fit("sce-bn-dropout-adam-l2", "cuda", np.float64, epochs=1)
    path = model.save(tmp_path / "m.npz", optimizer=opt)
    back, back_opt = fastnn.load(path, with_optimizer=True, backend="cpu")
    for a, b in zip(model.get_weights(), back.get_weights()):
        for u, v in zip(a, b):
            testing.assert_close(u, v, "exact")
    X, _ = _data("softmax_cross_entropy", np.float64)
    testing.assert_close(model.forward(X), back.forward(X), "reduction")
    again, _ = fastnn.load(path, with_optimizer=True, backend="cuda")
    assert fastnn._arrays.is_device(again.parameters().data)
    testing.assert_close(again.forward(X), back.forward(X), "reduction")


def test_a_device_model_exports_to_onnx():
    """Export reads a device model's weights and batch-norm statistics back
    once; onnxruntime then gives what the model gives."""
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    X, y = _data("softmax_cross_entropy", np.float64)
    model = fastnn.Sequential([fastnn.Dense(2, 4, bias=False), fastnn.BatchNorm(4), fastnn.ReLU(), fastnn.Dense(4, 2)],
                              backend="cuda", seed=0)
    model.fit(X, y, optimizer=fastnn.Adam(model.parameters(), lr=0.01), epochs=1, batch_size=M // 2, verbose=False)
    session = ort.InferenceSession(model.to_onnx().SerializeToString(), providers=["CPUExecutionProvider"])
    probabilities = session.run(["probabilities"], {"X": X})[0]
    testing.assert_close(probabilities, model.predict_proba(X), "reduction")
