import os

import numpy as np
import pytest

DTYPES = (np.float32, np.float64)


@pytest.fixture(params=DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    return np.dtype(request.param)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# The fuzz suite runs in a child process (tests/test_fuzz.py), where a crash
# is a failed test; collected directly only there, or when asked
# (FASTNN_FUZZ_CHILD=1 pytest tests/fuzz).
collect_ignore = [] if os.environ.get("FASTNN_FUZZ_CHILD") else ["fuzz"]
