"""All numba options of the cpu backend, in one place.

- ``cache=True`` unless ``FASTNN_NUMBA_CACHE=0``: compiled kernels are kept on
  disk (numba's ``__pycache__`` or ``NUMBA_CACHE_DIR``) so a second process
  starts warm.
- ``error_model="numpy"``: division by zero gives inf/nan as in NumPy instead
  of raising (and lets loops vectorise).
- no blanket ``fastmath``; in particular never the ``nnan``/``ninf`` flags,
  which would make ``np.isnan`` lie and hide divergence.
- lazy: kernels compile on first call, for the dtypes they are called with;
  nothing compiles at ``import fastnn``.
- per-element helpers (``kernels/scalar.py``, Philox) are compiled with
  ``inline="always"``: numba then inlines them into the calling kernel's IR
  before LLVM sees it. A plain call to another ``@njit`` function is only
  inlined after LLVM's loop vectoriser has run, which left loops over a
  helper scalar (Philox 7x, ``exp``-bound activations several times slower).
- ``FASTNN_PARALLEL=0`` compiles ``prange`` loops as plain ``range`` loops.
  numba's ``NUMBA_BOUNDSCHECK=1`` does not check accesses inside parallel
  loops, so the bounds-checked CI run sets both.
"""
import os

from numba import njit, prange  # noqa: F401  (prange re-exported for kernels)

CACHE = os.environ.get("FASTNN_NUMBA_CACHE", "1") not in ("0", "false", "False", "")

PARALLEL = os.environ.get("FASTNN_PARALLEL", "1") not in ("0", "false", "False", "")

_OPTIONS = dict(cache=CACHE, error_model="numpy", nogil=True)


def kernel(fn=None, *, parallel=False, inline=False):
    """Decorate a cpu kernel with fastnn's numba options.

    ``parallel=True`` enables ``prange``; use it only where each thread owns
    the outputs it writes. ``inline=True`` for per-element helpers called in
    a kernel's inner loop (see above).
    """
    def wrap(f):
        if inline:
            return njit(inline="always", **_OPTIONS)(f)
        return njit(parallel=parallel and PARALLEL, **_OPTIONS)(f)
    return wrap(fn) if fn is not None else wrap
