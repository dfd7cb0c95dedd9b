"""L2 and L1 weight penalties with their gradients fused, reference.

The course's L2 regularization adds to the cost, over the weights only (never
the biases), for a batch of m examples::

    J_L2 = lambd / (2m) * sum ||W||_F^2         dW += (lambd / m) * W

and L1, in the lecture's scaling::

    J_L1 = lambd / (2m) * sum |W|               dW += lambd / (2m) * sign(W)

(sign(0) = 0, the subgradient). This is regularization *in the loss*: it
flows through the optimizer like any gradient (through Adam's moments, for
instance). Decoupled weight decay, AdamW's ``weight_decay``, shrinks the
parameters in the update itself and is not the same thing under Adam.

Kernels take a flat weight vector (a layer's W or a model's whole weight
segment), the coefficient ``coef`` of the gradient term, and write
``partials[k]``, the float64 sum of w^2 (or |w|) over chunk k of CHUNK
elements. The caller adds the partials in order and scales them, so the
sum is the same for any thread count.
"""
import numpy as np

CHUNK = 4096


def _chunk_sums(values, partials):
    starts = np.arange(0, values.size, CHUNK)
    partials[...] = np.add.reduceat(values, starts) if values.size else 0.0


def l2_penalty(partials, dw, w, coef):
    """partials = chunked sums of w^2; dw += coef * w."""
    wf = w.astype(np.float64)
    _chunk_sums(wf * wf, partials)
    dw += coef * w


def l1_penalty(partials, dw, w, coef):
    """partials = chunked sums of |w|; dw += coef * sign(w)."""
    _chunk_sums(np.abs(w.astype(np.float64)), partials)
    dw += coef * np.sign(w)
