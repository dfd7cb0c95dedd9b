"""Integer codes shared by every backend.

Kernels branch on an integer code rather than taking a function argument:
passing jitted functions as arguments defeats numba's on-disk cache and
multiplies specialisations.
"""
LINEAR = 0
RELU = 1
LEAKY_RELU = 2   # uses the scalar ``alpha`` (slope for x < 0), alpha >= 0
SIGMOID = 3
TANH = 4

ACTIVATIONS = {
    "linear": LINEAR,
    "relu": RELU,
    "leaky_relu": LEAKY_RELU,
    "sigmoid": SIGMOID,
    "tanh": TANH,
}
