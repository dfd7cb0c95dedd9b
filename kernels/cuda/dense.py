"""Dense layer with a fused activation, cuda. Math: ``kernels/ref/dense.py``.

GEMMs use a tiled shared-memory kernel, so the backend needs numba-cuda
alone; the bias + activation epilogue is fused into its store. Backward
computes dz and db in one kernel with a thread per column (it sums its
column over the batch in a fixed order: deterministic), then two
accumulating GEMMs (beta = 1).
"""
from numba import cuda

from ..codes import LINEAR
from ._launch import SIMULATOR, grid_1d, on_device
from .activations import act, dact

TILE = 4 if SIMULATOR else 16      # tile edge; 4 in the simulator (see _launch)


@cuda.jit
def gemm_kernel(c, a, b, trans_a, trans_b, beta, bias, act_code, alpha):
    """c = f(op(a) @ op(b) + beta * c + bias); one thread per element of c.

    c: (M, N); op(a): (M, K); op(b): (K, N); bias: (N,) or (0,) for none.
    Each block stages TILE x TILE tiles of op(a) and op(b) in shared memory;
    a thread accumulates its dot product over the K tiles in c's dtype.
    """
    sa = cuda.shared.array((TILE, TILE), dtype=c.dtype)
    sb = cuda.shared.array((TILE, TILE), dtype=c.dtype)
    m, n = c.shape
    k = a.shape[0] if trans_a else a.shape[1]
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    row = cuda.blockIdx.y * TILE + ty
    col = cuda.blockIdx.x * TILE + tx
    zero = type(alpha)(0)
    acc = zero
    for t in range((k + TILE - 1) // TILE):
        ka = t * TILE + tx
        if row < m and ka < k:
            sa[ty, tx] = a[ka, row] if trans_a else a[row, ka]
        else:
            sa[ty, tx] = zero
        kb = t * TILE + ty
        if kb < k and col < n:
            sb[ty, tx] = b[col, kb] if trans_b else b[kb, col]
        else:
            sb[ty, tx] = zero
        cuda.syncthreads()
        for kk in range(TILE):
            acc += sa[ty, kk] * sb[kk, tx]
        cuda.syncthreads()
    if row < m and col < n:
        if beta != zero:
            acc += beta * c[row, col]
        if bias.shape[0] > 0:
            acc += bias[col]
        c[row, col] = act(acc, act_code, alpha)


@cuda.jit
def dz_db_kernel(dz, db, dout, out, act_code, alpha):
    # thread j owns column j: dz[:, j] = dout[:, j] * f'(out[:, j]); db[j] += sum
    # (adjacent threads read adjacent columns of a row: coalesced)
    batch, n = dout.shape
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for j in range(start, n, stride):
        s = type(alpha)(0)
        for i in range(batch):
            g = dout[i, j] * dact(out[i, j], act_code, alpha)
            dz[i, j] = g
            s += g
        if db.shape[0] > 0:
            db[j] += s


def _gemm(c, a, b, trans_a, trans_b, beta, bias, act_code, alpha):
    m, n = c.shape
    grid = ((n + TILE - 1) // TILE, (m + TILE - 1) // TILE)
    gemm_kernel[grid, (TILE, TILE)](c, a, b, trans_a, trans_b, beta, bias, act_code, alpha)


def dense_forward(out, x, w, b, act_code, alpha):
    """out = f(x @ w + b)."""
    with on_device([out], [x, w, b]) as ((d_out,), (d_x, d_w, d_b)):
        _gemm(d_out, d_x, d_w, False, False, type(alpha)(0), d_b, act_code, alpha)


def dense_backward(dx, dw, db, dz, dout, x, w, out, act_code, alpha):
    """Accumulate dx, dw, db; overwrite the workspace dz with dL/dz."""
    with on_device([dx, dw, db, dz], [dout, x, w, out]) as (
            (d_dx, d_dw, d_db, d_dz), (d_dout, d_x, d_w, d_out)):
        blocks, threads = grid_1d(d_dout.shape[1])
        dz_db_kernel[blocks, threads](d_dz, d_db, d_dout, d_out, act_code, alpha)
        one = type(alpha)(1)
        zero = type(alpha)(0)
        nobias = d_db[:0]
        _gemm(d_dw, d_x, d_dz, True, False, one, nobias, LINEAR, zero)   # dw += x.T @ dz
        _gemm(d_dx, d_dz, d_w, False, True, one, nobias, LINEAR, zero)   # dx += dz @ w.T


def ptx_signatures(ty):
    """Argument types of each kernel here for a float type ``ty`` (PTX tests)."""
    from numba import types
    m = ty[:, ::1]
    return {gemm_kernel: (m, m, m, types.boolean, types.boolean, ty, ty[::1], types.int64, ty),
            dz_db_kernel: (m, ty[::1], m, m, types.int64, ty)}
