"""Batch normalization, cpu. Math and conventions: ``kernels/ref/batchnorm.py``.

Parallel over blocks of features (columns): a thread owns its features'
statistics and gradients and walks the batch rows in order, reading a
contiguous run of each row. Sums are float64 and run in a fixed order, so
results are identical for any thread count.
"""
import numpy as np

from ._jit import kernel, prange

_COLS = 64   # features per block: a contiguous run of each row, split across threads


@kernel(parallel=True)
def batchnorm_forward_train(out, mean, rstd, running_mean, running_var, x, gamma, beta, momentum, eps):
    """out = gamma * xhat + beta; writes mean, rstd; updates running stats."""
    n, f = x.shape
    for blk in prange((f + _COLS - 1) // _COLS):
        j0 = blk * _COLS
        j1 = min(f, j0 + _COLS)
        mu = np.zeros(j1 - j0)
        m2 = np.zeros(j1 - j0)
        for i in range(n):                       # pass 1: mean
            for j in range(j0, j1):
                mu[j - j0] += x[i, j]
        mu /= n
        for i in range(n):                       # pass 2: centred squares
            for j in range(j0, j1):
                d = x[i, j] - mu[j - j0]
                m2[j - j0] += d * d
        for j in range(j0, j1):
            var = m2[j - j0] / n
            mean[j] = mu[j - j0]
            rstd[j] = 1.0 / np.sqrt(var + eps)
            running_mean[j] = (1 - momentum) * running_mean[j] + momentum * mu[j - j0]
            running_var[j] = (1 - momentum) * running_var[j] + momentum * var * (n / (n - 1))
        for i in range(n):
            for j in range(j0, j1):
                out[i, j] = gamma[j] * ((x[i, j] - mean[j]) * rstd[j]) + beta[j]


@kernel(parallel=True)
def batchnorm_forward_eval(out, x, running_mean, running_var, gamma, beta, eps):
    """out = gamma * (x - running_mean) / sqrt(running_var + eps) + beta."""
    n, f = x.shape
    for blk in prange((f + _COLS - 1) // _COLS):
        j0 = blk * _COLS
        j1 = min(f, j0 + _COLS)
        inv = np.empty(j1 - j0)
        for j in range(j0, j1):
            inv[j - j0] = 1.0 / np.sqrt(running_var[j] + eps)
        for i in range(n):
            for j in range(j0, j1):
                out[i, j] = gamma[j] * ((x[i, j] - running_mean[j]) * inv[j - j0]) + beta[j]


@kernel(parallel=True)
def batchnorm_backward(dx, dgamma, dbeta, dout, x, mean, rstd, gamma):
    """Accumulate dx, dgamma, dbeta from the saved mean and rstd."""
    n, f = x.shape
    for blk in prange((f + _COLS - 1) // _COLS):
        j0 = blk * _COLS
        j1 = min(f, j0 + _COLS)
        s1 = np.zeros(j1 - j0)
        s2 = np.zeros(j1 - j0)
        for i in range(n):
            for j in range(j0, j1):
                g = dout[i, j]
                s1[j - j0] += g
                s2[j - j0] += g * ((x[i, j] - mean[j]) * rstd[j])
        for j in range(j0, j1):
            dbeta[j] += s1[j - j0]
            dgamma[j] += s2[j - j0]
        for i in range(n):
            for j in range(j0, j1):
                xhat = (x[i, j] - mean[j]) * rstd[j]
                dx[i, j] += (gamma[j] * rstd[j] / n) * (n * dout[i, j] - s1[j - j0] - xhat * s2[j - j0])
