"""Host buffers: large ones start on a 64-byte boundary (``fastnn._arrays``)."""
import numpy as np
import pytest

import fastnn
from fastnn import _arrays
from fastnn.compiled import CompiledStep


def _aligned(a):
    return a.ctypes.data % _arrays.ALIGN == 0


@pytest.mark.parametrize("shape", [(64, 128), 5000, [10, 3000], np.int64(7000)])
@pytest.mark.parametrize("zero", [False, True])
def test_large_host_arrays_are_aligned_contiguous_and_of_the_asked_shape(shape, zero):
    a = _arrays.host_empty(shape, np.float32, zero=zero)
    want = (int(shape),) if np.ndim(shape) == 0 else tuple(shape)
    assert a.shape == want and a.dtype == np.float32 and a.flags.c_contiguous and a.flags.writeable
    assert _aligned(a)
    if zero:
        assert not a.any()


def test_small_host_arrays_are_plain_numpy():
    # below ALIGN_MIN the padding costs more than it saves
    n = _arrays.ALIGN_MIN // 8 - 1
    a = _arrays.host_empty(n, np.float64, zero=True)
    assert a.base is None and a.shape == (n,) and not a.any()


def test_aligned_copy_is_a_copy():
    src = np.arange(20000, dtype=np.float32)[::2]            # not contiguous
    out = _arrays.copy(src)
    assert _aligned(out) and np.array_equal(out, src) and not np.shares_memory(out, src)


def test_training_buffers_are_aligned():
    model = fastnn.Sequential([fastnn.Dense(784, 128, "relu"), fastnn.Dense(128, 10)],
                              loss="softmax_cross_entropy", dtype=np.float32, seed=0)
    p = model.parameters()
    opt = fastnn.Adam(p, lr=1e-3)
    step = CompiledStep(model, opt, 64)
    # the first weight matrix sits at offset 0 of the flat buffers: its GEMMs see aligned operands
    assert p.names()[0] == "0.W"
    assert _aligned(p.data) and _aligned(p.grad) and _aligned(p["0.W"]) and _aligned(p.grad_of("0.W"))
    assert all(_aligned(v) for v in opt.state.values())
    assert _aligned(step.acts) and _aligned(step.dacts) and _aligned(step.dz)
