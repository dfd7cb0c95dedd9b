"""L2/L1 penalties and the Standardizer."""
import numpy as np
import pytest

import fastnn
from fastnn import testing


@pytest.mark.parametrize("backend", ["ref", "cpu"])
@pytest.mark.parametrize("kind", ["l2", "l1"])
def test_penalty_value_and_gradient(kind, backend, rng):
    ws = [rng.standard_normal((5, 4)), rng.standard_normal((4, 3))]
    lambd, m = 0.7, 8
    fn = getattr(fastnn, f"{kind}_penalty")

    def fun():
        grads = [np.zeros_like(w) for w in ws]
        return fn(ws, grads, lambd, m, backend=backend), grads

    cost, grads = fun()
    if kind == "l2":
        expected = lambd / (2 * m) * sum(np.sum(w ** 2) for w in ws)
        expected_grads = [lambd / m * w for w in ws]
    else:
        expected = lambd / (2 * m) * sum(np.sum(np.abs(w)) for w in ws)
        expected_grads = [lambd / (2 * m) * np.sign(w) for w in ws]
    assert cost == pytest.approx(expected, rel=1e-12)
    for g, e in zip(grads, expected_grads):
        testing.assert_close(g, e)
    assert fastnn.gradcheck(fun, ws, eps=1e-6).ok()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_l1_gradient_at_zero_weights_is_zero(dtype, rng):
    """sign(0) = 0: exact zeros (pruned or zero-initialised weights) get no
    L1 gradient on the cpu, as with np.sign in the reference; the others
    get +-lambd/(2m)."""
    w = rng.standard_normal(1000).astype(dtype)
    w[::3] = 0
    w[1::7] = -0.0
    grads = {}
    for backend in ("ref", "cpu"):
        g = np.zeros_like(w)
        fastnn.l1_penalty([w], [g], 0.5, 4, backend=backend)
        grads[backend] = g
    testing.assert_close(grads["cpu"], grads["ref"])
    assert np.array_equal(grads["cpu"] != 0, w != 0)
    assert np.array_equal(np.sign(grads["cpu"]), np.sign(w))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_penalty_chunk_sums_exact_to_reduction_and_thread_independent(dtype, rng):
    """The cpu kernel sums each chunk with reassociated (vectorised) float64
    adds: every chunk's partial must match an exactly rounded sum (math.fsum)
    to the float64 reduction tolerance, for chunks of many sizes and a
    ragged last one, and be bitwise identical for 1 and 2 threads."""
    import math

    import numba

    from fastnn.kernels import cpu
    from fastnn.kernels.ref.regularization import CHUNK
    w = (rng.standard_normal(3 * CHUNK + 37) * 1e3).astype(dtype)
    coef = dtype(0.25)
    for name, term in (("l2_penalty", lambda v: v * v), ("l1_penalty", abs)):
        runs = []
        for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            try:
                partials = np.empty(4)
                dw = np.zeros_like(w)
                getattr(cpu.regularization, name)(partials, dw, w, coef)
            finally:
                numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
            runs.append((partials, dw))
        w64 = w.astype(np.float64)
        exact = [math.fsum(term(w64[k:k + CHUNK])) for k in range(0, w.size, CHUNK)]
        testing.assert_close(runs[0][0], np.array(exact), "reduction")
        assert np.array_equal(runs[0][0], runs[1][0]), name
        assert np.array_equal(runs[0][1], runs[1][1]), name


def test_penalty_accumulates_and_float32(rng):
    w = rng.standard_normal(10000).astype(np.float32)
    g = np.ones_like(w)
    cost = fastnn.l2_penalty(w, g, 0.5, 4)
    assert cost == pytest.approx(0.5 / 8 * np.sum(w.astype(np.float64) ** 2), rel=1e-6)
    testing.assert_close(g, (1 + 0.5 / 4 * w).astype(np.float32))


def test_penalty_errors():
    w = np.ones((2, 2))
    with pytest.raises(ValueError, match="lambd must be >= 0"):
        fastnn.l2_penalty(w, np.zeros_like(w), -1, 4)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        fastnn.l2_penalty(w, np.zeros_like(w), 0.1, 0)
    with pytest.raises(ValueError, match=r"grads\[0\] must be 2-D"):
        fastnn.l2_penalty(w, np.zeros(4), 0.1, 4)
    with pytest.raises(ValueError, match="got 2 weights but 1 gradients"):
        fastnn.l1_penalty([w, w], [np.zeros_like(w)], 0.1, 4)


def test_standardizer_fits_train_applies_to_test(rng):
    train = rng.standard_normal((500, 3)) * [1, 10, 100] + [5, -3, 1000]
    test = rng.standard_normal((200, 3)) * [1, 10, 100] + [5, -3, 1000]
    s = fastnn.Standardizer().fit(train)
    z = s.transform(train)
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(0), 1, rtol=1e-12)
    zt = s.transform(test)                               # the training statistics, not the test's
    np.testing.assert_allclose(zt, (test - train.mean(0)) / train.std(0), rtol=1e-12)
    np.testing.assert_allclose(s.inverse_transform(zt), test, rtol=1e-12)
    s2 = fastnn.Standardizer().load_state_dict(s.state_dict())
    assert np.array_equal(s2.transform(test), zt)


def test_standardizer_constant_feature_and_dtype():
    x = np.array([[1.0, 7.0], [3.0, 7.0], [5.0, 7.0]], dtype=np.float32)
    z = fastnn.Standardizer().fit_transform(x)
    assert z.dtype == np.float32 and np.all(np.isfinite(z))
    assert np.array_equal(z[:, 1], np.zeros(3, np.float32))


def test_standardizer_errors():
    with pytest.raises(RuntimeError, match="not fitted"):
        fastnn.Standardizer().transform(np.ones((2, 2)))
    s = fastnn.Standardizer().fit(np.ones((3, 2)))
    with pytest.raises(ValueError, match="x has 3 features"):
        s.transform(np.ones((3, 3)))
