"""L2 and L1 penalties, cpu. Math: ``kernels/ref/regularization.py``.

Parallel over chunks of CHUNK elements: a thread owns its chunk's gradient
entries and its partial sum, so the result is the same for any number of
threads. Within a chunk the float64 sum is one loop compiled with
``reassoc`` (``_jit``): LLVM splits it into vector lanes, in an order fixed
by the compiled code, not the threads. Without it the sum is a chain of
dependent scalar adds; 16 explicit accumulator lanes, the previous form,
stayed scalar too (LLVM cannot prove the lanes' array apart from the
gradient's), and L2 at 1M took 5x the time it takes now.
"""
import numpy as np

from ..ref.regularization import CHUNK
from ._jit import kernel, prange


@kernel(inline=True)
def _element(v, coef, l1):
    """(|v| or v^2 in float64, coef * sign(v) or coef * v): one weight's
    penalty term and gradient. coef * sign(v) is two selects on
    comparisons, which vectorise as blends: weights' signs are random, and
    a mispredicted branch per element cost 13x; the earlier
    coef * (float(v > 0) - float(v < 0)) added two conversions and a
    multiply (L1 at 1M float32: 1.60x the axpy's time, now 1.28-1.39x)."""
    zero = type(coef)(0)
    if l1:
        # v * coef where v is neither > 0 nor < 0: 0 for a zero (sign(0) = 0)
        # and NaN for a NaN, as np.sign gives
        return np.float64(abs(v)), (coef if v > zero else (-coef if v < zero else v * coef))
    return np.float64(v) * v, coef * v


@kernel(parallel=True, reassoc=True)
def _penalty(partials, dw, w, coef, l1):
    """partials = chunked sums of the terms; dw += the gradients. ``l1`` is
    loop-invariant, so LLVM unswitches it: each loop vectorises as its own."""
    n = w.size
    for k in prange((n + CHUNK - 1) // CHUNK):
        wk = w[k * CHUNK:min(n, (k + 1) * CHUNK)]
        dk = dw[k * CHUNK:min(n, (k + 1) * CHUNK)]
        s = 0.0
        for i in range(wk.size):
            t, g = _element(wk[i], coef, l1)
            s += t           # reordered into vector lanes (reassoc)
            dk[i] += g       # one add per element: nothing to reorder
        partials[k] = s


@kernel
def l2_penalty(partials, dw, w, coef):
    """partials = chunked sums of w^2; dw += coef * w."""
    _penalty(partials, dw, w, coef, False)


@kernel
def l1_penalty(partials, dw, w, coef):
    """partials = chunked sums of |w|; dw += coef * sign(w)."""
    _penalty(partials, dw, w, coef, True)
