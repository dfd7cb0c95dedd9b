"""Losses on logits, each with a fused forward + backward, reference.

Every loss writes the per-example loss ``loss: (batch,)``; the cost is its
mean over the batch (the course's convention), taken by the caller.  The
gradient written is that of the *cost*, so it carries the 1/batch, and it is
accumulated (``+=``) like every backward.

softmax cross-entropy, logits z: (batch, classes), integer labels: (batch,)
    p          = softmax(z) = exp(z - max z) / sum exp(z - max z)    (stable)
    loss_i     = logsumexp(z_i) - z_i[label_i]
    dlogits   += (p - onehot(label)) / batch

binary cross-entropy, logits z: (batch, k), targets y in {0, 1}: (batch, k)
    loss_i     = mean_j [ max(z,0) - z*y + log(1 + exp(-|z|)) ]      (stable)
    dlogits   += (sigmoid(z) - y) / (batch * k)

mean squared error, predictions p: (batch, k), targets y: (batch, k)
    loss_i     = mean_j (p - y)^2     (the batch mean equals torch's MSELoss)
    dpred     += 2 (p - y) / (batch * k)
"""
import numpy as np

from .activations import _sigmoid


def softmax_forward(probs, logits):
    """probs = softmax(logits) row by row, shifted by the row max for stability."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    probs[...] = e / e.sum(axis=1, keepdims=True)


def softmax_cross_entropy(loss, dlogits, probs, logits, labels):
    """Per-example loss, probs, and dlogits += d(mean loss)/dlogits."""
    batch = logits.shape[0]
    rows = np.arange(batch)
    zmax = logits.max(axis=1, keepdims=True)
    z = logits - zmax
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    probs[...] = e / s
    loss[...] = np.log(s[:, 0]) - z[rows, labels]
    g = probs.copy()
    g[rows, labels] -= 1
    dlogits += g / logits.dtype.type(batch)


def binary_cross_entropy(loss, dlogits, logits, y):
    """Per-example loss and dlogits += d(mean loss)/dlogits, from logits."""
    n = logits.dtype.type(logits.size)
    terms = np.maximum(logits, 0) - logits * y + np.log1p(np.exp(-np.abs(logits)))
    loss[...] = terms.mean(axis=1)
    dlogits += (_sigmoid(logits) - y) / n


def mean_squared_error(loss, dpred, pred, y):
    """Per-example loss and dpred += d(mean loss)/dpred."""
    n = pred.dtype.type(pred.size)
    r = pred - y
    loss[...] = (r * r).mean(axis=1)
    dpred += (2 * r) / n
