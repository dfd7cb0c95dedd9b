"""Inverted dropout, cpu. Math and mask layout: ``kernels/ref/dropout.py``.

Work is split into tasks of ``_TASK`` elements, parallel, each walking its
range in chunks of ``_CHUNK`` (a multiple of 8, so a chunk owns whole mask
bytes) through two small buffers that stay in L1:

1. ``_words``: the chunk's Philox words, a loop over counters that LLVM
   vectorises (8 counters per AVX-512 register);
2. ``_keep``: keep[k] = 1 or 0, from the words (word < threshold, an integer
   compare every backend makes identically) or unpacked from a mask;
3. a branch-free select over the chunk's elements, then the packed bits.

Each element's word depends only on (seed, offset, element), never on the
split, so masks are identical for any thread count and equal to the ref and
cuda backends'.
"""
import numpy as np

from ..philox import LO32, SHIFT32, philox4x32_10
from ._jit import kernel, prange

_philox = kernel(philox4x32_10, inline=True)

_CHUNK = 512            # 128 Philox blocks: 2 KB of words, 64 mask bytes
_TASK = 64 * _CHUNK     # elements per parallel task (one buffer allocation)


@kernel(inline=True)
def _words(words, seed, offset, e0, m):
    """words[k] = Philox word of element e0 + k for k < m (e0 % 4 == 0);
    fills whole blocks, so words needs 4 * ceil(m / 4) entries."""
    k0 = seed & LO32
    k1 = seed >> SHIFT32
    zero = np.uint64(0)
    first = offset + np.uint64(e0 // 4)
    for j in range((m + 3) // 4):
        g = first + np.uint64(j)
        w0, w1, w2, w3 = _philox(g & LO32, g >> SHIFT32, zero, zero, k0, k1)
        words[4 * j] = np.uint32(w0)
        words[4 * j + 1] = np.uint32(w1)
        words[4 * j + 2] = np.uint32(w2)
        words[4 * j + 3] = np.uint32(w3)


@kernel(inline=True)
def _keep(keep, words, threshold, m):
    """keep[k] = word < threshold for k < m (threshold up to 2^32: keep all),
    and 0 up to the next multiple of 8, so ``_pack`` packs whole bytes."""
    for k in range(m):
        keep[k] = np.uint64(words[k]) < threshold
    for k in range(m, 8 * ((m + 7) // 8)):
        keep[k] = 0


@kernel(inline=True)
def _unpack(keep, mask, m):
    """keep[k] = bit k of the packed bytes ``mask``, for k < m (whole bytes)."""
    for b in range((m + 7) // 8):
        v = mask[b]
        for k in range(8):               # fixed trip count: unrolled
            keep[8 * b + k] = (v >> k) & 1


@kernel(inline=True)
def _pack(mask, keep, m):
    """mask bytes of keep[0:m] (``_keep`` zeroed the rest of the last byte)."""
    for b in range((m + 7) // 8):
        bits = np.uint8(0)
        for k in range(8):               # fixed trip count: unrolled
            bits |= np.uint8(keep[8 * b + k] << k)
        mask[b] = bits


@kernel(inline=True)
def _accumulate_kept(d, g, keep, scale):
    """d += g * scale where kept; a select, not a branch, so it vectorises.
    Dropped elements keep d unchanged (adding g * 0 would turn inf into nan)."""
    for k in range(d.size):
        d[k] = d[k] + g[k] * scale if keep[k] else d[k]


@kernel(parallel=True)
def dropout_mask(mask, n, seed, offset, threshold):
    """mask = packed keep bits of n elements."""
    for task in prange((n + _TASK - 1) // _TASK):
        words = np.empty(_CHUNK, np.uint32)
        keep = np.empty(_CHUNK, np.uint8)
        for e0 in range(task * _TASK, min(n, (task + 1) * _TASK), _CHUNK):
            m = min(_CHUNK, n - e0)
            _words(words, seed, offset, e0, m)
            _keep(keep, words, threshold, m)
            _pack(mask[e0 // 8:], keep, m)


@kernel(parallel=True)
def dropout_forward(out, mask, x, seed, offset, threshold, scale):
    """out = x * keep * scale (+ packed mask when mask.size > 0)."""
    o = out.reshape(out.size)
    xi = x.reshape(x.size)
    n = o.size
    zero = type(scale)(0)
    for task in prange((n + _TASK - 1) // _TASK):
        words = np.empty(_CHUNK, np.uint32)
        keep = np.empty(_CHUNK, np.uint8)
        for e0 in range(task * _TASK, min(n, (task + 1) * _TASK), _CHUNK):
            m = min(_CHUNK, n - e0)
            _words(words, seed, offset, e0, m)
            _keep(keep, words, threshold, m)
            oc = o[e0:e0 + m]
            xc = xi[e0:e0 + m]
            for k in range(m):
                oc[k] = xc[k] * scale if keep[k] else zero
            if mask.size > 0:
                _pack(mask[e0 // 8:], keep, m)


@kernel(parallel=True)
def dropout_backward(dx, dout, seed, offset, threshold, scale):
    """dx += dout * keep * scale, keep regenerated from (seed, offset)."""
    d = dx.reshape(dx.size)
    g = dout.reshape(dout.size)
    n = d.size
    for task in prange((n + _TASK - 1) // _TASK):
        words = np.empty(_CHUNK, np.uint32)
        keep = np.empty(_CHUNK, np.uint8)
        for e0 in range(task * _TASK, min(n, (task + 1) * _TASK), _CHUNK):
            m = min(_CHUNK, n - e0)
            _words(words, seed, offset, e0, m)
            _keep(keep, words, threshold, m)
            _accumulate_kept(d[e0:e0 + m], g[e0:e0 + m], keep, scale)


@kernel(parallel=True)
def dropout_backward_mask(dx, dout, mask, scale):
    """dx += dout * keep * scale, keep read from the packed mask."""
    d = dx.reshape(dx.size)
    g = dout.reshape(dout.size)
    n = d.size
    for task in prange((n + _TASK - 1) // _TASK):
        keep = np.empty(_CHUNK, np.uint8)
        for e0 in range(task * _TASK, min(n, (task + 1) * _TASK), _CHUNK):
            m = min(_CHUNK, n - e0)
            _unpack(keep, mask[e0 // 8:], m)
            _accumulate_kept(d[e0:e0 + m], g[e0:e0 + m], keep, scale)
