"""The course's training loop in its own layout, cpu. Math, arguments and
conventions: ``kernels/ref/course.py``.

The whole run (every epoch and mini-batch) is one call: the course's
networks are a few units wide, so a step is microseconds of arithmetic and
any per-step dispatch would dominate. Activations stay in the course layout,
``(n_l, mb)`` rows with the examples contiguous, so every loop runs over
examples and vectorises whatever the layer widths (2, 5, 10 units); there
is no BLAS call, whose fixed cost exceeds such a product. Sums over the
examples (dW, db, the cost) run in column order, so results do not depend
on anything but the data.
"""
import math

import numpy as np

from ..codes import COURSE_ADAM, COURSE_BETA1, COURSE_BETA2, COURSE_EPS, COURSE_KEEP_PROB, COURSE_LAMBD, COURSE_MOMENTUM
from ..vecmath import wide_vectors
from ._jit import kernel


@kernel(inline=True)
def _update(p, g, v, s, lo, hi, shift, lr, code, b1, b2, eps, bc1, bc2):
    # p[lo:hi] with its gradient g[lo:hi] and moments v, s[shift + lo: shift + hi] (as ref)
    for i in range(lo, hi):
        if code == COURSE_MOMENTUM:
            v[shift + i] = b1 * v[shift + i] + (1 - b1) * g[i]
            p[i] -= lr * v[shift + i]
        elif code == COURSE_ADAM:
            v[shift + i] = b1 * v[shift + i] + (1 - b1) * g[i]
            s[shift + i] = b2 * s[shift + i] + (1 - b2) * g[i] * g[i]
            p[i] -= lr * (v[shift + i] / bc1) / (math.sqrt(s[shift + i] / bc2) + eps)
        else:
            p[i] -= lr * g[i]


@kernel(inline=True)
def _rows4(dst, r, src, q0, q1, q2, q3, w0, w1, w2, w3, c, mb, first):
    # dst[r, :mb] = (first) or += the first c of w0*src[q0] + ... + w3*src[q3],
    # in one pass: a pass per input row costs its loop set-up and a load and a
    # store of dst each time, more than the multiply-adds of these short rows
    if c == 4:
        if first:
            for i in range(mb):
                dst[r, i] = w0 * src[q0, i] + w1 * src[q1, i] + w2 * src[q2, i] + w3 * src[q3, i]
        else:
            for i in range(mb):
                dst[r, i] += w0 * src[q0, i] + w1 * src[q1, i] + w2 * src[q2, i] + w3 * src[q3, i]
    elif c == 3:
        if first:
            for i in range(mb):
                dst[r, i] = w0 * src[q0, i] + w1 * src[q1, i] + w2 * src[q2, i]
        else:
            for i in range(mb):
                dst[r, i] += w0 * src[q0, i] + w1 * src[q1, i] + w2 * src[q2, i]
    elif c == 2:
        if first:
            for i in range(mb):
                dst[r, i] = w0 * src[q0, i] + w1 * src[q1, i]
        else:
            for i in range(mb):
                dst[r, i] += w0 * src[q0, i] + w1 * src[q1, i]
    else:
        if first:
            for i in range(mb):
                dst[r, i] = w0 * src[q0, i]
        else:
            for i in range(mb):
                dst[r, i] += w0 * src[q0, i]


@kernel(inline=True)
def _dots4(a, ra, b, q0, q1, q2, q3, c, mb):
    # sum over i of a[ra, i] * b[q, i] for the first c of q0..q3, in one pass
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    if c == 4:
        for i in range(mb):
            x = a[ra, i]
            s0 += x * b[q0, i]
            s1 += x * b[q1, i]
            s2 += x * b[q2, i]
            s3 += x * b[q3, i]
    elif c == 3:
        for i in range(mb):
            x = a[ra, i]
            s0 += x * b[q0, i]
            s1 += x * b[q1, i]
            s2 += x * b[q2, i]
    elif c == 2:
        for i in range(mb):
            x = a[ra, i]
            s0 += x * b[q0, i]
            s1 += x * b[q1, i]
    else:
        for i in range(mb):
            s0 += a[ra, i] * b[q0, i]
    return s0, s1, s2, s3


@kernel(reassoc=True)
def course_train(W, b, state1, state2, costs, counter, X, Y, masks, perms, lrs, dims, hyper, opt_code,
                 batch_size, every):
    """Train for ``lrs.size`` epochs in place (``kernels/ref/course.py``)."""
    wide_vectors()     # the rows live in L1: the loops are bound by arithmetic, not memory
    L = dims.shape[0] - 1
    n0, m = X.shape
    lambd = hyper[COURSE_LAMBD]
    keep = hyper[COURSE_KEEP_PROB]
    b1 = hyper[COURSE_BETA1]
    b2 = hyper[COURSE_BETA2]
    eps = hyper[COURSE_EPS]
    has_masks = masks.shape[0] > 0
    in_order = perms.shape[0] == 0          # batches are consecutive columns
    nW = W.size
    # offsets of each layer's W, b, activations and mask rows
    wo = np.zeros(L + 1, np.int64)
    bo = np.zeros(L + 1, np.int64)
    ao = np.zeros(L + 2, np.int64)
    mo = np.zeros(L + 1, np.int64)
    widest = n0
    for l in range(1, L + 1):
        widest = max(widest, dims[l])
    w = 0
    bb = 0
    a = 0
    mr = 0
    for l in range(1, L + 1):
        wo[l] = w
        bo[l] = bb
        w += dims[l] * dims[l - 1]
        bb += dims[l]
        mo[l] = mr
        if l < L:
            mr += dims[l]
    for l in range(L + 1):
        ao[l] = a
        a += dims[l]
    mbmax = min(batch_size, m)
    acts = np.empty((a, mbmax))           # A[l] rows ao[l] .. ao[l] + dims[l]
    dz = np.empty((widest, mbmax))
    da = np.empty((widest, mbmax))
    gw = np.empty(nW)
    gb = np.empty(b.size)
    cols = np.empty(mbmax, np.int64)
    t = counter[0]
    for e in range(lrs.size):
        lr = lrs[e]
        record = every > 0 and e % every == 0
        total = 0.0
        penalty = 0.0
        if record and lambd != 0.0:
            sq = 0.0
            for i in range(nW):
                sq += W[i] * W[i]
            penalty = (1.0 / m * lambd / 2) * sq
        for s0 in range(0, m, batch_size):
            mb = min(batch_size, m - s0)
            for i in range(mb):
                cols[i] = perms[e, s0 + i] if perms.shape[0] > 0 else s0 + i
            # A[0]: the batch's columns of X
            for k in range(n0):
                for i in range(mb):
                    acts[k, i] = X[k, cols[i]]
            # forward (2-D indexing throughout: a row view per inner loop
            # would cost a reference count each, more than its arithmetic)
            for l in range(1, L + 1):
                n, n_prev = dims[l], dims[l - 1]
                for j in range(n):
                    r = ao[l] + j
                    # Z = W @ A + b summed over k in order, then b (as ref);
                    # the first term writes the row, the activation is applied
                    # in a pass of its own only where it needs one
                    for k in range(0, n_prev, 4):
                        c = min(4, n_prev - k)
                        base = wo[l] + j * n_prev + k
                        q = ao[l - 1] + k
                        _rows4(acts, r, acts, q, q + 1, q + 2, q + 3, W[base], W[base + 1] if c > 1 else 0.0,
                               W[base + 2] if c > 2 else 0.0, W[base + 3] if c > 3 else 0.0, c, mb, k == 0)
                    bj = b[bo[l] + j]
                    if l == L:
                        for i in range(mb):
                            acts[r, i] = 1.0 / (1.0 + math.exp(-(acts[r, i] + bj)))
                    elif has_masks and in_order:            # contiguous mask columns: vectorises
                        mrow = mo[l] + j
                        for i in range(mb):
                            z = acts[r, i] + bj
                            acts[r, i] = (z if not z < 0.0 else 0.0) * masks[mrow, s0 + i] / keep
                    elif has_masks:
                        mrow = mo[l] + j
                        for i in range(mb):
                            z = acts[r, i] + bj
                            acts[r, i] = (z if not z < 0.0 else 0.0) * masks[mrow, cols[i]] / keep
                    else:
                        for i in range(mb):
                            z = acts[r, i] + bj
                            acts[r, i] = z if not z < 0.0 else 0.0      # np.maximum: a NaN stays
            # cost (the notebooks' nansum) and dZ[L] = (A[L] - Y) / mb
            nL = dims[L]
            scale = 1.0 / mb
            for j in range(nL):
                r = ao[L] + j
                if record:
                    for i in range(mb):
                        y = Y[j, cols[i]]
                        c = -math.log(acts[r, i]) * y + -math.log(1.0 - acts[r, i]) * (1.0 - y)
                        if c == c:
                            total += c
                for i in range(mb):
                    dz[j, i] = scale * (acts[r, i] - Y[j, cols[i]])
            if opt_code == COURSE_ADAM:
                t += 1
            bc1 = 1.0 - math.pow(b1, t)
            bc2 = 1.0 - math.pow(b2, t)
            # backward, layer by layer; each layer's update after its dA
            for l in range(L, 0, -1):
                n, n_prev = dims[l], dims[l - 1]
                for j in range(n):
                    sb = 0.0
                    for i in range(mb):
                        sb += dz[j, i]
                    gb[bo[l] + j] = sb
                    for k in range(0, n_prev, 4):
                        c = min(4, n_prev - k)
                        q = ao[l - 1] + k
                        sums = _dots4(dz, j, acts, q, q + 1, q + 2, q + 3, c, mb)
                        for u in range(c):
                            idx = wo[l] + j * n_prev + k + u
                            gw[idx] = sums[u] + lambd / mb * W[idx]
                if l > 1:
                    for k in range(n_prev):
                        for j in range(0, n, 4):
                            c = min(4, n - j)
                            at = wo[l] + j * n_prev + k
                            _rows4(da, k, dz, j, j + 1, j + 2, j + 3, W[at], W[at + n_prev] if c > 1 else 0.0,
                                   W[at + 2 * n_prev] if c > 2 else 0.0, W[at + 3 * n_prev] if c > 3 else 0.0, c,
                                   mb, j == 0)
                        q = ao[l - 1] + k
                        if has_masks and in_order:
                            mrow = mo[l - 1] + k
                            for i in range(mb):
                                g = da[k, i] * masks[mrow, s0 + i] / keep
                                da[k, i] = g * (1.0 if acts[q, i] > 0.0 else 0.0)
                        elif has_masks:
                            mrow = mo[l - 1] + k
                            for i in range(mb):
                                g = da[k, i] * masks[mrow, cols[i]] / keep
                                da[k, i] = g * (1.0 if acts[q, i] > 0.0 else 0.0)
                        else:
                            for i in range(mb):
                                da[k, i] = da[k, i] * (1.0 if acts[q, i] > 0.0 else 0.0)
                _update(W, gw, state1, state2, wo[l], wo[l] + n * n_prev, 0, lr, opt_code, b1, b2, eps, bc1, bc2)
                _update(b, gb, state1, state2, bo[l], bo[l] + n, nW, lr, opt_code, b1, b2, eps, bc1, bc2)
                if l > 1:
                    dz, da = da, dz                      # dZ[l-1] is the next layer's dZ
        if record:
            costs[e // every] = 1.0 / m * total + penalty
    counter[0] = t
