"""The cuda column: registry kernels on device arrays, the device's copy
bandwidth, cuBLAS GEMMs alone, and a device-resident training step against
PyTorch eager on the same GPU.

Groups end in ``|cuda`` so the summary compares GPU rows with the GPU copy
reference (``% bw``: of the best device copy bandwidth in this run) and
dense rows with the cuBLAS GEMMs alone (``vs GEMMs``). Every timed call ends
with ``cuda.synchronize()``. Dense cases run once per GEMM engine: ``tiled``
(numba alone) and ``cublas`` (when CuPy is installed).

Without a GPU this file is skipped; under ``NUMBA_ENABLE_CUDASIM=1`` it runs
each benchmark once on tiny shapes, which checks the harness itself.
"""
import numpy as np
import pytest

import fastnn
from fastnn.testing.cases import CASES

SIM = False
if "cuda" in fastnn.available_backends():
    from numba import config
    SIM = bool(config.ENABLE_CUDASIM)

pytestmark = pytest.mark.skipif("cuda" not in fastnn.available_backends(), reason="no CUDA GPU")

DTYPE = np.dtype(np.float32)
# the GPU targets, beyond the cpu suite's sizes: 100M elements, where
# the per-call host cost (tens of microseconds: Python, launch, synchronize)
# is small beside the kernel, so % bw measures the kernel
EXTRA = {"adam_update": [(100_000_000,)], "dense_forward[relu]": [(1024, 784, 512)],
         "dense_backward[relu]": [(1024, 784, 512)], "dropout_forward": [(10_000, 10_000)],
         "dropout_backward_mask": [(10_000, 10_000)], "batchnorm_forward_train": [(40_000, 2_500)],
         "batchnorm_backward": [(40_000, 2_500)], "softmax_cross_entropy": [(10_000_000, 10)]}
COPY_SIZES = [(5,)] if SIM else [(1_000_000,), (10_000_000,), (100_000_000,)]


def _cupy():
    try:
        import cupy  # noqa: F401
        return True
    except ImportError:
        return False


def _shapes(case):
    return [case.tiny] if SIM else [*case.bench_shapes, *EXTRA.get(case.name, [])]


def _params():
    out = []
    for case in CASES.values():
        if not case.bench_shapes:
            continue
        engines = ["tiled"] + (["cublas"] if _cupy() and not SIM else []) if case.family == "dense" else [None]
        for s in _shapes(case):
            for e in engines:
                out.append(pytest.param(case.name, s, e, id=f"{case.name}-{'x'.join(map(str, s))}-{e or 'k'}"))
    return out


def _group(name, shape):
    return f"{name}|{'x'.join(map(str, shape))}|{DTYPE.name}|cuda"


def _device_args(case, shape):
    from numba import cuda
    return {k: (cuda.to_device(v) if isinstance(v, np.ndarray) else v) for k, v in case.args(shape, DTYPE).items()}


@pytest.mark.parametrize("name,shape,engine", _params())
def test_cuda_kernel(benchmark, name, shape, engine, monkeypatch):
    from numba import cuda

    from fastnn.kernels import cuda as kc
    if benchmark.disabled and tuple(shape) in EXTRA.get(name, ()):
        # a smoke run (plain pytest) checks the harness on the suite's shapes;
        # the 100M rows are gigabytes of device memory per pytest process
        pytest.skip("the issue-size rows run only when timed (--benchmark-enable)")
    if engine:
        monkeypatch.setenv("FASTNN_CUDA_GEMM", engine)
    case = CASES[name]
    args = _device_args(case, shape)

    def call():
        case.run(kc, args)
        cuda.synchronize()
    call()                                              # compile before timing
    benchmark.group = _group(name, shape)
    benchmark.extra_info.update(backend="cuda" if engine in (None, "tiled") else f"cuda-{engine}",
                                case=name, shape=list(shape), elements=int(np.prod(shape)),
                                bytes=case.bytes(shape, DTYPE.itemsize), flops=case.flops(shape))
    benchmark(call)
    for out in case.outputs:
        assert np.isfinite(args[out].copy_to_host()).all(), f"{name}: {out} not written"


@pytest.mark.parametrize("how", ["kernel", "memcpy"])
@pytest.mark.parametrize("shape", COPY_SIZES, ids=lambda s: str(s[0]))
def test_cuda_copy_reference(benchmark, shape, how):
    """Device-to-device copy, the bandwidth the GPU rows are measured against:
    a grid-stride kernel like ours, and the driver's cuMemcpyDtoD (numba's
    ``copy_to_device`` between device arrays). The summary takes the faster."""
    from numba import cuda

    from fastnn.kernels.cuda._launch import grid_1d

    from ._cuda_reference import copy as kernel
    n = shape[0]
    if benchmark.disabled and n > 10_000_000:
        pytest.skip("the 100M copy runs only when timed (--benchmark-enable)")
    a = cuda.to_device(np.arange(n, dtype=DTYPE))
    b = cuda.device_array(n, DTYPE)

    def call():
        if how == "kernel":
            kernel[grid_1d(n)](b, a)
        else:
            b.copy_to_device(a)
        cuda.synchronize()
    call()
    benchmark.group = f"copy|{n}|{DTYPE.name}|cuda"
    benchmark.extra_info.update(backend=f"cuda-copy-{how}", reference="copy", elements=n,
                                bytes=2 * n * DTYPE.itemsize)
    benchmark(call)
    assert np.array_equal(b.copy_to_host(), np.arange(n, dtype=DTYPE))


@pytest.mark.skipif(SIM or not _cupy(), reason="cuBLAS GEMMs need CuPy and a GPU")
@pytest.mark.parametrize("name", ["dense_forward[relu]", "dense_backward[relu]"])
def test_cublas_gemms_alone(benchmark, name):
    """The GEMMs of a dense layer alone (cuBLAS), for the ``vs GEMMs`` column."""
    import cupy
    from numba import cuda
    shape = EXTRA[name][0]
    batch, n_in, n_out = shape
    x = cupy.ones((batch, n_in), DTYPE)
    w = cupy.ones((n_in, n_out), DTYPE)
    dz = cupy.ones((batch, n_out), DTYPE)
    out, dx, dw = cupy.empty((batch, n_out), DTYPE), cupy.empty_like(x), cupy.empty_like(w)

    def call():
        if name.startswith("dense_forward"):
            cupy.cublas.gemm("N", "N", x, w, out=out)
        else:
            cupy.cublas.gemm("T", "N", x, dz, out=dw, beta=1.0)
            cupy.cublas.gemm("N", "T", dz, w, out=dx, beta=1.0)
        cuda.synchronize()
    call()
    benchmark.group = _group(name, shape)
    benchmark.extra_info.update(backend="cuda-gemm-only", reference="gemm")
    benchmark(call)


STEP_NET = [4, 6, 5, 3] if SIM else [784, 512, 256, 10]
STEP_BATCH = 8 if SIM else 1024


def _step_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((STEP_BATCH, STEP_NET[0])).astype(DTYPE)
    y = rng.integers(0, STEP_NET[-1], STEP_BATCH)
    return X, y


def test_cuda_train_step(benchmark):
    """One device-resident step of fit (no host round trip), [784, 512, 256, 10], batch 1024, Adam."""
    from numba import cuda

    from fastnn.training import DeviceBook
    n = STEP_NET
    model = fastnn.Sequential([fastnn.Dense(n[0], n[1], "relu"), fastnn.Dense(n[1], n[2], "relu"),
                               fastnn.Dense(n[2], n[3])], dtype=DTYPE, backend="cuda", seed=0)
    opt = fastnn.Adam(model.parameters(), lr=1e-3)
    X, y = _step_data()
    xb, yb = model._x(X), model._y(y, STEP_BATCH)
    slots = 16 if SIM else 1 << 16
    book = DeviceBook(model, opt, slots, xb, yb)

    def train(xb, yb):                     # the book's data is this one batch
        return book.step(0, xb.shape[0])

    def call():
        if book.b == slots:                # reuse the cost slots on long runs
            book.b = 0
        train(xb, yb)
        cuda.synchronize()
    call()
    benchmark.group = f"train_step|{'-'.join(map(str, n))}|b{STEP_BATCH}|{DTYPE.name}|cuda"
    benchmark.extra_info.update(backend="cuda")
    benchmark(call)
    costs, _, _ = book.read()
    assert np.isfinite(costs).all() and costs.size > 1


PLAN_BATCHES = 4 if SIM else 64       # batches in the plan benchmarks' dataset, read back once per pass


def _plan_bench(benchmark, net, batch, group):
    """One replay of fit's GPU step (``DeviceStep``) per round, the device
    synchronised after it: a dataset of PLAN_BATCHES batches, its costs
    read back (and the batch counter reset) once per pass over it."""
    from numba import cuda

    from fastnn.device_step import DeviceStep
    layers = [fastnn.Dense(a, b, "relu" if i < len(net) - 2 else None) for i, (a, b) in enumerate(zip(net, net[1:]))]
    loss = "softmax_cross_entropy" if net[-1] > 1 else "binary_cross_entropy"
    model = fastnn.Sequential(layers, loss=loss, dtype=DTYPE, backend="cuda", seed=0)
    opt = fastnn.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    m = batch * PLAN_BATCHES
    X = rng.standard_normal((m, net[0])).astype(DTYPE)
    y = rng.integers(0, net[-1], m) if net[-1] > 1 else (rng.random((m, 1)) < 0.5).astype(DTYPE)
    trainer = DeviceStep(model, opt, model._x(X), model._y(y, m), batch)
    trainer.epoch(None)
    state = {"b": 0}

    def call():
        if state["b"] == PLAN_BATCHES:
            trainer.read()
            trainer.epoch(None)
            state["b"] = 0
        start = state["b"] * batch
        trainer.step(start, start + batch)
        state["b"] += 1
        cuda.synchronize()
    call()
    benchmark.group = group
    benchmark.extra_info.update(backend="cuda-plan", mode=trainer.plan(batch).mode,
                                launches=trainer.plan(batch).counts)
    benchmark(call)
    costs, _, _ = trainer.read()
    assert np.isfinite(costs).all()


def test_cuda_train_step_plan(benchmark):
    """fit's GPU step as a replayed launch plan (a CUDA graph with CuPy), the MLP of test_cuda_train_step."""
    _plan_bench(benchmark, STEP_NET, STEP_BATCH,
                f"train_step|{'-'.join(map(str, STEP_NET))}|b{STEP_BATCH}|{DTYPE.name}|cuda")


TINY_NET, TINY_BATCH = [2, 20, 7, 5, 1], 64


def test_cuda_train_step_plan_tiny(benchmark):
    """The course-sized net's step, [2, 20, 7, 5, 1] at batch 64: host cost alone (target: under 30 us)."""
    _plan_bench(benchmark, TINY_NET, 8 if SIM else TINY_BATCH,
                f"train_step|{'-'.join(map(str, TINY_NET))}|b{TINY_BATCH}|{DTYPE.name}|cuda")


def _torch_step(compiled):
    """PyTorch's step of the STEP_NET MLP on the GPU, eager or with its
    forward and backward under ``torch.compile`` (the default mode); a
    call is one synchronised step, already run once."""
    torch = pytest.importorskip("torch")
    if SIM or not torch.cuda.is_available():
        pytest.skip("PyTorch without CUDA")
    nn = torch.nn
    n = STEP_NET
    tm = nn.Sequential(nn.Linear(n[0], n[1]), nn.ReLU(), nn.Linear(n[1], n[2]), nn.ReLU(),
                       nn.Linear(n[2], n[3])).cuda()
    opt = torch.optim.Adam(tm.parameters(), lr=1e-3)
    X, y = _step_data()
    xt, yt = torch.from_numpy(X).cuda(), torch.from_numpy(y).cuda()
    lossf = nn.CrossEntropyLoss()

    def fwd_bwd(xb, yb):
        loss = lossf(tm(xb), yb)
        loss.backward()
        return loss
    if compiled:
        fwd_bwd = torch.compile(fwd_bwd)

    def call():
        opt.zero_grad()
        fwd_bwd(xt, yt)
        opt.step()
        torch.cuda.synchronize()
    try:
        call()
    except Exception as exc:      # noqa: BLE001 - torch.compile without a compiler toolchain, for one
        if not compiled:
            raise
        pytest.skip(f"torch.compile failed here: {type(exc).__name__}: {exc}"[:200])
    return call


@pytest.mark.parametrize("compiled", [False, True], ids=["torch-cuda", "torch-compile"])
def test_cuda_train_step_torch(benchmark, compiled):
    """PyTorch's step, eager and with ``torch.compile`` (skipped when it does not compile here)."""
    call = _torch_step(compiled)
    benchmark.group = f"train_step|{'-'.join(map(str, STEP_NET))}|b{STEP_BATCH}|{DTYPE.name}|cuda"
    benchmark.extra_info.update(backend="torch-compile" if compiled else "torch-cuda")
    benchmark(call)
