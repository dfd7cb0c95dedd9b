"""Dense (fully connected) layer with a fused activation, reference.

Forward, for x: (batch, in), w: (in, out), b: (out,) or (0,) for no bias:

    z   = x @ w + b
    out = f(z)                       (f: see activations)

Backward, given dout = dL/dout: (batch, out):

    dz  = dout * f'(z)               (f' from out, written into the workspace dz)
    dw += x.T @ dz                   (in, out)
    db += sum over the batch of dz   (out,)
    dx += dz @ w.T                   (batch, in)

The cost is a mean over the batch; that 1/batch lives in the loss gradient
``dout``, not here.
"""
from .activations import _apply, _derivative


def dense_forward(out, x, w, b, act, alpha):
    """out = f(x @ w + b)."""
    z = x @ w
    if b.shape[0]:
        z = z + b
    out[...] = _apply(z, act, alpha)


def dense_backward(dx, dw, db, dz, dout, x, w, out, act, alpha):
    """Accumulate dx, dw, db; overwrite the workspace dz with dL/dz."""
    dz[...] = dout * _derivative(out, act, alpha)
    dw += x.T @ dz
    if db.shape[0]:
        db += dz.sum(axis=0)
    dx += dz @ w.T
