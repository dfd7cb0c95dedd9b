"""Launch helpers shared by the cuda launchers."""
import math
import sys
import threading
import types

import numpy as np
from numba import config, cuda

# The simulator runs every thread as a Python thread: small blocks keep the
# CI's simulator run fast, and make the grid-stride loops and tiles of tiny
# test shapes take several trips. Kernels are correct for any of these.
SIMULATOR = bool(config.ENABLE_CUDASIM)
THREADS = 32 if SIMULATOR else 256   # threads per block for 1-D grid-stride kernels
MAX_BLOCKS = 4 if SIMULATOR else 65535   # grid-stride loops cover any size with a bounded grid


def atomic_shared_arrays(shared_cls):
    """Make the simulator's ``cuda.shared.array`` allocate once per block.

    The simulator (numba-cuda <= 0.30 at least) runs a block's threads as
    Python threads and gives them one NumPy array per call site, looked up
    and, when missing, created and stored without a lock. A thread switch
    between the lookup and the store gives two threads of a block different
    arrays: one thread's shared writes then go to an orphan array, and a
    block reduction silently loses its partial (or reads ``np.empty``'s
    garbage). The CI's short GIL switch interval made this an occasional
    wrong gradient norm in the simulated fit tests. This replacement keys
    allocations the same way (the caller's file and line) and does the
    lookup-and-store under a lock. Dynamic shared memory (``shape == 0``) and
    ``alignment`` keep the original path: it has no per-call-site state.
    """
    original = shared_cls.array
    if getattr(original, "_fastnn_atomic", False):
        return
    lock = threading.Lock()

    def array(self, shape, dtype, alignment=None):
        if shape == 0 or alignment is not None:
            return original(self, shape, dtype, alignment)
        caller = sys._getframe(1)
        key = (caller.f_code.co_filename, caller.f_lineno)
        with lock:
            res = self._allocations.get(key)
            if res is None:
                res = np.empty(shape, _np_dtype(dtype))
                self._allocations[key] = res
        return res

    array._fastnn_atomic = True
    array.__doc__ = original.__doc__
    shared_cls.array = array


def _np_dtype(dtype):
    from numba.core import types as nbtypes
    from numba.np import numpy_support
    return numpy_support.as_dtype(dtype) if isinstance(dtype, nbtypes.Type) else np.dtype(dtype)


if SIMULATOR:
    from numba.cuda.simulator.kernelapi import FakeCUDAShared
    atomic_shared_arrays(FakeCUDAShared)


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

