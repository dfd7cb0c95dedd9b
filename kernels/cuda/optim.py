"""Fused optimizer updates over one flat buffer, cuda. Math: ``kernels/ref/optim.py``.

One thread per element, grid-stride: each element read and written once,
coalesced. The float64 bias corrections are folded into per-step constants
on the host side of the launch, as in the cpu backend.
"""
import math

import numpy as np
from numba import cuda

from .. import scalar
from ._launch import grid_1d, on_device

_adam_element = cuda.jit(device=True)(scalar.adam_element)      # one body with the cpu backend


@cuda.jit
def sgd_kernel(p, g, lr, weight_decay, n_decay):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, p.size, stride):
        gi = g[i] + weight_decay * p[i] if i < n_decay else g[i]
        p[i] -= lr * gi


@cuda.jit
def momentum_kernel(p, g, v, lr, beta, weight_decay, n_decay):
    one = type(beta)(1)
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, p.size, stride):
        gi = g[i] + weight_decay * p[i] if i < n_decay else g[i]
        vi = beta * v[i] + (one - beta) * gi
        v[i] = vi
        p[i] -= lr * vi


@cuda.jit
def rmsprop_kernel(p, g, s, lr, beta, eps, weight_decay, n_decay):
    one = type(beta)(1)
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, p.size, stride):
        gi = g[i] + weight_decay * p[i] if i < n_decay else g[i]
        si = beta * s[i] + (one - beta) * gi * gi
        s[i] = si
        p[i] -= lr * gi / (math.sqrt(si) + eps)


@cuda.jit
def adam_kernel(p, g, m, v, step, rsqrt_bc2, beta1, beta2, eps, shrink, weight_decay, decoupled, n_decay):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, p.size, stride):
        p[i], m[i], v[i] = _adam_element(p[i], g[i], m[i], v[i], beta1, beta2, step, rsqrt_bc2, eps, shrink,
                                         weight_decay, i < n_decay, decoupled)


def sgd_update(p, g, lr, weight_decay, n_decay):
    """p -= lr * g (coupled L2 on the first n_decay elements)."""
    with on_device([p], [g]) as ((d_p,), (d_g,)):
        sgd_kernel[grid_1d(d_p.size)](d_p, d_g, lr, weight_decay, n_decay)


def momentum_update(p, g, v, lr, beta, weight_decay, n_decay):
    """v = beta v + (1 - beta) g; p -= lr v."""
    with on_device([p, v], [g]) as ((d_p, d_v), (d_g,)):
        momentum_kernel[grid_1d(d_p.size)](d_p, d_g, d_v, lr, beta, weight_decay, n_decay)


def rmsprop_update(p, g, s, lr, beta, eps, weight_decay, n_decay):
    """s = beta s + (1 - beta) g^2; p -= lr g / (sqrt(s) + eps)."""
    with on_device([p, s], [g]) as ((d_p, d_s), (d_g,)):
        rmsprop_kernel[grid_1d(d_p.size)](d_p, d_g, d_s, lr, beta, eps, weight_decay, n_decay)


def adam_update(p, g, m, v, lr, beta1, beta2, eps, weight_decay, decoupled, n_decay, bc1, bc2):
    """Adam with bias correction; AdamW when ``decoupled``."""
    dt = type(lr)
    step = dt(lr / bc1)
    rsqrt_bc2 = dt(1.0 / np.sqrt(bc2))
    shrink = dt(1 - lr * weight_decay)
    with on_device([p, m, v], [g]) as ((d_p, d_m, d_v), (d_g,)):
        adam_kernel[grid_1d(d_p.size)](d_p, d_g, d_m, d_v, step, rsqrt_bc2, beta1, beta2, eps, shrink,
                                       weight_decay, decoupled, n_decay)


def ptx_signatures(ty):
    """Argument types of each kernel here for a float type ``ty`` (PTX tests)."""
    from numba import types
    v, i64, b = ty[::1], types.int64, types.boolean
    return {sgd_kernel: (v, v, ty, ty, i64),
            momentum_kernel: (v, v, v, ty, ty, ty, i64),
            rmsprop_kernel: (v, v, v, ty, ty, ty, ty, i64),
            adam_kernel: (v, v, v, v, ty, ty, ty, ty, ty, ty, ty, b, i64)}
