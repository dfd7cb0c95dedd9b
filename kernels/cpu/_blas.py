"""BLAS gemm callable from ``@njit`` code, with transposes and ``beta``.

numba's ``np.dot`` always overwrites its output (``beta = 0``) and needs
contiguous operands in matching layouts, so accumulating a gradient
(``dW += x.T @ dz``) would cost a temporary and an extra pass.  numba itself
reaches BLAS through the C helper ``numba_xxgemm`` (SciPy's ``cython_blas``
underneath); calling that helper directly gives the full
``C = alpha * op(A) @ op(B) + beta * C`` with no copies, and stays cacheable
because the symbol is resolved by name at load time, like numba's own calls.
"""
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.linalg import ensure_blas

from ._jit import CACHE, njit

ensure_blas()  # clear error at import time if SciPy (numba's BLAS) is missing

_ll_char = ir.IntType(8)
_ll_voidp = ir.IntType(8).as_pointer()


@intrinsic
def _xxgemm(typingctx, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """Column-major BLAS gemm on raw array data (see ``gemm`` for the mapping)."""
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


@njit(cache=CACHE)
def _ld(x):
    # leading dimension of a C-contiguous 2-D array; BLAS wants >= 1 even when empty
    return max(1, x.shape[1])


@njit(cache=CACHE)
def gemm(c, a, b, trans_a, trans_b, alpha, beta):
    """c = alpha * op(a) @ op(b) + beta * c, all row-major (C-contiguous).

    op(a) is ``a.T`` when ``trans_a`` else ``a``; likewise for b.  Shapes:
    c (M, N), op(a) (M, K), op(b) (K, N); the caller guarantees them.

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
