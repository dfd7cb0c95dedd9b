"""The course, drop-in: the assignments of "Improving Deep Neural Networks"
with their own functions, names, arguments and layouts, computed by
fastnn.

Course layout, as in the notebooks: a dictionary of parameters ``W1, b1,
...`` with ``W[l]`` of shape ``(n_l, n_{l-1})`` and ``b[l]`` of shape
``(n_l, 1)``; ``X`` of shape ``(n_x, m)``, one example per column; ``Y`` of
shape ``(1, m)``. Randomness follows the notebooks' recipes exactly (the
legacy ``np.random.seed`` then ``randn``/``rand``/``permutation``, which
reseed NumPy's global generator as the notebooks do), so the numbers are
the notebooks' numbers.

One module per assignment:

- ``fastnn.course.initialization``: zeros, random and He initialization,
  the circles data and the notebook's ``model``.
- ``fastnn.course.regularization``: L2 and dropout (the notebook's masks),
  and its ``model`` on the learner's football data.
- ``fastnn.course.gradient_checking``: the N-dimensional gradient check.
- ``fastnn.course.optimization``: mini-batches, momentum, Adam, learning-rate
  decay, the moons data and the notebook's ``model``.
- ``fastnn.course.datasets``: the notebooks' data, regenerated from their
  recipes and seeds (no scikit-learn needed).

The models train on ``kernels/cpu/course.py``: the whole run in one
compiled call, in the course layout.
"""
from . import datasets, gradient_checking, initialization, optimization, regularization

__all__ = ["datasets", "initialization", "regularization", "gradient_checking", "optimization"]
