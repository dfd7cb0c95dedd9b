"""Data preparation: splits, mini-batches, one-hot labels, input normalization.

``Standardizer``: input normalization (course 2, week 1): subtract the
training set's mean and divide by its standard deviation, then apply the
*same* mean and standard deviation to the dev and test sets, so that all
three live on the same scale.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from . import _checks

__all__ = ["train_dev_test_split", "minibatches", "one_hot", "Standardizer"]


def _rng(rng):
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def _xy(X, y):
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (examples, features), got shape {X.shape}")
    if y.ndim == 0 or y.shape[0] != X.shape[0]:
        raise ValueError(f"y has {y.shape[0] if y.ndim else 'no'} examples but X has {X.shape[0]}")
    return X, y


def train_dev_test_split(X: ArrayLike, y: ArrayLike, dev: float = 0.1, test: float = 0.1, seed: int = 0,
                         stratify: bool = False) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Shuffle and split into train, dev and test sets.

    Dev and test must come from the same distribution (course 3: set up
    dev/test sets to reflect the data you expect to get in the future, and
    from one distribution, so that doing well on dev means doing well on
    test). A random split of one pool guarantees that; ``stratify=True``
    keeps the class proportions of ``y`` in every part as well.

    Parameters
    ----------
    X : (m, features); y : (m,) or (m, k)
    dev, test : fractions of m (their sum < 1), or ints (example counts)
    seed : int or numpy.random.Generator

    Returns
    -------
    (X_train, y_train), (X_dev, y_dev), (X_test, y_test)
    """
    X, y = _xy(X, y)
    m = X.shape[0]

    def count(name, v):
        if isinstance(v, (float, np.floating)):
            v = _checks.scalar(name, v, low=0.0, high=1.0)
            return int(round(v * m))
        return _checks.positive_int(name, v, minimum=0, why=" (a fraction of m as a float, or a count)")

    n_dev, n_test = count("dev", dev), count("test", test)
    if n_dev + n_test >= m:
        raise ValueError(f"dev + test ({n_dev} + {n_test}) must leave training examples out of {m}")
    rng = _rng(seed)
    if not stratify:
        perm = rng.permutation(m)
        parts = [perm[n_dev + n_test:], perm[:n_dev], perm[n_dev:n_dev + n_test]]
    else:
        if y.ndim != 1:
            raise ValueError("stratify needs 1-D class labels y")
        parts = [[], [], []]
        for c in np.unique(y):
            idx = rng.permutation(np.flatnonzero(y == c))
            k_dev = int(round(len(idx) * n_dev / m))
            k_test = int(round(len(idx) * n_test / m))
            parts[1].append(idx[:k_dev])
            parts[2].append(idx[k_dev:k_dev + k_test])
            parts[0].append(idx[k_dev + k_test:])
        parts = [rng.permutation(np.concatenate(p)) for p in parts]
    return tuple((X[p], y[p]) for p in parts)


def minibatches(X: ArrayLike, y: ArrayLike, batch_size: int, rng: np.random.Generator | int | None = None,
                shuffle: bool = True) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The course's mini-batch partition: shuffle (X, y) together, then cut
    consecutive batches of ``batch_size``; the last, partial batch is kept.

    ``batch_size = m`` is batch gradient descent, ``1`` is stochastic. Yields
    C-contiguous ``(xb, yb)`` pairs.
    """
    X, y = _xy(X, y)
    batch_size = _checks.positive_int("batch_size", batch_size)
    m = X.shape[0]
    if shuffle:
        perm = _rng(rng).permutation(m)
        X, y = X[perm], y[perm]
    for start in range(0, m, int(batch_size)):
        yield X[start:start + batch_size], y[start:start + batch_size]


def one_hot(labels: ArrayLike, classes: int | None = None, dtype: DTypeLike = np.float64) -> np.ndarray:
    """(m,) integer labels -> (m, classes) one-hot rows."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be 1-D integers, got shape {labels.shape} dtype {labels.dtype}")
    classes = int(labels.max()) + 1 if classes is None else int(classes)
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(f"labels must lie in [0, {classes})")
    out = np.zeros((labels.size, classes), dtype=dtype)
    out[np.arange(labels.size), labels] = 1
    return out


class Standardizer:
    """Per-feature ``(x - mean) / std`` fitted on training data.

    Constant features (std == 0) are only centred (their std is taken as
    1), so they give zeros, never NaN. Statistics are computed in float64
    with two passes; ``transform`` returns the input's dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn.data import Standardizer
    >>> train = np.array([[1.0, 5.0], [3.0, 5.0]])
    >>> s = Standardizer().fit(train)
    >>> s.transform(np.array([[2.0, 5.0]]))
    array([[0., 0.]])
    """

    def __init__(self):
        self.mean = None
        self.std = None

    def fit(self, x):
        """Learn the per-feature mean and standard deviation of ``x`` (batch, features)."""
        _checks.array("x", x, 2)
        xf = np.asarray(x, dtype=np.float64)
        self.mean = xf.mean(axis=0)
        std = np.sqrt(((xf - self.mean) ** 2).mean(axis=0))
        self.std = np.where(std > 0, std, 1.0)
        return self

    def _fitted(self, x):
        if self.mean is None:
            raise RuntimeError("Standardizer is not fitted: call fit(train_x) first")
        _checks.array("x", x, 2)
        if x.shape[1] != self.mean.shape[0]:
            raise ValueError(f"x has {x.shape[1]} features, the Standardizer was fitted on "
                             f"{self.mean.shape[0]}")

    def transform(self, x):
        """``(x - mean) / std`` with the fitted statistics, in x's dtype."""
        self._fitted(x)
        return ((x - self.mean) / self.std).astype(x.dtype)

    def fit_transform(self, x):
        return self.fit(x).transform(x)

    def inverse_transform(self, z):
        """``z * std + mean``: back to the original units."""
        self._fitted(z)
        return (z * self.std + self.mean).astype(z.dtype)

    def state_dict(self):
        return {"mean": self.mean.copy(), "std": self.std.copy()}

    def load_state_dict(self, state):
        mean = np.asarray(state["mean"], dtype=np.float64)
        std = np.asarray(state["std"], dtype=np.float64)
        if mean.shape != std.shape or mean.ndim != 1 or np.any(std <= 0):
            raise ValueError("state must hold 1-D 'mean' and positive 'std' of the same shape")
        self.mean, self.std = mean, std
        return self
