"""Batch normalization, cuda. Math and conventions: ``kernels/ref/batchnorm.py``.

One thread per feature (column), grid-stride over features: it walks the
batch in order (adjacent threads read adjacent columns of a row: coalesced)
and owns its statistics and gradients, so there are no atomics and the
sums run in a fixed order. Statistics are float64, as in the reference:
every element is converted with ``float64()`` before it is accumulated.
Not ``float()``: numba types ``float(float32)`` as float32 on the device,
while the simulator's is Python's float64, so only a GPU shows the loss.
"""
import math

from numba import cuda, float64

from ._launch import grid_1d, on_device


@cuda.jit
def batchnorm_forward_train_kernel(out, mean, rstd, running_mean, running_var, x, gamma, beta,
                                   momentum, eps):
    n, f = x.shape
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for j in range(start, f, stride):
        s = 0.0
        for i in range(n):
            s += float64(x[i, j])
        mu = s / n
        m2 = 0.0
        for i in range(n):
            d = float64(x[i, j]) - mu
            m2 += d * d
        var = m2 / n
        rs = 1.0 / math.sqrt(var + eps)
        mean[j] = mu
        rstd[j] = rs
        running_mean[j] = (1 - momentum) * running_mean[j] + momentum * mu
        running_var[j] = (1 - momentum) * running_var[j] + momentum * var * (n / (n - 1))
        for i in range(n):
            out[i, j] = gamma[j] * ((float64(x[i, j]) - mu) * rs) + beta[j]


@cuda.jit
def batchnorm_forward_eval_kernel(out, x, running_mean, running_var, gamma, beta, eps):
    n, f = x.shape
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for j in range(start, f, stride):
        inv = 1.0 / math.sqrt(running_var[j] + eps)
        for i in range(n):
            out[i, j] = gamma[j] * ((float64(x[i, j]) - running_mean[j]) * inv) + beta[j]


@cuda.jit
def batchnorm_backward_kernel(dx, dgamma, dbeta, dout, x, mean, rstd, gamma):
    n, f = x.shape
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for j in range(start, f, stride):
        s1 = 0.0
        s2 = 0.0
        for i in range(n):
            g = float64(dout[i, j])
            s1 += g
            s2 += g * ((float64(x[i, j]) - mean[j]) * rstd[j])
        dbeta[j] += s1
        dgamma[j] += s2
        c = gamma[j] * rstd[j] / n
        for i in range(n):
            xhat = (float64(x[i, j]) - mean[j]) * rstd[j]
            dx[i, j] += c * (n * float64(dout[i, j]) - s1 - xhat * s2)


def batchnorm_forward_train(out, mean, rstd, running_mean, running_var, x, gamma, beta, momentum, eps):
    """out = gamma * xhat + beta; writes mean, rstd; updates running stats."""
    with on_device([out, mean, rstd, running_mean, running_var], [x, gamma, beta]) as (
            (d_out, d_mean, d_rstd, d_rm, d_rv), (d_x, d_g, d_b)):
        batchnorm_forward_train_kernel[grid_1d(d_x.shape[1])](
            d_out, d_mean, d_rstd, d_rm, d_rv, d_x, d_g, d_b, momentum, eps)


def batchnorm_forward_eval(out, x, running_mean, running_var, gamma, beta, eps):
    """out = gamma * (x - running_mean) / sqrt(running_var + eps) + beta."""
    with on_device([out], [x, running_mean, running_var, gamma, beta]) as (
            (d_out,), (d_x, d_rm, d_rv, d_g, d_b)):
        batchnorm_forward_eval_kernel[grid_1d(d_x.shape[1])](d_out, d_x, d_rm, d_rv, d_g, d_b, eps)


def batchnorm_backward(dx, dgamma, dbeta, dout, x, mean, rstd, gamma):
    """Accumulate dx, dgamma, dbeta from the saved mean and rstd."""
    with on_device([dx, dgamma, dbeta], [dout, x, mean, rstd, gamma]) as (
            (d_dx, d_dg, d_db), (d_dout, d_x, d_mean, d_rstd, d_g)):
        batchnorm_backward_kernel[grid_1d(d_x.shape[1])](d_dx, d_dg, d_db, d_dout, d_x, d_mean, d_rstd, d_g)


def ptx_signatures(ty):
    """Argument types of each kernel here for a float type ``ty`` (PTX tests).

    Statistics are float64 by contract, so the float32 build does use f64.
    """
    from numba import float64
    m, v, s = ty[:, ::1], ty[::1], float64[::1]
    return {batchnorm_forward_train_kernel: (m, s, s, s, s, m, v, v, float64, float64),
            batchnorm_forward_eval_kernel: (m, m, s, s, v, v, float64),
            batchnorm_backward_kernel: (m, v, v, m, m, s, s, v)}
