"""Losses on logits with fused forward + backward, cpu.

Math and conventions: ``kernels/ref/losses.py``. Every kernel is parallel
over blocks of whole rows (examples): each thread owns whole rows of every
output, so there are no shared accumulators and results do not depend on the
thread count.

Why blocks and flat loops: a row has few classes (10 for digits), too short
for a vector, so a loop over one row runs ``exp`` an element at a time. The
exp-bound work instead runs over a block's elements as one flat,
contiguous loop (``vecmath.exp`` vectorises), with each element's row
statistic (max, 1/sum) spread into a per-element buffer by a cheap row loop.
"""
import numpy as np

from .. import scalar
from ..vecmath import exp, log, wide_vectors
from ._jit import kernel, prange

_bce_element = kernel(scalar.bce_element, inline=True)   # one body with cuda

# Elements per block (whole rows, at least one): the buffers stay in L1.
_BLOCK = 2048


@kernel(inline=True)
def _rows_per_block(k):
    return max(1, _BLOCK // k)


@kernel(inline=True)
def _block_softmax(p, z, k, rows):
    """p = exp(z - max of its row) over a block of ``rows`` rows of k, flat.

    Returns rowmax and rowsum (rows,) and spread (rows * k,): 1 / rowsum of
    each element's row, a workspace the caller may reuse.
    """
    rowmax = np.empty(rows, z.dtype)
    rowsum = np.empty(rows, z.dtype)
    spread = np.empty(rows * k, z.dtype)
    wide_vectors()   # the exp loop below is bound by arithmetic (vecmath)
    # The row loops index slices of one row from 0: an index numba knows is
    # non-negative needs no wraparound fix-up, which z[r * k + j] paid on
    # every load and store (four instructions each; 1.1x the kernel's time)
    for r in range(rows):
        zr = z[r * k:(r + 1) * k]
        sr = spread[r * k:(r + 1) * k]
        m = zr[0]
        for j in range(1, k):
            m = max(m, zr[j])
        rowmax[r] = m
        for j in range(k):
            sr[j] = m
    for t in range(rows * k):                 # the exp-bound loop: vectorised
        p[t] = exp(z[t] - spread[t])
    for r in range(rows):
        pr = p[r * k:(r + 1) * k]
        sr = spread[r * k:(r + 1) * k]
        s = type(z[0])(0)
        for j in range(k):
            s += pr[j]
        rowsum[r] = s
        inv = type(s)(1) / s
        for j in range(k):
            sr[j] = inv
    return rowmax, rowsum, spread


@kernel(parallel=True)
def softmax_forward(probs, logits):
    """probs = softmax(logits), row-wise, shifted by the row max."""
    batch, k = logits.shape
    z = logits.reshape(logits.size)
    p = probs.reshape(probs.size)
    rpb = _rows_per_block(k)
    for blk in prange((batch + rpb - 1) // rpb):
        i0 = blk * rpb
        rows = min(rpb, batch - i0)
        pb = p[i0 * k:(i0 + rows) * k]
        _, _, spread = _block_softmax(pb, z[i0 * k:(i0 + rows) * k], k, rows)
        for t in range(rows * k):
            pb[t] *= spread[t]


@kernel(parallel=True)
def softmax_cross_entropy(loss, dlogits, probs, logits, labels):
    """loss (batch,), probs (batch, k); dlogits += (probs - onehot) / batch."""
    batch, k = logits.shape
    inv_m = type(logits[0, 0])(1) / type(logits[0, 0])(batch)
    z = logits.reshape(logits.size)
    p = probs.reshape(probs.size)
    d = dlogits.reshape(dlogits.size)
    rpb = _rows_per_block(k)
    for blk in prange((batch + rpb - 1) // rpb):
        i0 = blk * rpb
        rows = min(rpb, batch - i0)
        pb = p[i0 * k:(i0 + rows) * k]
        db = d[i0 * k:(i0 + rows) * k]
        rowmax, rowsum, spread = _block_softmax(pb, z[i0 * k:(i0 + rows) * k], k, rows)
        for t in range(rows * k):
            pt = pb[t] * spread[t]
            pb[t] = pt
            db[t] += pt * inv_m
        for r in range(rows):
            # spread is free again: hold log(sum) per row, a vectorised loop
            spread[r] = log(rowsum[r])
        for r in range(rows):
            i = i0 + r
            lab = labels[i]
            dlogits[i, lab] -= inv_m
            loss[i] = spread[r] - (logits[i, lab] - rowmax[r])


@kernel(parallel=True)
def binary_cross_entropy(loss, dlogits, logits, y):
    """loss (batch,); dlogits += (sigmoid(z) - y) / (batch * k)."""
    batch, k = logits.shape
    one = type(logits[0, 0])(1)
    inv_n = one / type(one)(batch * k)
    inv_k = one / type(one)(k)
    z = logits.reshape(logits.size)
    yf = y.reshape(y.size)
    d = dlogits.reshape(dlogits.size)
    rpb = _rows_per_block(k)
    for blk in prange((batch + rpb - 1) // rpb):
        i0 = blk * rpb
        rows = min(rpb, batch - i0)
        terms = np.empty(rows * k, logits.dtype)
        wide_vectors()   # an exp and a log1p per element (vecmath)
        # slices, so the loop indexes from 0 and LLVM can vectorise it
        zb = z[i0 * k:(i0 + rows) * k]
        yb = yf[i0 * k:(i0 + rows) * k]
        db = d[i0 * k:(i0 + rows) * k]
        for t in range(rows * k):
            term, dz = _bce_element(zb[t], yb[t])
            terms[t] = term
            db[t] += dz * inv_n
        for r in range(rows):
            tr = terms[r * k:(r + 1) * k]    # a row slice, as in _block_softmax
            s = type(one)(0)
            for j in range(k):
                s += tr[j]
            loss[i0 + r] = s * inv_k


@kernel(parallel=True, reassoc=True)
def mean_squared_error(loss, dpred, pred, y):
    """loss (batch,); dpred += 2 (pred - y) / (batch * k)."""
    # reassoc: a row's sum of squares splits into vector lanes (the row is
    # the fixed chunk, owned by one thread, so the order is the same for
    # any thread count). dpred's bits are unchanged by it; the row sum's
    # serial chain of adds had made the kernel ~1.4x slower at k = 10.
    # Safe here because nothing in it is exp/log, whose magic-number
    # rounding reassociation would fold away.
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
