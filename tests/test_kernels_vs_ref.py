"""Every cpu kernel against the NumPy reference, float32 and float64, over
shapes including 1, odd sizes and non-multiples of the kernels' blocks.

Arguments come from fastnn.testing.cases (gradient buffers start non-zero, so the
accumulation contract is checked too); tolerances come from fastnn.testing.
"""
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastnn import testing
from fastnn.kernels import cpu, ref
from fastnn.testing.cases import CASES, compare

PARAMS = [(name, shape) for name, case in CASES.items() for shape in case.shapes]


@pytest.mark.parametrize("name,shape", PARAMS, ids=[f"{n}-{'x'.join(map(str, s))}" for n, s in PARAMS])
def test_cpu_matches_ref(name, shape, dtype):
    for out_name, (actual, expected, kind) in compare(CASES[name], cpu, shape, dtype).items():
        assert not np.isnan(actual).any(), f"{out_name} left unwritten"
        testing.assert_close(actual, expected, kind, err_msg=f"{name} {out_name}")


@settings(max_examples=30, deadline=None)
@given(batch=st.integers(1, 80), n_in=st.integers(1, 90), n_out=st.integers(1, 150),
       act=st.sampled_from(["linear", "relu", "leaky_relu", "sigmoid", "tanh"]),
       seed=st.integers(0, 2**31), f32=st.booleans())
def test_dense_any_shape(batch, n_in, n_out, act, seed, f32):
    """Dense forward and backward for arbitrary shapes (hypothesis)."""
    dt = np.float32 if f32 else np.float64
    for op in ("dense_forward", "dense_backward"):
        case = CASES[f"{op}[{act}]"]
        for out_name, (actual, expected, kind) in compare(case, cpu, (batch, n_in, n_out), dt, seed).items():
            testing.assert_close(actual, expected, kind, err_msg=f"{case.name} {out_name}")


def test_dense_shapes_cover_both_epilogues():
    from fastnn.kernels.cpu.dense import _SERIAL_EPILOGUE
    sizes = [b * o for b, _, o in CASES["dense_forward[relu]"].shapes]
    assert min(sizes) < _SERIAL_EPILOGUE <= max(sizes)


def test_backward_accumulates():
    """Backward adds into gradient buffers: two calls give twice the increment."""
    case = CASES["dense_backward[tanh]"]
    args = case.args((9, 4, 6), np.float64)
    start = {k: args[k].copy() for k in ("dx", "dw", "db")}
    case.run(cpu, args)
    once = {k: args[k].copy() for k in ("dx", "dw", "db")}
    case.run(cpu, args)
    twice = args
    for k in ("dx", "dw", "db"):
        inc = once[k] - start[k]
        assert np.abs(inc).max() > 0
        testing.assert_close(twice[k] - start[k], 2 * inc, "reduction")


def test_dense_backward_db_independent_of_threads():
    """db is summed per column in a fixed order: identical for 1 and 2 threads."""
    import numba
    case = CASES["dense_backward[relu]"]
    args = case.args((513, 7, 200), np.float32)
    results = []
    for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
        numba.set_num_threads(threads)
        try:
            out = case.run(cpu, {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in args.items()})
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        results.append(out)
    for k in ("db", "dz"):
        assert np.array_equal(results[0][k], results[1][k]), k


def test_ref_is_the_reference():
    """Sanity of the registry: ref compared with itself is exact."""
    for name, (a, e, _) in compare(CASES["softmax_cross_entropy"], ref, (7, 3), np.float64).items():
        assert np.array_equal(a, e), name


@pytest.mark.skipif(os.environ.get("NUMBA_BOUNDSCHECK") != "1" or os.environ.get("FASTNN_PARALLEL") != "0",
                    reason="only in the bounds-checked run (NUMBA_BOUNDSCHECK=1 FASTNN_PARALLEL=0)")
def test_bounds_checked_run_is_live():
    """In that run a kernel called past the API (no validation) must raise,
    proving the run would catch an out-of-bounds access in any kernel."""
    z = np.zeros((2, 3))
    with pytest.raises(IndexError):
        cpu.losses.softmax_cross_entropy(np.empty(2), np.zeros_like(z), np.empty_like(z), z, np.array([0, 7]))
    with pytest.raises(IndexError):
        cpu.dense.dense_forward(np.empty((2, 4)), np.ones((2, 3)), np.ones((3, 4)), np.ones(2), 1, 0.0)


@pytest.mark.parametrize("m,n,k", [(5, 7, 3),          # one BLAS call
                                   (513, 200, 70),     # taller than wide: 2 row blocks
                                   (64, 256, 784),     # wider than tall: 2 column blocks
                                   (600, 520, 440),    # large: 4 row blocks
                                   (64, 20, 30)],      # too small to split
                         ids=["tiny", "rows", "columns", "four-rows", "single"])
@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, False), (False, True)])
def test_gemm_split_paths(m, n, k, trans_a, trans_b):
    """Every path of the cpu GEMM (row blocks, column blocks, one BLAS call)
    equals NumPy to the reduction tolerance and is bitwise identical for
    1 and 2 threads (the split depends on the shape only)."""
    import numba

    from fastnn.kernels.cpu._blas import gemm_rows
    rng = np.random.default_rng(0)
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(np.float32)
    # scaled like a layer's weights, so the tolerance tests rounding, not cancellation
    b = (rng.standard_normal((n, k) if trans_b else (k, n)) / np.sqrt(k)).astype(np.float32)
    c0 = rng.standard_normal((m, n)).astype(np.float32)
    expected = (a.T if trans_a else a).astype(np.float64) @ (b.T if trans_b else b) + c0
    results = []
    for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
        numba.set_num_threads(threads)
        try:
            c = c0.copy()
            gemm_rows(c, a, b, trans_a, trans_b, 1.0, 1.0)
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        results.append(c)
    testing.assert_close(results[0], expected.astype(np.float32), "reduction")
    assert np.array_equal(results[0], results[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (33, 129)], ids=["one", "fewer-than-parts", "ragged"])
def test_activation_forward_in_place(shape, dtype):
    """out = x (the dense epilogue's call) takes the kernel's own in-place
    loop: the same bits as out of place, for every activation, for sizes
    below and above the number of parts, and equal to the ref."""
    from fastnn.kernels.codes import ACTIVATIONS
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    alpha = dtype(0.1)
    for name, code in ACTIVATIONS.items():
        expected = np.empty_like(x)
        ref.activations.activation_forward(expected, x, code, alpha)
        out = np.empty_like(x)
        cpu.activations.activation_forward(out, x, code, alpha)
        z = x.copy()
        cpu.activations.activation_forward(z, z, code, alpha)
        assert np.array_equal(z, out), name
        testing.assert_close(z, expected, "elementary" if name in ("relu", "leaky_relu", "linear") else "elementwise",
                             err_msg=name)


@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (300, 70)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_tests_match_ref(shape, dtype):
    """The compiled batch tests (``data.nonfinite``, ``outside_unit``,
    ``labels_outside``; the compiled step's batch test is made of them) say
    what the reference says, for one
    bad value at the first, a middle and the last position (a vector loop's
    remainder included), and for values that are not bad (huge, -0.0, 0, 1)."""
    rng = np.random.default_rng(0)
    clean = rng.random(shape).astype(dtype)
    n = clean.size
    labels = rng.integers(0, 5, shape[0]).astype(np.intp)
    for at in sorted({0, n // 2, n - 1}):
        for value in (np.nan, np.inf, -np.inf, np.finfo(dtype).max, -0.0, 0.0, 1.0, 1.5, -1e-30):
            a = clean.copy()
            a.reshape(-1)[at] = value
            for name in ("nonfinite", "outside_unit"):
                want = getattr(ref.data, name)(a)
                assert getattr(cpu.data, name)(a) == want, (name, at, value)
                assert want == (not np.isfinite(value) if name == "nonfinite" else not 0 <= value <= 1)
    for at in sorted({0, shape[0] // 2, shape[0] - 1}):
        for value in (-1, 0, 4, 5, np.iinfo(np.intp).max):
            lab = labels.copy()
            lab[at] = value
            want = not 0 <= value < 5
            assert cpu.data.labels_outside(lab, 5) == ref.data.labels_outside(lab, 5) == want
