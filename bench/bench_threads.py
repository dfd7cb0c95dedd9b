"""Thread scaling of the memory-bound cpu kernels at 10M float32 elements:
the same kernel on 1 and on 2 threads (results are identical either way)."""
import numba
import numpy as np
import pytest

from fastnn.kernels import cpu
from fastnn.testing.cases import CASES, copy_args

SCALING = [("adam_update", (10_000_000,)), ("activation_forward[relu]", (4000, 2500)),
           ("dropout_forward", (4000, 2500)), ("batchnorm_forward_train", (4000, 2500))]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name,shape", SCALING, ids=[n for n, _ in SCALING])
def test_thread_scaling(benchmark, name, shape, threads):
    if threads > numba.config.NUMBA_NUM_THREADS:
        pytest.skip(f"only {numba.config.NUMBA_NUM_THREADS} threads here")
    case = CASES[name]
    args = copy_args(case.args(shape, np.float32))
    previous = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        case.run(cpu, args)
        benchmark.group = f"threads|{name}|{'x'.join(map(str, shape))}|float32"
        benchmark.extra_info.update(backend=f"cpu-{threads}t", case=name, threads=threads,
                                    elements=int(np.prod(shape)), bytes=case.bytes(shape, 4))
        benchmark(case.run, cpu, args)
    finally:
        numba.set_num_threads(previous)
    for out in case.outputs:
        assert np.isfinite(args[out]).all()
