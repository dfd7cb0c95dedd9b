"""Per-element helpers shared by the cpu and cuda backends.

Plain Python over scalars, written with ``math`` (which both targets
support) and constants of the argument's own type, so one body compiles as
an ``@njit`` function (``kernels/cpu``) and as a ``@cuda.jit(device=True)``
function (``kernels/cuda``): the two backends cannot drift apart. The math
they implement is documented in ``kernels/ref``.

``exp``, ``log1p`` and ``tanh`` come from ``vecmath``: branch-free float32
polynomials that LLVM vectorises (``math.exp`` does not vectorise without
SVML), and ``math`` for float64.
"""
import math

from .codes import LEAKY_RELU, RELU, SIGMOID, TANH
from .vecmath import exp, log1p, tanh


def act(z, code, alpha):
    """f(z) for one element; every constant has z's type (no float64 in f32 code)."""
    zero = type(z)(0)
    one = type(z)(1)
    # NaN propagates, as in the reference (IEEE): select z unless z < 0,
    # which a NaN is not (x86's max returns its second operand for a NaN,
    # so "z if z > 0 else 0" would turn a NaN into 0)
    if code == RELU:
        return zero if z < zero else z
    if code == LEAKY_RELU:
        return z if z > zero else alpha * z
    if code == SIGMOID:
        # exp(-|z|) never overflows; choose the form that does not cancel.
        # The choice is of the numerator only: one division, not two
        # computed and selected (the vectorised loop ran 1.2x faster)
        e = exp(-abs(z))
        return (one if z >= zero else e) / (one + e)
    if code == TANH:
        return tanh(z)
    return z


def dact(out, code, alpha):
    """f'(z) for one element, from the forward output out = f(z)."""
    zero = type(out)(0)
    one = type(out)(1)
    if code == RELU:
        return one if out > zero else zero
    if code == LEAKY_RELU:
        return one if out > zero else alpha
    if code == SIGMOID:
        return out * (one - out)
    if code == TANH:
        return one - out * out
    return one


def row_argmax(z, i):
    """The column of row i's maximum: the first one, and a NaN counts as
    the maximum (NumPy's ``argmax``, which the reference uses)."""
    best = 0
    for j in range(1, z.shape[1]):
        v = z[i, j]
        if v > z[i, best] or (v != v and z[i, best] == z[i, best]):
            best = j
    return best


def row_softmax(probs, logits, i):
    """Write exp(z - max z) of row i into probs[i]; return (sum, max)."""
    k = logits.shape[1]
    zmax = logits[i, 0]
    for j in range(1, k):
        zmax = max(zmax, logits[i, j])
    s = type(zmax)(0)
    for j in range(k):
        e = exp(logits[i, j] - zmax)
        probs[i, j] = e
        s += e
    return s, zmax


def adam_element(p, g, m, v, beta1, beta2, step, rsqrt_bc2, eps, shrink, weight_decay, decay, decoupled):
    """One parameter's Adam/AdamW update; returns the new (p, m, v).

    ``step`` = lr / (1 - beta1^t), ``rsqrt_bc2`` = 1 / sqrt(1 - beta2^t),
    ``shrink`` = 1 - lr * weight_decay; ``decay``: this element takes decay.
    """
    one = type(beta1)(1)
    if decay:
        if decoupled:
            p *= shrink
        else:
            g += weight_decay * p
    m = beta1 * m + (one - beta1) * g
    v = beta2 * v + (one - beta2) * g * g
    return p - step * m / (math.sqrt(v) * rsqrt_bc2 + eps), m, v


def bce_element(z, y):
    """Binary cross-entropy of one logit z and target y: returns
    (max(z, 0) - z y + log(1 + exp(-|z|)), sigmoid(z) - y)."""
    zero = type(z)(0)
    one = type(z)(1)
    e = exp(-abs(z))                     # in (0, 1]: never overflows
    sig = (one if z >= zero else e) / (one + e)   # as in ``act``: one division
    return max(z, zero) - z * y + log1p(e), sig - y
