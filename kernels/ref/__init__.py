"""Plain-NumPy reference kernels: the executable specification of fastnn."""
from . import activations, dense, dropout, losses  # noqa: F401
