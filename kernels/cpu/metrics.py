"""Training-loop bookkeeping, cpu. Math: ``kernels/ref/metrics.py``.

Serial on purpose: these run once per batch over a batch's worth of values,
and a fixed summation order keeps them thread-count independent.
"""
import numpy as np

from .. import scalar
from ._jit import kernel

row_argmax = kernel(scalar.row_argmax, inline=True)       # one body with cuda


@kernel
def sum_into(acc, index, values, scale):
    """acc[index] += scale * sum(values), summed in float64."""
    flat = values.reshape(values.size)
    s = 0.0
    for i in range(flat.size):
        s += np.float64(flat[i])
    acc[index] += scale * s


@kernel
def argmax_hits(hits, index, logits, labels):
    """hits[index] += number of rows whose (first) argmax is the label."""
    count = 0
    for i in range(logits.shape[0]):
        count += row_argmax(logits, i) == labels[i]
    hits[index] += count


@kernel
def threshold_hits(hits, index, logits, y):
    """hits[index] += number of entries with (logit > 0) == (target > 0.5)."""
    count = 0
    for i in range(logits.shape[0]):
        for j in range(logits.shape[1]):
            count += (logits[i, j] > 0) == (y[i, j] > 0.5)
    hits[index] += count


@kernel
def segment_norms(acc, x, starts, stops):
    """acc[s] += Euclidean norm of x[starts[s]:stops[s]], in float64."""
    for s in range(starts.shape[0]):
        t = 0.0
        for i in range(starts[s], stops[s]):
            v = np.float64(x[i])
            t += v * v
        acc[s] += np.sqrt(t)
