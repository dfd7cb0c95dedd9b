"""Shared benchmark harness over fastnn.cases.

``pytest bench --benchmark-enable`` times every case; in the normal test run
(``--benchmark-disable`` in pyproject) each benchmark runs once as a smoke
test. Groups are ``op|shape|dtype`` with the backend as the parameter, so
pytest-benchmark's table compares backends within a group; ``extra_info``
carries bytes and FLOPs per call for GB/s and GFLOP/s.
"""
import importlib

import numpy as np
import pytest

from fastnn.cases import _copy_args

BACKENDS = ["ref", "cpu"]


def bench_params(cases):
    """(case name, shape) pairs for every case with benchmark shapes."""
    return [pytest.param(c.name, s, id=f"{c.name}-{'x'.join(map(str, s))}")
            for c in cases for s in c.bench_shapes]


def run_case(benchmark, case, shape, dtype, backend):
    """Time one registry case on one backend; check it wrote its outputs."""
    dt = np.dtype(dtype)
    mod = importlib.import_module(f"fastnn.kernels.{backend}")
    args = _copy_args(case.args(shape, dt))
    case.run(mod, args)                               # compile before timing
    benchmark.group = f"{case.op}|{'x'.join(map(str, shape))}|{dt.name}"
    benchmark.extra_info.update(backend=backend, case=case.name, shape=list(shape),
                                bytes=case.bytes(shape, dt.itemsize), flops=case.flops(shape))
    benchmark(case.run, mod, args)
    for name in case.outputs:
        assert np.isfinite(args[name]).all(), f"{case.name}: {name} not written"
