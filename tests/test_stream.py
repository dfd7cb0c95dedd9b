"""Streaming stores (kernels/cpu/_stream.py): a streamed output has the same
bits as the usual loop's, for every alignment of the output and every size
around the buffer's block, nothing outside the output is written, and a
kernel whose output reaches STREAM_MIN_BYTES still gives the same bits."""
import os
import platform
import subprocess
import sys

import numpy as np
import pytest

from fastnn.kernels.codes import ACTIVATIONS as ACTS
from fastnn.kernels.codes import RELU
from fastnn.kernels.cpu import _stream, activations
from fastnn.kernels.cpu._jit import kernel


# the kernels under test are private (callable from compiled code only,
# kernels/cpu/_jit.py): these entry points call them
@kernel
def head_of(out):
    return _stream.head(out)


@kernel
def plain_relu(out, x):
    activations._forward(out, x, RELU, 0.0)


@kernel
def streamed_relu(out, x):
    activations._relu_streamed(out, x)


def _view(n, dtype, offset):
    """A 1-D array of n elements starting ``offset`` elements after a
    64-byte boundary."""
    base = np.empty(n + offset + 64, dtype)
    skip = (-base.ctypes.data % 64) // base.itemsize
    return base[skip + offset:skip + offset + n]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("offset", [0, 1, 3, 7])
def test_head_reaches_the_first_vector_boundary(dtype, offset):
    a = _view(100, dtype, offset)
    h = head_of(a)
    assert (a[h:].ctypes.data % _stream.VECTOR) == 0
    assert 0 <= h < _stream.VECTOR // a.itemsize
    assert head_of(a[:h // 2]) == h // 2          # an array shorter than its head: all of it


def test_head_of_a_misaligned_buffer_is_the_whole_array():
    raw = np.zeros(4 * 50 + 1, np.uint8)[1:]    # float32 at an odd address
    a = raw.view(np.float32)
    assert a.ctypes.data % 4 != 0
    assert head_of(a) == a.size


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("offset", [0, 1, 5])
@pytest.mark.parametrize("n", [1, 13, _stream.BLOCK - 1, _stream.BLOCK + 9, 3 * _stream.BLOCK + 40])
def test_streamed_relu_has_the_bits_of_the_plain_loop(n, offset, dtype):
    rng = np.random.default_rng(n + offset)
    x = rng.standard_normal(n).astype(dtype)
    expected = np.full(n, np.nan, dtype)
    plain_relu(expected, x)
    out = _view(n, dtype, offset)
    out[:] = np.nan
    guard = out.base                                # elements around the view stay untouched
    before = guard.copy()
    streamed_relu(out, x)
    assert np.array_equal(out.view(f"u{out.itemsize}"), expected.view(f"u{out.itemsize}"))
    lo = (out.ctypes.data - guard.ctypes.data) // guard.itemsize
    np.testing.assert_array_equal(guard[:lo], before[:lo])
    np.testing.assert_array_equal(guard[lo + n:], before[lo + n:])


def _check_large_output_streams():
    """A relu into an output of STREAM_MIN_BYTES (misaligned start) takes the
    streamed loop and gives the plain loop's bits."""
    n = max(_stream.STREAM_MIN_BYTES // 4, 1) + 3
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    out = _view(n, np.float32, 1)
    assert out.nbytes >= _stream.STREAM_MIN_BYTES           # the kernel's test for streaming
    activations.activation_forward(out, x, ACTS["relu"], 0.0)
    expected = np.empty_like(x)
    plain_relu(expected, x)
    assert np.array_equal(out.view(np.uint32), expected.view(np.uint32))


_SMALL_THRESHOLD = 4 * 1024 ** 2


def _python(code, threshold):
    """Run ``code`` in a fresh interpreter with FASTNN_STREAM_MIN_BYTES set
    (read once, at import: the kernels' compile-time constant)."""
    env = dict(os.environ, FASTNN_STREAM_MIN_BYTES=threshold)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)


def test_large_outputs_stream_and_keep_their_bits():
    """As _check_large_output_streams says. Where half the last-level cache
    is too large an output for a test (a machine that reports 480 MB), the
    check runs in a fresh process with a 4 MiB threshold instead of being
    skipped."""
    if _stream.STREAM_MIN_BYTES <= 64 * 1024 ** 2:
        _check_large_output_streams()
        return
    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("streaming stores are x86-only; nothing streams on this machine")
    code = ("import sys; sys.path.insert(0, %r); import test_stream as t; "
            "assert t._stream.STREAM_MIN_BYTES == %d; t._check_large_output_streams(); print('ok')"
            % (os.path.dirname(os.path.abspath(__file__)), _SMALL_THRESHOLD))
    r = _python(code, str(_SMALL_THRESHOLD))
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stderr[-2000:]


def test_a_bad_threshold_in_the_environment_is_a_clear_error():
    r = _python("import fastnn.kernels.cpu", "16MB")
    assert r.returncode != 0
    assert "FASTNN_STREAM_MIN_BYTES must be a whole number of bytes, got '16MB'" in r.stderr
