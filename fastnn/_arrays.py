"""Where arrays live: host (NumPy) or a CUDA device.

One rule for the whole API: outputs are allocated where the main input is.
NumPy in, NumPy out (the cuda backend then copies in and out around each
call); a device array in (a numba device array, or anything with
``__cuda_array_interface__``: CuPy arrays, PyTorch CUDA tensors), a numba
device array out, and nothing crosses the bus. numba.cuda is imported only
when a device array is actually seen, so CPU users never pay for it.
"""
import math

import numpy as np

# Host buffers of at least ALIGN_MIN bytes start on an ALIGN-byte boundary:
# a cache line, and one AVX-512 register. NumPy's allocator gives 16 bytes
# (on this machine every array it returned sat at 16 or 48 mod 64), and
# OpenBLAS's sgemm runs slower on such operands: timed in alternation
# against its GEMMs on aligned arrays, a 32x784 @ 784x128 dense forward took
# 1.05x with its own arrays aligned and 1.19-1.22x with them 16 or 32 bytes
# off; the [784, 128, 64, 10] batch-norm training step took 4% longer
# misaligned. Smaller arrays keep np.empty: aligning costs about 3.6 us of
# Python per array, more than it saves on a few cache lines.
ALIGN = 64
ALIGN_MIN = 16384


def is_device(a):
    """True for a CUDA device array (real, foreign, or the simulator's)."""
    if isinstance(a, np.ndarray) or a is None:
        return False
    if hasattr(a, "__cuda_array_interface__"):
        return True
    # the simulator's FakeCUDAArray exposes no __cuda_array_interface__
    return type(a).__name__ == "FakeCUDAArray"


def as_device(a):
    """A numba device array viewing ``a`` (no copy); NumPy arrays are copied over."""
    from numba import cuda
    if isinstance(a, np.ndarray):
        return cuda.to_device(a)
    if cuda.devicearray.is_cuda_ndarray(a):
        return a
    return cuda.as_cuda_array(a)


def to_host(a):
    """A NumPy array with ``a``'s values (``a`` itself when already on the host)."""
    if is_device(a):
        return as_device(a).copy_to_host()
    return np.asarray(a)


def host_empty(shape, dtype, zero=False):
    """Uninitialised (or zeroed) C-contiguous host array, ALIGN-byte aligned
    when it has at least ALIGN_MIN bytes: a view into a slightly larger
    byte buffer, which its ``base`` keeps alive."""
    dt = np.dtype(dtype)
    n = int(shape) if isinstance(shape, (int, np.integer)) else math.prod(shape)
    nbytes = n * dt.itemsize
    if nbytes < ALIGN_MIN:
        return np.zeros(shape, dt) if zero else np.empty(shape, dt)
    raw = np.zeros(nbytes + ALIGN, np.uint8) if zero else np.empty(nbytes + ALIGN, np.uint8)
    start = -raw.__array_interface__["data"][0] % ALIGN
    return raw[start:start + nbytes].view(dt).reshape(shape)


def empty(shape, dtype, like=None):
    """Uninitialised array on the host (``host_empty``: aligned when large),
    or on the device when ``like`` is there."""
    if is_device(like):
        from numba import cuda
        return cuda.device_array(shape, dtype=np.dtype(dtype))
    return host_empty(shape, dtype)


def zeros(shape, dtype, like=None):
    """Zeroed array on the host (aligned when large), or on the device
    (filled there, no transfer)."""
    if is_device(like):
        out = empty(shape, dtype, like)
        fill(out, 0)
        return out
    return host_empty(shape, dtype, zero=True)


def empty_like(a):
    return empty(a.shape, a.dtype, like=a)


def zeros_like(a):
    return zeros(a.shape, a.dtype, like=a)


def fill(a, value):
    """``a[...] = value`` in place, on whichever side ``a`` lives."""
    if is_device(a):
        from .kernels.cuda.data import fill as device_fill
        device_fill(as_device(a), value)
    else:
        a[...] = value


def copy_into(dst, src):
    """``dst[...] = src`` across host and device in any direction (same shape)."""
    if is_device(dst):
        d = as_device(dst)
        src = np.ascontiguousarray(src) if not is_device(src) else as_device(src)
        d.copy_to_device(src)
    elif is_device(src):
        dst[...] = as_device(src).copy_to_host()
    else:
        dst[...] = src


def host_copy(a):
    """A new NumPy array with ``a``'s values (never a view of ``a``)."""
    if is_device(a):
        return as_device(a).copy_to_host()
    return np.array(a, copy=True)


def copy(a):
    """A copy on the same side."""
    if is_device(a):
        out = empty_like(a)
        copy_into(out, a)
        return out
    out = host_empty(a.shape, a.dtype)
    out[...] = a
    return out


def check_placement(backend, **arrays):
    """Device arrays need the cuda backend; say so instead of crashing in numba."""
    if backend == "cuda":
        return
    for name, a in arrays.items():
        if is_device(a):
            raise TypeError(f"{name} is a CUDA device array but the backend is {backend!r}: "
                            "pass backend='cuda' (or fastnn.set_backend('cuda')), or copy it to the host")
