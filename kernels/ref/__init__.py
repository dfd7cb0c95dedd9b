"""Plain-NumPy reference kernels: the executable specification of fastnn."""
from . import activations, batchnorm, dense, dropout, losses, optim, regularization  # noqa: F401
