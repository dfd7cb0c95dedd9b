"""batchnorm: ref (NumPy) vs cpu over the registry's benchmark shapes (float32)."""
import numpy as np
import pytest

from fastnn.testing.cases import CASES, copy_args

from .conftest import BACKENDS, bench_params, run_case

FAMILY = [c for c in CASES.values() if c.family == "batchnorm"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name,shape", bench_params(FAMILY))
def test_batchnorm(benchmark, name, shape, backend):
    run_case(benchmark, CASES[name], shape, np.float32, backend)


@pytest.mark.parametrize("name,shape", bench_params([CASES["batchnorm_forward_train"],
                                                     CASES["batchnorm_forward_eval"]]))
def test_batchnorm_torch(benchmark, name, shape):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F
    case = CASES[name]
    a = {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v)
         for k, v in copy_args(case.args(shape, np.float32)).items()}
    rm, rv = a["running_mean"].float(), a["running_var"].float()
    training = name.endswith("train")

    def step():
        return F.batch_norm(a["x"], rm, rv, a["gamma"], a["beta"], training=training, momentum=0.1, eps=1e-5)

    assert torch.isfinite(step()).all()
    benchmark.group = f"{case.name}|{'x'.join(map(str, shape))}|float32"
    benchmark.extra_info.update(backend="torch", case=name, elements=int(np.prod(shape)), bytes=case.bytes(shape, 4))
    benchmark(step)
