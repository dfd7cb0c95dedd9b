"""Training-loop bookkeeping that stays where the data is, reference.

What ``fit`` records per batch, written into small float64 accumulators so
that a device-resident model never reads a scalar back per step:

    sum_into(acc, index, values, scale)      acc[index] += scale * sum(values)
    argmax_hits(hits, index, logits, labels) hits[index] += #{i : argmax_j z_ij == label_i}
    threshold_hits(hits, index, logits, y)   hits[index] += #{(i,j) : (z_ij > 0) == (y_ij > 0.5)}
    segment_norms(acc, x, starts, stops)     acc[s] += || x[starts[s]:stops[s]] ||_2

Sums are taken in float64. Ties in argmax go to the first maximum (NumPy's
rule), so every backend counts the same hits.
"""
import numpy as np


def sum_into(acc, index, values, scale):
    """acc[index] += scale * sum(values), summed in float64."""
    acc[index] += scale * np.sum(values, dtype=np.float64)


def argmax_hits(hits, index, logits, labels):
    """hits[index] += number of rows whose argmax is the label."""
    hits[index] += np.count_nonzero(logits.argmax(axis=1) == labels)


def threshold_hits(hits, index, logits, y):
    """hits[index] += number of entries with (logit > 0) == (target > 0.5)."""
    hits[index] += np.count_nonzero((logits > 0) == (y > 0.5))


def segment_norms(acc, x, starts, stops):
    """acc[s] += Euclidean norm of the segment x[starts[s]:stops[s]] (float64)."""
    for s in range(starts.shape[0]):
        seg = x[starts[s]:stops[s]].astype(np.float64)
        acc[s] += np.sqrt(np.dot(seg, seg))
