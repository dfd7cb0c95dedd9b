"""BLAS gemm callable from ``@njit`` code, with transposes and ``beta``.

numba's ``np.dot`` always overwrites its output (``beta = 0``) and needs
contiguous operands in matching layouts, so accumulating a gradient
(``dW += x.T @ dz``) would cost a temporary and an extra pass.  numba itself
reaches BLAS through the C helper ``numba_xxgemm`` (SciPy's ``cython_blas``
underneath); calling that helper directly gives the full
``C = alpha * op(A) @ op(B) + beta * C`` with no copies, and stays cacheable
because the symbol is resolved by name at load time, like numba's own calls.
"""
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.linalg import ensure_blas

from ._jit import kernel, prange

ensure_blas()  # clear error at import time if SciPy (numba's BLAS) is missing

_ll_char = ir.IntType(8)
_ll_voidp = ir.IntType(8).as_pointer()


@intrinsic
def _xxgemm(typingctx, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """Column-major BLAS gemm on raw array data (see ``_gemm`` for the mapping)."""
    if not (isinstance(a, types.Array) and isinstance(b, types.Array) and isinstance(c, types.Array)):
        return None
    if not (a.dtype == b.dtype == c.dtype and a.dtype in (types.float32, types.float64)):
        return None
    dtype = c.dtype
    sig = types.void(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)

    def codegen(context, builder, signature, args):
        (ta, tb, m_, n_, k_, alpha_, a_, lda_, b_, ldb_, beta_, c_, ldc_) = args
        fnty = ir.FunctionType(ir.IntType(32), [
            _ll_char, _ll_char, _ll_char,
            cgutils.intp_t, cgutils.intp_t, cgutils.intp_t,
            _ll_voidp, _ll_voidp, cgutils.intp_t,
            _ll_voidp, cgutils.intp_t, _ll_voidp,
            _ll_voidp, cgutils.intp_t])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "numba_xxgemm")
        lldtype = context.get_value_type(dtype)

        def slot(val, ty):
            ptr = cgutils.alloca_once(builder, lldtype)
            builder.store(context.cast(builder, val, ty, dtype), ptr)
            return builder.bitcast(ptr, _ll_voidp)

        def data(val, ty):
            ary = context.make_array(ty)(context, builder, val)
            return builder.bitcast(ary.data, _ll_voidp)

        def as_intp(val, ty):
            return context.cast(builder, val, ty, types.intp)

        kind = ir.Constant(_ll_char, ord("s" if dtype == types.float32 else "d"))
        res = builder.call(fn, (
            kind,
            builder.trunc(as_intp(ta, signature.args[0]), _ll_char),
            builder.trunc(as_intp(tb, signature.args[1]), _ll_char),
            as_intp(m_, signature.args[2]), as_intp(n_, signature.args[3]),
            as_intp(k_, signature.args[4]),
            slot(alpha_, signature.args[5]), data(a_, signature.args[6]),
            as_intp(lda_, signature.args[7]),
            data(b_, signature.args[8]), as_intp(ldb_, signature.args[9]),
            slot(beta_, signature.args[10]), data(c_, signature.args[11]),
            as_intp(ldc_, signature.args[12])))
        # numba_xxgemm returns -1 only when SciPy's BLAS could not be loaded,
        # which ensure_blas() above already rules out.
        del res
        return context.get_dummy_value()

    return sig, codegen


_N = ord("n")
_T = ord("t")


@kernel
def _ld(x):
    # leading dimension (row stride in elements) of a 2-D view whose rows are
    # contiguous; BLAS wants >= 1 even when the view is empty
    return max(1, x.strides[0] // x.itemsize, x.shape[1])


@kernel
def _gemm(c, a, b, trans_a, trans_b, alpha, beta):
    """c = alpha * op(a) @ op(b) + beta * c, on row-major 2-D views.

    op(a) is ``a.T`` when ``trans_a`` else ``a``; likewise for b. Shapes:
    c (M, N), op(a) (M, K), op(b) (K, N); the caller guarantees them. Views
    need contiguous rows only (``x[:, j0:j1]`` is fine): the row stride is
    passed to BLAS as the leading dimension.

    BLAS is column-major, and a row-major matrix is its own transpose seen
    column-major, so c.T = op(b).T @ op(a).T is computed: b goes first, the
    transpose flags pass through unchanged, and M and N swap places.
    """
    m, n = c.shape
    k = a.shape[0] if trans_a else a.shape[1]
    if m == 0 or n == 0:
        return
    _xxgemm(_T if trans_b else _N, _T if trans_a else _N, n, m, k,
            alpha, b, _ld(b), a, _ld(a), beta, c, _ld(c))


# How an output is split into single-threaded BLAS calls, one block per
# thread of numba's pool. The split depends on the shape only, never on the
# thread count, so every output element comes from the same BLAS call
# whatever the number of threads: results are identical for 1 or N threads.
#
# Every call re-packs the operand it shares with the other blocks, so blocks
# must be few and large: the longer output dimension is cut into 2 blocks,
# 4 from GEMMs of QUAD_MACS multiply-adds, 8 from OCTO_MACS (even counts
# keep 2 cores busy to the end). Below SPLIT_MACS, or when the longer side
# is under 2 * MIN_SIDE, one call. Columns are cut at multiples of 16, so
# every block's rows start 64-byte aligned in float32 where the output's do.
SPLIT_MACS = 1 << 18
QUAD_MACS = 1 << 27
OCTO_MACS = 1 << 30
MIN_SIDE = 64


@kernel(inline=True)
def _any(x):
    # x as a view of layout 'A': _gemm reads only the data pointer and the
    # row stride, and with every operand 'A' it compiles once per dtype
    # instead of once per mix of 'C' and 'A' views (9 of them, 2 s of a cold start)
    return x[:, 0:x.shape[1]]


@kernel
def _blocks(m, n, k):
    """(number of blocks, True to cut columns) for an (m, n) output with
    inner dimension k: see above."""
    macs = m * n * k
    side = max(m, n)
    if macs < SPLIT_MACS or side < 2 * MIN_SIDE:
        return 1, False
    nb = 8 if macs >= OCTO_MACS else 4 if macs >= QUAD_MACS else 2
    nb = min(nb, side // MIN_SIDE)
    return nb, n > m


@kernel(parallel=True)
def gemm_rows(c, a, b, trans_a, trans_b, alpha, beta):
    """``_gemm`` split into blocks of output rows or columns, parallel over
    blocks (``_blocks``).

    Each thread owns whole rows (columns) of c; BLAS itself runs single-threaded (see
    ``limit_blas_threads``), so numba's pool is the only one on the cores.
    """
    m, n = c.shape
    nblocks, by_cols = _blocks(m, n, a.shape[0] if trans_a else a.shape[1])
    if nblocks <= 1:
        _gemm(_any(c), _any(a), _any(b), trans_a, trans_b, alpha, beta)
        return
    if by_cols:
        cols = ((n + nblocks - 1) // nblocks + 15) // 16 * 16
        for blk in prange(nblocks):
            j0 = min(n, blk * cols)
            j1 = min(n, j0 + cols)
            # columns j0:j1 of op(b): columns of b, or rows of b when transposed
            bblk = b[j0:j1, :] if trans_b else b[:, j0:j1]
            _gemm(c[:, j0:j1], _any(a), _any(bblk), trans_a, trans_b, alpha, beta)
        return
    rows = (m + nblocks - 1) // nblocks
    for blk in prange(nblocks):
        r0 = min(m, blk * rows)
        r1 = min(m, r0 + rows)
        # rows r0:r1 of op(a): rows of a, or columns of a when transposed
        ablk = a[:, r0:r1] if trans_a else a[r0:r1, :]
        _gemm(_any(c[r0:r1, :]), _any(ablk), _any(b), trans_a, trans_b, alpha, beta)


def limit_blas_threads():
    """Run the BLAS that numba calls (SciPy's) on one thread.

    Two thread pools on the same cores (OpenBLAS's and numba's) spin against
    each other: a GEMM followed by a parallel kernel took 8 ms instead of
    0.2 ms on 2 cores. fastnn parallelises its GEMMs itself (``gemm_rows``),
    so SciPy's BLAS gets one thread; NumPy's own BLAS is left alone.
    ``FASTNN_BLAS_THREADS`` overrides the count.
    """
    import os

    import threadpoolctl
    threads = int(os.environ.get("FASTNN_BLAS_THREADS", "1"))
    controller = threadpoolctl.ThreadpoolController()
    for lib in controller.lib_controllers:
        if lib.user_api == "blas" and "numpy" not in os.path.basename(os.path.dirname(lib.filepath)):
            lib.set_num_threads(threads)
