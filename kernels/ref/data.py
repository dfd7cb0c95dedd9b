"""Moving data on the side it lives, reference.

    fill(a, value)            a[...] = value
    gather_rows(out, x, idx)  out[i] = x[idx[i]]    (a shuffled copy of a dataset)

and the tests the API's input checks ask of a batch, each a bool (True: a
value is bad), in one pass, so a small batch pays one call, not a NumPy
reduction per test:

    nonfinite(a)              any NaN or +-inf in a
    outside_unit(a)           any value of a outside [0, 1] (NaN included)
    labels_outside(a, n)      any label of a outside [0, n)

``x`` and ``out`` are (rows, columns) of any dtype (features, float targets or
integer labels viewed as one column); ``idx`` holds intp row numbers, each
in [0, rows of x) (the API checks that: the kernels do not).

The tests only say whether; the API scans again for the error's index.
"""
import numpy as np


def fill(a, value):
    """a[...] = value."""
    a[...] = value


def gather_rows(out, x, idx):
    """out[i, :] = x[idx[i], :]."""
    out[...] = x[idx]


def nonfinite(a):
    """Whether a holds NaN, +inf or -inf."""
    return not bool(np.isfinite(a).all())


def outside_unit(a):
    """Whether a value of a lies outside [0, 1]; NaN does."""
    return not bool(((a >= 0) & (a <= 1)).all())


def labels_outside(a, n):
    """Whether a label of a lies outside [0, n)."""
    return bool(((a < 0) | (a >= n)).any())

