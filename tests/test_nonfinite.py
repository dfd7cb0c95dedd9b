"""NaN and infinity follow IEEE propagation on every backend, as the
reference (NumPy) does: each kernel, given inputs with NaN and +-inf
sprinkled in (``fastnn.testing.cases.poison``), is non-finite where ref is
and agrees elsewhere within the table's tolerance
(``fastnn.testing.assert_same_nonfinite``). The cuda backend runs the same
check in ``tests/gpu/test_cuda_kernels.py``.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastnn import testing
from fastnn.kernels import cpu, ref
from fastnn.testing.cases import CASES, NONFINITE_CASES, copy_args, poison


def check(backend, name, shape, dtype, seed, fraction):
    case = CASES[name]
    args = poison(case, case.args(shape, dtype, seed), np.random.default_rng(seed), fraction)
    with np.errstate(all="ignore"):
        expected = case.run(ref, copy_args(args))
        actual = case.run(backend, copy_args(args))
    for out, kind in case.outputs.items():
        testing.assert_same_nonfinite(actual[out], expected[out], kind, f"{name} {out}")


@pytest.mark.parametrize("name", NONFINITE_CASES)
def test_cpu_propagates_nonfinite_like_ref(name, dtype):
    for shape in CASES[name].shapes[:3]:
        check(cpu, name, shape, dtype, seed=7, fraction=0.05)


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(NONFINITE_CASES), seed=st.integers(0, 2**31), f32=st.booleans(),
       fraction=st.sampled_from([0.001, 0.02, 0.3]))
def test_nonfinite_fuzz(name, seed, f32, fraction):
    shapes = CASES[name].shapes
    check(cpu, name, shapes[seed % len(shapes)], np.float32 if f32 else np.float64, seed, fraction)
