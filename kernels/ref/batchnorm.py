"""Batch normalization over the batch, per feature, reference.

Training forward, x: (batch n, features), per feature j::

    mean_j = (1/n) sum_i x_ij
    var_j  = (1/n) sum_i (x_ij - mean_j)^2          (biased; two passes here,
                                                     never E[x^2] - E[x]^2;
                                                     the cpu backend's one
                                                     pass is over x - shift)
    rstd_j = 1 / sqrt(var_j + eps)                  (eps inside the root)
    xhat   = (x - mean) * rstd
    out    = gamma * xhat + beta

Running statistics, PyTorch's convention (Keras's momentum is 1 - this one)::

    running_mean = (1 - momentum) * running_mean + momentum * mean
    running_var  = (1 - momentum) * running_var  + momentum * var * n / (n - 1)

(the unbiased variance goes into running_var). Inference forward uses the
running statistics in place of the batch's. Backward, the compact form, with
the batch sums s1 = sum_i dout_ij and s2 = sum_i dout_ij * xhat_ij::

    dbeta  += s1
    dgamma += s2
    dx     += gamma * rstd / n * (n * dout - s1 - xhat * s2)

Statistics (mean, rstd, running_mean, running_var) are float64 whatever the
dtype of x: they are (features,) small, and a float32 mean of data around 1e4
would be off by ~1e-3 of a unit, which xhat would inherit.
"""
import numpy as np


def batchnorm_forward_train(out, mean, rstd, running_mean, running_var, x, gamma, beta, momentum, eps):
    """out = gamma * xhat + beta; writes mean, rstd; updates running stats."""
    n = x.shape[0]
    xf = x.astype(np.float64)
    mu = xf.mean(axis=0)
    var = ((xf - mu) ** 2).mean(axis=0)
    mean[...] = mu
    rstd[...] = 1.0 / np.sqrt(var + eps)
    running_mean[...] = (1 - momentum) * running_mean + momentum * mu
    running_var[...] = (1 - momentum) * running_var + momentum * var * (n / (n - 1))
    out[...] = gamma * ((xf - mu) * rstd) + beta


def batchnorm_forward_eval(out, x, running_mean, running_var, gamma, beta, eps):
    """out = gamma * (x - running_mean) / sqrt(running_var + eps) + beta."""
    out[...] = gamma * ((x.astype(np.float64) - running_mean) / np.sqrt(running_var + eps)) + beta


def batchnorm_backward(dx, dgamma, dbeta, dout, x, mean, rstd, gamma):
    """Accumulate dx, dgamma, dbeta from the saved mean and rstd."""
    n = x.shape[0]
    xhat = (x.astype(np.float64) - mean) * rstd
    g = dout.astype(np.float64)
    s1 = g.sum(axis=0)
    s2 = (g * xhat).sum(axis=0)
    dbeta += s1
    dgamma += s2
    dx += (gamma * rstd / n) * (n * g - s1 - xhat * s2)
