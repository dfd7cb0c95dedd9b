"""L2 and L1 penalties, cuda. Math: ``kernels/ref/regularization.py``.

One block per chunk of CHUNK elements (grid-stride over chunks): its RED
threads take the chunk's elements t, t + RED, ... (adjacent threads,
adjacent elements: coalesced), update those gradient entries, and fold their
float64 partials into the chunk's sum in a fixed tree (``_reduce``): no
atomics, the same bits every run. One thread per chunk, as before, ran a
million weights on 245 threads with strided loads: 2 ms on an H100.
"""
import math

from numba import cuda, float64

from ..codes import COUNTER_BATCH
from ..ref.regularization import CHUNK
from ._launch import MAX_BLOCKS, on_device
from ._reduce import RED, block_sum


@cuda.jit
def l2_penalty_kernel(partials, dw, w, coef):
    n = w.size
    part = cuda.shared.array(RED, float64)
    t = cuda.threadIdx.x
    for k in range(cuda.blockIdx.x, partials.size, cuda.gridDim.x):
        s = 0.0
        for i in range(k * CHUNK + t, min(n, (k + 1) * CHUNK), RED):
            v = w[i]
            s += float64(v) * float64(v)
            dw[i] += coef * v
        total = block_sum(part, t, s)
        if t == 0:
            partials[k] = total


@cuda.jit
def l1_penalty_kernel(partials, dw, w, coef):
    n = w.size
    zero = type(coef)(0)
    part = cuda.shared.array(RED, float64)
    t = cuda.threadIdx.x
    for k in range(cuda.blockIdx.x, partials.size, cuda.gridDim.x):
        s = 0.0
        for i in range(k * CHUNK + t, min(n, (k + 1) * CHUNK), RED):
            v = w[i]
            s += abs(float64(v))
            dw[i] += coef if v > zero else (-coef if v < zero else v * coef)     # sign(NaN) = NaN, as ref
        total = block_sum(part, t, s)
        if t == 0:
            partials[k] = total


@cuda.jit
def penalty_norms_kernel(norms, pen, g, w, starts, stops, counters, coef2, coef1):
    """A replayed step's penalties and gradient norms, one block per weight
    segment s (a Dense layer's W): g += coef2 * w, then g += coef1 *
    sign(w) (the layer path's order: L2, then L1), norms[s] += ||g||, and
    the segment's sums of w^2 and |w| (float64) into pen[b, s, 0] and
    pen[b, s, 1] for the batch b = counters[COUNTER_BATCH] - 1 (its
    bookkeeping ran already), for the host to add to the batch's cost."""
    part = cuda.shared.array(RED, float64)
    seg = cuda.blockIdx.x
    t = cuda.threadIdx.x
    zero = type(coef2)(0)
    sq = 0.0
    ab = 0.0
    gg = 0.0
    for i in range(starts[seg] + t, stops[seg], RED):
        v = w[i]
        gi = g[i]
        if coef2 != zero:
            gi += coef2 * v
        if coef1 != zero:
            gi += coef1 if v > zero else (-coef1 if v < zero else v * coef1)     # sign(NaN) = NaN, as ref
        g[i] = gi
        sq += float64(v) * float64(v)
        ab += abs(float64(v))
        gg += float64(gi) * float64(gi)
    sq = block_sum(part, t, sq)
    ab = block_sum(part, t, ab)
    gg = block_sum(part, t, gg)
    if t == 0:
        b = counters[COUNTER_BATCH] - 1
        pen[b, seg, 0] = sq
        pen[b, seg, 1] = ab
        norms[seg] += math.sqrt(gg)


def _run(kernel, partials, dw, w, coef):
    """One block per chunk (at most MAX_BLOCKS, grid-stride beyond)."""
    with on_device([partials, dw], [w]) as ((d_p, d_dw), (d_w,)):
        if d_p.size:
            blocks = min(MAX_BLOCKS, d_p.size)
            kernel[blocks, RED](d_p, d_dw.reshape(d_dw.size), d_w.reshape(d_w.size), coef)


def l2_penalty(partials, dw, w, coef):
    """partials = chunked sums of w^2; dw += coef * w."""
    _run(l2_penalty_kernel, partials, dw, w, coef)


def l1_penalty(partials, dw, w, coef):
    """partials = chunked sums of |w|; dw += coef * sign(w)."""
    _run(l1_penalty_kernel, partials, dw, w, coef)


def ptx_signatures(ty):
    """Argument types of each kernel here for a float type ``ty`` (PTX tests).

    The partial sums are float64 by contract.
    """
    from numba import float64, types
    v, i64 = ty[::1], types.int64[::1]
    return {l2_penalty_kernel: (float64[::1], v, v, ty),
            l1_penalty_kernel: (float64[::1], v, v, ty),
            penalty_norms_kernel: (float64[::1], float64[:, :, ::1], v, v, i64, i64, i64, ty, ty)}
