"""The cuda backend against ref, on every case of the registry.

Runs under the simulator (``NUMBA_ENABLE_CUDASIM=1``, tiny shapes: a separate
pytest run in CI) or on a real GPU (the registry's test shapes too).
"""
import numpy as np
import pytest

import fastnn
from fastnn import testing
from fastnn.testing.cases import CASES, NONFINITE_CASES, compare

from ._fake_cupy import FakeCupy
from .conftest import SIMULATOR

pytestmark = pytest.mark.skipif("cuda" not in fastnn.available_backends(),
                                reason="no GPU and not NUMBA_ENABLE_CUDASIM=1")


def _shapes(case):
    return [case.tiny] if SIMULATOR else [case.tiny, *case.shapes]


PARAMS = [(n, s) for n, c in CASES.items() for s in _shapes(c)]


@pytest.mark.parametrize("name,shape", PARAMS, ids=[f"{n}-{'x'.join(map(str, s))}" for n, s in PARAMS])
def test_cuda_matches_ref(name, shape, dtype):
    from fastnn.kernels import cuda
    for out_name, (actual, expected, kind) in compare(CASES[name], cuda, shape, dtype).items():
        assert not np.isnan(actual).any(), f"{out_name} left unwritten"
        testing.assert_close(actual, expected, kind, err_msg=f"{name} {out_name}")


# shapes the registry's tiny ones miss: softmax rows wider than a row's
# lanes (and not a multiple of them) over a ragged last block of rows; batch
# norm with fewer rows than row groups (empty Welford partials merge), and
# with a ragged split
EDGE_SHAPES = [("softmax_cross_entropy", (7, 37)), ("softmax_forward", (5, 9)),
               ("batchnorm_forward_train", (2, 3)), ("batchnorm_forward_train", (13, 6)),
               ("batchnorm_backward", (2, 3))]


@pytest.mark.parametrize("name,shape", EDGE_SHAPES, ids=[f"{n}-{'x'.join(map(str, s))}" for n, s in EDGE_SHAPES])
def test_cuda_matches_ref_at_edge_shapes(name, shape, dtype):
    from fastnn.kernels import cuda
    for out_name, (actual, expected, kind) in compare(CASES[name], cuda, shape, dtype).items():
        assert not np.isnan(actual).any(), f"{out_name} left unwritten"
        testing.assert_close(actual, expected, kind, err_msg=f"{name} {out_name}")


def test_batchnorm_statistics_keep_float64_accuracy_far_from_zero(dtype):
    """Welford's one pass keeps the variance of data with a large mean
    (1e4 + N(0, 1)) as accurate as the reference's two passes."""
    from fastnn.kernels import cuda, ref
    rng = np.random.default_rng(4)
    n, f = (11, 3) if SIMULATOR else (4096, 64)
    x = (1e4 + rng.standard_normal((n, f))).astype(dtype)
    outs = []
    for mod in (ref, cuda):
        out, mean, rstd = np.empty_like(x), np.empty(f), np.empty(f)
        mod.batchnorm.batchnorm_forward_train(out, mean, rstd, np.zeros(f), np.ones(f), x, np.ones(f, dtype),
                                              np.zeros(f, dtype), 0.1, 1e-5)
        outs.append((mean, rstd))
    np.testing.assert_allclose(outs[1][0], outs[0][0], rtol=1e-14)
    np.testing.assert_allclose(outs[1][1], outs[0][1], rtol=1e-9)


def test_api_on_cuda():
    """The public API dispatches to cuda and keeps its validation."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    w = rng.standard_normal((4, 2))
    out = fastnn.dense_forward(x, w, np.zeros(2), "tanh", backend="cuda")
    testing.assert_close(out, np.tanh(x @ w), "reduction")
    with pytest.raises(ValueError, match="w must have shape"):
        fastnn.dense_forward(x, w.T.copy(), backend="cuda")


def test_philox_known_answers_on_cuda():
    from ..test_dropout import KAT
    from ._philox_kernel import philox_kernel

    inp = np.array([c + k for c, k, _ in KAT], dtype=np.uint64)
    out = np.zeros((len(KAT), 4), np.uint64)
    philox_kernel[1, 32](out, inp)
    assert [tuple(int(v) for v in row) for row in out] == [e for _, _, e in KAT]


def test_dropout_masks_bitwise_equal_to_cpu():
    from fastnn.kernels import cpu, cuda
    from fastnn.kernels.philox import keep_threshold
    n = 77 if SIMULATOR else 1_000_003
    masks = []
    for mod in (cpu, cuda):
        m = np.zeros((n + 7) // 8, np.uint8)
        mod.dropout.dropout_mask(m, n, np.uint64(2**40 + 3), np.uint64(9), keep_threshold(0.35))
        masks.append(m)
    assert np.array_equal(*masks)


@pytest.mark.skipif(not SIMULATOR, reason="on a GPU the real cuBLAS path runs when CuPy is installed")
@pytest.mark.parametrize("name", [n for n in CASES if n.startswith("dense_")])
def test_cublas_glue_matches_ref(name, dtype, monkeypatch):
    from fastnn.kernels import cuda
    monkeypatch.setattr(cuda.dense, "gemm_engine", lambda: FakeCupy)
    for out_name, (actual, expected, kind) in compare(CASES[name], cuda, CASES[name].tiny, dtype).items():
        assert not np.isnan(actual).any(), f"{out_name} left unwritten"
        testing.assert_close(actual, expected, kind, err_msg=f"{name} {out_name}")


def test_gemm_engine_choice(monkeypatch):
    from fastnn.kernels.cuda import dense
    monkeypatch.setenv("FASTNN_CUDA_GEMM", "tiled")
    assert dense.gemm_engine() is None
    monkeypatch.setenv("FASTNN_CUDA_GEMM", "fast")
    with pytest.raises(ValueError, match="FASTNN_CUDA_GEMM must be"):
        dense.gemm_engine()


@pytest.mark.parametrize("name", NONFINITE_CASES)
def test_cuda_propagates_nonfinite_like_ref(name, dtype):
    """NaN and +-inf in the inputs: non-finite where ref is (tests/test_nonfinite.py)."""
    from fastnn.kernels import cuda
    from tests.test_nonfinite import check
    check(cuda, name, CASES[name].tiny, dtype, seed=7, fraction=0.1)
