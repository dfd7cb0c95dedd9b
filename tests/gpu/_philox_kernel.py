"""A kernel that runs the cuda backend's Philox device function on given
counters and keys (a module of its own: the simulator swaps the ``cuda``
global of the module a kernel lives in)."""
from numba import cuda

from fastnn.kernels.cuda.dropout import _philox


@cuda.jit
def philox_kernel(out, inp):
    i = cuda.grid(1)
    if i < inp.shape[0]:
        w0, w1, w2, w3 = _philox(inp[i, 0], inp[i, 1], inp[i, 2], inp[i, 3], inp[i, 4], inp[i, 5])
        out[i, 0] = w0
        out[i, 1] = w1
        out[i, 2] = w2
        out[i, 3] = w3
