"""Dense layer with a fused activation, cuda. Math: ``kernels/ref/dense.py``.

Two GEMM engines, chosen by ``FASTNN_CUDA_GEMM`` (read per call):

- ``tiled``: a shared-memory tiled ``@cuda.jit`` kernel with the bias +
  activation epilogue fused into its store; needs numba-cuda alone.
- ``cublas``: cuBLAS through CuPy (``pip install cupy-cuda13x``), on the same
  device buffers without copies (``__cuda_array_interface__``), then the
  epilogue as its own elementwise kernel. Backward's accumulating GEMMs use
  cuBLAS's ``beta = 1``.
- ``auto`` (default): cublas when CuPy imports, else tiled.

Both run on the legacy default stream, so CuPy's GEMMs and numba's kernels
are ordered without explicit synchronisation (a plan captured as a CUDA
graph puts both on its own stream: ``_plan.py``).

Backward computes dz and db in one kernel, a block per tile of columns (its
threads split the batch and fold the column sums in a fixed tree:
deterministic), then two GEMMs: accumulating (beta = 1) on the layer path,
written (beta = 0) in a replayed step. The launchers here run the plan
builders (``plan_forward``, ``plan_backward``) at once (``_plan.NOW``).
"""
import functools
import os

import numpy as np
from numba import cuda

from ..codes import LINEAR
from ._launch import SIMULATOR, grid_1d, on_device
from ._plan import NOW
from ._reduce import COLS, ROWS, column_grid, column_sum
from .activations import act, dact
from .dropout import _byte


@functools.lru_cache(maxsize=None)
def no_mask():
    """An empty dropout mask for ``dz_db_kernel``: no fused dropout (one
    device array per process)."""
    return cuda.device_array(0, np.uint8)

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
    zero = type(alpha)(0)
    # grid-stride over output tiles, so any (M, N) fits a bounded grid; the
    # trip counts depend on the block only, so every thread of a block
    # reaches the same syncthreads
    for tile_r in range(cuda.blockIdx.y, (m + TILE - 1) // TILE, cuda.gridDim.y):
        for tile_c in range(cuda.blockIdx.x, (n + TILE - 1) // TILE, cuda.gridDim.x):
            row = tile_r * TILE + ty
            col = tile_c * TILE + tx
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
def bias_act_kernel(c, bias, act_code, alpha):
    """c = f(c + bias), in place: the epilogue after a cuBLAS GEMM."""
    m, n = c.shape
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for e in range(start, m * n, stride):
        i = e // n
        j = e - i * n
        v = c[i, j]
        if bias.shape[0] > 0:
            v += bias[j]
        c[i, j] = act(v, act_code, alpha)


@cuda.jit
def bias_act_dropout_kernel(a, y, mask, bias, act_code, alpha, offsets, slot, seed, threshold, scale):
    """a = f(c + bias) in place, then inverted dropout of a into y, with its
    packed keep mask: the epilogue of a Dense layer followed by Dropout.

    a, y: flat views of (m, n); the Philox stream's offset is read from
    ``offsets[slot]`` on the device, so a replayed step needs no new
    arguments. One thread per mask byte (8 elements), as ``dropout.py``.
    """
    n = bias.shape[0]
    size = a.size
    zero = type(scale)(0)
    offset = offsets[slot]
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for b in range(start, (size + 7) // 8, stride):
        bits = _byte(seed, offset, b, size, threshold)
        for k in range(min(8, size - 8 * b)):
            e = 8 * b + k
            v = a[e]
            if bias.shape[0] > 0:
                v += bias[e % n]
            v = act(v, act_code, alpha)
            a[e] = v
            y[e] = v * scale if (bits >> k) & 1 else zero
        mask[b] = np.uint8(bits)


@cuda.jit
def dz_db_kernel(dz, db, dout, out, mask, scale, act_code, alpha, accumulate):
    # dz = dout * f'(out), elementwise, where dout first passes back through
    # a fused dropout when ``mask`` (packed keep bits of dout, flat) is not
    # empty: (dout * scale if kept else 0), the order of dropout_backward.
    # db[j] (+)= sum over the batch of dz[:, j]: accumulated, or written
    # (a replayed step's gradients need no zeroing). One block per tile of
    # COLS columns, its ROWS row groups splitting the batch (see _reduce);
    # the column sums fold in a fixed tree, in the layer's dtype like the
    # GEMMs around them.
    batch, n = dout.shape
    part = cuda.shared.array((ROWS, COLS), dz.dtype)
    c, r = cuda.threadIdx.x, cuda.threadIdx.y
    zero = type(alpha)(0)
    for tile in range(cuda.blockIdx.x, (n + COLS - 1) // COLS, cuda.gridDim.x):
        j = tile * COLS + c
        s = zero
        if j < n:
            for i in range(r, batch, ROWS):
                d = dout[i, j]
                if mask.size > 0:
                    e = i * n + j
                    d = d * scale if (mask[e >> 3] >> (e & 7)) & 1 else zero
                g = d * dact(out[i, j], act_code, alpha)
                dz[i, j] = g
                s += g
        total = column_sum(part, s)         # every thread meets the barriers
        if j < n and r == 0 and db.shape[0] > 0:
            db[j] = db[j] + total if accumulate else total


MAX_TILES = 4 if SIMULATOR else 65535      # grid limit per dimension


def gemm_engine():
    """The GEMM engine the next call uses: the CuPy module for cuBLAS, or None (tiled)."""
    choice = os.environ.get("FASTNN_CUDA_GEMM", "auto")
    if choice not in ("auto", "cublas", "tiled"):
        raise ValueError(f"FASTNN_CUDA_GEMM must be auto, cublas or tiled, got {choice!r}")
    if choice == "tiled" or SIMULATOR:
        return None
    cupy = _cupy()
    if cupy is None and choice == "cublas":
        raise RuntimeError("FASTNN_CUDA_GEMM=cublas needs CuPy: pip install cupy-cuda13x")
    return cupy


@functools.lru_cache(maxsize=None)
def _cupy():
    """CuPy with its cuBLAS wrapper, or None; the import is tried once per process."""
    try:
        import cupy
        import cupy.cublas  # noqa: F401
    except ImportError:
        return None
    return cupy


def dense_forward(out, x, w, b, act_code, alpha):
    """out = f(x @ w + b): ``plan_forward``'s launches, run at once."""
    engine = gemm_engine()
    with on_device([out], [x, w, b]) as ((d_out,), (d_x, d_w, d_b)):
        plan_forward(NOW, engine, d_out, d_x, d_w, d_b, act_code, alpha)


def dense_backward(dx, dw, db, dz, dout, x, w, out, act_code, alpha):
    """Accumulate dx, dw, db; overwrite the workspace dz with dL/dz:
    ``plan_backward``'s launches, accumulating, run at once."""
    engine = gemm_engine()
    with on_device([dx, dw, db, dz], [dout, x, w, out]) as (
            (d_dx, d_dw, d_db, d_dz), (d_dout, d_x, d_w, d_out)):
        plan_backward(NOW, engine, d_dx, d_dw, d_db, d_dz, d_dout, d_x, d_w, d_out, no_mask(), type(alpha)(1),
                      act_code, alpha, accumulate=True)


def _plan_gemm(plan, engine, c, a, b, trans_a, trans_b, beta, bias, act_code, alpha):
    """Add c = f(op(a) @ op(b) + beta c + bias) to a launch plan: a cuBLAS
    GEMM (CuPy's views made once) and, when needed, the epilogue kernel; or
    the tiled kernel, which fuses the epilogue."""
    m, n = c.shape
    if engine is not None:
        ca, cb, cc = engine.asarray(a), engine.asarray(b), engine.asarray(c)
        ta, tb, beta = "T" if trans_a else "N", "T" if trans_b else "N", float(beta)
        plan.gemm(lambda: engine.cublas.gemm(ta, tb, ca, cb, out=cc, alpha=1.0, beta=beta))
        if bias.shape[0] > 0 or act_code != LINEAR:
            plan.launch(bias_act_kernel, grid_1d(m * n), c, bias, act_code, alpha)
        return
    grid = (min(MAX_TILES, (n + TILE - 1) // TILE), min(MAX_TILES, (m + TILE - 1) // TILE))
    plan.launch(gemm_kernel, (grid, (TILE, TILE)), c, a, b, trans_a, trans_b, beta, bias, act_code, alpha,
                gemm=True)


def plan_forward(plan, engine, a, x, w, b, act_code, alpha, dropout=None):
    """Add a Dense layer's training forward to a launch plan: a = f(x @ w + b).

    ``dropout``: None, or (y, mask, offsets, slot, seed, threshold, scale)
    for a Dropout after the layer, fused into the epilogue (y = its output).
    """
    if dropout is None:
        _plan_gemm(plan, engine, a, x, w, False, False, type(alpha)(0), b, act_code, alpha)
        return
    y, mask, offsets, slot, seed, threshold, scale = dropout
    nobias = b if b.shape[0] == 0 else b[:0]      # slicing an empty device array fails on a GPU
    _plan_gemm(plan, engine, a, x, w, False, False, type(alpha)(0), nobias, LINEAR, type(alpha)(0))
    flat = a.reshape(a.size)
    plan.launch(bias_act_dropout_kernel, grid_1d((a.size + 7) // 8), flat, y.reshape(y.size), mask, b,
                act_code, alpha, offsets, slot, seed, threshold, scale)


def plan_backward(plan, engine, dx, dw, db, dz, dout, x, w, a, mask, scale, act_code, alpha, accumulate=False):
    """Add a Dense layer's backward to a launch plan: dw, db and dx (None:
    the first layer needs no dx) written, or added to with ``accumulate``
    (the layer path's contract). ``mask``: the packed keep bits of a fused
    dropout after the layer, or an empty one. dz may be dout itself (it is
    then overwritten in place)."""
    zero = type(alpha)(0)
    beta = type(alpha)(1) if accumulate else zero
    plan.launch(dz_db_kernel, column_grid(dout.shape[1]), dz, db, dout, a, mask, scale, act_code, alpha,
                accumulate)
    # a zero-length bias: slicing an empty device array fails on a GPU (its
    # pointer has no allocation to view), so a nobias db is used as is
    nobias = db if db.shape[0] == 0 else db[:0]
    _plan_gemm(plan, engine, dw, x, dz, True, False, beta, nobias, LINEAR, zero)       # dw (+)= x.T @ dz
    if dx is not None:
        _plan_gemm(plan, engine, dx, dz, w, False, True, beta, nobias, LINEAR, zero)   # dx (+)= dz @ w.T


def ptx_signatures(ty):
    """Argument types of each kernel here for a float type ``ty`` (PTX tests)."""
    from numba import types
    m = ty[:, ::1]
    return {gemm_kernel: (m, m, m, types.boolean, types.boolean, ty, ty[::1], types.int64, ty),
            bias_act_kernel: (m, ty[::1], types.int64, ty),
            bias_act_dropout_kernel: (ty[::1], ty[::1], types.uint8[::1], ty[::1], types.int64, ty,
                                      types.uint64[::1], types.int64, types.uint64, types.uint64, ty),
            dz_db_kernel: (m, ty[::1], m, m, types.uint8[::1], ty, types.int64, ty, types.boolean)}
