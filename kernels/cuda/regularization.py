"""L2 and L1 penalties, cuda. Math: ``kernels/ref/regularization.py``.

One thread per chunk of CHUNK elements, grid-stride over chunks: it owns its
chunk's gradient entries and partial sum (no atomics, fixed order). Threads
of a warp walk different chunks, so loads are strided; this is a once-per-
step pass over the weights, not a hot loop.
"""
from numba import cuda, float64

from ..ref.regularization import CHUNK
from ._launch import grid_1d, on_device


@cuda.jit
def l2_penalty_kernel(partials, dw, w, coef):
    n = w.size
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for k in range(start, (n + CHUNK - 1) // CHUNK, stride):
        s = 0.0
        for i in range(k * CHUNK, min(n, (k + 1) * CHUNK)):
            v = w[i]
            s += float64(v) * float64(v)
            dw[i] += coef * v
        partials[k] = s


@cuda.jit
def l1_penalty_kernel(partials, dw, w, coef):
    n = w.size
    zero = type(coef)(0)
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for k in range(start, (n + CHUNK - 1) // CHUNK, stride):
        s = 0.0
        for i in range(k * CHUNK, min(n, (k + 1) * CHUNK)):
            v = w[i]
            s += abs(float64(v))
            dw[i] += coef if v > zero else (-coef if v < zero else zero)
        partials[k] = s


def l2_penalty(partials, dw, w, coef):
    """partials = chunked sums of w^2; dw += coef * w."""
    with on_device([partials, dw], [w]) as ((d_p, d_dw), (d_w,)):
        l2_penalty_kernel[grid_1d(d_p.size)](d_p, d_dw.reshape(d_dw.size), d_w.reshape(d_w.size), coef)


def l1_penalty(partials, dw, w, coef):
    """partials = chunked sums of |w|; dw += coef * sign(w)."""
    with on_device([partials, dw], [w]) as ((d_p, d_dw), (d_w,)):
        l1_penalty_kernel[grid_1d(d_p.size)](d_p, d_dw.reshape(d_dw.size), d_w.reshape(d_w.size), coef)


def ptx_signatures(ty):
    """Argument types of each kernel here for a float type ``ty`` (PTX tests).

    The partial sums are float64 by contract.
    """
    from numba import float64
    v = ty[::1]
    return {l2_penalty_kernel: (float64[::1], v, v, ty),
            l1_penalty_kernel: (float64[::1], v, v, ty)}
