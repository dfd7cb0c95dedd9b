import os
import sys

import pytest

SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"

if SIMULATOR:
    # The simulator runs each GPU thread as a Python thread and polls them
    # from the main thread; with the default 5 ms GIL switch interval every
    # handoff waits out the interval. 0.1 ms makes the run ~7x faster.
    sys.setswitchinterval(1e-4)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/gpu" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.cuda)
