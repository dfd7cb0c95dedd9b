"""Initializers: the variances the course derives, seeding, bounds and errors."""
import numpy as np
import pytest

from fastnn import init

FAN_IN, FAN_OUT = 400, 300   # 120,000 draws: sample variance within ~1.5% (5 sigma)


@pytest.mark.parametrize("name,var", [
    ("he_normal", 2 / FAN_IN), ("he_uniform", 2 / FAN_IN), ("xavier", 1 / FAN_IN),
    ("glorot_normal", 2 / (FAN_IN + FAN_OUT)), ("glorot_uniform", 2 / (FAN_IN + FAN_OUT)),
])
def test_variance(name, var):
    w = init.get(name)((FAN_IN, FAN_OUT), rng=0)
    n = w.size
    # the sample variance of n draws has relative standard error sqrt(2/n) (normal) or less
    assert abs(w.var() / var - 1) < 5 * np.sqrt(2 / n)
    assert abs(w.mean()) < 5 * np.sqrt(var / n)


@pytest.mark.parametrize("name,fan", [("he_uniform", FAN_IN), ("glorot_uniform", FAN_IN + FAN_OUT)])
def test_uniform_bounds(name, fan):
    limit = np.sqrt(6 / fan) if name == "glorot_uniform" else np.sqrt(6 / FAN_IN)
    w = init.get(name)((FAN_IN, FAN_OUT), rng=1)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit


def test_large_random_is_expressible():
    w = init.random_normal((FAN_IN, FAN_OUT), rng=0, scale=10.0)
    assert abs(w.std() / 10 - 1) < 0.02


def test_zeros_and_dtypes(dtype):
    assert not init.zeros((3, 4), dtype=dtype).any()
    for f in init.INITIALIZERS.values():
        w = f((3, 4), rng=0, dtype=dtype)
        assert w.shape == (3, 4) and w.dtype == dtype and w.flags.c_contiguous


def test_seeded_and_generator():
    for f in init.INITIALIZERS.values():
        assert np.array_equal(f((5, 6), rng=7), f((5, 6), rng=7))
    g1, g2 = np.random.default_rng(3), np.random.default_rng(3)
    a, b = init.he_normal((5, 6), rng=g1), init.he_normal((5, 6), rng=g1)
    assert not np.array_equal(a, b)                    # a generator advances
    assert np.array_equal(a, init.he_normal((5, 6), rng=g2))


def test_errors():
    with pytest.raises(ValueError, match="init must be one of"):
        init.get("he")
    with pytest.raises(ValueError, match="shape"):
        init.he_normal((3,), rng=0)
    with pytest.raises(ValueError, match="shape"):
        init.he_normal((0, 3), rng=0)
    with pytest.raises(TypeError, match="dtype"):
        init.he_normal((3, 3), rng=0, dtype=np.int32)
    with pytest.raises(TypeError, match="rng"):
        init.he_normal((3, 3), rng="seed")
    with pytest.raises(ValueError, match="scale"):
        init.random_normal((3, 3), rng=0, scale=-1)
