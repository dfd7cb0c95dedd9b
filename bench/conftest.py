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
    benchmark.group = f"{case.name}|{'x'.join(map(str, shape))}|{dt.name}"
    benchmark.extra_info.update(backend=backend, case=case.name, shape=list(shape),
                                elements=int(np.prod(shape)),
                                bytes=case.bytes(shape, dt.itemsize), flops=case.flops(shape))
    benchmark(case.run, mod, args)
    for name in case.outputs:
        assert np.isfinite(args[name]).all(), f"{case.name}: {name} not written"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """After timed runs: GB/s, % of the best bandwidth reference of the same
    size measured in this run (see _reference.py), and speedup vs ref."""
    session = getattr(config, "_benchmarksession", None)
    if session is None or session.disabled or not session.benchmarks:
        return
    rows = []
    copy = {}
    ref = {}
    for b in session.benchmarks:
        info = b.extra_info
        if "bytes" not in info or b.stats is None:
            continue
        median = b.stats.median
        gbs = info["bytes"] / median / 1e9
        rows.append((b.group, info.get("backend", "?"), median, gbs, info.get("elements")))
        if info.get("reference"):
            copy[info["elements"]] = max(gbs, copy.get(info["elements"], 0.0))
        if info.get("backend") == "ref":
            ref[b.group] = median
    if not rows:
        return
    tr = terminalreporter
    tr.write_sep("-", "fastnn: achieved bandwidth (bytes moved / median time)")
    tr.write_line(f"{'group':<44}{'backend':<13}{'median':>12}{'GB/s':>8}{'% bw':>8}{'vs ref':>8}")
    for group, backend, median, gbs, n in sorted(rows):
        pct = f"{100 * gbs / copy[n]:.0f}%" if n in copy else ""
        speed = f"{ref[group] / median:.1f}x" if group in ref else ""
        tr.write_line(f"{group:<44}{backend:<13}{median * 1e3:>10.3f}ms{gbs:>8.1f}{pct:>8}{speed:>8}")
