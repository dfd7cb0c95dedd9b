"""Moving data, cpu. Math: ``kernels/ref/data.py``.

Parallel over rows: each thread writes whole rows of ``out`` it owns. The
batch tests are serial, branch-free single passes (they vectorise) over a
C-contiguous array, without an early exit: a check of a valid batch reads
it all anyway.
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


@kernel(inline=True)
def _nonfinite(a):
    # x - x is 0 for a finite x and NaN for NaN and +-inf (no flag here lets
    # LLVM fold it to 0); an OR of booleans vectorises with no reassociation
    # of floats, so the step's own check (its caller) needs no ``reassoc``
    flat = a.reshape(a.size)
    bad = False
    for i in range(flat.size):
        v = flat[i]
        bad |= (v - v) != 0
    return bad


@kernel(inline=True)
def _outside_unit(a):
    flat = a.reshape(a.size)
    bad = False
    for i in range(flat.size):
        v = flat[i]
        bad |= (v < 0) | (v > 1) | (v != v)
    return bad


@kernel(inline=True)
def _labels_outside(a, n):
    bad = False
    for i in range(a.shape[0]):
        bad |= (a[i] < 0) | (a[i] >= n)
    return bad


@kernel
def nonfinite(a):
    """Whether a holds NaN or +-inf."""
    return _nonfinite(a)


@kernel
def outside_unit(a):
    """Whether a value of a lies outside [0, 1]; NaN does."""
    return _outside_unit(a)


@kernel
def labels_outside(a, n):
    """Whether a label of a lies outside [0, n)."""
    return _labels_outside(a, n)
