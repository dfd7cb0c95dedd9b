"""Dense layer with a fused activation, cpu. Math: ``kernels/ref/dense.py``.

The GEMMs go to BLAS through ``_blas.gemm_rows`` (blocks of output rows in
parallel, beta = 1 to accumulate without temporaries); the bias and the
activation are each one pass over the GEMM output (in cache for the row
blocks a layer works on), the activation by ``activation_forward`` itself:
compiling the activation switch into a second kernel doubled the layer's
compile time for no measurable gain.
"""
import numpy as np

from ..codes import LINEAR
from ._blas import gemm_rows
from ._jit import kernel, prange, serial
from .activations import activation_forward, dact

# Rows of dz one task of backward's dz/db pass owns. Its column sums go to
# a float64 partial per chunk, and the partials are added in chunk order:
# chunk boundaries depend on the batch size only, so db is the same for any
# thread count (and, for a batch of at most _ROWS, it is the plain sum down
# the rows).
_ROWS = 64


# Below this many outputs the epilogue (and backward's dz/db pass) runs on
# the calling thread: a parallel region costs more than it saves there.
_SERIAL_EPILOGUE = 16384


@kernel(parallel=True)
def _epilogue(out, b, act_code, alpha):
    """out = f(out + b) in place: bias rows parallel, then f (b may be (0,))."""
    batch, n = out.shape
    if b.shape[0] > 0:
        for i in prange(batch):
            row = out[i]
            for j in range(n):
                row[j] += b[j]
    if act_code != LINEAR:
        activation_forward(out, out, act_code, alpha)


_epilogue_serial = serial(_epilogue)


@kernel
def dense_forward(out, x, w, b, act_code, alpha):
    """out = f(x @ w + b); GEMM into out, then the bias and f in place."""
    gemm_rows(out, x, w, False, False, 1.0, 0.0)
    if out.size < _SERIAL_EPILOGUE:
        _epilogue_serial(out, b, act_code, alpha)
    else:
        _epilogue(out, b, act_code, alpha)


@kernel(parallel=True)
def dense_dz_db(dz, db, dout, out, act_code, alpha):
    """dz = dout * f'(out); db += sum over the batch of dz (db may be (0,)).

    Parallel over chunks of _ROWS rows, walked row by row (contiguous in
    memory): each chunk writes its rows of dz and its float64 column sums,
    then the sums are added in chunk order, so db is the same for any
    number of threads. (Blocks of 64 columns walked down the batch, the
    earlier split, strode through memory: 4096x1024 took 8.6 ms in
    parallel against 2.1 ms this way, and only 2 blocks for 128 columns.)
    """
    batch, n = dout.shape
    has_bias = db.shape[0] > 0
    chunks = (batch + _ROWS - 1) // _ROWS
    part = np.zeros((chunks if has_bias else 0, n))
    for c in prange(chunks):
        end = min(batch, (c + 1) * _ROWS)
        if has_bias:
            acc = part[c]
            for i in range(c * _ROWS, end):
                # 1-D row slices: with 2-D indexing the loop stayed scalar
                # (8.4 vs 1.2 us for 32x128 relu); with them LLVM unswitches
                # act_code and vectorises along the row
                zrow, drow, orow = dz[i], dout[i], out[i]
                for j in range(n):
                    g = drow[j] * dact(orow[j], act_code, alpha)
                    zrow[j] = g
                    acc[j] += g
        else:
            for i in range(c * _ROWS, end):
                zrow, drow, orow = dz[i], dout[i], out[i]
                for j in range(n):
                    zrow[j] = drow[j] * dact(orow[j], act_code, alpha)
    if has_bias:
        for j in range(n):
            s = 0.0
            for c in range(chunks):
                s += part[c, j]
            db[j] += s


_dense_dz_db_serial = serial(dense_dz_db)


@kernel
def dense_backward(dx, dw, db, dz, dout, x, w, out, act_code, alpha):
    """Accumulate dx (batch, in), dw (in, out), db (out,); dz is a workspace.

    One pass for dz and db (``dense_dz_db``, on the calling thread for
    small layers, as the forward epilogue), then two accumulating GEMMs.
    """
    if dout.size < _SERIAL_EPILOGUE:
        _dense_dz_db_serial(dz, db, dout, out, act_code, alpha)
    else:
        dense_dz_db(dz, db, dout, out, act_code, alpha)
    gemm_rows(dw, x, dz, True, False, 1.0, 1.0)    # dw += x.T @ dz
    gemm_rows(dx, dz, w, False, True, 1.0, 1.0)    # dx += dz @ w.T
