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

# the forward's contiguous parts: enough for one per thread up to 16 cores
_PARTS = 16


@kernel
def _forward(out, x, act_code, alpha):
    # out = f(x) over 1-D arrays that do not overlap
    for i in range(out.size):
        out[i] = act(x[i], act_code, alpha)


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
    compilation, and numba's SSA pass warned).
    """
    o = out.reshape(out.size)
    xi = x.reshape(x.size)
    n = o.size
    same = o.ctypes.data == xi.ctypes.data
    parts = min(n, _PARTS)
    for p in prange(parts):
        lo = p * n // parts
        hi = (p + 1) * n // parts
        if same:
            _forward_in_place(o[lo:hi], act_code, alpha)
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
