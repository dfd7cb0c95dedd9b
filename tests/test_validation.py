"""Bad input gets a clear ValueError/TypeError naming the argument, before
any kernel runs: never a crash, a silent wrong answer or an out-of-bounds
write."""
import numpy as np
import pytest

import fastnn

F32, F64 = np.float32, np.float64


def _xwb(dt=F64, batch=4, n_in=3, n_out=2):
    return np.ones((batch, n_in), dt), np.ones((n_in, n_out), dt), np.ones(n_out, dt)


@pytest.mark.parametrize("backend", ["ref", "cpu"])
@pytest.mark.parametrize("args,exc,match", [
    (lambda: (np.ones(3), np.ones((3, 2)), None), ValueError, "x must be 2-D"),
    (lambda: (np.ones((4, 3)), np.ones((4, 2)), None), ValueError, r"w must have shape \(3, out\)"),
    (lambda: (np.ones((4, 3)), np.ones((3, 2)), np.ones(3)), ValueError, r"b must have shape \(2,\)"),
    (lambda: (np.ones((4, 3), F32), np.ones((3, 2)), None), TypeError, "w has dtype float64 but"),
    (lambda: (np.ones((4, 3)), np.ones((3, 2)), np.ones(2, F32)), TypeError, "b has dtype float32"),
    (lambda: (np.ones((4, 3), np.int64), np.ones((3, 2)), None), TypeError, "x must be float32 or float64"),
    (lambda: (np.ones((4, 6))[:, ::2], np.ones((3, 2)), None), ValueError, "x must be C-contiguous"),
    (lambda: (np.ones((3, 4)).T, np.ones((3, 2)), None), ValueError, "x must be C-contiguous"),
    (lambda: (np.ones((0, 3)), np.ones((3, 2)), None), ValueError, "x must not be empty"),
    (lambda: ([[1.0, 2.0, 3.0]], np.ones((3, 2)), None), TypeError, "x must be a numpy.ndarray"),
])
def test_dense_forward_rejects(backend, args, exc, match):
    x, w, b = args()
    with pytest.raises(exc, match=match):
        fastnn.dense_forward(x, w, b, "relu", backend=backend)


def test_dense_forward_output_buffer_checks():
    x, w, b = _xwb()
    with pytest.raises(ValueError, match=r"out must have shape \(4, 2\)"):
        fastnn.dense_forward(x, w, b, out=np.empty((4, 3)))
    with pytest.raises(TypeError, match="out has dtype float32"):
        fastnn.dense_forward(x, w, b, out=np.empty((4, 2), F32))
    with pytest.raises(ValueError, match="out must not share memory with x"):
        fastnn.dense_forward(x, np.eye(3), out=x)          # BLAS must not write its input
    ro = np.empty((4, 2))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out must be writeable"):
        fastnn.dense_forward(x, w, b, out=ro)


def test_dense_backward_checks():
    x, w, b = _xwb()
    out = fastnn.dense_forward(x, w, b)
    with pytest.raises(ValueError, match=r"dout must have shape \(4, 2\)"):
        fastnn.dense_backward(np.ones((4, 3)), x, w, out)
    with pytest.raises(ValueError, match=r"out must have shape \(4, 2\)"):
        fastnn.dense_backward(np.ones((4, 2)), x, w, np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"dw must have shape \(3, 2\)"):
        fastnn.dense_backward(np.ones((4, 2)), x, w, out, dw=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="db was given but bias=False"):
        fastnn.dense_backward(np.ones((4, 2)), x, w, out, bias=False, db=np.zeros(2))
    with pytest.raises(ValueError, match="dx must not share memory with x"):
        fastnn.dense_backward(np.ones((4, 2)), x, w, out, dx=x)
    d = np.ones((4, 3))
    with pytest.raises(ValueError, match="dx must not share memory with dout"):
        fastnn.activation_backward(d, np.ones((4, 3)), "relu", dx=d)


def test_activation_checks():
    x = np.ones((2, 2))
    with pytest.raises(ValueError, match="activation must be one of"):
        fastnn.activation_forward(x, "softplus")
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        fastnn.activation_forward(x, "leaky_relu", alpha=-0.1)
    with pytest.raises(ValueError, match="alpha must be finite"):
        fastnn.activation_forward(x, "leaky_relu", alpha=float("nan"))
    with pytest.raises(TypeError, match="alpha must be a real number"):
        fastnn.activation_forward(x, "leaky_relu", alpha="0.1")


@pytest.mark.parametrize("backend", ["ref", "cpu"])
def test_labels_checked_before_indexing(backend):
    z = np.zeros((3, 4))
    # an out-of-range label would index past the row in the kernel: refused first
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\)"):
        fastnn.softmax_cross_entropy(z, np.array([0, 4, 1]), backend=backend)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\)"):
        fastnn.softmax_cross_entropy(z, np.array([0, -1, 1]), backend=backend)
    with pytest.raises(TypeError, match="labels must hold integer class labels"):
        fastnn.softmax_cross_entropy(z, np.array([0.0, 1.0, 2.0]), backend=backend)
    with pytest.raises(ValueError, match=r"labels must have shape \(3,\)"):
        fastnn.softmax_cross_entropy(z, np.array([0, 1]), backend=backend)
    # other integer dtypes are fine
    r = fastnn.softmax_cross_entropy(z, np.array([0, 3, 1], dtype=np.uint8), backend=backend)
    assert r.cost == pytest.approx(np.log(4))


def test_target_checks():
    z = np.zeros((3, 1))
    assert fastnn.binary_cross_entropy(z, np.array([0.0, 1.0, 1.0])).cost == pytest.approx(np.log(2))
    with pytest.raises(TypeError, match="y has dtype float32"):
        fastnn.binary_cross_entropy(z, np.zeros((3, 1), F32))
    with pytest.raises(ValueError, match=r"y must have shape \(3, 2\)"):
        fastnn.mean_squared_error(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"grad must have shape \(3, 1\)"):
        fastnn.mean_squared_error(z, np.zeros(3), grad=np.zeros((3, 2)))


def test_backend_names():
    with pytest.raises(ValueError, match="backend must be one of"):
        fastnn.dense_forward(*_xwb(), backend="gpu")
    with pytest.raises(ValueError, match="backend must be one of"):
        fastnn.set_backend("numpy")
