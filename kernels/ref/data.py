"""Moving data on the side it lives, reference.

    fill(a, value)            a[...] = value
    gather_rows(out, x, idx)  out[i] = x[idx[i]]    (a shuffled copy of a dataset)

``x`` and ``out`` are (rows, columns) of any dtype (features, float targets or
integer labels viewed as one column); ``idx`` holds intp row numbers, each
in [0, rows of x) (the API checks that: the kernels do not).
"""


def fill(a, value):
    """a[...] = value."""
    a[...] = value


def gather_rows(out, x, idx):
    """out[i, :] = x[idx[i], :]."""
    out[...] = x[idx]
