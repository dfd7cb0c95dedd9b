"""Elementwise activations, reference.

Forward ``out = f(x)``; backward ``dx += dout * f'(x)``, with ``f'`` written
in terms of the forward *output* so that backward needs no copy of ``x``:

    linear      f = x                     f' = 1
    relu        f = max(x, 0)             f' = [out > 0]
    leaky_relu  f = x if x > 0 else a*x   f' = 1 if out > 0 else a   (a >= 0)
    sigmoid     f = 1 / (1 + e^-x)        f' = out * (1 - out)
    tanh        f = tanh(x)               f' = 1 - out^2

The sigmoid is evaluated stably: with ``e = exp(-|x|)`` (never overflows),
``f = 1/(1+e)`` for x >= 0 and ``e/(1+e)`` for x < 0.
"""
import numpy as np

from ..codes import LEAKY_RELU, LINEAR, RELU, SIGMOID, TANH


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def _apply(x, act, alpha):
    if act == LINEAR:
        return x
    if act == RELU:
        return np.maximum(x, 0)
    if act == LEAKY_RELU:
        return np.where(x > 0, x, alpha * x)
    if act == SIGMOID:
        return _sigmoid(x)
    if act == TANH:
        return np.tanh(x)
    raise ValueError(f"unknown activation code {act}")


def _derivative(out, act, alpha):
    """f'(x) from out = f(x)."""
    one = out.dtype.type(1)
    if act == LINEAR:
        return np.ones_like(out)
    if act == RELU:
        return (out > 0).astype(out.dtype)
    if act == LEAKY_RELU:
        return np.where(out > 0, one, alpha).astype(out.dtype)
    if act == SIGMOID:
        return out * (one - out)
    if act == TANH:
        return one - out * out
    raise ValueError(f"unknown activation code {act}")


def activation_forward(out, x, act, alpha):
    """out = f(x), elementwise. Shapes: out, x any, equal."""
    out[...] = _apply(x, act, alpha)


def activation_backward(dx, dout, out, act, alpha):
    """dx += dout * f'(x), with f' computed from the forward output ``out``."""
    dx += dout * _derivative(out, act, alpha)
