"""Fused optimizer updates at 1K, 1M and 10M float32 parameters: ref vs cpu,
vs torch.optim.Adam(fused=True) when torch is installed, next to the copy
and triad bandwidth of this machine measured in the same run."""
import numpy as np
import pytest

from fastnn.testing.cases import CASES, copy_args

from . import _reference
from .conftest import BACKENDS, bench_params, interleaved, run_case

OPTIM = [c for c in CASES.values() if c.family == "optim" and c.bench_shapes]
SIZES = sorted({s[0] for c in OPTIM for s in c.bench_shapes})


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name,shape", bench_params(OPTIM))
def test_optim(benchmark, name, shape, backend):
    run_case(benchmark, CASES[name], shape, np.float32, backend)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("kind", ["copy", "triad", "axpy"])
def test_bandwidth(benchmark, kind, n):
    a = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    b, c = np.empty_like(a), a.copy()
    if kind == "copy":
        fn, args, arrays = _reference.copy, (b, a), 2
    elif kind == "triad":
        fn, args, arrays = _reference.triad, (b, a, c, np.float32(0.5)), 3
    else:
        b[...] = a
        fn, args, arrays = _reference.axpy, (b, c, np.float32(1e-30)), 3
    fn(*args)
    benchmark.group = f"bandwidth|{n}|float32"
    benchmark.extra_info.update(backend=kind, reference=kind, elements=n, bytes=arrays * 4 * n)
    benchmark(fn, *args)
    assert np.isfinite(b).all() and (kind != "copy" or np.array_equal(b, a))


def _torch_fused_adam(a):
    """torch.optim.Adam(fused=True) over a case's p and g (shared memory), or a skip."""
    torch = pytest.importorskip("torch")
    p = torch.nn.Parameter(torch.from_numpy(a["p"]))
    p.grad = torch.from_numpy(a["g"])
    try:
        opt = torch.optim.Adam([p], lr=1e-3, fused=True)
        opt.step()
    except RuntimeError as exc:                       # fused needs a torch build that has it on CPU
        pytest.skip(f"torch fused Adam unavailable on CPU: {exc}")
    return p, opt


@pytest.mark.parametrize("n", SIZES)
def test_adam_torch_fused(benchmark, n):
    case = CASES["adam_update"]
    a = copy_args(case.args((n,), np.float32))
    p, opt = _torch_fused_adam(a)
    benchmark.group = f"adam_update|{n}|float32"
    benchmark.extra_info.update(backend="torch-fused", case="adam_update", elements=n, bytes=case.bytes((n,), 4))
    benchmark(opt.step)
    assert np.isfinite(a["p"]).all()                    # p is a view of a["p"]


@pytest.mark.parametrize("n", SIZES)
def test_adam_vs_torch_fused_interleaved(benchmark, n):
    """The target's ratio, fastnn's Adam / torch's fused Adam, with both
    timed in each round (separate buffers of the same size and values)."""
    import fastnn.kernels.cpu as cpu
    case = CASES["adam_update"]
    ours = copy_args(case.args((n,), np.float32))
    p, opt = _torch_fused_adam(copy_args(case.args((n,), np.float32)))
    interleaved(benchmark, f"interleaved|adam_update|{n}|float32", lambda: case.run(cpu, ours), opt.step, "torch-fused")
