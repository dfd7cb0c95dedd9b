"""Weight initializers (course 1, week 1), seedable, Keras names.

Every initializer takes ``shape = (fan_in, fan_out)`` (fastnn's ``w`` layout),
a ``rng`` (``numpy.random.Generator``, an int seed, or None for fresh
entropy) and a ``dtype``, and returns a new array.

=================  =====================================  =====================
name               distribution                           why
=================  =====================================  =====================
zeros              0                                      fails to break symmetry
random_normal      N(0, scale^2), scale=0.01              scale=10 is the course's
                                                          "large random" init
he_normal          N(0, 2 / fan_in)                       ReLU layers (He et al.)
he_uniform         U(-sqrt(6/fan_in), +sqrt(6/fan_in))    same variance, uniform
xavier             N(0, 1 / fan_in)                       tanh layers (the course's
                                                          "Xavier")
glorot_normal      N(0, 2 / (fan_in + fan_out))           Glorot & Bengio
glorot_uniform     U(+-sqrt(6 / (fan_in + fan_out)))      Keras's default
=================  =====================================  =====================

The normals are plain (untruncated) normals, as in the course's NumPy code;
Keras's ``he_normal``/``glorot_normal`` truncate at two standard deviations.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import DTypeLike

__all__ = ["zeros", "random_normal", "he_normal", "he_uniform", "xavier", "glorot_normal", "glorot_uniform", "get",
           "INITIALIZERS"]

# the annotations of every initializer: a (fan_in, fan_out, ...) shape; a
# Generator, a seed, or None for fresh entropy
Shape = tuple[int, ...]
Seed = np.random.Generator | int | None


def _rng(rng):
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")


def _fans(shape):
    if (not isinstance(shape, tuple) or len(shape) != 2
            or not all(isinstance(s, (int, np.integer)) and s > 0 for s in shape)):
        raise ValueError(f"shape must be (fan_in, fan_out) with positive ints, got {shape!r}")
    return int(shape[0]), int(shape[1])


def _dtype(dtype):
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def _normal(shape, std, rng, dtype):
    return (_rng(rng).standard_normal(shape) * std).astype(_dtype(dtype))


def _uniform(shape, limit, rng, dtype):
    return _rng(rng).uniform(-limit, limit, size=shape).astype(_dtype(dtype))


def zeros(shape: Shape, rng: Seed = None, dtype: DTypeLike = np.float64) -> np.ndarray:
    """All zeros: every unit computes the same function (symmetry is not broken)."""
    _fans(shape)
    return np.zeros(shape, dtype=_dtype(dtype))


def random_normal(shape: Shape, rng: Seed = None, dtype: DTypeLike = np.float64, scale: float = 0.01) -> np.ndarray:
    """N(0, scale^2); ``scale=10`` is the course's large random initialization."""
    _fans(shape)
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    return _normal(shape, scale, rng, dtype)


def he_normal(shape: Shape, rng: Seed = None, dtype: DTypeLike = np.float64) -> np.ndarray:
    """N(0, 2 / fan_in), for ReLU layers."""
    fan_in, _ = _fans(shape)
    return _normal(shape, np.sqrt(2.0 / fan_in), rng, dtype)


def he_uniform(shape: Shape, rng: Seed = None, dtype: DTypeLike = np.float64) -> np.ndarray:
    """U(-sqrt(6 / fan_in), sqrt(6 / fan_in)): variance 2 / fan_in."""
    fan_in, _ = _fans(shape)
    return _uniform(shape, np.sqrt(6.0 / fan_in), rng, dtype)


def xavier(shape: Shape, rng: Seed = None, dtype: DTypeLike = np.float64) -> np.ndarray:
    """N(0, 1 / fan_in), the course's Xavier initialization (for tanh)."""
    fan_in, _ = _fans(shape)
    return _normal(shape, np.sqrt(1.0 / fan_in), rng, dtype)


def glorot_normal(shape: Shape, rng: Seed = None, dtype: DTypeLike = np.float64) -> np.ndarray:
    """N(0, 2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(shape)
    return _normal(shape, np.sqrt(2.0 / (fan_in + fan_out)), rng, dtype)


def glorot_uniform(shape: Shape, rng: Seed = None, dtype: DTypeLike = np.float64) -> np.ndarray:
    """U(-sqrt(6 / (fan_in + fan_out)), +sqrt(6 / (fan_in + fan_out)))."""
    fan_in, fan_out = _fans(shape)
    return _uniform(shape, np.sqrt(6.0 / (fan_in + fan_out)), rng, dtype)


INITIALIZERS = {f.__name__: f for f in (
    zeros, random_normal, he_normal, he_uniform, xavier, glorot_normal, glorot_uniform)}


def get(name: str) -> Callable[..., np.ndarray]:
    """The initializer called ``name`` (see ``INITIALIZERS``)."""
    if name not in INITIALIZERS:
        raise ValueError(f"init must be one of {sorted(INITIALIZERS)}, got {name!r}")
    return INITIALIZERS[name]
