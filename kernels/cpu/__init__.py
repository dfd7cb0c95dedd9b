"""``@njit`` cpu kernels: same modules, names and signatures as ``ref``.

Kernels compile lazily on first call; see ``_jit`` for every numba option.
"""
from . import activations, batchnorm, data, dense, dropout, losses, metrics, optim, regularization  # noqa: F401
from ._blas import limit_blas_threads

limit_blas_threads()
