"""Batch normalization, cuda. Math and conventions: ``kernels/ref/batchnorm.py``.

Training forward and backward: one block per tile of COLS features (grid-
stride over tiles), its ROWS row groups splitting the batch. Each thread
reduces its rows of its column (forward: Welford's one-pass mean and
squared deviations; backward: two sums), then the block merges the ROWS
partials of each column in a fixed tree (``_reduce.column_welford``,
``column_sum``): deterministic, no atomics,
and the whole GPU busy even for a few hundred features (one thread per
feature, as before, ran 2,500 features on 10 of 132 SMs: 1-2% of bandwidth
on an H100). Statistics are float64, as in the reference: every element is
converted with ``float64()`` before it is accumulated. Not ``float()``:
numba types ``float(float32)`` as float32 on the device, while the
simulator's is Python's float64, so only a GPU shows the loss.

Evaluation is elementwise (a grid-stride loop over all entries).
"""
import math

from numba import cuda, float64

from ._launch import grid_1d, on_device
from ._reduce import COLS, ROWS, column_grid, column_sum, column_welford


@cuda.jit
def batchnorm_forward_train_kernel(out, mean, rstd, running_mean, running_var, x, gamma, beta,
                                   momentum, eps):
    n, f = x.shape
    pn = cuda.shared.array((ROWS, COLS), float64)
    pmean = cuda.shared.array((ROWS, COLS), float64)
    pm2 = cuda.shared.array((ROWS, COLS), float64)
    c, r = cuda.threadIdx.x, cuda.threadIdx.y
    for tile in range(cuda.blockIdx.x, (f + COLS - 1) // COLS, cuda.gridDim.x):
        j = tile * COLS + c
        live = j < f           # a ragged last tile: idle threads still meet every barrier
        # one pass (Welford) per thread over its rows, merged across the row
        # groups in a fixed tree: x is read twice in all, not three times,
        # and the variance has no cancellation
        cnt = 0.0
        mu = 0.0
        m2 = 0.0
        if live:
            for i in range(r, n, ROWS):
                cnt += 1.0
                d = float64(x[i, j]) - mu
                mu += d / cnt
                m2 += d * (float64(x[i, j]) - mu)
        mu, m2 = column_welford(pn, pmean, pm2, cnt, mu, m2)
        var = m2 / n
        if live:
            rs = 1.0 / math.sqrt(var + eps)
            if r == 0:
                mean[j] = mu
                rstd[j] = rs
                running_mean[j] = (1 - momentum) * running_mean[j] + momentum * mu
                running_var[j] = (1 - momentum) * running_var[j] + momentum * var * (n / (n - 1))
            g, b = gamma[j], beta[j]
            for i in range(r, n, ROWS):
                out[i, j] = g * ((float64(x[i, j]) - mu) * rs) + b


@cuda.jit
def batchnorm_forward_eval_kernel(out, x, running_mean, running_var, gamma, beta, eps):
    n, f = x.shape
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for e in range(start, n * f, stride):
        i = e // f
        j = e - i * f
        inv = 1.0 / math.sqrt(running_var[j] + eps)
        out[i, j] = gamma[j] * ((float64(x[i, j]) - running_mean[j]) * inv) + beta[j]


@cuda.jit
def batchnorm_backward_kernel(dx, dgamma, dbeta, dout, x, mean, rstd, gamma, accumulate):
    # accumulate: add into dx, dgamma, dbeta (the layer path's contract), or
    # write them (a replayed step, whose buffers are not zeroed)
    n, f = x.shape
    part = cuda.shared.array((ROWS, COLS), float64)
    c, r = cuda.threadIdx.x, cuda.threadIdx.y
    for tile in range(cuda.blockIdx.x, (f + COLS - 1) // COLS, cuda.gridDim.x):
        j = tile * COLS + c
        live = j < f
        mj = 0.0
        rj = 0.0
        s1 = 0.0
        s2 = 0.0
        if live:
            mj = mean[j]
            rj = rstd[j]
            for i in range(r, n, ROWS):
                g = float64(dout[i, j])
                s1 += g
                s2 += g * ((float64(x[i, j]) - mj) * rj)
        s1 = column_sum(part, s1)
        s2 = column_sum(part, s2)
        if live:
            if r == 0:
                dbeta[j] = dbeta[j] + s1 if accumulate else s1
                dgamma[j] = dgamma[j] + s2 if accumulate else s2
            k = gamma[j] * rj / n
            for i in range(r, n, ROWS):
                xhat = (float64(x[i, j]) - mj) * rj
                g = k * (n * float64(dout[i, j]) - s1 - xhat * s2)
                dx[i, j] = dx[i, j] + g if accumulate else g


def batchnorm_forward_train(out, mean, rstd, running_mean, running_var, x, gamma, beta, momentum, eps):
    """out = gamma * xhat + beta; writes mean, rstd; updates running stats."""
    with on_device([out, mean, rstd, running_mean, running_var], [x, gamma, beta]) as (
            (d_out, d_mean, d_rstd, d_rm, d_rv), (d_x, d_g, d_b)):
        batchnorm_forward_train_kernel[column_grid(d_x.shape[1])](
            d_out, d_mean, d_rstd, d_rm, d_rv, d_x, d_g, d_b, momentum, eps)


def batchnorm_forward_eval(out, x, running_mean, running_var, gamma, beta, eps):
    """out = gamma * (x - running_mean) / sqrt(running_var + eps) + beta."""
    with on_device([out], [x, running_mean, running_var, gamma, beta]) as (
            (d_out,), (d_x, d_rm, d_rv, d_g, d_b)):
        batchnorm_forward_eval_kernel[grid_1d(d_x.size)](d_out, d_x, d_rm, d_rv, d_g, d_b, eps)


def batchnorm_backward(dx, dgamma, dbeta, dout, x, mean, rstd, gamma):
    """Accumulate dx, dgamma, dbeta from the saved mean and rstd."""
    with on_device([dx, dgamma, dbeta], [dout, x, mean, rstd, gamma]) as (
            (d_dx, d_dg, d_db), (d_dout, d_x, d_mean, d_rstd, d_g)):
        batchnorm_backward_kernel[column_grid(d_x.shape[1])](d_dx, d_dg, d_db, d_dout, d_x, d_mean, d_rstd, d_g,
                                                              True)


def ptx_signatures(ty):
    """Argument types of each kernel here for a float type ``ty`` (PTX tests).

    Statistics are float64 by contract, so the float32 build does use f64.
    """
    from numba import float64, types
    m, v, s = ty[:, ::1], ty[::1], float64[::1]
    return {batchnorm_forward_train_kernel: (m, s, s, s, s, m, v, v, float64, float64),
            batchnorm_forward_eval_kernel: (m, m, s, s, v, v, float64),
            batchnorm_backward_kernel: (m, v, v, m, m, s, s, v, types.boolean)}
