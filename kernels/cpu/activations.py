"""Elementwise activations, cpu. The math is in ``kernels/ref/activations.py``.

``act`` and ``dact`` (``kernels/scalar.py``) are the per-element helpers,
also used by the fused dense epilogue; the branch on the integer code is
loop-invariant, so LLVM unswitches it out of the element loop.
"""
import numpy as np

from .. import scalar
from ..codes import LEAKY_RELU, LINEAR, RELU
from . import _stream
from ._jit import kernel, prange


# f(z) and f'(z) per element: one body shared with the cuda backend
act = kernel(scalar.act, inline=True)
dact = kernel(scalar.dact, inline=True)

# the forward's contiguous parts: enough for one per thread up to 16 cores
_PARTS = 16


@kernel
def _forward(out, x, act_code, alpha):
    # out = f(x) over 1-D arrays that do not overlap
    for i in range(out.size):
        out[i] = act(x[i], act_code, alpha)


@kernel
def _forward_blocks(out, x, act_code, alpha):
    # out = f(x) as _forward, computed a block at a time into a buffer that
    # stays in L1 and copied out with streaming stores (see _stream)
    i = _stream.head(out)
    _forward(out[:i], x[:i], act_code, alpha)
    buf = np.empty(_stream.BLOCK, out.dtype)
    m = _stream.chunk(out, i)
    while m > 0:
        _forward(buf[:m], x[i:i + m], act_code, alpha)
        _stream.store(out, i, buf[:m])
        i += m
        m = _stream.chunk(out, i)
    _forward(out[i:], x[i:], act_code, alpha)
    _stream.fence()


@kernel
def _forward_streamed(out, x, act_code, alpha):
    # _forward_blocks compiled once per activation, each with its code a
    # compile-time constant (numba types a constant argument as a literal).
    # With the code a run-time value, LLVM kept _forward a call per block
    # and the part took 1.65x the time (relu, one thread, 5M float32).
    # Only the activations that cost less than their memory traffic stream:
    # sigmoid computes an exp per element (0.54 ns a thread here), and with
    # streaming stores it took 1.4-1.8x the time, as a block's stores no
    # longer overlap the next block's arithmetic the way cached stores do.
    if act_code == RELU:
        _forward_blocks(out, x, RELU, alpha)
    elif act_code == LEAKY_RELU:
        _forward_blocks(out, x, LEAKY_RELU, alpha)
    elif act_code == LINEAR:
        _forward_blocks(out, x, LINEAR, alpha)
    else:
        _forward(out, x, act_code, alpha)


@kernel
def _forward_in_place(z, act_code, alpha):
    # z = f(z): one array read and written at the same index, which LLVM
    # vectorises with no overlap check
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
    serial twin (two loops inlined here cost the main job 5 s of cold
    compilation, and numba's SSA pass warned). Out of place, an output of
    at least ``_stream.STREAM_MIN_BYTES`` is written with streaming stores
    for linear, relu and leaky relu (``_forward_streamed``).
    """
    o = out.reshape(out.size)
    xi = x.reshape(x.size)
    n = o.size
    same = o.ctypes.data == xi.ctypes.data
    stream = o.nbytes >= _stream.STREAM_MIN_BYTES
    parts = min(n, _PARTS)
    for p in prange(parts):
        lo = p * n // parts
        hi = (p + 1) * n // parts
        if same:
            _forward_in_place(o[lo:hi], act_code, alpha)
        elif stream:
            _forward_streamed(o[lo:hi], xi[lo:hi], act_code, alpha)
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
