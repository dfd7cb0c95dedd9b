"""Inverted dropout with counter-based masks, reference.

Training forward, for keep probability p and ``scale = 1/p``::

    keep_e = word(seed, offset, e) < threshold       (philox.py; P = p)
    out_e  = x_e * scale   if keep_e else 0

Backward: ``dx += dout * keep * scale``, with keep regenerated from
(seed, offset) or read from the packed mask the forward may write
(``mask``: uint8, ceil(n/8) bytes, bit k of byte b is element 8b + k, i.e.
``np.packbits(keep, bitorder="little")``; ``(0,)`` means do not write it).
Arrays are treated as flat: e runs over C order.
"""
import numpy as np

from ..philox import LO32, SHIFT32, philox4x32_10


def _keep(n, seed, offset, threshold):
    """Boolean keep decisions of elements 0..n-1."""
    g = np.arange((n + 3) // 4, dtype=np.uint64) + np.uint64(offset)
    zero = np.zeros_like(g)
    seed = np.uint64(seed)
    words = philox4x32_10(g & LO32, g >> SHIFT32, zero, zero, seed & LO32, seed >> SHIFT32)
    return np.stack(words, axis=1).reshape(-1)[:n] < np.uint64(threshold)


def dropout_mask(mask, n, seed, offset, threshold):
    """mask = packed keep bits of n elements."""
    mask[...] = np.packbits(_keep(n, seed, offset, threshold), bitorder="little")


def dropout_forward(out, mask, x, seed, offset, threshold, scale):
    """out = x * keep * scale; also the packed mask when mask.size > 0."""
    keep = _keep(x.size, seed, offset, threshold)
    out[...] = np.where(keep.reshape(x.shape), x * scale, 0)
    if mask.size:
        mask[...] = np.packbits(keep, bitorder="little")


def dropout_backward(dx, dout, seed, offset, threshold, scale):
    """dx += dout * keep * scale, keep regenerated from (seed, offset)."""
    keep = _keep(dout.size, seed, offset, threshold).reshape(dout.shape)
    dx += np.where(keep, dout * scale, 0)


def dropout_backward_mask(dx, dout, mask, scale):
    """dx += dout * keep * scale, keep read from the packed mask."""
    keep = np.unpackbits(mask, count=dout.size, bitorder="little").astype(bool).reshape(dout.shape)
    dx += np.where(keep, dout * scale, 0)
