"""Plain-NumPy reference kernels: the executable specification of fastnn."""
from . import activations, dense, losses  # noqa: F401
