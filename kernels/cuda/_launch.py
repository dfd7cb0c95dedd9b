"""Launch helpers shared by the cuda launchers."""
import math
import types

import numpy as np
from numba import config, cuda

# The simulator runs every thread as a Python thread: small blocks keep the
# CI's simulator run fast, and make the grid-stride loops and tiles of tiny
# test shapes take several trips. Kernels are correct for any of these.
SIMULATOR = bool(config.ENABLE_CUDASIM)
THREADS = 32 if SIMULATOR else 256   # threads per block for 1-D grid-stride kernels
MAX_BLOCKS = 4 if SIMULATOR else 65535   # grid-stride loops cover any size with a bounded grid


# What ``exp``, ``log``, ``log1p`` and ``tanh`` mean in the shared bodies of
# ``kernels/scalar.py`` on the GPU: libdevice's, through ``math``. The cpu
# binds them to ``kernels/vecmath``'s polynomials, which exist so that LLVM
# can vectorise CPU loops; a GPU thread has no such need, and libdevice is
# fast and accurate.
_GPU_MATH = {"exp": math.exp, "log": math.log, "log1p": math.log1p, "tanh": math.tanh}


def device_function(fn):
    """``fn`` (a shared per-element body) as a CUDA device function, with
    its elementary functions bound to ``math`` (see ``_GPU_MATH``)."""
    rebound = types.FunctionType(fn.__code__, {**fn.__globals__, **_GPU_MATH}, fn.__name__,
                                 fn.__defaults__, fn.__closure__)
    rebound.__qualname__ = fn.__qualname__
    rebound.__doc__ = fn.__doc__
    return cuda.jit(device=True)(rebound)


def grid_1d(n):
    """(blocks, threads) for a grid-stride loop over n items."""
    blocks = max(1, min(MAX_BLOCKS, (n + THREADS - 1) // THREADS))
    return blocks, THREADS


class on_device:
    """Move host arrays to the device for the duration of a launcher.

    ``with on_device(outputs, inputs) as (d_out, d_in): ...`` gives device
    arrays for every argument; host (NumPy) outputs are copied back on exit,
    device arrays are used in place and never copied.
    """

    def __init__(self, outputs, inputs):
        self.outputs = outputs
        self.inputs = inputs

    @staticmethod
    def _dev(a):
        if isinstance(a, np.ndarray):
            return cuda.to_device(a)
        if cuda.devicearray.is_cuda_ndarray(a):
            return a
        return cuda.as_cuda_array(a)            # CuPy, PyTorch, ...: a view, no copy

    def __enter__(self):
        self.d_out = [self._dev(a) for a in self.outputs]
        d_in = [self._dev(a) for a in self.inputs]
        return self.d_out, d_in

    def __exit__(self, *exc):
        if exc[0] is None:
            for host, dev in zip(self.outputs, self.d_out):
                if isinstance(host, np.ndarray):
                    dev.copy_to_host(host)
        return False

