"""fastnn.kernels: the compute kernels of fastnn, in three backends.

``ref``  plain NumPy: the executable specification and the benchmark baseline.
``cpu``  ``@njit`` kernels (numba), BLAS for GEMMs, ``prange`` over owned outputs.
``cuda`` ``@cuda.jit`` kernels with host launchers (numba-cuda, optional).

Each backend has the same modules (one per op family), the same function
names and the same signatures. The contract:

- outputs first, then inputs, then scalars;
- kernels return nothing and write into caller-owned, C-contiguous buffers;
  only ``fastnn`` (the API) allocates and validates;
- backward kernels accumulate (``+=``) into gradient buffers; zeroing is the
  caller's business;
- forward writes what backward needs into explicit buffers (``out``, ``probs``);
- batch-major data: ``x`` is ``(batch, features)``, a dense weight is
  ``w: (in, out)``, ``b: (out,)`` (or ``(0,)`` for no bias), ``y = x @ w + b``;
- float32 and float64; all arrays of one call share one dtype; scalars are
  passed as that dtype's scalar type.
"""
from .codes import ACTIVATIONS, LEAKY_RELU, LINEAR, RELU, SIGMOID, TANH  # noqa: F401

BACKENDS = ("ref", "cpu", "cuda")
