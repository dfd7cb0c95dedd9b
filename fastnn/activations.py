"""Elementwise activations: forward, backward, and stable ``sigmoid``.

The formulas live in ``kernels/ref/activations.py``.
"""
from __future__ import annotations

import numpy as np

from . import _arrays, _checks
from ._backend import kernels
from .kernels.codes import ACTIVATIONS, LEAKY_RELU

__all__ = ["activation_forward", "activation_backward", "sigmoid"]


def activation_code(activation, alpha):
    """Validate an activation name and its slope; return (code, alpha)."""
    if activation is None:
        activation = "linear"
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)} or None, got {activation!r}")
    code = ACTIVATIONS[activation]
    alpha = _checks.scalar("alpha", alpha, low=0.0)       # checked even where unused: one rule
    return code, (alpha if code == LEAKY_RELU else 0.0)


def activation_forward(x: np.ndarray, activation: str, *, alpha: float = 0.01, out: np.ndarray | None = None,
                       backend: str | None = None) -> np.ndarray:
    """Apply an activation elementwise.

    Parameters
    ----------
    x : ndarray, (batch, features), float32 or float64, C-contiguous
    activation : {"linear", "relu", "leaky_relu", "sigmoid", "tanh"}
    alpha : float, slope of ``leaky_relu`` for x < 0 (>= 0)
    out : ndarray like x, optional; written in place
    backend : {"ref", "cpu", "cuda"}, optional

    Returns
    -------
    out : ndarray like x, ``f(x)``; keep it for ``activation_backward``.

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> fastnn.activation_forward(np.array([[-1.0, 2.0]]), "relu")
    array([[0., 2.]])
    """
    code, alpha = activation_code(activation, alpha)
    _checks.array("x", x, 2)
    if out is None:
        out = _arrays.empty_like(x)
    else:
        _checks.output("out", out, x.shape, x.dtype, [("x", x)])
    kernels(backend, x=x, out=out).activations.activation_forward(out, x, code, x.dtype.type(alpha))
    return out


def activation_backward(dout: np.ndarray, out: np.ndarray, activation: str, *, alpha: float = 0.01,
                        dx: np.ndarray | None = None, backend: str | None = None) -> np.ndarray:
    """Gradient through an activation: ``dx += dout * f'(x)``.

    ``out`` is the forward output ``f(x)``; ``f'`` is computed from it. A
    given ``dx`` is accumulated into; otherwise a zeroed one is allocated.
    Returns ``dx``.
    """
    code, alpha = activation_code(activation, alpha)
    _checks.array("out", out, 2)
    _checks.array("dout", dout, 2, out.dtype)
    _checks.shape("dout", dout, out.shape)
    if dx is None:
        dx = _arrays.zeros_like(out)
    else:
        _checks.output("dx", dx, out.shape, out.dtype, [("dout", dout), ("out", out)])
    k = kernels(backend, dout=dout, out=out, dx=dx).activations
    k.activation_backward(dx, dout, out, code, out.dtype.type(alpha))
    return dx


def sigmoid(x: np.ndarray, *, backend: str | None = None) -> np.ndarray:
    """Numerically stable logistic sigmoid ``1 / (1 + exp(-x))`` of a 2-D array.

    Never overflows: ``exp`` is only taken of ``-|x|``.
    """
    return activation_forward(x, "sigmoid", backend=backend)
