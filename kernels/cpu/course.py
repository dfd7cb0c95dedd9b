"""The course's training loop in its own layout, cpu. Math, arguments and
conventions: ``kernels/ref/course.py``.

The whole run (every epoch and mini-batch) is one call: the course's
networks are a few units wide, so a step is microseconds of arithmetic and
any per-step dispatch would dominate. Activations stay in the course layout,
``(n_l, mb)`` rows with the examples contiguous, so every loop runs over
examples and vectorises whatever the layer widths (2, 5, 10 units); there
is no BLAS call, whose fixed cost exceeds such a product. Each pass over
the examples reads up to four input rows and writes two output rows (the
helpers below), and the sigmoid's exp is ``vecmath.exp64``, which
vectorises. The kernel is serial and its sums over the examples (dW, db,
the cost) split across vector lanes in an order the compiled code fixes
(``reassoc``): results depend on the data and the machine's vector width
only. Timings and what was tried: ``bench/NOTES.md``.

The notebooks' own networks train one batch in order on ``course_nets.py``
instead: this loop unrolled for their widths (one pass per iteration
instead of about 45), written by ``_course_nets_gen.py``.
"""
import math

import numpy as np

from ..codes import COURSE_ADAM, COURSE_BETA1, COURSE_BETA2, COURSE_EPS, COURSE_KEEP_PROB, COURSE_LAMBD, COURSE_MOMENTUM
from ..vecmath import exp64, fmuladd, wide_vectors
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


# A row of the output is a sum over input rows, taken four (or two) input
# rows per pass over the examples: a pass costs its loop set-up and a load
# and a store of the output row each time, more than the multiply-adds of
# these short rows. A block of three rows, or of one, reads the zero row
# as its last (weight 0.0, finite values: it adds exactly 0.0). The last
# pass of a row also applies what follows the sum (bias and activation, or
# dropout and the relu derivative), so no row is read twice. The sums are
# written as fused multiply-adds in two chains, which LLVM keeps as written
# (it reassociates plain adds into one long chain): the loops are bound by
# the latency of their longest chain, not by the arithmetic. Hidden rows go
# two per pass (the ...2 helpers: each input row loaded once for both); a
# lone last row has helpers of its own, because pairing it with a spare row
# made the L2 and dropout runs 5-8% slower (bench/NOTES.md).

@kernel(inline=True)
def _acc(dst, r, src, q0, q1, q2, q3, w0, w1, w2, w3, c, mb, first):
    # dst[r] = (or +=) the terms
    if first:
        if c == 4:
            for i in range(mb):
                x0 = src[q0, i]
                x1 = src[q1, i]
                x2 = src[q2, i]
                x3 = src[q3, i]
                dst[r, i] = fmuladd(w1, x1, fmuladd(w0, x0, 0.0)) + fmuladd(w3, x3, w2 * x2)
        else:
            for i in range(mb):
                x0 = src[q0, i]
                x1 = src[q1, i]
                dst[r, i] = fmuladd(w1, x1, fmuladd(w0, x0, 0.0))
    else:
        if c == 4:
            for i in range(mb):
                x0 = src[q0, i]
                x1 = src[q1, i]
                x2 = src[q2, i]
                x3 = src[q3, i]
                dst[r, i] = fmuladd(w1, x1, fmuladd(w0, x0, dst[r, i])) + fmuladd(w3, x3, w2 * x2)
        else:
            for i in range(mb):
                x0 = src[q0, i]
                x1 = src[q1, i]
                dst[r, i] = fmuladd(w1, x1, fmuladd(w0, x0, dst[r, i]))


@kernel(inline=True)
def _acc2(dst, r, r2, src, q0, q1, q2, q3, w0, w1, w2, w3, v0, v1, v2, v3, c, mb, first):
    # _acc for the rows r (weights w) and r2 (weights v) in one pass
    if first:
        if c == 4:
            for i in range(mb):
                x0 = src[q0, i]
                x1 = src[q1, i]
                x2 = src[q2, i]
                x3 = src[q3, i]
                dst[r, i] = fmuladd(w1, x1, fmuladd(w0, x0, 0.0)) + fmuladd(w3, x3, w2 * x2)
                dst[r2, i] = fmuladd(v1, x1, fmuladd(v0, x0, 0.0)) + fmuladd(v3, x3, v2 * x2)
        else:
            for i in range(mb):
                x0 = src[q0, i]
                x1 = src[q1, i]
                dst[r, i] = fmuladd(w1, x1, fmuladd(w0, x0, 0.0))
                dst[r2, i] = fmuladd(v1, x1, fmuladd(v0, x0, 0.0))
    else:
        if c == 4:
            for i in range(mb):
                x0 = src[q0, i]
                x1 = src[q1, i]
                x2 = src[q2, i]
                x3 = src[q3, i]
                dst[r, i] = fmuladd(w1, x1, fmuladd(w0, x0, dst[r, i])) + fmuladd(w3, x3, w2 * x2)
                dst[r2, i] = fmuladd(v1, x1, fmuladd(v0, x0, dst[r2, i])) + fmuladd(v3, x3, v2 * x2)
        else:
            for i in range(mb):
                x0 = src[q0, i]
                x1 = src[q1, i]
                dst[r, i] = fmuladd(w1, x1, fmuladd(w0, x0, dst[r, i]))
                dst[r2, i] = fmuladd(v1, x1, fmuladd(v0, x0, dst[r2, i]))


@kernel(inline=True)
def _sigmoid(dst, r, src, q0, q1, q2, q3, w0, w1, w2, w3, c, mb, first, bias):
    # dst[r] = sigmoid((dst[r] +) the terms + bias): the output layer
    if first:
        if c == 4:
            for i in range(mb):
                x0 = src[q0, i]
                x1 = src[q1, i]
                x2 = src[q2, i]
                x3 = src[q3, i]
                z = fmuladd(w1, x1, fmuladd(w0, x0, bias)) + fmuladd(w3, x3, w2 * x2)
                dst[r, i] = 1.0 / (1.0 + exp64(-z))
        else:
            for i in range(mb):
                x0 = src[q0, i]
                x1 = src[q1, i]
                z = fmuladd(w1, x1, fmuladd(w0, x0, bias))
                dst[r, i] = 1.0 / (1.0 + exp64(-z))
    else:
        if c == 4:
            for i in range(mb):
                x0 = src[q0, i]
                x1 = src[q1, i]
                x2 = src[q2, i]
                x3 = src[q3, i]
                z = fmuladd(w1, x1, fmuladd(w0, x0, dst[r, i] + bias)) + fmuladd(w3, x3, w2 * x2)
                dst[r, i] = 1.0 / (1.0 + exp64(-z))
        else:
            for i in range(mb):
                x0 = src[q0, i]
                x1 = src[q1, i]
                z = fmuladd(w1, x1, fmuladd(w0, x0, dst[r, i] + bias))
                dst[r, i] = 1.0 / (1.0 + exp64(-z))


@kernel(inline=True)
def _relu(dst, r, src, q0, q1, q2, q3, w0, w1, w2, w3, c, mb, first, bias, mask, mrow, scale, masked):
    # dst[r] = relu((dst[r] +) the terms + bias) (* mask[mrow] * scale); a nan stays (np.maximum)
    if masked:
        if first:
            if c == 4:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    x2 = src[q2, i]
                    x3 = src[q3, i]
                    z = fmuladd(w1, x1, fmuladd(w0, x0, bias)) + fmuladd(w3, x3, w2 * x2)
                    dst[r, i] = (z if not z < 0.0 else 0.0) * mask[mrow, i] * scale
            else:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    z = fmuladd(w1, x1, fmuladd(w0, x0, bias))
                    dst[r, i] = (z if not z < 0.0 else 0.0) * mask[mrow, i] * scale
        else:
            if c == 4:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    x2 = src[q2, i]
                    x3 = src[q3, i]
                    z = fmuladd(w1, x1, fmuladd(w0, x0, dst[r, i] + bias)) + fmuladd(w3, x3, w2 * x2)
                    dst[r, i] = (z if not z < 0.0 else 0.0) * mask[mrow, i] * scale
            else:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    z = fmuladd(w1, x1, fmuladd(w0, x0, dst[r, i] + bias))
                    dst[r, i] = (z if not z < 0.0 else 0.0) * mask[mrow, i] * scale
    else:
        if first:
            if c == 4:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    x2 = src[q2, i]
                    x3 = src[q3, i]
                    z = fmuladd(w1, x1, fmuladd(w0, x0, bias)) + fmuladd(w3, x3, w2 * x2)
                    dst[r, i] = (z if not z < 0.0 else 0.0)
            else:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    z = fmuladd(w1, x1, fmuladd(w0, x0, bias))
                    dst[r, i] = (z if not z < 0.0 else 0.0)
        else:
            if c == 4:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    x2 = src[q2, i]
                    x3 = src[q3, i]
                    z = fmuladd(w1, x1, fmuladd(w0, x0, dst[r, i] + bias)) + fmuladd(w3, x3, w2 * x2)
                    dst[r, i] = (z if not z < 0.0 else 0.0)
            else:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    z = fmuladd(w1, x1, fmuladd(w0, x0, dst[r, i] + bias))
                    dst[r, i] = (z if not z < 0.0 else 0.0)


@kernel(inline=True)
def _relu2(dst, r, r2, src, q0, q1, q2, q3, w0, w1, w2, w3, v0, v1, v2, v3, c, mb, first, bias, bias2,
           mask, mrow, mrow2, scale, masked):
    # _relu for the rows r and r2 in one pass
    if masked:
        if first:
            if c == 4:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    x2 = src[q2, i]
                    x3 = src[q3, i]
                    z = fmuladd(w1, x1, fmuladd(w0, x0, bias)) + fmuladd(w3, x3, w2 * x2)
                    dst[r, i] = (z if not z < 0.0 else 0.0) * mask[mrow, i] * scale
                    z = fmuladd(v1, x1, fmuladd(v0, x0, bias2)) + fmuladd(v3, x3, v2 * x2)
                    dst[r2, i] = (z if not z < 0.0 else 0.0) * mask[mrow2, i] * scale
            else:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    z = fmuladd(w1, x1, fmuladd(w0, x0, bias))
                    dst[r, i] = (z if not z < 0.0 else 0.0) * mask[mrow, i] * scale
                    z = fmuladd(v1, x1, fmuladd(v0, x0, bias2))
                    dst[r2, i] = (z if not z < 0.0 else 0.0) * mask[mrow2, i] * scale
        else:
            if c == 4:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    x2 = src[q2, i]
                    x3 = src[q3, i]
                    z = fmuladd(w1, x1, fmuladd(w0, x0, dst[r, i] + bias)) + fmuladd(w3, x3, w2 * x2)
                    dst[r, i] = (z if not z < 0.0 else 0.0) * mask[mrow, i] * scale
                    z = fmuladd(v1, x1, fmuladd(v0, x0, dst[r2, i] + bias2)) + fmuladd(v3, x3, v2 * x2)
                    dst[r2, i] = (z if not z < 0.0 else 0.0) * mask[mrow2, i] * scale
            else:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    z = fmuladd(w1, x1, fmuladd(w0, x0, dst[r, i] + bias))
                    dst[r, i] = (z if not z < 0.0 else 0.0) * mask[mrow, i] * scale
                    z = fmuladd(v1, x1, fmuladd(v0, x0, dst[r2, i] + bias2))
                    dst[r2, i] = (z if not z < 0.0 else 0.0) * mask[mrow2, i] * scale
    else:
        if first:
            if c == 4:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    x2 = src[q2, i]
                    x3 = src[q3, i]
                    z = fmuladd(w1, x1, fmuladd(w0, x0, bias)) + fmuladd(w3, x3, w2 * x2)
                    dst[r, i] = (z if not z < 0.0 else 0.0)
                    z = fmuladd(v1, x1, fmuladd(v0, x0, bias2)) + fmuladd(v3, x3, v2 * x2)
                    dst[r2, i] = (z if not z < 0.0 else 0.0)
            else:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    z = fmuladd(w1, x1, fmuladd(w0, x0, bias))
                    dst[r, i] = (z if not z < 0.0 else 0.0)
                    z = fmuladd(v1, x1, fmuladd(v0, x0, bias2))
                    dst[r2, i] = (z if not z < 0.0 else 0.0)
        else:
            if c == 4:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    x2 = src[q2, i]
                    x3 = src[q3, i]
                    z = fmuladd(w1, x1, fmuladd(w0, x0, dst[r, i] + bias)) + fmuladd(w3, x3, w2 * x2)
                    dst[r, i] = (z if not z < 0.0 else 0.0)
                    z = fmuladd(v1, x1, fmuladd(v0, x0, dst[r2, i] + bias2)) + fmuladd(v3, x3, v2 * x2)
                    dst[r2, i] = (z if not z < 0.0 else 0.0)
            else:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    z = fmuladd(w1, x1, fmuladd(w0, x0, dst[r, i] + bias))
                    dst[r, i] = (z if not z < 0.0 else 0.0)
                    z = fmuladd(v1, x1, fmuladd(v0, x0, dst[r2, i] + bias2))
                    dst[r2, i] = (z if not z < 0.0 else 0.0)


@kernel(inline=True)
def _relu_grad(dst, r, src, q0, q1, q2, q3, w0, w1, w2, w3, c, mb, first, acts, qa, mask, mrow, scale, masked):
    # dst[r] = ((dst[r] +) the terms) (* mask[mrow] * scale) * (acts[qa] > 0):
    # dA of a hidden layer through its dropout into dZ
    if masked:
        if first:
            if c == 4:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    x2 = src[q2, i]
                    x3 = src[q3, i]
                    g = (fmuladd(w1, x1, fmuladd(w0, x0, 0.0)) + fmuladd(w3, x3, w2 * x2)) * mask[mrow, i]
                    dst[r, i] = g * scale * (1.0 if acts[qa, i] > 0.0 else 0.0)
            else:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    g = (fmuladd(w1, x1, fmuladd(w0, x0, 0.0))) * mask[mrow, i]
                    dst[r, i] = g * scale * (1.0 if acts[qa, i] > 0.0 else 0.0)
        else:
            if c == 4:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    x2 = src[q2, i]
                    x3 = src[q3, i]
                    g = (fmuladd(w1, x1, fmuladd(w0, x0, dst[r, i])) + fmuladd(w3, x3, w2 * x2)) * mask[mrow, i]
                    dst[r, i] = g * scale * (1.0 if acts[qa, i] > 0.0 else 0.0)
            else:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    g = (fmuladd(w1, x1, fmuladd(w0, x0, dst[r, i]))) * mask[mrow, i]
                    dst[r, i] = g * scale * (1.0 if acts[qa, i] > 0.0 else 0.0)
    else:
        if first:
            if c == 4:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    x2 = src[q2, i]
                    x3 = src[q3, i]
                    g = fmuladd(w1, x1, fmuladd(w0, x0, 0.0)) + fmuladd(w3, x3, w2 * x2)
                    dst[r, i] = g * (1.0 if acts[qa, i] > 0.0 else 0.0)
            else:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    g = fmuladd(w1, x1, fmuladd(w0, x0, 0.0))
                    dst[r, i] = g * (1.0 if acts[qa, i] > 0.0 else 0.0)
        else:
            if c == 4:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    x2 = src[q2, i]
                    x3 = src[q3, i]
                    g = fmuladd(w1, x1, fmuladd(w0, x0, dst[r, i])) + fmuladd(w3, x3, w2 * x2)
                    dst[r, i] = g * (1.0 if acts[qa, i] > 0.0 else 0.0)
            else:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    g = fmuladd(w1, x1, fmuladd(w0, x0, dst[r, i]))
                    dst[r, i] = g * (1.0 if acts[qa, i] > 0.0 else 0.0)


@kernel(inline=True)
def _relu_grad2(dst, r, r2, src, q0, q1, q2, q3, w0, w1, w2, w3, v0, v1, v2, v3, c, mb, first, acts, qa, qa2,
                mask, mrow, mrow2, scale, masked):
    # _relu_grad for the rows r and r2 in one pass
    if masked:
        if first:
            if c == 4:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    x2 = src[q2, i]
                    x3 = src[q3, i]
                    g = (fmuladd(w1, x1, fmuladd(w0, x0, 0.0)) + fmuladd(w3, x3, w2 * x2)) * mask[mrow, i]
                    dst[r, i] = g * scale * (1.0 if acts[qa, i] > 0.0 else 0.0)
                    g = (fmuladd(v1, x1, fmuladd(v0, x0, 0.0)) + fmuladd(v3, x3, v2 * x2)) * mask[mrow2, i]
                    dst[r2, i] = g * scale * (1.0 if acts[qa2, i] > 0.0 else 0.0)
            else:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    g = (fmuladd(w1, x1, fmuladd(w0, x0, 0.0))) * mask[mrow, i]
                    dst[r, i] = g * scale * (1.0 if acts[qa, i] > 0.0 else 0.0)
                    g = (fmuladd(v1, x1, fmuladd(v0, x0, 0.0))) * mask[mrow2, i]
                    dst[r2, i] = g * scale * (1.0 if acts[qa2, i] > 0.0 else 0.0)
        else:
            if c == 4:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    x2 = src[q2, i]
                    x3 = src[q3, i]
                    g = (fmuladd(w1, x1, fmuladd(w0, x0, dst[r, i])) + fmuladd(w3, x3, w2 * x2)) * mask[mrow, i]
                    dst[r, i] = g * scale * (1.0 if acts[qa, i] > 0.0 else 0.0)
                    g = (fmuladd(v1, x1, fmuladd(v0, x0, dst[r2, i])) + fmuladd(v3, x3, v2 * x2)) * mask[mrow2, i]
                    dst[r2, i] = g * scale * (1.0 if acts[qa2, i] > 0.0 else 0.0)
            else:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    g = (fmuladd(w1, x1, fmuladd(w0, x0, dst[r, i]))) * mask[mrow, i]
                    dst[r, i] = g * scale * (1.0 if acts[qa, i] > 0.0 else 0.0)
                    g = (fmuladd(v1, x1, fmuladd(v0, x0, dst[r2, i]))) * mask[mrow2, i]
                    dst[r2, i] = g * scale * (1.0 if acts[qa2, i] > 0.0 else 0.0)
    else:
        if first:
            if c == 4:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    x2 = src[q2, i]
                    x3 = src[q3, i]
                    g = fmuladd(w1, x1, fmuladd(w0, x0, 0.0)) + fmuladd(w3, x3, w2 * x2)
                    dst[r, i] = g * (1.0 if acts[qa, i] > 0.0 else 0.0)
                    g = fmuladd(v1, x1, fmuladd(v0, x0, 0.0)) + fmuladd(v3, x3, v2 * x2)
                    dst[r2, i] = g * (1.0 if acts[qa2, i] > 0.0 else 0.0)
            else:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    g = fmuladd(w1, x1, fmuladd(w0, x0, 0.0))
                    dst[r, i] = g * (1.0 if acts[qa, i] > 0.0 else 0.0)
                    g = fmuladd(v1, x1, fmuladd(v0, x0, 0.0))
                    dst[r2, i] = g * (1.0 if acts[qa2, i] > 0.0 else 0.0)
        else:
            if c == 4:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    x2 = src[q2, i]
                    x3 = src[q3, i]
                    g = fmuladd(w1, x1, fmuladd(w0, x0, dst[r, i])) + fmuladd(w3, x3, w2 * x2)
                    dst[r, i] = g * (1.0 if acts[qa, i] > 0.0 else 0.0)
                    g = fmuladd(v1, x1, fmuladd(v0, x0, dst[r2, i])) + fmuladd(v3, x3, v2 * x2)
                    dst[r2, i] = g * (1.0 if acts[qa2, i] > 0.0 else 0.0)
            else:
                for i in range(mb):
                    x0 = src[q0, i]
                    x1 = src[q1, i]
                    g = fmuladd(w1, x1, fmuladd(w0, x0, dst[r, i]))
                    dst[r, i] = g * (1.0 if acts[qa, i] > 0.0 else 0.0)
                    g = fmuladd(v1, x1, fmuladd(v0, x0, dst[r2, i]))
                    dst[r2, i] = g * (1.0 if acts[qa2, i] > 0.0 else 0.0)


@kernel(inline=True)
def _dots(a, ra, b, q0, q1, q2, q3, c, mb):
    # the sum of a[ra] and its dot products with b[q0], b[q1] (and b[q2], b[q3]
    # if c == 4), in one pass
    s = 0.0
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    if c == 4:
        for i in range(mb):
            x = a[ra, i]
            s += x
            s0 += x * b[q0, i]
            s1 += x * b[q1, i]
            s2 += x * b[q2, i]
            s3 += x * b[q3, i]
    else:
        for i in range(mb):
            x = a[ra, i]
            s += x
            s0 += x * b[q0, i]
            s1 += x * b[q1, i]
    return s, s0, s1, s2, s3


@kernel(inline=True)
def _dots2(a, ra, ra2, b, q0, q1, q2, q3, c, mb):
    # _dots for the rows ra and ra2 of a in one pass (b's rows loaded once)
    s = 0.0
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    t = 0.0
    t0 = 0.0
    t1 = 0.0
    t2 = 0.0
    t3 = 0.0
    if c == 4:
        for i in range(mb):
            x = a[ra, i]
            y = a[ra2, i]
            s += x
            t += y
            p = b[q0, i]
            s0 += x * p
            t0 += y * p
            p = b[q1, i]
            s1 += x * p
            t1 += y * p
            p = b[q2, i]
            s2 += x * p
            t2 += y * p
            p = b[q3, i]
            s3 += x * p
            t3 += y * p
    else:
        for i in range(mb):
            x = a[ra, i]
            y = a[ra2, i]
            s += x
            t += y
            p = b[q0, i]
            s0 += x * p
            t0 += y * p
            p = b[q1, i]
            s1 += x * p
            t1 += y * p
    return s, s0, s1, s2, s3, t, t0, t1, t2, t3


@kernel(inline=True)
def _block(n_rows, k, zero):
    # rows k, k+1 (, k+2, k+3) of a sum over n_rows: (c, q1, q2, q3) with c
    # 4 or 2 and the missing rows the zero row
    left = n_rows - k
    if left >= 4:
        return 4, k + 1, k + 2, k + 3
    if left == 3:
        return 4, k + 1, k + 2, zero
    if left == 2:
        return 2, k + 1, zero, zero
    return 2, zero, zero, zero


@kernel(reassoc=True)
def course_train(W, b, state1, state2, costs, counter, X, Y, masks, perms, lrs, dims, hyper, opt_code,
                 batch_size, every):
    """Train for ``lrs.size`` epochs in place (``kernels/ref/course.py``)."""
    wide_vectors()     # the rows live in L1: the loops are bound by arithmetic, not memory
    L = dims.shape[0] - 1
    n0, m = X.shape
    lambd = hyper[COURSE_LAMBD]
    # x * D / keep as x * D * (1 / keep): a division per element cost the
    # dropout run a third of its time; the two differ by an ulp at most
    inv_keep = 1.0 / hyper[COURSE_KEEP_PROB]
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
    # A[l] rows ao[l] .. ao[l] + dims[l]; the last row of acts, and of dz
    # and da, stays zero: the padding of a block of fewer than four rows
    acts = np.zeros((a + 1, mbmax))
    zero_a = a
    dz = np.zeros((widest + 1, mbmax))
    da = np.zeros((widest + 1, mbmax))
    zero_d = widest
    gw = np.empty(nW)
    gb = np.empty(b.size)
    cols = np.empty(mbmax, np.int64)
    one_batch = in_order and batch_size >= m        # A[0] is X itself, copied once
    # the masks of the batch's columns, contiguous: the masks themselves for
    # one batch in order, else copied (gathered) per batch
    mbuf = np.empty((masks.shape[0] if has_masks and not one_batch else 0, mbmax))
    msrc = masks if one_batch else mbuf
    if one_batch:
        for k in range(n0):
            for i in range(m):
                acts[k, i] = X[k, i]
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
            if not in_order:
                for i in range(mb):
                    cols[i] = perms[e, s0 + i]
                for k in range(n0):
                    for i in range(mb):
                        acts[k, i] = X[k, cols[i]]
                for k in range(mbuf.shape[0]):
                    for i in range(mb):
                        mbuf[k, i] = masks[k, cols[i]]
            elif not one_batch:
                for k in range(n0):
                    for i in range(mb):
                        acts[k, i] = X[k, s0 + i]
                for k in range(mbuf.shape[0]):
                    for i in range(mb):
                        mbuf[k, i] = masks[k, s0 + i]
            # forward (2-D indexing throughout: a row view per inner loop
            # would cost a reference count each, more than its arithmetic)
            for l in range(1, L + 1):
                n, n_prev = dims[l], dims[l - 1]
                # hidden rows two at a time: the pass loads the input rows once for both
                step = 1 if l == L else 2
                for j in range(0, n, step):
                    pair = step == 2 and j + 1 < n
                    r = ao[l] + j
                    bj = b[bo[l] + j]
                    bj2 = b[bo[l] + j + 1] if pair else 0.0
                    for k in range(0, n_prev, 4):
                        c, u1, u2, u3 = _block(n_prev, k, -1)
                        at = wo[l] + j * n_prev + k
                        q = ao[l - 1] + k
                        q1, q2, q3 = (q + 1 if u1 >= 0 else zero_a), (q + 2 if u2 >= 0 else zero_a), \
                            (q + 3 if u3 >= 0 else zero_a)
                        w0, w1 = W[at], (W[at + 1] if u1 >= 0 else 0.0)
                        w2, w3 = (W[at + 2] if u2 >= 0 else 0.0), (W[at + 3] if u3 >= 0 else 0.0)
                        v0 = v1 = v2 = v3 = 0.0
                        if pair:
                            at += n_prev
                            v0, v1 = W[at], (W[at + 1] if u1 >= 0 else 0.0)
                            v2, v3 = (W[at + 2] if u2 >= 0 else 0.0), (W[at + 3] if u3 >= 0 else 0.0)
                        if k + 4 < n_prev:
                            if pair:
                                _acc2(acts, r, r + 1, acts, q, q1, q2, q3, w0, w1, w2, w3, v0, v1, v2, v3, c, mb,
                                      k == 0)
                            else:
                                _acc(acts, r, acts, q, q1, q2, q3, w0, w1, w2, w3, c, mb, k == 0)
                        elif l == L:
                            _sigmoid(acts, r, acts, q, q1, q2, q3, w0, w1, w2, w3, c, mb, k == 0, bj)
                        elif pair:
                            _relu2(acts, r, r + 1, acts, q, q1, q2, q3, w0, w1, w2, w3, v0, v1, v2, v3, c, mb, k == 0,
                                   bj, bj2, msrc, mo[l] + j, mo[l] + j + 1, inv_keep, has_masks)
                        else:
                            _relu(acts, r, acts, q, q1, q2, q3, w0, w1, w2, w3, c, mb, k == 0, bj, msrc,
                                  mo[l] + j, inv_keep, has_masks)
            # cost (the notebooks' nansum) and dZ[L] = (A[L] - Y) / mb
            nL = dims[L]
            scale = 1.0 / mb
            for j in range(nL):
                r = ao[L] + j
                if record:
                    for i in range(mb):
                        y = Y[j, s0 + i] if in_order else Y[j, cols[i]]
                        c = -math.log(acts[r, i]) * y + -math.log(1.0 - acts[r, i]) * (1.0 - y)
                        if c == c:
                            total += c
                if in_order:
                    for i in range(mb):
                        dz[j, i] = scale * (acts[r, i] - Y[j, s0 + i])
                else:
                    for i in range(mb):
                        dz[j, i] = scale * (acts[r, i] - Y[j, cols[i]])
            if opt_code == COURSE_ADAM:
                t += 1
            bc1 = 1.0 - math.pow(b1, t)
            bc2 = 1.0 - math.pow(b2, t)
            # backward, layer by layer; each layer's update after its dA
            for l in range(L, 0, -1):
                n, n_prev = dims[l], dims[l - 1]
                decay = lambd / mb
                for j in range(0, n, 2):                 # two rows of dZ per pass
                    pair = j + 1 < n
                    for k in range(0, n_prev, 4):
                        c, u1, u2, u3 = _block(n_prev, k, -1)
                        q = ao[l - 1] + k
                        q1, q2, q3 = (q + 1 if u1 >= 0 else zero_a), (q + 2 if u2 >= 0 else zero_a), \
                            (q + 3 if u3 >= 0 else zero_a)
                        at = wo[l] + j * n_prev + k
                        if pair:
                            sums = _dots2(dz, j, j + 1, acts, q, q1, q2, q3, c, mb)
                            if k == 0:
                                gb[bo[l] + j] = sums[0]
                                gb[bo[l] + j + 1] = sums[5]
                            for u in range(min(4, n_prev - k)):
                                gw[at + u] = sums[1 + u] + decay * W[at + u]
                                gw[at + n_prev + u] = sums[6 + u] + decay * W[at + n_prev + u]
                        else:
                            one = _dots(dz, j, acts, q, q1, q2, q3, c, mb)
                            if k == 0:
                                gb[bo[l] + j] = one[0]
                            for u in range(min(4, n_prev - k)):
                                gw[at + u] = one[1 + u] + decay * W[at + u]
                if l > 1:
                    for k in range(0, n_prev, 2):            # two rows of dA per pass
                        pair = k + 1 < n_prev
                        qa = ao[l - 1] + k
                        for j in range(0, n, 4):
                            c, q1, q2, q3 = _block(n, j, zero_d)
                            at = wo[l] + j * n_prev + k
                            w0, w1 = W[at], (W[at + n_prev] if q1 != zero_d else 0.0)
                            w2 = W[at + 2 * n_prev] if q2 != zero_d else 0.0
                            w3 = W[at + 3 * n_prev] if q3 != zero_d else 0.0
                            v0 = v1 = v2 = v3 = 0.0
                            if pair:
                                at += 1
                                v0, v1 = W[at], (W[at + n_prev] if q1 != zero_d else 0.0)
                                v2 = W[at + 2 * n_prev] if q2 != zero_d else 0.0
                                v3 = W[at + 3 * n_prev] if q3 != zero_d else 0.0
                            if j + 4 < n:
                                if pair:
                                    _acc2(da, k, k + 1, dz, j, q1, q2, q3, w0, w1, w2, w3, v0, v1, v2, v3, c, mb,
                                          j == 0)
                                else:
                                    _acc(da, k, dz, j, q1, q2, q3, w0, w1, w2, w3, c, mb, j == 0)
                            elif pair:
                                _relu_grad2(da, k, k + 1, dz, j, q1, q2, q3, w0, w1, w2, w3, v0, v1, v2, v3, c, mb,
                                            j == 0, acts, qa, qa + 1, msrc, mo[l - 1] + k, mo[l - 1] + k + 1,
                                            inv_keep, has_masks)
                            else:
                                _relu_grad(da, k, dz, j, q1, q2, q3, w0, w1, w2, w3, c, mb, j == 0, acts, qa, msrc,
                                           mo[l - 1] + k, inv_keep, has_masks)
                _update(W, gw, state1, state2, wo[l], wo[l] + n * n_prev, 0, lr, opt_code, b1, b2, eps, bc1, bc2)
                _update(b, gb, state1, state2, bo[l], bo[l] + n, nW, lr, opt_code, b1, b2, eps, bc1, bc2)
                if l > 1:
                    dz, da = da, dz                      # dZ[l-1] is the next layer's dZ
        if record:
            costs[e // every] = 1.0 / m * total + penalty
    counter[0] = t
