"""Losses on logits, each computing the cost and its gradient in one pass.

Costs are means over the batch (the course's convention). The formulas and
per-loss conventions live in ``kernels/ref/losses.py``. Losses take
*logits* (the last layer's linear output): applying softmax or sigmoid first
is the classic bug, and the fused forms are the numerically stable ones.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from . import _arrays, _checks
from ._backend import kernels
from .activations import sigmoid
from .kernels import codes

__all__ = ["LossOutput", "LossKind", "LOSSES", "LOSS_KINDS", "softmax_cross_entropy", "binary_cross_entropy",
           "mean_squared_error", "softmax"]


class LossOutput:
    """What a loss returns.

    cost : float, mean of ``per_example`` over the batch (float64). For
        device arrays it is computed when first read, which waits for the
        GPU and copies ``per_example`` back; ``fit`` never reads it per step.
    grad : array like the logits, d(cost)/d(logits) (accumulated into if given)
    per_example : array, (batch,), each example's loss
    probs : array like the logits, softmax probabilities (softmax CE only)

    Arrays live where the logits do. Unpacks as ``cost, grad, per_example, probs``.
    """
    __slots__ = ("grad", "per_example", "probs", "_cost")

    def __init__(self, grad, per_example, probs=None):
        self.grad, self.per_example, self.probs = grad, per_example, probs
        self._cost = None

    @property
    def cost(self):
        if self._cost is None:
            self._cost = float(_arrays.to_host(self.per_example).mean(dtype=np.float64))
        return self._cost

    def __iter__(self):
        return iter((self.cost, self.grad, self.per_example, self.probs))

    def __repr__(self):
        return f"LossOutput(cost={self.cost!r}, batch={self.per_example.shape[0]})"


def _grad_buffer(grad, z, inputs):
    if grad is None:
        return _arrays.zeros_like(z)
    return _checks.output("grad", grad, z.shape, z.dtype, inputs)


def _targets(name, y, z):
    """Float targets like the logits; (batch,) is accepted for one output."""
    if (isinstance(y, np.ndarray) or _arrays.is_device(y)) and y.ndim == 1 and z.shape[1] == 1:
        y = y.reshape(y.shape[0], 1)
    _checks.array(name, y, 2, z.dtype)
    _checks.shape(name, y, z.shape)
    return y


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray, *, grad: np.ndarray | None = None,
                          backend: str | None = None) -> LossOutput:
    """Softmax + cross-entropy with integer labels, fused and stable.

    cost = mean_i [ logsumexp(z_i) - z_i[label_i] ]

    Parameters
    ----------
    logits : ndarray, (batch, classes), float32 or float64
    labels : ndarray of ints, (batch,), values in [0, classes)
    grad : ndarray like logits, optional; accumulated into
    backend : optional

    Returns
    -------
    LossOutput(cost, grad, per_example, probs)

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> r = fastnn.softmax_cross_entropy(np.zeros((2, 4)), np.array([0, 3]))
    >>> round(r.cost, 6) == round(np.log(4), 6)
    True
    """
    z = _checks.array("logits", logits, 2)
    y = _checks.labels("labels", labels, z.shape[0], z.shape[1])
    return _softmax_cross_entropy(z, y, grad, backend)


def _softmax_cross_entropy(z, y, grad, backend):
    """softmax_cross_entropy once the labels are checked (a model checks a
    whole dataset once instead of reading device labels back every step)."""
    g = _grad_buffer(grad, z, [("logits", z)])
    loss = _arrays.empty(z.shape[0], z.dtype, like=z)
    probs = _arrays.empty_like(z)
    kernels(backend, logits=z, labels=y, grad=g).losses.softmax_cross_entropy(loss, g, probs, z, y)
    return LossOutput(g, loss, probs)


def binary_cross_entropy(logits: np.ndarray, y: np.ndarray, *, grad: np.ndarray | None = None,
                         backend: str | None = None) -> LossOutput:
    """Sigmoid + binary cross-entropy from logits, fused and stable.

    cost = mean over the batch (and over the k outputs) of
    ``max(z, 0) - z*y + log(1 + exp(-|z|))``; ``y`` holds targets in [0, 1]
    (0/1 labels, or soft targets) of the logits' shape and dtype ((batch,)
    is accepted when k == 1). Targets outside [0, 1] are refused: the cost
    would be unbounded below.
    """
    z = _checks.array("logits", logits, 2)
    y = _targets("y", y, z)
    _checks.unit_interval("y", y)
    return _binary_cross_entropy(z, y, grad, backend)


def _binary_cross_entropy(z, y, grad, backend):
    """binary_cross_entropy once the targets are checked."""
    g = _grad_buffer(grad, z, [("logits", z), ("y", y)])
    loss = _arrays.empty(z.shape[0], z.dtype, like=z)
    kernels(backend, logits=z, y=y, grad=g).losses.binary_cross_entropy(loss, g, z, y)
    return LossOutput(g, loss)


def mean_squared_error(pred: np.ndarray, y: np.ndarray, *, grad: np.ndarray | None = None,
                       backend: str | None = None) -> LossOutput:
    """Mean squared error, ``mean over batch and outputs of (pred - y)^2``.

    Equals ``torch.nn.MSELoss()``; ``y`` has pred's shape and dtype ((batch,)
    is accepted when there is one output).
    """
    p = _checks.array("pred", pred, 2)
    y = _targets("y", y, p)
    g = _grad_buffer(grad, p, [("pred", p), ("y", y)])
    loss = _arrays.empty(p.shape[0], p.dtype, like=p)
    kernels(backend, pred=p, y=y, grad=g).losses.mean_squared_error(loss, g, p, y)
    return LossOutput(g, loss)


def softmax(logits: np.ndarray, *, backend: str | None = None) -> np.ndarray:
    """Row-wise softmax of (batch, classes) logits, shifted by the row max."""
    z = _checks.array("logits", logits, 2)
    probs = _arrays.empty_like(z)
    kernels(backend, logits=z).losses.softmax_forward(probs, z)
    return probs


LOSSES = {
    "softmax_cross_entropy": softmax_cross_entropy,
    "binary_cross_entropy": binary_cross_entropy,
    "mean_squared_error": mean_squared_error,
}


@dataclass(frozen=True)
class LossKind:
    """What a model needs to know of its loss, answered in one place.

    name : the loss's name, a key of ``LOSSES``
    code : its code in the compiled training step (``kernels/codes.py``)
    labels : True when the targets are integer class labels (softmax
        cross-entropy); otherwise float targets with one column per output
    checked : ``(logits, targets, backend) -> LossOutput`` for targets a
        model has already validated (a whole dataset is checked once,
        instead of reading device labels back every step)
    link : the function from logits to probabilities (softmax or sigmoid);
        None for a regression loss
    """
    name: str
    code: int
    labels: bool
    checked: Callable
    link: Optional[Callable]

    @property
    def classifier(self):
        """Whether the loss classifies (it has probabilities and an accuracy)."""
        return self.link is not None

    def probabilities(self, logits, backend):
        if self.link is None:
            raise ValueError("predict_proba needs a classification loss")
        return self.link(logits, backend=backend)

    def predict(self, z):
        """Class labels from host logits: the argmax, or logit > 0 (sigmoid
        > 0.5) per output; no softmax or sigmoid is needed to decide."""
        if self.labels:
            return z.argmax(axis=1)
        hits = (z > 0).astype(np.int64)
        return hits[:, 0] if hits.shape[1] == 1 else hits

    def hits(self, z, y):
        """How many predictions of host logits ``z`` are right against the
        targets ``y``: per example for labels, per output for 0/1 targets;
        0 for a regression loss (see ``count``)."""
        if not self.classifier:
            return 0.0
        if self.labels:
            return float(np.count_nonzero(z.argmax(axis=1) == y))
        return float(np.count_nonzero((z > 0) == (y > 0.5)))

    def count(self, rows, outputs):
        """How many predictions ``hits`` counts over for ``rows`` examples."""
        return rows if self.labels else rows * outputs

    def correct(self, z, y):
        """Fraction of right predictions for host logits and targets (None
        for a regression loss)."""
        if not self.classifier:
            return None
        return self.hits(z, y) / self.count(*z.shape)


LOSS_KINDS = {kind.name: kind for kind in (
    LossKind("softmax_cross_entropy", codes.LOSS_SOFTMAX_CROSS_ENTROPY, True,
             lambda z, y, backend: _softmax_cross_entropy(z, y, None, backend), softmax),
    LossKind("binary_cross_entropy", codes.LOSS_BINARY_CROSS_ENTROPY, False,
             lambda z, y, backend: _binary_cross_entropy(z, y, None, backend), sigmoid),
    LossKind("mean_squared_error", codes.LOSS_MEAN_SQUARED_ERROR, False,
             lambda z, y, backend: mean_squared_error(z, y, backend=backend), None),
)}
