"""Elementwise activations, cpu. The math is in ``kernels/ref/activations.py``.

``act`` and ``dact`` are scalar helpers shared by the fused dense epilogue;
the branch on the integer code is loop-invariant, so LLVM unswitches it out
of the element loop.
"""
import numpy as np

from ..codes import LEAKY_RELU, RELU, SIGMOID, TANH
from ._jit import kernel, prange


@kernel
def act(z, code, alpha):
    """f(z) for one element; every constant has z's type."""
    zero = type(z)(0)
    one = type(z)(1)
    if code == RELU:
        return z if z > zero else zero
    if code == LEAKY_RELU:
        return z if z > zero else alpha * z
    if code == SIGMOID:
        # exp(-|z|) never overflows; choose the form that does not cancel
        e = np.exp(-abs(z))
        return one / (one + e) if z >= zero else e / (one + e)
    if code == TANH:
        return np.tanh(z)
    return z


@kernel
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


@kernel(parallel=True)
def activation_forward(out, x, act_code, alpha):
    """out = f(x); parallel over elements, each thread owns a contiguous range."""
    o = out.reshape(out.size)
    xi = x.reshape(x.size)
    for i in prange(o.size):
        o[i] = act(xi[i], act_code, alpha)


@kernel(parallel=True)
def activation_backward(dx, dout, out, act_code, alpha):
    """dx += dout * f'(out); parallel over elements."""
    d = dx.reshape(dx.size)
    g = dout.reshape(dout.size)
    o = out.reshape(out.size)
    for i in prange(d.size):
        d[i] += g[i] * dact(o[i], act_code, alpha)
