"""Dense (fully connected) layer ops with the activation fused in.

Layout: ``x (batch, in)``, ``w (in, out)``, ``b (out,)``, ``y = f(x @ w + b)``.
The formulas live in ``kernels/ref/dense.py``.
"""
from __future__ import annotations

import numpy as np

from . import _arrays, _checks
from ._backend import kernels
from .activations import activation_code

__all__ = ["dense_forward", "dense_backward"]


def _check_xw(x, w):
    _checks.array("x", x, 2)
    _checks.array("w", w, 2, x.dtype)
    if w.shape[0] != x.shape[1]:
        raise ValueError(f"w must have shape ({x.shape[1]}, out) to match x {tuple(x.shape)}, "
                         f"got {tuple(w.shape)}")


def dense_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, activation: str | None = None, *,
                  alpha: float = 0.01, out: np.ndarray | None = None,
                  backend: str | None = None) -> np.ndarray:
    """Dense layer forward: ``out = f(x @ w + b)``.

    Parameters
    ----------
    x : ndarray, (batch, in), float32 or float64, C-contiguous
    w : ndarray, (in, out), same dtype
    b : ndarray, (out,), same dtype, or None for a layer without bias
    activation : {None/"linear", "relu", "leaky_relu", "sigmoid", "tanh"}
    alpha : float, leaky_relu slope (>= 0)
    out : ndarray, (batch, out), optional; written in place
    backend : {"ref", "cpu", "cuda"}, optional (default: ``fastnn.get_backend()``)

    Returns
    -------
    out : ndarray, (batch, out); keep it for ``dense_backward``.

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> x = np.ones((2, 3)); w = np.full((3, 1), 0.5); b = np.array([-1.0])
    >>> fastnn.dense_forward(x, w, b, "relu")
    array([[0.5],
           [0.5]])
    """
    code, alpha = activation_code(activation, alpha)
    _check_xw(x, w)
    n_out = w.shape[1]
    if b is None:
        b = _arrays.empty((0,), x.dtype, like=x)
    else:
        _checks.array("b", b, 1, x.dtype)
        _checks.shape("b", b, (n_out,))
    if out is None:
        out = _arrays.empty((x.shape[0], n_out), x.dtype, like=x)
    else:
        _checks.output("out", out, (x.shape[0], n_out), x.dtype, [("x", x), ("w", w), ("b", b)])
    kernels(backend, x=x, w=w, b=b, out=out).dense.dense_forward(out, x, w, b, code, x.dtype.type(alpha))
    return out


def dense_backward(dout: np.ndarray, x: np.ndarray, w: np.ndarray, out: np.ndarray,
                   activation: str | None = None, *, bias: bool = True, alpha: float = 0.01,
                   dx: np.ndarray | None = None, dw: np.ndarray | None = None, db: np.ndarray | None = None,
                   dz: np.ndarray | None = None,
                   backend: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Dense layer backward through the fused activation.

    With ``dz = dout * f'(out)``: ``dx += dz @ w.T``, ``dw += x.T @ dz``,
    ``db += dz.sum(0)``. Given gradient buffers are accumulated into (zero
    them yourself between steps); missing ones are allocated zeroed.

    Parameters
    ----------
    dout : ndarray, (batch, out), gradient of the cost w.r.t. ``out``
    x, w : the forward inputs
    out : ndarray, (batch, out), the forward output
    activation, alpha : as in the forward
    bias : bool, whether the layer has a bias (``db`` is None when not)
    dx, dw, db : ndarray, optional, (batch, in), (in, out), (out,)
    dz : ndarray, (batch, out), optional workspace; holds dL/dz afterwards
    backend : {"ref", "cpu", "cuda"}, optional

    Returns
    -------
    (dx, dw, db)
    """
    code, alpha = activation_code(activation, alpha)
    bias = _checks.flag("bias", bias)
    _check_xw(x, w)
    dt = x.dtype
    batch, n_out = x.shape[0], w.shape[1]
    _checks.array("out", out, 2, dt)
    _checks.shape("out", out, (batch, n_out))
    _checks.array("dout", dout, 2, dt)
    _checks.shape("dout", dout, (batch, n_out))
    inputs = [("dout", dout), ("x", x), ("w", w), ("out", out)]

    given = []                  # the caller's buffers: only these can alias anything

    def buffer(name, buf, shp, zero=True):
        if buf is None:
            return _arrays.zeros(shp, dt, like=x) if zero else _arrays.empty(shp, dt, like=x)
        given.append((name, _checks.output(name, buf, shp, dt)))
        return buf

    dx = buffer("dx", dx, x.shape)
    dw = buffer("dw", dw, w.shape)
    dz = buffer("dz", dz, (batch, n_out), zero=False)
    if bias:
        db = buffer("db", db, (n_out,))
        db_kernel = db
    else:
        if db is not None:
            raise ValueError("db was given but bias=False")
        db_kernel = _arrays.empty((0,), dt, like=x)
    _checks.disjoint(given, inputs)
    k = kernels(backend, dout=dout, x=x, w=w, out=out).dense
    k.dense_backward(dx, dw, db_kernel, dz, dout, x, w, out, code, dt.type(alpha))
    return dx, dw, (db if bias else None)
