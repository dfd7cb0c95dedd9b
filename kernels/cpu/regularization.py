"""L2 and L1 penalties, cpu. Math: ``kernels/ref/regularization.py``.

Parallel over chunks of CHUNK elements: a thread owns its chunk's gradient
entries and its partial sum (float64, in order), so the result is the same
for any number of threads.
"""
import numpy as np

from ..ref.regularization import CHUNK
from ._jit import kernel, prange


@kernel(parallel=True)
def l2_penalty(partials, dw, w, coef):
    """partials = chunked sums of w^2; dw += coef * w."""
    n = w.size
    for k in prange((n + CHUNK - 1) // CHUNK):
        s = 0.0
        for i in range(k * CHUNK, min(n, (k + 1) * CHUNK)):
            v = w[i]
            s += np.float64(v) * v
            dw[i] += coef * v
        partials[k] = s


@kernel(parallel=True)
def l1_penalty(partials, dw, w, coef):
    """partials = chunked sums of |w|; dw += coef * sign(w)."""
    n = w.size
    zero = type(coef)(0)
    for k in prange((n + CHUNK - 1) // CHUNK):
        s = 0.0
        for i in range(k * CHUNK, min(n, (k + 1) * CHUNK)):
            v = w[i]
            s += abs(np.float64(v))
            dw[i] += coef if v > zero else (-coef if v < zero else zero)
        partials[k] = s
