"""Dense forward/backward: ref (NumPy) vs cpu, and torch eager when installed."""
import numpy as np
import pytest

from fastnn.cases import CASES

from .conftest import BACKENDS, bench_params, run_case

DENSE = [c for c in CASES.values() if c.family == "dense"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name,shape", bench_params(DENSE))
def test_dense(benchmark, name, shape, backend):
    run_case(benchmark, CASES[name], shape, np.float32, backend)


@pytest.mark.parametrize("name,shape", bench_params(DENSE))
def test_dense_torch(benchmark, name, shape):
    """The same op with PyTorch eager CPU ops (relu), for comparison."""
    torch = pytest.importorskip("torch")
    case = CASES[name]
    a = {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v)
         for k, v in case.args(shape, np.float32).items()}
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
