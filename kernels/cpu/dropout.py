"""Inverted dropout, cpu. Math and mask layout: ``kernels/ref/dropout.py``.

Parallel over mask bytes: a thread owns byte b, i.e. elements 8b..8b+7,
which come from Philox blocks offset + 2b and offset + 2b + 1. No two threads
touch the same byte or element, and each element's bit depends only on
(seed, offset, element): masks are identical for any thread count.
"""
import numpy as np

from ..philox import LO32, SHIFT32, philox4x32_10
from ._jit import kernel, prange

_philox = kernel(philox4x32_10)


@kernel
def _byte(seed, offset, b, n, threshold):
    """Packed keep bits of elements 8b..8b+7 (as an int); bits past n are 0."""
    bits = 0
    k0 = seed & LO32
    k1 = seed >> SHIFT32
    zero = np.uint64(0)
    for half in range(2):
        g = offset + np.uint64(2 * b + half)
        w0, w1, w2, w3 = _philox(g & LO32, g >> SHIFT32, zero, zero, k0, k1)
        base = 4 * half
        bits |= (1 << base) if w0 < threshold else 0
        bits |= (1 << (base + 1)) if w1 < threshold else 0
        bits |= (1 << (base + 2)) if w2 < threshold else 0
        bits |= (1 << (base + 3)) if w3 < threshold else 0
    valid = n - 8 * b
    return bits if valid >= 8 else bits & ((1 << valid) - 1)


@kernel(parallel=True)
def dropout_mask(mask, n, seed, offset, threshold):
    """mask = packed keep bits of n elements."""
    for b in prange((n + 7) // 8):
        mask[b] = np.uint8(_byte(seed, offset, b, n, threshold))


@kernel(parallel=True)
def dropout_forward(out, mask, x, seed, offset, threshold, scale):
    """out = x * keep * scale (+ packed mask when mask.size > 0)."""
    o = out.reshape(out.size)
    xi = x.reshape(x.size)
    n = o.size
    zero = type(scale)(0)
    for b in prange((n + 7) // 8):
        bits = _byte(seed, offset, b, n, threshold)
        for k in range(min(8, n - 8 * b)):
            e = 8 * b + k
            o[e] = xi[e] * scale if (bits >> k) & 1 else zero
        if mask.size > 0:
            mask[b] = np.uint8(bits)


@kernel(parallel=True)
def dropout_backward(dx, dout, seed, offset, threshold, scale):
    """dx += dout * keep * scale, keep regenerated from (seed, offset)."""
    d = dx.reshape(dx.size)
    g = dout.reshape(dout.size)
    n = d.size
    for b in prange((n + 7) // 8):
        bits = _byte(seed, offset, b, n, threshold)
        for k in range(min(8, n - 8 * b)):
            if (bits >> k) & 1:
                d[8 * b + k] += g[8 * b + k] * scale


@kernel(parallel=True)
def dropout_backward_mask(dx, dout, mask, scale):
    """dx += dout * keep * scale, keep read from the packed mask."""
    d = dx.reshape(dx.size)
    g = dout.reshape(dout.size)
    n = d.size
    for b in prange((n + 7) // 8):
        bits = mask[b]
        for k in range(min(8, n - 8 * b)):
            if (bits >> k) & 1:
                d[8 * b + k] += g[8 * b + k] * scale
