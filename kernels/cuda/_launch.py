"""Launch helpers shared by the cuda launchers."""
import numpy as np
from numba import config, cuda

# The simulator runs every thread as a Python thread: small blocks keep the
# CI's simulator run fast, and make the grid-stride loops and tiles of tiny
# test shapes take several trips. Kernels are correct for any of these.
SIMULATOR = bool(config.ENABLE_CUDASIM)
THREADS = 32 if SIMULATOR else 256   # threads per block for 1-D grid-stride kernels
MAX_BLOCKS = 4 if SIMULATOR else 65535   # grid-stride loops cover any size with a bounded grid


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

