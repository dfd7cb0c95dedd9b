"""Checks of the course layout, with errors that say what the notebooks expect."""
from __future__ import annotations

import numpy as np

from .. import _checks


def layers_dims(dims):
    dims = list(dims) if isinstance(dims, (list, tuple, np.ndarray)) else dims
    if not isinstance(dims, list) or len(dims) < 2:
        raise TypeError(f"layers_dims must be a list of layer sizes [n_x, n_1, ..., n_L], got {dims!r}")
    return [_checks.positive_int(f"layers_dims[{i}]", d) for i, d in enumerate(dims)]


def features(name, X, n_x=None):
    """``X`` of shape (n_x, m), float64, one example per column."""
    if not isinstance(X, np.ndarray) or type(X) is not np.ndarray:
        raise TypeError(f"{name} must be a numpy.ndarray of shape (n_x, m), got {type(X).__name__}")
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}")
    if X.ndim != 2 or X.shape[1] == 0:
        raise ValueError(f"{name} must have shape (n_x, m), one example per column, got {X.shape}")
    if n_x is not None and X.shape[0] != n_x:
        hint = (f" (it looks batch-major: the course layout is {name}.T)" if X.shape[1] == n_x else "")
        raise ValueError(f"{name} must have shape ({n_x}, m), got {X.shape}{hint}")
    return _checks.finite(name, np.asarray(X, dtype=np.float64))


def labels(name, Y, m):
    """``Y`` of shape (1, m) holding 0/1."""
    if not isinstance(Y, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of shape (1, m), got {type(Y).__name__}")
    if Y.shape != (1, m):
        hint = f" (use {name}.reshape(1, -1))" if Y.shape == (m,) else ""
        raise ValueError(f"{name} must have shape (1, {m}), got {Y.shape}{hint}")
    Y = np.asarray(Y, dtype=np.float64)
    _checks.unit_interval(name, Y)
    return Y


def parameters(params, dims=None):
    """A course parameters dict ``W1, b1, ..., WL, bL``: returns L. With
    ``dims``, the shapes must be ``W[l]: (dims[l], dims[l-1])``, ``b[l]:
    (dims[l], 1)``; without, consecutive layers must fit each other."""
    if not isinstance(params, dict):
        raise TypeError(f"parameters must be a dict of W1, b1, ..., got {type(params).__name__}")
    L = len([k for k in params if isinstance(k, str) and k.startswith("W")])
    if L == 0:
        raise ValueError("parameters has no W1")
    for l in range(1, L + 1):
        for k in (f"W{l}", f"b{l}"):
            if k not in params:
                raise ValueError(f"parameters is missing {k!r}")
            a = params[k]
            if not isinstance(a, np.ndarray) or a.dtype.kind not in "iuf":
                raise TypeError(f"parameters[{k!r}] must be a numpy.ndarray of floats")
            _checks.finite(f"parameters[{k!r}]", a)
        W, b = params[f"W{l}"], params[f"b{l}"]
        want = (dims[l], dims[l - 1]) if dims is not None else (W.shape[0] if W.ndim == 2 else -1,
                                                               params[f"W{l - 1}"].shape[0] if l > 1 else
                                                               (W.shape[1] if W.ndim == 2 else -1))
        if W.ndim != 2 or W.shape != tuple(want):
            raise ValueError(f"parameters['W{l}'] must have shape (n_{l}, n_{l - 1}) = {tuple(want)}, got {W.shape}")
        if b.shape != (W.shape[0], 1):
            raise ValueError(f"parameters['b{l}'] must have shape ({W.shape[0]}, 1), got {b.shape}")
    return L
