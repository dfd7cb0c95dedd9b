"""Plain-NumPy reference kernels: the executable specification of fastnn."""
from . import activations, batchnorm, data, dense, dropout, losses, metrics, optim, regularization  # noqa: F401
