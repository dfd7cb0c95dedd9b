"""dropout: ref (NumPy) vs cpu over the registry's benchmark shapes (float32)."""
import numpy as np
import pytest

from fastnn.testing.cases import CASES, copy_args

from .conftest import BACKENDS, bench_params, run_case

FAMILY = [c for c in CASES.values() if c.family == "dropout"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name,shape", bench_params(FAMILY))
def test_dropout(benchmark, name, shape, backend):
    run_case(benchmark, CASES[name], shape, np.float32, backend)


@pytest.mark.parametrize("name,shape", bench_params([CASES["dropout_forward"]]))
def test_dropout_torch(benchmark, name, shape):
    torch = pytest.importorskip("torch")
    case = CASES[name]
    x = torch.from_numpy(copy_args(case.args(shape, np.float32))["x"])
    assert torch.isfinite(torch.nn.functional.dropout(x, p=0.2, training=True)).all()
    benchmark.group = f"{case.name}|{'x'.join(map(str, shape))}|float32"
    benchmark.extra_info.update(backend="torch", case=name, elements=int(np.prod(shape)),
                                bytes=case.bytes(shape, 4))
    benchmark(torch.nn.functional.dropout, x, p=0.2, training=True)
