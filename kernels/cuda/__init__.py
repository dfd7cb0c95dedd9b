"""``@cuda.jit`` kernels with host launchers: same modules, names and
signatures as ``ref``.

Kernels are lazy (no signatures), so importing this package needs no GPU and
no driver; they compile for the dtypes of the first launch. Launchers accept
NumPy arrays (moved to the device once per call, outputs copied back) or
device arrays / any ``__cuda_array_interface__`` object (used in place).
"""
from . import activations, batchnorm, data, dense, dropout, losses, metrics, optim, regularization  # noqa: F401
