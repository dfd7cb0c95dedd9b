"""Fused optimizer updates over one flat buffer, cpu. Math: ``kernels/ref/optim.py``.

One pass over the whole buffer per step: each element is read and written
once (Adam: read p, g, m, v; write p, m, v = 28 bytes per float32 parameter),
where NumPy makes a temporary per operation. Parallel over elements: every
update is elementwise, so each thread owns a contiguous range and results do
not depend on the thread count.
"""
import numpy as np

from .. import scalar
from ._jit import kernel, prange

_adam_element = kernel(scalar.adam_element, inline=True)      # one body with the cuda backend


@kernel(parallel=True)
def sgd_update(p, g, lr, weight_decay, n_decay):
    """p -= lr * g (coupled L2 on the first n_decay elements)."""
    for i in prange(p.size):
        gi = g[i] + weight_decay * p[i] if i < n_decay else g[i]
        p[i] -= lr * gi


@kernel(parallel=True)
def momentum_update(p, g, v, lr, beta, weight_decay, n_decay):
    """v = beta v + (1 - beta) g; p -= lr v."""
    one = type(beta)(1)
    for i in prange(p.size):
        gi = g[i] + weight_decay * p[i] if i < n_decay else g[i]
        vi = beta * v[i] + (one - beta) * gi
        v[i] = vi
        p[i] -= lr * vi


@kernel(parallel=True)
def rmsprop_update(p, g, s, lr, beta, eps, weight_decay, n_decay):
    """s = beta s + (1 - beta) g^2; p -= lr g / (sqrt(s) + eps)."""
    one = type(beta)(1)
    for i in prange(p.size):
        gi = g[i] + weight_decay * p[i] if i < n_decay else g[i]
        si = beta * s[i] + (one - beta) * gi * gi
        s[i] = si
        p[i] -= lr * gi / (np.sqrt(si) + eps)


@kernel(parallel=True)
def adam_update(p, g, m, v, lr, beta1, beta2, eps, weight_decay, decoupled, n_decay, bc1, bc2):
    """Adam with bias correction; AdamW when ``decoupled``.

    The float64 bias corrections become two per-step constants in p's dtype:
    the step size lr / bc1 and 1 / sqrt(bc2).
    """
    one = type(lr)(1)
    step = type(lr)(lr / bc1)
    rsqrt_bc2 = type(lr)(1.0 / np.sqrt(bc2))
    shrink = one - lr * weight_decay
    for i in prange(p.size):
        p[i], m[i], v[i] = _adam_element(p[i], g[i], m[i], v[i], beta1, beta2, step, rsqrt_bc2, eps, shrink,
                                         weight_decay, i < n_decay, decoupled)
