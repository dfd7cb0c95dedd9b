"""Data preparation.

``Standardizer``: input normalization (course 2, week 1): subtract the
training set's mean and divide by its standard deviation, then apply the
*same* mean and standard deviation to the dev and test sets, so that all
three live on the same scale.
"""
import numpy as np

from . import _checks


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
