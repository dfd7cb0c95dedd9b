"""Dense forward/backward: ref (NumPy) vs cpu, and torch eager when installed."""
import numpy as np
import pytest

from fastnn.testing.cases import CASES, copy_args

from .conftest import BACKENDS, bench_params, interleaved, run_case

DENSE = [c for c in CASES.values() if c.family == "dense"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name,shape", bench_params(DENSE))
def test_dense(benchmark, name, shape, backend):
    run_case(benchmark, CASES[name], shape, np.float32, backend)


def _gemms(case, a):
    """The layer's GEMMs alone, on a case's arguments, as the cpu kernel calls them."""
    from fastnn.kernels.cpu._blas import gemm_rows
    if case.op == "dense_forward":
        def step():
            gemm_rows(a["out"], a["x"], a["w"], False, False, 1.0, 0.0)
    else:
        def step():
            gemm_rows(a["dw"], a["x"], a["dout"], True, False, 1.0, 1.0)
            gemm_rows(a["dx"], a["dout"], a["w"], False, True, 1.0, 1.0)
    return step


@pytest.mark.parametrize("name,shape", bench_params(DENSE))
def test_dense_gemm_reference(benchmark, name, shape):
    """The layer's GEMMs alone (BLAS, as the cpu kernel calls them): the
    fused epilogue's cost is the layer's time over this one."""
    case = CASES[name]
    a = copy_args(case.args(shape, np.float32))          # aligned like the layer's
    step = _gemms(case, a)
    step()
    benchmark.group = f"{case.name}|{'x'.join(map(str, shape))}|float32"
    benchmark.extra_info.update(backend="gemm-only", reference="gemm", case=name, bytes=case.bytes(shape, 4),
                                flops=case.flops(shape), elements=int(np.prod(shape)))
    benchmark(step)


@pytest.mark.parametrize("name,shape", bench_params(DENSE))
def test_dense_vs_gemms_interleaved(benchmark, name, shape):
    """The target's ratio, layer / its GEMMs, with both timed in each round."""
    import fastnn.kernels.cpu as cpu
    case = CASES[name]
    layer_args = copy_args(case.args(shape, np.float32))
    interleaved(benchmark, f"interleaved|{case.name}|{'x'.join(map(str, shape))}|float32",
                lambda: case.run(cpu, layer_args), _gemms(case, copy_args(case.args(shape, np.float32))), "gemm-only")


@pytest.mark.parametrize("name,shape", bench_params(DENSE))
def test_dense_torch(benchmark, name, shape):
    """The same op with PyTorch eager CPU ops (relu), for comparison."""
    torch = pytest.importorskip("torch")
    case = CASES[name]
    a = {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v)
         for k, v in copy_args(case.args(shape, np.float32)).items()}
    if case.op == "dense_forward":
        def step():
            return torch.relu(torch.addmm(a["b"], a["x"], a["w"]))
    else:
        def step():
            dz = a["dout"] * (a["out"] > 0)
            a["dw"].add_(a["x"].T @ dz)
            a["db"].add_(dz.sum(0))
            a["dx"].add_(dz @ a["w"].T)
            return a["dx"]
    assert torch.isfinite(step()).all()
    benchmark.group = f"{case.name}|{'x'.join(map(str, shape))}|float32"
    benchmark.extra_info.update(backend="torch", case=name, bytes=case.bytes(shape, 4), flops=case.flops(shape))
    benchmark(step)
