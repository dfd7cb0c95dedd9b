"""Moving data, cpu. Math: ``kernels/ref/data.py``.

Parallel over rows: each thread writes whole rows of ``out`` it owns.
"""
from ._jit import kernel, prange


@kernel(parallel=True)
def fill(a, value):
    """a[...] = value (a flat view)."""
    flat = a.reshape(a.size)
    for i in prange(flat.size):
        flat[i] = value


@kernel(parallel=True)
def gather_rows(out, x, idx):
    """out[i, :] = x[idx[i], :]."""
    for i in prange(out.shape[0]):
        r = idx[i]
        for j in range(out.shape[1]):
            out[i, j] = x[r, j]
