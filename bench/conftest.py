"""Shared benchmark harness over fastnn.testing.cases.

``pytest bench --benchmark-enable`` times every case; in the normal test run
(``--benchmark-disable`` in pyproject) each benchmark runs once as a smoke
test. Groups are ``op|shape|dtype`` with the backend as the parameter, so
pytest-benchmark's table compares backends within a group; ``extra_info``
carries bytes and FLOPs per call for GB/s and GFLOP/s.
"""
import importlib
import time

import numpy as np
import pytest

from fastnn.testing.cases import copy_args

BACKENDS = ["ref", "cpu"]


def bench_params(cases):
    """(case name, shape) pairs for every case with benchmark shapes."""
    return [pytest.param(c.name, s, id=f"{c.name}-{'x'.join(map(str, s))}")
            for c in cases for s in c.bench_shapes]


def run_case(benchmark, case, shape, dtype, backend):
    """Time one registry case on one backend; check it wrote its outputs."""
    dt = np.dtype(dtype)
    mod = importlib.import_module(f"fastnn.kernels.{backend}")
    args = copy_args(case.args(shape, dt))
    case.run(mod, args)                               # compile before timing
    benchmark.group = f"{case.name}|{'x'.join(map(str, shape))}|{dt.name}"
    benchmark.extra_info.update(backend=backend, case=case.name, shape=list(shape),
                                elements=int(np.prod(shape)),
                                bytes=case.bytes(shape, dt.itemsize), flops=case.flops(shape))
    benchmark(case.run, mod, args)
    for name in case.outputs:
        assert np.isfinite(args[name]).all(), f"{case.name}: {name} not written"


CALIBRATION_PAIRS = 5   # fn + other pairs timed to size the blocks (the fastest counts)


def interleaved(benchmark, group, fn, other, against, budget=2.0, block=2e-3, backend="cpu"):
    """Time ``fn`` against ``other`` in alternation; record the median ratio.

    A head-to-head claim ("at least as fast as", "at most 1.15x") is a ratio,
    and on a shared machine two benchmarks timed one after the other can land
    in different slow or fast phases. Here every round times a block of each
    back to back, in alternating order, so a phase moves both sides of a
    round alike; the claim is the median over rounds of time(fn) /
    time(other), stored as ``extra_info["interleaved"]`` (``fastnn.bench``
    reports it in its own table). Blocks repeat a call until they last about
    ``block`` seconds; rounds fill about ``budget`` seconds. With benchmarks
    disabled (the test run) one round of single calls runs as a smoke test.
    ``backend`` names ``fn`` in the report.
    """
    fn()
    other()                                            # compiled and warm
    pair = float("inf")
    for _ in range(CALIBRATION_PAIRS):
        # the fastest of a few pairs sizes the blocks: one slow first pair (a
        # page fault, a thread pool waking) had left 41-48 rounds where
        # hundreds fit
        t0 = time.perf_counter()
        fn()
        other()
        pair = min(pair, time.perf_counter() - t0)
    calls = max(1, int(block / max(pair / 2, 1e-9)))
    rounds = max(10, min(500, int(budget / max(pair * calls, 1e-9))))
    ratios = []

    def timed(f):
        t = time.perf_counter()
        for _ in range(calls):
            f()
        return time.perf_counter() - t

    def one_round():
        if len(ratios) % 2:
            b = timed(other)
            a = timed(fn)
        else:
            a = timed(fn)
            b = timed(other)
        ratios.append(a / b)

    benchmark.group = group
    benchmark.extra_info.update(backend=f"{backend} vs {against}")
    benchmark.pedantic(one_round, rounds=rounds, iterations=1)
    ratio = float(np.median(ratios))
    benchmark.extra_info["interleaved"] = {"against": against, "ratio": ratio, "rounds": len(ratios),
                                           "calls": calls}
    assert np.isfinite(ratio) and ratio > 0
    return ratio


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """After timed runs: GB/s, % of the best bandwidth reference of the same
    size measured in this run, speedup vs ref, ratio to the GEMMs alone
    (``fastnn.bench.summarize``, which also writes the Markdown report)."""
    session = getattr(config, "_benchmarksession", None)
    if session is None or session.disabled or not session.benchmarks:
        return
    from fastnn.bench import head_to_head, jit_costs, ratio_text, summarize
    records = [{"group": b.group, "median": b.stats.median, "extra_info": b.extra_info}
               for b in session.benchmarks if b.stats is not None]
    tr = terminalreporter
    tr.write_sep("-", "fastnn: achieved bandwidth (bytes moved / median time)")
    tr.write_line(f"{'group':<46}{'backend':<13}{'median':>12}{'GB/s':>8}{'% bw':>7}{'vs ref':>8}{'vs GEMMs':>9}")
    for group, backend, median, gbs, pct, speed, vs_gemm, _ in summarize(records):
        cells = [f"{gbs:.1f}" if gbs is not None else "", f"{pct:.0f}%" if pct is not None else "",
                 f"{speed:.1f}x" if speed is not None else "", f"{vs_gemm:.2f}x" if vs_gemm is not None else ""]
        tr.write_line(f"{group:<46}{backend:<13}{median * 1e3:>10.3f}ms{cells[0]:>8}{cells[1]:>7}"
                      f"{cells[2]:>8}{cells[3]:>9}")
    pairs = head_to_head(records)
    if pairs:
        tr.write_sep("-", "fastnn: head to head, timed in alternation (median time ratio; < 1 is faster)")
        for group, backend, against, ratio, rounds, pct in pairs:
            bw = f"  {pct:4.0f}% bw" if pct is not None else ""
            tr.write_line(f"{group:<52}{backend:<8} vs {against:<14}{ratio_text(ratio):>9}  ({rounds} rounds){bw}")
    jit = jit_costs(records)
    if jit:
        tr.write_sep("-", "fastnn: JIT cost (fresh processes)")
        for name, seconds, _ in jit:
            tr.write_line(f"{name:<80}{seconds:>8.2f} s")
