"""Batch normalization (course 2, week 3).

The formulas, conventions (biased variance to normalize, unbiased into
``running_var``, PyTorch's momentum) and the float64 statistics rule live in
``kernels/ref/batchnorm.py``. A dense layer followed by batch norm
needs no bias (``beta`` does its job): build it with ``bias=False``.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from . import _arrays, _checks
from ._backend import kernels

__all__ = ["BatchNormOutput", "batchnorm_forward", "batchnorm_backward", "check_training_batch"]


def check_training_batch(rows):
    """The one rule for every training path (the layer path, the compiled
    step and ``fit``'s batch plan): batch statistics need two examples."""
    if rows < 2:
        raise ValueError(f"batch norm in training needs at least 2 examples per batch, got {rows} "
                         "(the batch variance of one example is 0 and its unbiased estimate undefined): "
                         "change batch_size so that no batch, the last one included, has a single example")


class BatchNormOutput(NamedTuple):
    """out: (batch, features); mean, rstd: float64 (features,), for backward
    (None in inference mode)."""
    out: np.ndarray
    mean: Optional[np.ndarray] = None
    rstd: Optional[np.ndarray] = None


def _check_params(x, gamma, beta):
    _checks.array("x", x, 2)
    f = x.shape[1]
    for name, a in (("gamma", gamma), ("beta", beta)):
        _checks.array(name, a, 1, x.dtype)
        _checks.shape(name, a, (f,))
    return f


def batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, running_mean: np.ndarray,
                      running_var: np.ndarray, *, training: bool, momentum: float = 0.1, eps: float = 1e-5,
                      out: np.ndarray | None = None, backend: str | None = None) -> BatchNormOutput:
    """Normalize each feature over the batch, then scale and shift.

    Parameters
    ----------
    x : ndarray, (batch, features), float32 or float64
    gamma, beta : ndarray, (features,), x's dtype
    running_mean, running_var : ndarray, (features,), float64; updated in
        place in training mode, used instead of the batch's in inference
    training : bool
    momentum : float in [0, 1], PyTorch's convention (weight of the new batch)
    eps : float > 0, added to the variance inside the square root
    out : ndarray like x, optional
    backend : optional

    Returns
    -------
    BatchNormOutput(out, mean, rstd)
    """
    f = _check_params(x, gamma, beta)
    _checks.float64_vector("running_mean", running_mean, f)
    _checks.float64_vector("running_var", running_var, f)
    momentum = _checks.scalar("momentum", momentum, low=0.0, high=1.0)
    eps = _checks.scalar("eps", eps, low=0.0, low_open=True)
    if out is None:
        out = _arrays.empty_like(x)
    else:
        _checks.output("out", out, x.shape, x.dtype, [("x", x)])
    training = _checks.flag("training", training)
    k = kernels(backend, x=x, gamma=gamma, running_mean=running_mean, out=out).batchnorm
    if not training:
        _checks.disjoint([("out", out)], [("x", x), ("gamma", gamma), ("beta", beta),
                                          ("running_mean", running_mean), ("running_var", running_var)])
        k.batchnorm_forward_eval(out, x, running_mean, running_var, gamma, beta, eps)
        return BatchNormOutput(out)
    check_training_batch(x.shape[0])
    _checks.writeable("running_mean", running_mean)
    _checks.writeable("running_var", running_var)
    _checks.disjoint([("out", out), ("running_mean", running_mean), ("running_var", running_var)],
                     [("x", x), ("gamma", gamma), ("beta", beta)])
    mean = _arrays.empty(f, np.float64, like=x)
    rstd = _arrays.empty(f, np.float64, like=x)
    k.batchnorm_forward_train(out, mean, rstd, running_mean, running_var, x, gamma, beta, momentum, eps)
    return BatchNormOutput(out, mean, rstd)


def batchnorm_backward(dout: np.ndarray, x: np.ndarray, mean: np.ndarray, rstd: np.ndarray, gamma: np.ndarray,
                       *, dx: np.ndarray | None = None, dgamma: np.ndarray | None = None,
                       dbeta: np.ndarray | None = None,
                       backend: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of batch norm (training mode), the compact closed form.

    ``mean`` and ``rstd`` are what ``batchnorm_forward(training=True)``
    returned. Given gradient buffers are accumulated into. Returns
    ``(dx, dgamma, dbeta)``.
    """
    f = _check_params(x, gamma, gamma)
    _checks.array("dout", dout, 2, x.dtype)
    _checks.shape("dout", dout, x.shape)
    _checks.float64_vector("mean", mean, f)
    _checks.float64_vector("rstd", rstd, f)
    inputs = [("dout", dout), ("x", x), ("gamma", gamma)]
    given = [(n, a) for n, a in (("dx", dx), ("dgamma", dgamma), ("dbeta", dbeta)) if a is not None]
    dx = _arrays.zeros_like(x) if dx is None else _checks.output("dx", dx, x.shape, x.dtype)
    dgamma = (_arrays.zeros(f, x.dtype, like=x) if dgamma is None
              else _checks.output("dgamma", dgamma, (f,), x.dtype))
    dbeta = (_arrays.zeros(f, x.dtype, like=x) if dbeta is None
             else _checks.output("dbeta", dbeta, (f,), x.dtype))
    _checks.disjoint(given, inputs + [("mean", mean), ("rstd", rstd)])   # only the caller's buffers can alias
    k = kernels(backend, dout=dout, x=x, mean=mean, gamma=gamma).batchnorm
    k.batchnorm_backward(dx, dgamma, dbeta, dout, x, mean, rstd, gamma)
    return dx, dgamma, dbeta
