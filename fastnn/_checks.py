"""Input validation for the API.

numba does not check bounds, so every shape, dtype, layout and index
invariant a kernel relies on is checked here, before any kernel runs, with
an error that names the argument and says what was expected.
"""
import math

import numpy as np

from ._arrays import is_device, to_host

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _is_array(a):
    return isinstance(a, np.ndarray) or is_device(a)


def _plain(name, a, what="a numpy.ndarray (or a CUDA device array)"):
    """``a`` is an exact ndarray or a device array. Subclasses are refused:
    np.matrix keeps two dimensions through ``reshape(-1)`` and ``ravel``,
    so a kernel given one indexes past its buffer; a masked array's mask
    would be ignored."""
    if not _is_array(a):
        raise TypeError(f"{name} must be {what}, got {type(a).__name__}")
    if isinstance(a, np.ndarray) and type(a) is not np.ndarray:
        raise TypeError(f"{name} must be a plain numpy.ndarray, got the subclass {type(a).__name__}: "
                        f"pass np.asarray({name}) (fastnn never writes into subclasses)")


def _c_contiguous(a):
    if isinstance(a, np.ndarray):
        return a.flags.c_contiguous
    fn = getattr(a, "is_c_contiguous", None)
    return fn() if fn is not None else True


def array(name, a, ndim, dtype=None):
    """Check a floating-point array argument and return it unchanged.

    ``ndim`` is the required number of dimensions (None: any); ``dtype``, if
    given, the dtype it must share with the other arrays of the call.
    """
    _plain(name, a)
    if np.dtype(a.dtype) not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got {a.dtype}")
    if dtype is not None and np.dtype(a.dtype) != np.dtype(dtype):
        raise TypeError(
            f"{name} has dtype {a.dtype} but the other arrays are {np.dtype(dtype)}; "
            f"fastnn never mixes dtypes silently: convert with .astype({np.dtype(dtype).name})")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {tuple(a.shape)}")
    if 0 in a.shape:
        raise ValueError(f"{name} must not be empty, got shape {tuple(a.shape)}")
    if not _c_contiguous(a):
        raise ValueError(f"{name} must be C-contiguous; pass np.ascontiguousarray({name})")
    return a


def shape(name, a, expected):
    """Check ``a.shape == expected``."""
    if tuple(a.shape) != tuple(expected):
        raise ValueError(f"{name} must have shape {tuple(expected)}, got {tuple(a.shape)}")


def output(name, a, expected_shape, dtype, inputs=()):
    """Check a caller-provided output or gradient buffer.

    It must be a writeable C-contiguous array of the exact shape and dtype,
    and must not overlap any input (BLAS and the kernels assume no aliasing).
    Outputs of one call must not overlap each other either: check them
    together with ``disjoint``.
    """
    array(name, a, len(expected_shape), dtype)
    shape(name, a, expected_shape)
    return writeable(name, a, inputs)


def writeable(name, a, inputs=()):
    """Check that an array the kernel writes is writeable and overlaps no input."""
    if isinstance(a, np.ndarray) and not a.flags.writeable:
        raise ValueError(f"{name} must be writeable")
    disjoint([(name, a)], inputs)
    return a


def _extent(a):
    """[first, last) byte addresses ``a`` may touch, host or device."""
    if isinstance(a, np.ndarray):
        return np.lib.array_utils.byte_bounds(a)
    iface = getattr(a, "__cuda_array_interface__", None)
    if iface is None:                          # the simulator's arrays wrap host ones
        host = getattr(a, "_ary", None)
        return np.lib.array_utils.byte_bounds(host) if isinstance(host, np.ndarray) else None
    start = iface["data"][0]
    itemsize = np.dtype(iface["typestr"]).itemsize
    if iface.get("strides") is None:               # C-contiguous
        return start, start + itemsize * math.prod(iface["shape"])
    return start, start + itemsize + sum((n - 1) * abs(st) for n, st in zip(iface["shape"], iface["strides"]))


def _overlap(a, b):
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return np.may_share_memory(a, b)          # bounds only, in C: no slower than it must be
    ea, eb = _extent(a), _extent(b)
    return ea is not None and eb is not None and ea[0] < eb[1] and eb[0] < ea[1]


def disjoint(outputs, inputs=()):
    """No array a kernel writes (``outputs``: (name, array) pairs) may share
    memory with another output or with any input: the kernels and BLAS read
    inputs while they write, and two outputs over one buffer would
    overwrite each other. Checked by address ranges, on either side."""
    seen = []
    for name, a in outputs:
        if a is None or getattr(a, "size", 0) == 0:
            continue
        for other_name, other, is_output in seen + [(n, o, False) for n, o in inputs]:
            if other is None or getattr(other, "size", 0) == 0:
                continue
            if _overlap(a, other):
                what = "another output" if is_output else "an input"
                raise ValueError(f"{name} must not share memory with {other_name} ({what} of the same call)")
        seen.append((name, a, True))


def float64_vector(name, a, size):
    """A float64, C-contiguous (size,) array, e.g. batch-norm statistics."""
    _plain(name, a)
    if np.dtype(a.dtype) != np.float64:
        raise TypeError(f"{name} must be float64 (statistics are kept in float64), got {a.dtype}")
    if tuple(a.shape) != (size,):
        raise ValueError(f"{name} must have shape ({size},), got {tuple(a.shape)}")
    if not _c_contiguous(a):
        raise ValueError(f"{name} must be C-contiguous")
    return a


def flag(name, value):
    """A bool (Python or NumPy): ``training="no"`` must not mean True."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def probability(name, p):
    """A keep probability in (0, 1]."""
    v = scalar(name, p)
    if not 0.0 < v <= 1.0:
        raise ValueError(f"{name} must be in (0, 1], got {v}")
    return v


def uint64(name, value):
    """An integer in [0, 2^64), e.g. a seed or a counter offset."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    v = int(value)
    if not 0 <= v < 2 ** 64:
        raise ValueError(f"{name} must be in [0, 2**64), got {v}")
    return v


# the most features a layer may have: kernels index with 32-bit block
# counts in places, and NumPy refuses larger dimensions on some platforms
MAX_FEATURES = 2 ** 31 - 1


def positive_int(name, value, *, minimum=1, maximum=None, why=""):
    """An int (a NumPy integer too, never a bool) of at least ``minimum``
    (and at most ``maximum``), as a Python int; ``why`` is added to the
    message (what the number means)."""
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum
            or (maximum is not None and value > maximum)):
        want = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        if maximum is not None:
            want += f" and <= {maximum}"
        raise ValueError(f"{name} must be {want}{why}, got {value!r}")
    return int(value)


def labels(name, y, batch, classes):
    """Integer class labels (batch,) in [0, classes), returned as intp.

    Device labels must already be intp (int64) and contiguous: they are used
    in place. Their range is still checked (a kernel would index with them),
    which reads them back: ``fit`` checks a whole dataset once instead.
    """
    _plain(name, y, "a numpy.ndarray of integer class labels")
    if np.dtype(y.dtype).kind not in "iu":
        raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    if tuple(y.shape) != (batch,):
        raise ValueError(f"{name} must have shape ({batch},) to match the logits, got {tuple(y.shape)}")
    if is_device(y) and (np.dtype(y.dtype) != np.intp or not _c_contiguous(y)):
        raise TypeError(f"{name} on the device must be contiguous {np.dtype(np.intp)} labels, got {y.dtype}")
    in_classes(name, to_host(y), classes)
    return y if is_device(y) else np.ascontiguousarray(y, dtype=np.intp)


def in_classes(name, host, classes):
    """Every integer label of the 1-D host array in [0, classes): the
    compiled test for writeable contiguous intp labels, else the minimum
    and maximum."""
    if (type(host) is np.ndarray and host.dtype == np.intp and host.ndim == 1 and host.flags.c_contiguous
            and host.flags.writeable):
        if not (_DATA or _data()).labels_outside(host, classes):
            return host
    lo, hi = int(host.min()), int(host.max())
    if lo < 0 or hi >= classes:
        raise ValueError(f"{name} must lie in [0, {classes}) for {classes} classes, got values in [{lo}, {hi}]")
    return host


def _batch_tests(a):
    """The compiled batch tests (``kernels/cpu/data.py``: one vectorised
    pass, about 0.2 us for a small batch against 2 us for NumPy's
    reductions) where they apply: a plain, writeable, C-contiguous 2-D
    float32 or float64 array, the signatures shipped compiled; else None."""
    if (type(a) is np.ndarray and a.ndim == 2 and a.dtype in FLOAT_DTYPES and a.flags.c_contiguous
            and a.flags.writeable):
        return _DATA or _data()
    return None


_DATA = None


def _data():
    """``kernels.cpu.data``, imported on first use (``import fastnn`` loads no kernels)."""
    global _DATA
    from .kernels.cpu import data
    _DATA = data
    return data


def unit_interval(name, a):
    """Every value of ``a`` in [0, 1] (NaN is not): probabilities and
    binary targets. Device arrays are read back. The compiled test, or the
    minimum and maximum (a NaN propagates into both), is the fast test;
    only a failure scans."""
    host = to_host(a)
    k = _batch_tests(host)
    if k.outside_unit(host) if k is not None else not (host.min() >= 0 and host.max() <= 1):
        bad = ~((host >= 0) & (host <= 1))
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} must hold values in [0, 1], got {host[where]} at index {where}")
    return a


def finite(name, a):
    """No NaN or infinity in a host array; the error names the first one.
    The compiled test, or a sum (NaN and inf propagate into it), is the
    fast test; only when it fails (or the sum overflows) is the array
    scanned."""
    if a.dtype.kind == "f":
        k = _batch_tests(a)
        if k.nonfinite(a) if k is not None else not np.isfinite(np.add.reduce(a, axis=None)):
            bad = ~np.isfinite(a)
            if bad.any():
                where = tuple(int(i) for i in np.argwhere(bad)[0])
                raise ValueError(f"{name} contains {a[where]} at index {where}: fastnn trains and predicts on "
                                 "finite values only (impute or drop missing values first)")
    return a


def scalar(name, value, *, low=None, high=None, low_open=False, high_open=False):
    """A finite real scalar within bounds, as a Python float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    if low is not None and (v < low or (low_open and v == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {v}")
    if high is not None and (v > high or (high_open and v == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {v}")
    return v
