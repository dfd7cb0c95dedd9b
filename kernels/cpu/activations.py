"""Elementwise activations, cpu. The math is in ``kernels/ref/activations.py``.

``act`` and ``dact`` (``kernels/scalar.py``) are the per-element helpers,
also used by the fused dense epilogue; the branch on the integer code is
loop-invariant, so LLVM unswitches it out of the element loop.
"""
from .. import scalar
from ._jit import kernel, prange


# f(z) and f'(z) per element: one body shared with the cuda backend
act = kernel(scalar.act, inline=True)
dact = kernel(scalar.dact, inline=True)

# in-place forward: contiguous parts, one per thread of a 16-core machine
_PARTS = 16


@kernel
def _forward_in_place(z, act_code, alpha):
    # z = f(z): one array read and written at the same index, which LLVM
    # vectorises with no overlap check (a function of its own: inlined as a
    # second loop beside the general one, numba's SSA pass warned)
    for i in range(z.size):
        z[i] = act(z[i], act_code, alpha)


@kernel(parallel=True)
def activation_forward(out, x, act_code, alpha):
    """out = f(x); parallel over elements, each thread owns a contiguous range.

    ``out`` may be ``x`` itself (the dense epilogue works in place), and
    that case has its own loop: LLVM guards the general loop's vector body
    with a runtime check that out and x do not overlap, and identical arrays
    fail it, so in place ran the scalar fallback (32x128 float32: relu 2x,
    sigmoid 8x the out-of-place time).
    """
    o = out.reshape(out.size)
    xi = x.reshape(x.size)
    n = o.size
    if o.ctypes.data == xi.ctypes.data:
        parts = min(n, _PARTS)
        for p in prange(parts):
            _forward_in_place(o[p * n // parts:(p + 1) * n // parts], act_code, alpha)
        return
    for i in prange(n):
        o[i] = act(xi[i], act_code, alpha)


@kernel(parallel=True)
def activation_backward(dx, dout, out, act_code, alpha):
    """dx += dout * f'(out); parallel over elements."""
    d = dx.reshape(dx.size)
    g = dout.reshape(dout.size)
    o = out.reshape(out.size)
    for i in prange(d.size):
        d[i] += g[i] * dact(o[i], act_code, alpha)
