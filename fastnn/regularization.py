"""L2 and L1 regularization in the cost (course 2, week 1).

    J_L2 = lambd / (2m) * sum over weight matrices of ||W||_F^2,  dW += lambd/m * W
    J_L1 = lambd / (2m) * sum over weight matrices of sum |W|,    dW += lambd/(2m) * sign(W)

Weights only, never biases (nor batch norm's gamma and beta). This is not
decoupled weight decay: AdamW's ``weight_decay`` shrinks parameters inside
the update, while these terms are gradients that go through the optimizer
(under Adam they are rescaled by the moments). Formulas and the
deterministic chunked sum: ``kernels/ref/regularization.py``.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import _arrays, _checks
from ._backend import kernels
from .kernels.ref.regularization import CHUNK

__all__ = ["l2_penalty", "l1_penalty"]


def _penalty_partials(op, weights, grads, lambd, batch_size, grad_scale, backend):
    """Add the gradient terms; return the chunked partial sums (float64
    arrays, where the weights live) whose total times lambd/(2m) is the cost."""
    lambd = _checks.scalar("lambd", lambd, low=0.0)
    _checks.positive_int("batch_size", batch_size, why=" (the m in lambd/m)")
    def one(a):
        return isinstance(a, np.ndarray) or _arrays.is_device(a)
    ws = [weights] if one(weights) else list(weights)
    gs = [grads] if one(grads) else list(grads)
    if len(ws) != len(gs):
        raise ValueError(f"got {len(ws)} weights but {len(gs)} gradients")
    parts = []
    for i, (w, g) in enumerate(zip(ws, gs)):
        _checks.array(f"weights[{i}]", w, None)
        _checks.output(f"grads[{i}]", g, w.shape, w.dtype, [(f"weights[{i}]", w)])
        k = getattr(kernels(backend, **{f"weights[{i}]": w, f"grads[{i}]": g}).regularization, op)
        partials = _arrays.empty((w.size + CHUNK - 1) // CHUNK, np.float64, like=w)
        k(partials, g.reshape(g.size), w.reshape(w.size), w.dtype.type(grad_scale * lambd / batch_size))
        parts.append(partials)
    return parts


def _penalty(op, weights, grads, lambd, batch_size, grad_scale, backend):
    parts = _penalty_partials(op, weights, grads, lambd, batch_size, grad_scale, backend)
    total = sum(float(np.sum(_arrays.to_host(p))) for p in parts)     # fixed order: deterministic
    return float(lambd) / (2 * batch_size) * total


def l2_penalty(weights: np.ndarray | Sequence[np.ndarray], grads: np.ndarray | Sequence[np.ndarray],
               lambd: float, batch_size: int, *, backend: str | None = None) -> float:
    """Add ``lambd/m * W`` to each gradient; return ``lambd/(2m) * sum ||W||^2``.

    Parameters
    ----------
    weights : ndarray or list of ndarrays (the weight matrices only)
    grads : ndarray or list, the matching gradient buffers (accumulated into)
    lambd : float >= 0, the course's lambda
    batch_size : int, m
    backend : optional

    Returns
    -------
    float, the cost term to add to the data cost.
    """
    return _penalty("l2_penalty", weights, grads, lambd, batch_size, 1.0, backend)


def l1_penalty(weights: np.ndarray | Sequence[np.ndarray], grads: np.ndarray | Sequence[np.ndarray],
               lambd: float, batch_size: int, *, backend: str | None = None) -> float:
    """Add ``lambd/(2m) * sign(W)`` to each gradient; return ``lambd/(2m) * sum |W|``."""
    return _penalty("l1_penalty", weights, grads, lambd, batch_size, 0.5, backend)
