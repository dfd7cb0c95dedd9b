"""losses: ref (NumPy) vs cpu over the registry's benchmark shapes (float32)."""
import numpy as np
import pytest

from fastnn.testing.cases import CASES

from .conftest import BACKENDS, bench_params, run_case

FAMILY = [c for c in CASES.values() if c.family == "losses"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name,shape", bench_params(FAMILY))
def test_losses(benchmark, name, shape, backend):
    run_case(benchmark, CASES[name], shape, np.float32, backend)
