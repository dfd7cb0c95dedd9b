"""Inverted dropout, cuda. Math and mask layout: ``kernels/ref/dropout.py``.

One thread per mask byte (8 elements, two Philox blocks), grid-stride: the
same ownership as the cpu backend, and the same Philox body, so masks are
bit-identical to ref and cpu.
"""
import numpy as np
from numba import cuda

from ..philox import LO32, SHIFT32, philox4x32_10
from ._launch import grid_1d, on_device

_philox = cuda.jit(device=True)(philox4x32_10)


@cuda.jit(device=True)
def _byte(seed, offset, b, n, threshold):
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


@cuda.jit
def dropout_mask_kernel(mask, n, seed, offset, threshold):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for b in range(start, (n + 7) // 8, stride):
        mask[b] = np.uint8(_byte(seed, offset, b, n, threshold))


@cuda.jit
def dropout_forward_kernel(out, mask, x, seed, offset, threshold, scale):
    # out, x flat; thread owns byte b = elements 8b..8b+7
    n = out.size
    zero = type(scale)(0)
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for b in range(start, (n + 7) // 8, stride):
        bits = _byte(seed, offset, b, n, threshold)
        for k in range(min(8, n - 8 * b)):
            e = 8 * b + k
            out[e] = x[e] * scale if (bits >> k) & 1 else zero
        if mask.size > 0:
            mask[b] = np.uint8(bits)


@cuda.jit
def dropout_backward_kernel(dx, dout, seed, offset, threshold, scale):
    n = dx.size
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for b in range(start, (n + 7) // 8, stride):
        bits = _byte(seed, offset, b, n, threshold)
        for k in range(min(8, n - 8 * b)):
            if (bits >> k) & 1:
                dx[8 * b + k] += dout[8 * b + k] * scale


@cuda.jit
def dropout_backward_mask_kernel(dx, dout, mask, scale):
    n = dx.size
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for b in range(start, (n + 7) // 8, stride):
        bits = mask[b]
        for k in range(min(8, n - 8 * b)):
            if (bits >> k) & 1:
                dx[8 * b + k] += dout[8 * b + k] * scale


def _flat(a):
    return a.reshape(a.size)


def dropout_mask(mask, n, seed, offset, threshold):
    """mask = packed keep bits of n elements."""
    with on_device([mask], []) as ((d_mask,), _):
        dropout_mask_kernel[grid_1d(d_mask.size)](d_mask, n, seed, offset, threshold)


def dropout_forward(out, mask, x, seed, offset, threshold, scale):
    """out = x * keep * scale (+ packed mask when mask.size > 0)."""
    with on_device([out, mask], [x]) as ((d_out, d_mask), (d_x,)):
        dropout_forward_kernel[grid_1d((d_out.size + 7) // 8)](
            _flat(d_out), d_mask, _flat(d_x), seed, offset, threshold, scale)


def dropout_backward(dx, dout, seed, offset, threshold, scale):
    """dx += dout * keep * scale, keep regenerated from (seed, offset)."""
    with on_device([dx], [dout]) as ((d_dx,), (d_dout,)):
        dropout_backward_kernel[grid_1d((d_dx.size + 7) // 8)](
            _flat(d_dx), _flat(d_dout), seed, offset, threshold, scale)


def dropout_backward_mask(dx, dout, mask, scale):
    """dx += dout * keep * scale, keep read from the packed mask."""
    with on_device([dx], [dout, mask]) as ((d_dx,), (d_dout, d_mask)):
        dropout_backward_mask_kernel[grid_1d((d_dx.size + 7) // 8)](
            _flat(d_dx), _flat(d_dout), d_mask, scale)


def ptx_signatures(ty):
    """Argument types of each kernel here for a float type ``ty`` (PTX tests)."""
    from numba import types
    v, u8, u64 = ty[::1], types.uint8[::1], types.uint64
    return {dropout_mask_kernel: (u8, types.int64, u64, u64, u64),
            dropout_forward_kernel: (v, u8, v, u64, u64, u64, ty),
            dropout_backward_kernel: (v, v, u64, u64, u64, ty),
            dropout_backward_mask_kernel: (v, v, u8, ty)}
