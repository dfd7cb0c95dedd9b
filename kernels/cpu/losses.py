"""Losses on logits with fused forward + backward, cpu.

Math and conventions: ``kernels/ref/losses.py``. Every kernel is parallel
over rows (examples): each thread owns whole rows of every output, so there
are no shared accumulators and results do not depend on the thread count.
"""
import numpy as np

from .. import scalar
from ._jit import kernel, prange

# per-row helpers, one body with the cuda backend: exp(z - max) of a row into
# probs returning (sum, max); and the rest of a softmax cross-entropy row
_row_softmax = kernel(scalar.row_softmax, inline=True)
_softmax_ce_row = kernel(scalar.softmax_ce_row, inline=True)


@kernel(parallel=True)
def softmax_forward(probs, logits):
    """probs = softmax(logits), row-wise, shifted by the row max."""
    batch, k = logits.shape
    for i in prange(batch):
        s, zmax = _row_softmax(probs, logits, i)
        inv = type(zmax)(1) / s
        for j in range(k):
            probs[i, j] *= inv


@kernel(parallel=True)
def softmax_cross_entropy(loss, dlogits, probs, logits, labels):
    """loss (batch,), probs (batch, k); dlogits += (probs - onehot) / batch."""
    batch, k = logits.shape
    inv_m = type(logits[0, 0])(1) / type(logits[0, 0])(batch)
    for i in prange(batch):
        s, zmax = _row_softmax(probs, logits, i)
        _softmax_ce_row(loss, dlogits, probs, logits, labels, i, s, zmax, inv_m)


@kernel(parallel=True)
def binary_cross_entropy(loss, dlogits, logits, y):
    """loss (batch,); dlogits += (sigmoid(z) - y) / (batch * k)."""
    batch, k = logits.shape
    one = type(logits[0, 0])(1)
    zero = type(logits[0, 0])(0)
    inv_n = one / type(one)(batch * k)
    inv_k = one / type(one)(k)
    for i in prange(batch):
        s = zero
        for j in range(k):
            z = logits[i, j]
            e = np.exp(-abs(z))                     # in (0, 1]: never overflows
            s += max(z, zero) - z * y[i, j] + np.log1p(e)
            sig = one / (one + e) if z >= zero else e / (one + e)
            dlogits[i, j] += (sig - y[i, j]) * inv_n
        loss[i] = s * inv_k


@kernel(parallel=True)
def mean_squared_error(loss, dpred, pred, y):
    """loss (batch,); dpred += 2 (pred - y) / (batch * k)."""
    batch, k = pred.shape
    one = type(pred[0, 0])(1)
    two_inv_n = (one + one) / type(one)(batch * k)
    inv_k = one / type(one)(k)
    for i in prange(batch):
        s = type(one)(0)
        for j in range(k):
            r = pred[i, j] - y[i, j]
            s += r * r
            dpred[i, j] += r * two_inv_n
        loss[i] = s * inv_k
