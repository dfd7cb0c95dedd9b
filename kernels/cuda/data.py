"""Moving data on the device, cuda. Math: ``kernels/ref/data.py``.

One thread per element, grid-stride; for ``gather_rows`` consecutive threads
take consecutive columns of a row, so reads and writes of a row coalesce.
"""
from numba import cuda

from ..codes import COUNTER_BATCH
from ._launch import grid_1d, on_device


@cuda.jit
def fill_kernel(a, value):
    # a is a flat view
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, a.size, stride):
        a[i] = value


@cuda.jit
def gather_rows_kernel(out, x, idx):
    rows, cols = out.shape
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for k in range(start, rows * cols, stride):
        i = k // cols
        j = k - i * cols
        out[i, j] = x[idx[i], j]


@cuda.jit
def gather_batch_kernel(xb, yb, x, y, order, counters, stride):
    """A replayed step's batch: rows order[b * stride + i] of x and y, with
    b = counters[COUNTER_BATCH] read on the device (stride: the full batch
    size, so the last, shorter batch starts in its place)."""
    rows, cols = xb.shape
    ycols = yb.shape[1]
    first = counters[COUNTER_BATCH] * stride
    start, step = cuda.grid(1), cuda.gridsize(1)
    for k in range(start, rows * (cols + ycols), step):
        i = k // (cols + ycols)
        j = k - i * (cols + ycols)
        src = order[first + i]
        if j < cols:
            xb[i, j] = x[src, j]
        else:
            yb[i, j - cols] = y[src, j - cols]


def fill(a, value):
    """a[...] = value."""
    with on_device([a], []) as ((d_a,), _):
        if d_a.size:
            flat = d_a.reshape(d_a.size)
            fill_kernel[grid_1d(d_a.size)](flat, flat.dtype.type(value))


def gather_rows(out, x, idx):
    """out[i, :] = x[idx[i], :]."""
    with on_device([out], [x, idx]) as ((d_out,), (d_x, d_idx)):
        gather_rows_kernel[grid_1d(d_out.size)](d_out, d_x, d_idx)


def ptx_signatures(ty):
    """Argument types of each kernel here for a float type ``ty`` (PTX tests)."""
    from numba import types
    m = ty[:, ::1]
    return {fill_kernel: (ty[::1], ty),
            gather_rows_kernel: (m, m, types.intp[::1]),
            gather_batch_kernel: (m, m, m, m, types.intp[::1], types.int64[::1], types.int64)}
