"""Losses on logits with fused forward + backward, cuda.

Math and conventions: ``kernels/ref/losses.py``. One thread per row
(example), grid-stride over rows: each thread owns whole rows of every
output, so there are no atomics and results are deterministic. (Rows are
short here, classes <= a few hundred; a warp-per-row variant is the
optimisation for wide rows.)
"""

from numba import cuda

from .. import scalar
from ._launch import device_function, grid_1d, on_device

# per-row helpers, one body with the cpu backend
_row_softmax = device_function(scalar.row_softmax)
_softmax_ce_row = device_function(scalar.softmax_ce_row)
_bce_element = device_function(scalar.bce_element)


@cuda.jit
def softmax_forward_kernel(probs, logits):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, logits.shape[0], stride):
        s, zmax = _row_softmax(probs, logits, i)
        inv = type(s)(1) / s
        for j in range(logits.shape[1]):
            probs[i, j] *= inv


@cuda.jit
def softmax_cross_entropy_kernel(loss, dlogits, probs, logits, labels):
    batch, k = logits.shape
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, batch, stride):
        s, zmax = _row_softmax(probs, logits, i)
        _softmax_ce_row(loss, dlogits, probs, logits, labels, i, s, zmax, type(s)(1) / type(s)(batch))


@cuda.jit
def binary_cross_entropy_kernel(loss, dlogits, logits, y):
    batch, k = logits.shape
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, batch, stride):
        one = type(logits[i, 0])(1)
        zero = type(one)(0)
        inv_n = one / type(one)(batch * k)
        s = zero
        for j in range(k):
            term, dz = _bce_element(logits[i, j], y[i, j])
            s += term
            dlogits[i, j] += dz * inv_n
        loss[i] = s / type(one)(k)


@cuda.jit
def mean_squared_error_kernel(loss, dpred, pred, y):
    batch, k = pred.shape
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, batch, stride):
        one = type(pred[i, 0])(1)
        two_inv_n = (one + one) / type(one)(batch * k)
        s = type(one)(0)
        for j in range(k):
            r = pred[i, j] - y[i, j]
            s += r * r
            dpred[i, j] += r * two_inv_n
        loss[i] = s / type(one)(k)


def softmax_forward(probs, logits):
    """probs = softmax(logits), row-wise."""
    with on_device([probs], [logits]) as ((d_p,), (d_z,)):
        softmax_forward_kernel[grid_1d(d_z.shape[0])](d_p, d_z)


def softmax_cross_entropy(loss, dlogits, probs, logits, labels):
    """loss (batch,), probs; dlogits += (probs - onehot) / batch."""
    with on_device([loss, dlogits, probs], [logits, labels]) as (
            (d_l, d_g, d_p), (d_z, d_lab)):
        softmax_cross_entropy_kernel[grid_1d(d_z.shape[0])](d_l, d_g, d_p, d_z, d_lab)


def binary_cross_entropy(loss, dlogits, logits, y):
    """loss (batch,); dlogits += (sigmoid(z) - y) / (batch * k)."""
    with on_device([loss, dlogits], [logits, y]) as ((d_l, d_g), (d_z, d_y)):
        binary_cross_entropy_kernel[grid_1d(d_z.shape[0])](d_l, d_g, d_z, d_y)


def mean_squared_error(loss, dpred, pred, y):
    """loss (batch,); dpred += 2 (pred - y) / (batch * k)."""
    with on_device([loss, dpred], [pred, y]) as ((d_l, d_g), (d_p, d_y)):
        mean_squared_error_kernel[grid_1d(d_p.shape[0])](d_l, d_g, d_p, d_y)


def ptx_signatures(ty):
    """Argument types of each kernel here for a float type ``ty`` (PTX tests)."""
    from numba import types
    m, v = ty[:, ::1], ty[::1]
    return {softmax_forward_kernel: (m, m),
            softmax_cross_entropy_kernel: (v, m, m, m, types.intp[::1]),
            binary_cross_entropy_kernel: (v, m, m, m),
            mean_squared_error_kernel: (v, m, m, m)}
