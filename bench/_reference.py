"""Hardware references measured in the same run as the kernels, compiled and
parallel over elements like the kernels they are compared with: STREAM's
copy (b = a: 2 arrays counted) and triad (a = b + s*c: 3 arrays), and an
in-place axpy (a += s*b: 3 arrays). Copy and triad write fresh arrays, whose
lines the CPU also reads first (write-allocate, not counted by STREAM); the
in-place kernels avoid that, so the summary compares every kernel with the
best reference of the same size."""
from numba import njit, prange


@njit(parallel=True, cache=True)
def copy(b, a):
    for i in prange(a.size):
        b[i] = a[i]


@njit(parallel=True, cache=True)
def triad(a, b, c, s):
    for i in prange(a.size):
        a[i] = b[i] + s * c[i]


@njit(parallel=True, cache=True)
def axpy(a, b, s):
    # in place, like the optimizer updates: reads a and b, writes a; no
    # write-allocate traffic, which a copy into a fresh array pays uncounted
    for i in prange(a.size):
        a[i] += s * b[i]
