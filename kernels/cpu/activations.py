"""Elementwise activations, cpu. The math is in ``kernels/ref/activations.py``.

``act`` and ``dact`` (``kernels/scalar.py``) are the per-element helpers,
also used by the fused dense epilogue; the branch on the integer code is
loop-invariant, so LLVM unswitches it out of the element loop.
"""
import numpy as np

from .. import scalar
from ..codes import RELU
from ..vecmath import wide_vectors
from . import _stream
from ._jit import kernel, prange

# f(z) and f'(z) per element: one body shared with the cuda backend
act = kernel(scalar.act, inline=True)
dact = kernel(scalar.dact, inline=True)

# the forward's contiguous parts: enough for one per thread up to 16 cores
_PARTS = 16


def _map(out, x, act_code, alpha):
    # out = f(x) over 1-D arrays that do not overlap; sigmoid and tanh are
    # bound by their exp, hence 512-bit vectors where the CPU has them
    wide_vectors()
    for i in range(out.size):
        out[i] = act(x[i], act_code, alpha)


# the same loop twice: a kernel (compiled once per dtype, LLVM unswitches
# act_code) and an inline copy for callers where act_code is a constant,
# so the switch folds away (_relu_streamed)
_forward = kernel(_map)
_fill = kernel(_map, inline=True)


@kernel
def _relu_streamed(out, x):
    # out = relu(x) as _forward, computed a block at a time into a buffer
    # that stays in L1 and copied out with streaming stores (see _stream).
    # Relu only: sigmoid computes an exp per element (0.54 ns a thread
    # here), and with streaming stores it took 1.4-1.8x the time, as one
    # block's stores no longer overlap the next block's arithmetic the way
    # cached stores do. The code is a constant written here, not an
    # argument: with it a run-time value, LLVM kept a call per block (1.65x
    # the time, one thread, 5M float32), and fastnn's kernels compile per
    # type, never per constant argument (_jit._Kernel; a kernel per
    # activation had doubled activation_forward's cold compile).
    i = _stream.head(out)
    _fill(out[:i], x[:i], RELU, 0.0)
    buf = np.empty(_stream.BLOCK, out.dtype)
    m = _stream.chunk(out, i)
    while m > 0:
        _fill(buf[:m], x[i:i + m], RELU, 0.0)
        _stream.store(out, i, buf[:m])
        i += m
        m = _stream.chunk(out, i)
    _fill(out[i:], x[i:], RELU, 0.0)
    _stream.fence()


@kernel
def _forward_in_place(z, act_code, alpha):
    # z = f(z): one array read and written at the same index, which LLVM
    # vectorises with no overlap check (512-bit vectors: as in _map)
    wide_vectors()
    for i in range(z.size):
        z[i] = act(z[i], act_code, alpha)


@kernel(parallel=True)
def activation_forward(out, x, act_code, alpha):
    """out = f(x); parallel over contiguous parts of the elements.

    ``out`` may be ``x`` itself (the dense epilogue works in place; the API
    allows no other overlap), and that case has its own loop: LLVM guards
    a loop's vector body with a runtime check that out and x do not
    overlap, identical arrays fail it, and in place ran the scalar fallback
    (32x128 float32: relu 2x, sigmoid 8x the out-of-place time). Each loop
    is a kernel of its own, called per part: the activation switch then
    compiles once per loop and dtype, not again in this kernel and its
    serial twin (two loops inlined here cost python -m fastnn 5 s of cold
    compilation, and numba's SSA pass warned). A relu out of place into
    at least ``_stream.min_bytes()`` bytes is written with streaming stores
    (``_relu_streamed``).
    """
    o = out.reshape(out.size)
    xi = x.reshape(x.size)
    n = o.size
    same = o.ctypes.data == xi.ctypes.data
    stream = act_code == RELU and o.nbytes >= _stream.min_bytes()
    parts = min(n, _PARTS)
    for p in prange(parts):
        lo = p * n // parts
        hi = (p + 1) * n // parts
        if same:
            _forward_in_place(o[lo:hi], act_code, alpha)
        elif stream:
            _relu_streamed(o[lo:hi], xi[lo:hi])
        else:
            _forward(o[lo:hi], xi[lo:hi], act_code, alpha)


@kernel(parallel=True)
def activation_backward(dx, dout, out, act_code, alpha):
    """dx += dout * f'(out); parallel over elements."""
    d = dx.reshape(dx.size)
    g = dout.reshape(dout.size)
    o = out.reshape(out.size)
    for i in prange(d.size):
        d[i] += g[i] * dact(o[i], act_code, alpha)
