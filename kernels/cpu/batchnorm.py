"""Batch normalization, cpu. Math and conventions: ``kernels/ref/batchnorm.py``.

Statistics are reduced over the batch in fixed chunks of _ROWS rows: each
chunk's float64 partial sums are computed in parallel (a thread walks whole
rows, contiguous in memory), then the chunks are combined in order. Chunk
boundaries depend only on the batch size, so results are identical for any
thread count. The elementwise passes are parallel over rows.
"""
import numpy as np

from ._jit import kernel, prange

_ROWS = 128   # rows per chunk of the reductions


@kernel
def _combine(part, out):
    """out[j] = sum over chunks c, in order, of part[c, j]."""
    out[:] = 0.0
    for c in range(part.shape[0]):
        for j in range(part.shape[1]):
            out[j] += part[c, j]


@kernel(parallel=True)
def _chunk_sums(part, x, mean, centred):
    # part: (chunks, f) float64; chunk c sums rows c*_ROWS .. of x, or of
    # (x - mean)^2 when ``centred`` (loop-invariant: LLVM unswitches it)
    n = x.shape[0]
    for c in prange(part.shape[0]):
        acc = part[c]
        acc[:] = 0.0
        for i in range(c * _ROWS, min(n, (c + 1) * _ROWS)):
            for j in range(x.shape[1]):
                if centred:
                    d = x[i, j] - mean[j]
                    acc[j] += d * d
                else:
                    acc[j] += x[i, j]


@kernel(parallel=True)
def _normalize(out, x, shift, scale, gamma, beta):
    # out = gamma * ((x - shift) * scale) + beta, row by row
    for i in prange(x.shape[0]):
        for j in range(x.shape[1]):
            out[i, j] = gamma[j] * ((x[i, j] - shift[j]) * scale[j]) + beta[j]


@kernel
def batchnorm_forward_train(out, mean, rstd, running_mean, running_var, x, gamma, beta, momentum, eps):
    """out = gamma * xhat + beta; writes mean, rstd; updates running stats."""
    n, f = x.shape
    part = np.empty(((n + _ROWS - 1) // _ROWS, f))
    _chunk_sums(part, x, mean, False)
    _combine(part, mean)
    mean /= n
    _chunk_sums(part, x, mean, True)
    _combine(part, rstd)                       # sum of centred squares, for now
    for j in range(f):
        var = rstd[j] / n
        rstd[j] = 1.0 / np.sqrt(var + eps)
        running_mean[j] = (1 - momentum) * running_mean[j] + momentum * mean[j]
        running_var[j] = (1 - momentum) * running_var[j] + momentum * var * (n / (n - 1))
    _normalize(out, x, mean, rstd, gamma, beta)


@kernel
def batchnorm_forward_eval(out, x, running_mean, running_var, gamma, beta, eps):
    """out = gamma * (x - running_mean) / sqrt(running_var + eps) + beta."""
    inv = 1.0 / np.sqrt(running_var + eps)
    _normalize(out, x, running_mean, inv, gamma, beta)


@kernel(parallel=True)
def _grad_sums(part1, part2, dout, x, mean, rstd):
    # per chunk: sum of dout and of dout * xhat, per feature
    n = x.shape[0]
    for c in prange(part1.shape[0]):
        a1 = part1[c]
        a2 = part2[c]
        a1[:] = 0.0
        a2[:] = 0.0
        for i in range(c * _ROWS, min(n, (c + 1) * _ROWS)):
            for j in range(x.shape[1]):
                g = dout[i, j]
                a1[j] += g
                a2[j] += g * ((x[i, j] - mean[j]) * rstd[j])


@kernel(parallel=True)
def _grad_x(dx, dout, x, mean, rstd, gamma, s1, s2):
    n = x.shape[0]
    for i in prange(n):
        for j in range(x.shape[1]):
            xhat = (x[i, j] - mean[j]) * rstd[j]
            dx[i, j] += (gamma[j] * rstd[j] / n) * (n * dout[i, j] - s1[j] - xhat * s2[j])


@kernel
def batchnorm_backward(dx, dgamma, dbeta, dout, x, mean, rstd, gamma):
    """Accumulate dx, dgamma, dbeta from the saved mean and rstd."""
    n, f = x.shape
    chunks = (n + _ROWS - 1) // _ROWS
    part1 = np.empty((chunks, f))
    part2 = np.empty((chunks, f))
    _grad_sums(part1, part2, dout, x, mean, rstd)
    s1 = np.empty(f)
    s2 = np.empty(f)
    _combine(part1, s1)
    _combine(part2, s2)
    for j in range(f):
        dbeta[j] += s1[j]
        dgamma[j] += s2[j]
    _grad_x(dx, dout, x, mean, rstd, gamma, s1, s2)
