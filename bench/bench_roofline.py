"""Every memory-bound cpu kernel at 1M and 10M elements as a fraction of the
machine's bandwidth, each timed in alternation with the bandwidth reference.

The main tables divide a kernel's GB/s by the best reference's GB/s, each a
median taken at a different moment of the run; on a shared machine the two
can land in different phases (a copy of 10M floats took 1.2 ms in one phase
and 2.8 ms in another), which moves the fraction by 2x. Here each round
times a block of the kernel and a block of the reference back to back
(``conftest.interleaved``), so the fraction is

    % bw = (kernel bytes / reference bytes) / median(kernel time / reference time)

The reference is the in-place axpy ``a += s*b`` over as many float32
elements as the kernel has (3 arrays counted): it moves no traffic that
STREAM's count leaves out, and it is the fastest of copy, triad and axpy at
1M and 10M elements in every full run so far (``bench/results/bench.md``).
A kernel's bytes are the ones its op must move (``fastnn.testing.cases``), not what
it actually moves: a second read of x, or a write-allocate of a fresh output,
counts against it.
"""
import numpy as np
import pytest

from fastnn.testing.cases import CASES, copy_args

from . import _reference
from .conftest import interleaved

MEMORY_BOUND = ("activations", "dropout", "batchnorm", "losses", "optim", "regularization")
MIN_ELEMENTS = 1_000_000     # the target's "at >= 1M elements"
AXPY_ARRAYS = 3


def _params():
    return [pytest.param(c.name, s, id=f"{c.name}-{'x'.join(map(str, s))}")
            for c in CASES.values() if c.family in MEMORY_BOUND
            for s in c.bench_shapes if int(np.prod(s)) >= MIN_ELEMENTS]


@pytest.mark.parametrize("name,shape", _params())
def test_roofline(benchmark, name, shape):
    import fastnn.kernels.cpu as cpu
    case = CASES[name]
    args = copy_args(case.args(shape, np.float32))
    n = int(np.prod(shape))
    a = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    b = a.copy()
    s = np.float32(1e-30)            # a stays finite however many rounds run
    interleaved(benchmark, f"roofline|{case.name}|{'x'.join(map(str, shape))}|float32",
                lambda: case.run(cpu, args), lambda: _reference.axpy(a, b, s), "axpy")
    pair = benchmark.extra_info["interleaved"]
    pair.update(bytes=case.bytes(shape, 4), against_bytes=AXPY_ARRAYS * 4 * n)
    for out in case.outputs:
        assert np.isfinite(args[out]).all(), f"{name}: {out} not finite after the timed rounds"
    assert np.isfinite(a).all()
