"""Dropout, batch norm and the L2/L1 penalties: ref (NumPy) vs cpu, and
torch's forward ops when torch is installed."""
import numpy as np
import pytest

from fastnn.cases import CASES

from .conftest import BACKENDS, bench_params, run_case

FAMILIES = [c for c in CASES.values() if c.family in ("dropout", "batchnorm", "regularization")]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name,shape", bench_params(FAMILIES))
def test_regularization(benchmark, name, shape, backend):
    run_case(benchmark, CASES[name], shape, np.float32, backend)


TORCH_OPS = ("dropout_forward", "batchnorm_forward_train", "batchnorm_forward_eval")


@pytest.mark.parametrize("name,shape", bench_params([CASES[n] for n in TORCH_OPS]))
def test_regularization_torch(benchmark, name, shape):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F
    case = CASES[name]
    a = {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v)
         for k, v in case.args(shape, np.float32).items()}
    if name == "dropout_forward":
        def step():
            return F.dropout(a["x"], p=0.2, training=True)
    else:
        rm, rv = a["running_mean"].float(), a["running_var"].float()
        training = name.endswith("train")

        def step():
            return F.batch_norm(a["x"], rm, rv, a["gamma"], a["beta"], training=training,
                                momentum=0.1, eps=1e-5)
    assert torch.isfinite(step()).all()
    benchmark.group = f"{case.name}|{'x'.join(map(str, shape))}|float32"
    benchmark.extra_info.update(backend="torch", case=name, bytes=case.bytes(shape, 4), flops=case.flops(shape))
    benchmark(step)
