"""Losses on logits with fused forward + backward, cuda.

Math and conventions: ``kernels/ref/losses.py``. Softmax cross-entropy
gives each row LANES threads (a warp on a GPU) that read it together and
fold its max and sum in a fixed tree; the elementwise losses give a thread
per row. No atomics: results are deterministic. The fused kernels take
``accumulate``: add into the gradient (the layer path's contract) or write
it (a replayed step, whose buffers are not zeroed).
"""
import math

from numba import cuda

from .. import scalar
from ._launch import device_function, grid_1d, on_device
from ._reduce import LANES, RPB, row_fold, row_grid

# per-row helpers, one body with the cpu backend
_row_softmax = device_function(scalar.row_softmax)
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
def softmax_cross_entropy_kernel(loss, dlogits, probs, logits, labels, accumulate):
    # LANES threads per row and RPB rows per block (``_reduce.row_grid``):
    # a row's lanes read it together (coalesced, however wide), and its max
    # and sum fold in a fixed tree (``row_fold``), so the result does not
    # depend on timing. Blocks stride over groups of RPB rows.
    batch, k = logits.shape
    part = cuda.shared.array((RPB, LANES), logits.dtype)
    lane, r = cuda.threadIdx.x, cuda.threadIdx.y
    zero = type(logits[0, 0])(0)
    inv_m = type(zero)(1) / type(zero)(batch)
    for group in range(cuda.blockIdx.x, (batch + RPB - 1) // RPB, cuda.gridDim.x):
        i = group * RPB + r
        live = i < batch        # a ragged last group: idle rows still meet every barrier
        zmax = logits[i, 0] if live else zero
        if live:
            for j in range(lane, k, LANES):
                zmax = max(zmax, logits[i, j])
        zmax = row_fold(part, zmax, True)
        s = zero
        if live:
            for j in range(lane, k, LANES):
                e = math.exp(logits[i, j] - zmax)
                probs[i, j] = e
                s += e
        s = row_fold(part, s, False)
        if live:
            inv = type(zero)(1) / s
            lab = labels[i]
            for j in range(lane, k, LANES):
                p = probs[i, j] * inv
                probs[i, j] = p
                g = p * inv_m - inv_m if j == lab else p * inv_m
                dlogits[i, j] = dlogits[i, j] + g if accumulate else g
            if lane == 0:
                loss[i] = math.log(s) - (logits[i, lab] - zmax)


@cuda.jit
def binary_cross_entropy_kernel(loss, dlogits, logits, y, accumulate):
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
            dlogits[i, j] = dlogits[i, j] + dz * inv_n if accumulate else dz * inv_n
        loss[i] = s / type(one)(k)


@cuda.jit
def mean_squared_error_kernel(loss, dpred, pred, y, accumulate):
    batch, k = pred.shape
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, batch, stride):
        one = type(pred[i, 0])(1)
        two_inv_n = (one + one) / type(one)(batch * k)
        s = type(one)(0)
        for j in range(k):
            r = pred[i, j] - y[i, j]
            s += r * r
            dpred[i, j] = dpred[i, j] + r * two_inv_n if accumulate else r * two_inv_n
        loss[i] = s / type(one)(k)


def softmax_forward(probs, logits):
    """probs = softmax(logits), row-wise."""
    with on_device([probs], [logits]) as ((d_p,), (d_z,)):
        softmax_forward_kernel[grid_1d(d_z.shape[0])](d_p, d_z)


def softmax_cross_entropy(loss, dlogits, probs, logits, labels):
    """loss (batch,), probs; dlogits += (probs - onehot) / batch."""
    with on_device([loss, dlogits, probs], [logits, labels]) as (
            (d_l, d_g, d_p), (d_z, d_lab)):
        softmax_cross_entropy_kernel[row_grid(d_z.shape[0])](d_l, d_g, d_p, d_z, d_lab, True)


def binary_cross_entropy(loss, dlogits, logits, y):
    """loss (batch,); dlogits += (sigmoid(z) - y) / (batch * k)."""
    with on_device([loss, dlogits], [logits, y]) as ((d_l, d_g), (d_z, d_y)):
        binary_cross_entropy_kernel[grid_1d(d_z.shape[0])](d_l, d_g, d_z, d_y, True)


def mean_squared_error(loss, dpred, pred, y):
    """loss (batch,); dpred += 2 (pred - y) / (batch * k)."""
    with on_device([loss, dpred], [pred, y]) as ((d_l, d_g), (d_p, d_y)):
        mean_squared_error_kernel[grid_1d(d_p.shape[0])](d_l, d_g, d_p, d_y, True)


def ptx_signatures(ty):
    """Argument types of each kernel here for a float type ``ty`` (PTX tests)."""
    from numba import types
    m, v = ty[:, ::1], ty[::1]
    return {softmax_forward_kernel: (m, m),
            softmax_cross_entropy_kernel: (v, m, m, m, types.intp[::1], types.boolean),
            binary_cross_entropy_kernel: (v, m, m, m, types.boolean),
            mean_squared_error_kernel: (v, m, m, m, types.boolean)}
