"""The notebooks' data, regenerated from their recipes and seeds.

The assignments draw their 2-D sets with scikit-learn's ``make_circles``
and ``make_moons`` from NumPy's global legacy generator, seeded just
before. The same algorithm is written here (points on the curves, a
legacy-generator shuffle, then Gaussian noise), so the sets are the
notebooks' to the last bit without scikit-learn; a test compares them with
scikit-learn's where it is installed.

The regularization assignment's football set ships with the assignment, not
with fastnn: its ``model`` takes the learner's data.
"""
from __future__ import annotations

import numpy as np

from .. import _checks

__all__ = ["make_circles", "make_moons", "load_circles", "load_moons"]


def _shuffle_then_noise(X, y, rng, noise):
    # scikit-learn's order: shuffle (a legacy shuffle of arange), then noise
    order = np.arange(X.shape[0])
    rng.shuffle(order)
    X, y = X[order], y[order]
    if noise is not None:
        X = X + rng.normal(scale=noise, size=X.shape)
    return X, y


def _generator(random_state):
    """NumPy's global legacy generator (what the notebooks seed), or a
    ``RandomState`` of the given seed."""
    if random_state is None:
        return np.random.mtrand._rand
    if isinstance(random_state, np.random.RandomState):
        return random_state
    return np.random.RandomState(_checks.uint64("random_state", random_state) % 2 ** 32)


def make_circles(n_samples: int = 100, noise: float | None = None, factor: float = 0.8,
                 random_state=None) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles, scikit-learn's recipe (batch-major ``X:
    (n, 2)``, ``y: (n,)``); ``random_state=None`` draws from NumPy's global
    legacy generator, as the notebooks do after ``np.random.seed``."""
    n = _checks.positive_int("n_samples", n_samples, minimum=2)
    factor = _checks.scalar("factor", factor, low=0.0, high=1.0)
    noise = None if noise is None else _checks.scalar("noise", noise, low=0.0)
    n_out, n_in = n // 2, n - n // 2
    t_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    X = np.vstack([np.append(np.cos(t_out), np.cos(t_in) * factor),
                   np.append(np.sin(t_out), np.sin(t_in) * factor)]).T
    y = np.hstack([np.zeros(n_out, np.intp), np.ones(n_in, np.intp)])
    return _shuffle_then_noise(X, y, _generator(random_state), noise)


def make_moons(n_samples: int = 100, noise: float | None = None,
               random_state=None) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles, scikit-learn's recipe (see ``make_circles``)."""
    n = _checks.positive_int("n_samples", n_samples, minimum=2)
    noise = None if noise is None else _checks.scalar("noise", noise, low=0.0)
    n_out, n_in = n // 2, n - n // 2
    X = np.vstack([np.append(np.cos(np.linspace(0, np.pi, n_out)), 1 - np.cos(np.linspace(0, np.pi, n_in))),
                   np.append(np.sin(np.linspace(0, np.pi, n_out)),
                             1 - np.sin(np.linspace(0, np.pi, n_in)) - 0.5)]).T
    y = np.hstack([np.zeros(n_out, np.intp), np.ones(n_in, np.intp)])
    return _shuffle_then_noise(X, y, _generator(random_state), noise)


def _course(X, y):
    return X.T, y.reshape((1, y.shape[0]))


def load_circles() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The initialization assignment's data: ``train_X (2, 300)``,
    ``train_Y (1, 300)``, ``test_X (2, 100)``, ``test_Y (1, 100)``
    (``np.random.seed(1)``, 300 circles points with noise 0.05; then seed 2
    and 100 points)."""
    np.random.seed(1)
    train = _course(*make_circles(n_samples=300, noise=0.05))
    np.random.seed(2)
    test = _course(*make_circles(n_samples=100, noise=0.05))
    return (*train, *test)


def load_moons() -> tuple[np.ndarray, np.ndarray]:
    """The optimization assignment's data: ``train_X (2, 300)``, ``train_Y
    (1, 300)`` (``np.random.seed(3)``, 300 moons points with noise 0.2)."""
    np.random.seed(3)
    return _course(*make_moons(n_samples=300, noise=0.2))
