"""Activations and losses: ref (NumPy) vs cpu, 1K to 10M elements."""
import numpy as np
import pytest

from fastnn.cases import CASES

from .conftest import BACKENDS, bench_params, run_case

ELEMENTWISE = [c for c in CASES.values() if c.family in ("activations", "losses")]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name,shape", bench_params(ELEMENTWISE))
def test_elementwise(benchmark, name, shape, backend):
    run_case(benchmark, CASES[name], shape, np.float32, backend)
