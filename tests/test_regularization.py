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
