"""Fused optimizer updates over one flat buffer, cuda. Math: ``kernels/ref/optim.py``.

One thread per element, grid-stride: each element read and written once,
coalesced. The float64 bias corrections are folded into per-step constants
on the host side of the launch, as in the cpu backend.
"""
import math

import numpy as np
from numba import cuda

from .. import scalar
from ..codes import (
    COUNTER_T,
    HYPER_BETA1,
    HYPER_BETA2,
    HYPER_DECOUPLED,
    HYPER_EPS,
    HYPER_LR,
    HYPER_WEIGHT_DECAY,
    OPT_ADAM,
    OPT_MOMENTUM,
    OPT_SGD,
)
from ._launch import grid_1d, on_device

_adam_element = cuda.jit(device=True)(scalar.adam_element)      # one body with the cpu backend


@cuda.jit(device=True)
def _sgd_element(p, g, lr):
    return p - lr * g


@cuda.jit(device=True)
def _momentum_element(p, g, v, lr, beta):
    v = beta * v + (type(beta)(1) - beta) * g
    return p - lr * v, v


@cuda.jit(device=True)
def _rmsprop_element(p, g, s, lr, beta, eps):
    s = beta * s + (type(beta)(1) - beta) * g * g
    return p - lr * g / (math.sqrt(s) + eps), s


@cuda.jit
def sgd_kernel(p, g, lr, weight_decay, n_decay):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, p.size, stride):
        p[i] = _sgd_element(p[i], g[i] + weight_decay * p[i] if i < n_decay else g[i], lr)


@cuda.jit
def momentum_kernel(p, g, v, lr, beta, weight_decay, n_decay):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, p.size, stride):
        p[i], v[i] = _momentum_element(p[i], g[i] + weight_decay * p[i] if i < n_decay else g[i], v[i], lr, beta)


@cuda.jit
def rmsprop_kernel(p, g, s, lr, beta, eps, weight_decay, n_decay):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, p.size, stride):
        p[i], s[i] = _rmsprop_element(p[i], g[i] + weight_decay * p[i] if i < n_decay else g[i], s[i],
                                      lr, beta, eps)


@cuda.jit
def adam_kernel(p, g, m, v, step, rsqrt_bc2, beta1, beta2, eps, shrink, weight_decay, decoupled, n_decay):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, p.size, stride):
        p[i], m[i], v[i] = _adam_element(p[i], g[i], m[i], v[i], beta1, beta2, step, rsqrt_bc2, eps, shrink,
                                         weight_decay, i < n_decay, decoupled)


@cuda.jit
def update_kernel(p, g, s1, s2, hyper, counters, code, n_decay):
    """Any optimizer's update, its hyperparameters read on the device:
    ``hyper`` (float64, ``codes.HYPER_*``; the bias corrections computed
    here from ``counters[COUNTER_T]``, the step's t). The kernel a replayed
    step binds once; s1, s2: the state buffers (m, v; or v; or s)."""
    dt = type(p[0])
    lr = hyper[HYPER_LR]
    beta1, beta2 = dt(hyper[HYPER_BETA1]), dt(hyper[HYPER_BETA2])
    eps, weight_decay = dt(hyper[HYPER_EPS]), dt(hyper[HYPER_WEIGHT_DECAY])
    decoupled = hyper[HYPER_DECOUPLED] != 0.0
    t = counters[COUNTER_T]
    # Adam's per-step constants, in float64 as the host computes them
    step = dt(lr / (1.0 - hyper[HYPER_BETA1] ** t)) if code == OPT_ADAM else dt(lr)
    rsqrt_bc2 = dt(1.0 / math.sqrt(1.0 - hyper[HYPER_BETA2] ** t)) if code == OPT_ADAM else dt(1)
    shrink = dt(1.0 - lr * hyper[HYPER_WEIGHT_DECAY])
    lr_t = dt(lr)
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, p.size, stride):
        decay = i < n_decay
        if code == OPT_ADAM:
            p[i], s1[i], s2[i] = _adam_element(p[i], g[i], s1[i], s2[i], beta1, beta2, step, rsqrt_bc2, eps,
                                               shrink, weight_decay, decay, decoupled)
            continue
        gi = g[i] + weight_decay * p[i] if decay else g[i]
        if code == OPT_SGD:
            p[i] = _sgd_element(p[i], gi, lr_t)
        elif code == OPT_MOMENTUM:
            p[i], s1[i] = _momentum_element(p[i], gi, s1[i], lr_t, beta1)
        else:
            p[i], s1[i] = _rmsprop_element(p[i], gi, s1[i], lr_t, beta1, eps)


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
            adam_kernel: (v, v, v, v, ty, ty, ty, ty, ty, ty, ty, b, i64),
            update_kernel: (v, v, v, v, types.float64[::1], types.int64[::1], i64, i64)}
