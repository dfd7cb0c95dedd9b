"""Datasets for the course's experiments, generated or shipped in the package.

2D problems (float64 ``X: (m, 2)``, integer ``y: (m,)``), generated with NumPy
from a seed, like the course's notebooks: ``circles``, ``moons``, ``spirals``
and ``blobs``. One small real dataset ships inside the package:
``load_digits``.
"""
import importlib.resources

import numpy as np

from .. import _checks

__all__ = ["circles", "moons", "spirals", "blobs", "load_digits", "DATASETS"]


def _rng(seed):
    return np.random.default_rng(seed)


def _sizes(n, classes=2):
    """``n`` examples over ``classes`` classes, every class present."""
    classes = _checks.positive_int("classes", classes)
    return _checks.positive_int("n", n, minimum=classes, why=f" (at least one example per class, {classes})"), classes


def _spread(name, value):
    return _checks.scalar(name, value, low=0.0)


def circles(n=300, noise=0.05, factor=0.5, seed=0):
    """Two concentric circles (the course's initialization problem).

    Class 0 on the outer circle of radius 1, class 1 on the inner circle of
    radius ``factor``; Gaussian ``noise`` on both coordinates.
    """
    n, _ = _sizes(n)
    noise = _spread("noise", noise)
    factor = _checks.scalar("factor", factor, low=0.0, low_open=True, high=1.0)
    rng = _rng(seed)
    n0 = n // 2
    t = rng.uniform(0, 2 * np.pi, n)
    r = np.where(np.arange(n) < n0, 1.0, factor)
    X = np.stack([r * np.cos(t), r * np.sin(t)], axis=1) + noise * rng.standard_normal((n, 2))
    y = (np.arange(n) >= n0).astype(np.int64)
    perm = rng.permutation(n)
    return X[perm], y[perm]


def moons(n=300, noise=0.2, seed=0):
    """Two interleaving half circles (the course's optimization problem)."""
    n, _ = _sizes(n)
    noise = _spread("noise", noise)
    rng = _rng(seed)
    n0 = n // 2
    t0 = rng.uniform(0, np.pi, n0)
    t1 = rng.uniform(0, np.pi, n - n0)
    X = np.concatenate([np.stack([np.cos(t0), np.sin(t0)], 1),
                        np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], 1)])
    X += noise * rng.standard_normal(X.shape)
    y = np.concatenate([np.zeros(n0, np.int64), np.ones(n - n0, np.int64)])
    perm = rng.permutation(n)
    return X[perm], y[perm]


def spirals(n=300, classes=2, noise=0.2, turns=1.5, seed=0):
    """Interleaved spiral arms, one per class (hard for a linear model)."""
    n, classes = _sizes(n, classes)
    noise, turns = _spread("noise", noise), _spread("turns", turns)
    rng = _rng(seed)
    per = n // classes
    Xs, ys = [], []
    for c in range(classes):
        m = per if c < classes - 1 else n - per * (classes - 1)
        r = np.linspace(0.05, 1, m)
        t = 2 * np.pi * turns * r + 2 * np.pi * c / classes + noise * rng.standard_normal(m)
        Xs.append(np.stack([r * np.sin(t), r * np.cos(t)], 1))
        ys.append(np.full(m, c, np.int64))
    X, y = np.concatenate(Xs), np.concatenate(ys)
    perm = rng.permutation(n)
    return X[perm], y[perm]


def blobs(n=300, classes=3, std=1.0, spread=4.0, seed=0):
    """Gaussian blobs around random centres in [-spread, spread]^2."""
    n, classes = _sizes(n, classes)
    std, spread = _spread("std", std), _spread("spread", spread)
    rng = _rng(seed)
    centres = rng.uniform(-spread, spread, (classes, 2))
    y = rng.integers(0, classes, n)
    X = centres[y] + std * rng.standard_normal((n, 2))
    return X, y.astype(np.int64)


def load_digits():
    """The 8x8 handwritten digits: 1,797 images of 10 classes.

    Returns ``(X, y)``: ``X`` float64 ``(1797, 64)`` pixel counts in 0..16
    (flattened 8x8 images), ``y`` int64 labels 0..9.

    Source: the test set of UCI's "Optical Recognition of Handwritten Digits"
    (E. Alpaydin and C. Kaynak, 1998), https://doi.org/10.24432/C50P49,
    licensed CC BY 4.0. Shipped compressed (45 KB) as ``digits.npz``.
    """
    with importlib.resources.files(__package__).joinpath("digits.npz").open("rb") as f:
        with np.load(f, allow_pickle=False) as data:
            images, target = data["images"], data["target"]
    return images.reshape(len(images), 64).astype(np.float64), target.astype(np.int64)


DATASETS = {"circles": circles, "moons": moons, "spirals": spirals, "blobs": blobs}
