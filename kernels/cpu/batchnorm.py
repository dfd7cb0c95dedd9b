"""Batch normalization, cpu. Math and conventions: ``kernels/ref/batchnorm.py``.

Statistics are reduced over the batch in fixed chunks of _ROWS rows: each
chunk's float64 partial sums are computed in parallel (a thread walks whole
rows, contiguous in memory), then the chunks are combined in order. Chunk
boundaries depend only on the batch size, so results are identical for any
thread count. The elementwise passes are parallel over rows.

Inside a chunk, rows are taken _UNROLL at a time: for each feature the
_UNROLL values are summed in registers and added to the chunk's float64
accumulator once, so the accumulator row (features x 8 bytes, too large to
stay in registers) is loaded and stored once per _UNROLL rows instead of
once per row. That load/store, not memory, was what bounded these passes
(2-3x slower than reading x).

The training forward reads x twice, not three times: mean and variance come
from one pass over d = x - shift,

    mean = shift + S1 / n,   var = S2 / n - (S1 / n)^2,   S1 = sum d, S2 = sum d^2

with ``shift`` the mean of the first chunk (up to _ROWS rows). That is the
"shifted data" one-pass form: the cancellation in S2/n - (S1/n)^2 costs a
relative error of about eps64 * (1 + (mean - shift)^2 / var), and since
shift averages _ROWS rows of the batch, (mean - shift)^2 <= n var / _ROWS,
so the error stays below ~eps64 * n / _ROWS (1e-13 at n = 10^5); for
n <= _ROWS the shift is the batch mean and this is the two-pass formula.
The naive unshifted E[x^2] - E[x]^2 would lose everything to cancellation
for data far from zero (the reference's docstring).
"""
import numpy as np

from ._jit import kernel, prange

_ROWS = 128   # rows per chunk of the reductions
_UNROLL = 8   # rows summed in registers before touching a chunk's accumulator
# (the backward's sums read two arrays, so it takes _UNROLL // 2 rows of
# each: at 16 row streams, 1024x1024 float32 ran 2x slower than at 8, from
# L3, while 8 streams of either kind gain at every shape measured)


@kernel
def _combine(part, out):
    """out[j] = sum over chunks c, in order, of part[c, j]."""
    out[:] = 0.0
    for c in range(part.shape[0]):
        for j in range(part.shape[1]):
            out[j] += part[c, j]


@kernel
def _first_chunk_mean(shift, x):
    """shift[j] = float64 mean of x[0:_ROWS, j] (of all rows if fewer)."""
    m = min(x.shape[0], _ROWS)
    shift[:] = 0.0
    for i in range(m):
        xi = x[i]
        for j in range(x.shape[1]):
            shift[j] += xi[j]
    shift /= m
    for j in range(x.shape[1]):
        # a NaN or infinite shift would turn every d into NaN; without one
        # the sums carry the non-finite values as the reference's do
        if not np.isfinite(shift[j]):
            shift[j] = 0.0


@kernel(inline=True)
def _moments_rows(a1, a2, rows, shift, u):
    # a1[j] += sum of d = rows[r, j] - shift[j] over r < u, a2[j] += sum of
    # d^2; inlined with u = _UNROLL (a constant LLVM unrolls) or a remainder
    for j in range(rows.shape[1]):
        s = 0.0
        q = 0.0
        for r in range(u):
            d = rows[r, j] - shift[j]
            s += d
            q += d * d
        a1[j] += s
        a2[j] += q


@kernel(parallel=True)
def _moments(part1, part2, x, shift):
    # part1, part2: (chunks, f) float64; chunk c's sums of d = x - shift and
    # of d^2 over its rows
    n = x.shape[0]
    for c in prange(part1.shape[0]):
        a1 = part1[c]
        a2 = part2[c]
        a1[:] = 0.0
        a2[:] = 0.0
        end = min(n, (c + 1) * _ROWS)
        for i in range(c * _ROWS, end, _UNROLL):
            if i + _UNROLL <= end:
                _moments_rows(a1, a2, x[i:i + _UNROLL], shift, _UNROLL)
            else:
                _moments_rows(a1, a2, x[i:end], shift, end - i)


@kernel(parallel=True)
def _normalize(out, x, shift, scale, gamma, beta):
    # out = gamma * ((x - shift) * scale) + beta, computed in x's dtype as
    # a * (x - hi) + b with, per feature (float64 until the last rounding):
    #   hi = shift rounded to x's dtype,  a = gamma * scale,
    #   b  = beta - a * (shift - hi)      (the part of shift that hi lost)
    # x - hi is exact to within one rounding of the difference itself, so a
    # float32 x loses nothing to a mean far from zero (the reason shift is
    # float64), while the loop runs at x's vector width: 0.77x the time of
    # float64 arithmetic at 4000x2500 float32.
    f = x.shape[1]
    hi = np.empty_like(gamma)
    a = np.empty_like(gamma)
    b = np.empty_like(gamma)
    for j in range(f):
        hi[j] = shift[j]
        aj = gamma[j] * scale[j]
        a[j] = aj
        lost = shift[j] - hi[j]
        # the correction is for rounding only: with a non-finite shift or
        # scale it would add inf - inf, so a * (x - hi) + beta alone then
        # propagates the non-finite value as the reference does
        exact = lost == 0.0 or not (np.isfinite(lost) and np.isfinite(aj))
        b[j] = beta[j] if exact else beta[j] - aj * lost
    for i in prange(x.shape[0]):
        o = out[i]
        xi = x[i]
        for j in range(f):
            o[j] = a[j] * (xi[j] - hi[j]) + b[j]


@kernel
def batchnorm_forward_train(out, mean, rstd, running_mean, running_var, x, gamma, beta, momentum, eps):
    """out = gamma * xhat + beta; writes mean, rstd; updates running stats."""
    n, f = x.shape
    chunks = (n + _ROWS - 1) // _ROWS
    part1 = np.empty((chunks, f))
    part2 = np.empty((chunks, f))
    shift = np.empty(f)
    _first_chunk_mean(shift, x)
    _moments(part1, part2, x, shift)
    _combine(part1, mean)                      # S1, for now
    _combine(part2, rstd)                      # S2, for now
    for j in range(f):
        m1 = mean[j] / n
        var = rstd[j] / n - m1 * m1
        var = 0.0 if var < 0.0 else var        # >= 0 exactly (rounding may not be); NaN stays NaN
        mean[j] = shift[j] + m1
        rstd[j] = 1.0 / np.sqrt(var + eps)
        running_mean[j] = (1 - momentum) * running_mean[j] + momentum * mean[j]
        running_var[j] = (1 - momentum) * running_var[j] + momentum * var * (n / (n - 1))
    _normalize(out, x, mean, rstd, gamma, beta)


@kernel
def batchnorm_forward_eval(out, x, running_mean, running_var, gamma, beta, eps):
    """out = gamma * (x - running_mean) / sqrt(running_var + eps) + beta."""
    inv = 1.0 / np.sqrt(running_var + eps)
    _normalize(out, x, running_mean, inv, gamma, beta)


@kernel(inline=True)
def _grad_sums_rows(a1, a2, gs, xs, mean, u):
    # a1[j] += sum of gs[r, j], a2[j] += sum of gs[r, j] * (xs[r, j] - mean[j])
    # over r < u (u = _UNROLL // 2 or a remainder, as in _moments_rows)
    for j in range(xs.shape[1]):
        s = 0.0
        q = 0.0
        for r in range(u):
            g = gs[r, j]
            s += g
            q += g * (xs[r, j] - mean[j])
        a1[j] += s
        a2[j] += q


@kernel(parallel=True)
def _grad_sums(part1, part2, dout, x, mean):
    # per chunk: sums of dout and of dout * (x - mean) per feature (times
    # rstd after the combine, that is s2)
    n = x.shape[0]
    for c in prange(part1.shape[0]):
        a1 = part1[c]
        a2 = part2[c]
        a1[:] = 0.0
        a2[:] = 0.0
        end = min(n, (c + 1) * _ROWS)
        for i in range(c * _ROWS, end, _UNROLL // 2):
            if i + _UNROLL // 2 <= end:
                _grad_sums_rows(a1, a2, dout[i:i + _UNROLL // 2], x[i:i + _UNROLL // 2], mean, _UNROLL // 2)
            else:
                _grad_sums_rows(a1, a2, dout[i:end], x[i:end], mean, end - i)


@kernel(parallel=True)
def _grad_x(dx, dout, x, mean, rstd, gamma, s1, s2):
    # dx += gamma * rstd / n * (n * dout - s1 - xhat * s2), s2 = sum dout * xhat,
    # computed in x's dtype as a * dout + b * (x - hi) + c with, per feature
    # (float64 until the last rounding; hi as in _normalize):
    #   a = gamma * rstd,  b = -(a / n) * rstd * s2,
    #   c = -(a / n) * (s1 - rstd * s2 * (mean - hi))
    # Per element: a subtraction and three multiply-adds at x's vector width; the
    # float64 form (a division and a float64 round trip per element) took
    # 1.85x this loop's time at 1024x1024 float32.
    n, f = x.shape
    hi = np.empty_like(gamma)
    a = np.empty_like(gamma)
    b = np.empty_like(gamma)
    c = np.empty_like(gamma)
    for j in range(f):
        hi[j] = mean[j]
        aj = gamma[j] * rstd[j]
        a[j] = aj
        b[j] = -(aj / n) * rstd[j] * s2[j]
        c[j] = -(aj / n) * (s1[j] - rstd[j] * s2[j] * (mean[j] - hi[j]))
    for i in prange(n):
        d = dx[i]
        g = dout[i]
        xi = x[i]
        for j in range(f):
            d[j] += a[j] * g[j] + b[j] * (xi[j] - hi[j]) + c[j]


@kernel
def batchnorm_backward(dx, dgamma, dbeta, dout, x, mean, rstd, gamma):
    """Accumulate dx, dgamma, dbeta from the saved mean and rstd."""
    n, f = x.shape
    chunks = (n + _ROWS - 1) // _ROWS
    part1 = np.empty((chunks, f))
    part2 = np.empty((chunks, f))
    _grad_sums(part1, part2, dout, x, mean)
    s1 = np.empty(f)
    s2 = np.empty(f)
    _combine(part1, s1)
    _combine(part2, s2)
    s2 *= rstd                                  # sum dout * xhat
    for j in range(f):
        dbeta[j] += s1[j]
        dgamma[j] += s2[j]
    _grad_x(dx, dout, x, mean, rstd, gamma, s1, s2)
