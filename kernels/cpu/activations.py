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


@kernel(parallel=True)
def activation_forward(out, x, act_code, alpha):
    """out = f(x); parallel over elements, each thread owns a contiguous range."""
    o = out.reshape(out.size)
    xi = x.reshape(x.size)
    for i in prange(o.size):
        o[i] = act(xi[i], act_code, alpha)


@kernel(parallel=True)
def activation_backward(dx, dout, out, act_code, alpha):
    """dx += dout * f'(out); parallel over elements."""
    d = dx.reshape(dx.size)
    g = dout.reshape(dout.size)
    o = out.reshape(out.size)
    for i in prange(d.size):
        d[i] += g[i] * dact(o[i], act_code, alpha)
