"""Elementwise activations, cuda. Math: ``kernels/ref/activations.py``."""
from numba import cuda

from .. import scalar
from ._launch import device_function, grid_1d, on_device

# f(z) and f'(z) per element: one body shared with the cpu backend
act = device_function(scalar.act)
dact = device_function(scalar.dact)


@cuda.jit
def activation_forward_kernel(out, x, code, alpha):
    # out, x: flat views of the same size; grid-stride over elements
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, out.size, stride):
        out[i] = act(x[i], code, alpha)


@cuda.jit
def activation_backward_kernel(dx, dout, out, code, alpha):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, dx.size, stride):
        dx[i] += dout[i] * dact(out[i], code, alpha)


def _flat(a):
    return a.reshape(a.size)


def activation_forward(out, x, act_code, alpha):
    """out = f(x)."""
    with on_device([out], [x]) as ((d_out,), (d_x,)):
        blocks, threads = grid_1d(d_out.size)
        activation_forward_kernel[blocks, threads](_flat(d_out), _flat(d_x), act_code, alpha)


def activation_backward(dx, dout, out, act_code, alpha):
    """dx += dout * f'(out)."""
    with on_device([dx], [dout, out]) as ((d_dx,), (d_dout, d_o)):
        blocks, threads = grid_1d(d_dx.size)
        activation_backward_kernel[blocks, threads](
            _flat(d_dx), _flat(d_dout), _flat(d_o), act_code, alpha)


def ptx_signatures(ty):
    """Argument types of each kernel here for a float type ``ty`` (PTX tests)."""
    from numba import types
    a = ty[::1]
    return {activation_forward_kernel: (a, a, types.int64, ty),
            activation_backward_kernel: (a, a, a, types.int64, ty)}
