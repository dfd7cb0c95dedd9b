"""Launch plans: a sequence of kernel launches and GEMMs bound once, replayed.

A GPU step of a small network is mostly host time: each numba launch
types its arguments, looks up its overload and packs its arguments before
the driver sees it, and each CuPy GEMM wraps its arrays. A ``Plan`` does
that work once. Its launches read everything that changes from one step to
the next (the batch's index, the optimizer's t, dropout offsets) from device
buffers that the step itself advances, so the same launches, with the same
arguments, are valid for every step. Three ways to replay:

- ``bound`` (a GPU): each numba launch keeps its compiled kernel, launch
  configuration and packed argument list, and replay hands them straight to
  the driver (``cuda.core.launch``); GEMMs keep their CuPy arrays.
- ``graph`` (a GPU with CuPy): the bound launches captured once into a CUDA
  graph on the plan's own stream; a replay is one graph launch.
- ``simulator`` (``NUMBA_ENABLE_CUDASIM=1``): the launches called one by
  one through numba's dispatcher, which the simulator runs in Python.

``Plan.counts`` says what a replay costs in host calls: numba launches,
GEMM calls (cuBLAS, or the tiled GEMM kernel) and graph launches.
"""
import os
import warnings

from numba import cuda

from ._launch import SIMULATOR


class _Launch:
    """One numba kernel launch with everything bound; ``gemm``: the kernel
    is a GEMM (the tiled one), counted with the GEMMs."""

    __slots__ = ("kernel", "grid", "block", "args", "stream", "gemm", "_packed")

    def __init__(self, kernel, grid, block, args, stream, gemm):
        self.kernel, self.grid, self.block, self.args, self.stream = kernel, grid, block, args, stream
        self.gemm = gemm
        self._packed = None

    def bind(self):
        """Compile for these arguments and pack them once (a GPU only)."""
        if SIMULATOR:
            return
        self._packed = _pack(self.kernel, self.grid, self.block, self.args, self.stream)

    def __call__(self):
        if self._packed is not None:
            launch, call = self._packed
            launch(*call)
        else:
            self.kernel[self.grid, self.block, self.stream](*self.args)


class _Gemm:
    """One GEMM (cuBLAS through CuPy, or the tiled kernel): a closure."""

    __slots__ = ("fn",)
    gemm = True

    def __init__(self, fn):
        self.fn = fn

    def bind(self):
        pass

    def __call__(self):
        self.fn()


def _pack(dispatcher, grid, block, args, stream):
    """(launch, its arguments): numba's own launch of ``args`` recorded once.

    The dispatcher compiles (or finds) the kernel for the arguments' types,
    and its ``launch`` prepares the packed argument list and launch
    configuration, then calls ``cuda.core.launch``. Recording that call,
    with ``launch`` swapped for a recorder, gives exactly what this
    numba-cuda version would pass, without launching; a replay passes it
    again. Device arrays among ``args`` are kept alive by the plan.
    """
    from numba.cuda import dispatcher as nd
    from numba.cuda.cudadrv import driver
    kernel = dispatcher.compile(tuple(dispatcher.typeof_pyval(a) for a in args))
    grid, block = nd.normalize_kernel_dimensions(grid, block)   # as a dispatched launch does
    if getattr(kernel, "debug", False):
        return None                       # debug kernels read an error flag back after each launch
    recorded = []
    real = nd.launch
    nd.launch = lambda *call: recorded.append(call)
    try:
        kernel.launch(args, grid, block, driver._to_core_stream(stream), 0)
    finally:
        nd.launch = real
    if len(recorded) != 1:
        return None
    return real, recorded[0]


class Plan:
    """Launches and GEMMs in order, bound once and replayed.

    Build with ``launch`` and ``gemm``, then ``finish()``; ``replay()``
    runs the step. ``streams``: None for the legacy default stream, or
    ``capture_stream()``'s pair when the plan is to become a CUDA graph.
    """

    def __init__(self, streams=None):
        self.stream, self.cupy_stream = (0, None) if streams is None else streams
        self.steps = []
        self.graph = None
        self.mode = "simulator" if SIMULATOR else "bound"
        self._capture_next = False

    def launch(self, kernel, config, *args, gemm=False):
        """Add ``kernel[config](*args)``; config is (grid, block)."""
        grid, block = config
        self.steps.append(_Launch(kernel, grid, block, args, self.stream, gemm))

    def gemm(self, fn):
        """Add a GEMM: ``fn()`` issues it (on the current CuPy stream)."""
        self.steps.append(_Gemm(fn))

    def finish(self):
        """Bind every launch. A plan built on ``capture_stream()``'s
        streams is captured into a CUDA graph after its first replay (which
        compiles and warms up what a capture must not do)."""
        for s in self.steps:
            s.bind()
        self._capture_next = self.cupy_stream is not None and not SIMULATOR
        return self

    def replay(self):
        """One step: one graph launch, or every launch in order."""
        if self.graph is not None:
            self.graph.launch(self.cupy_stream)
            return
        if self.cupy_stream is None:
            self._run()
            return
        with self.cupy_stream:
            self._run()
        if self._capture_next:
            self._capture_next = False
            try:
                self.graph = _capture(self)
                self.mode = "graph"
            except Exception as exc:     # noqa: BLE001 - any capture failure falls back, loudly
                warnings.warn(f"CUDA graph capture failed ({type(exc).__name__}: {exc}); "
                              "replaying the bound launches instead", RuntimeWarning, stacklevel=2)

    def _run(self):
        for s in self.steps:
            s()

    def synchronize(self):
        """Wait for the plan's stream (before reading what it wrote on
        another stream, or the host)."""
        if self.cupy_stream is not None:
            self.cupy_stream.synchronize()

    @property
    def counts(self):
        """Host calls per replay: {"numba": ..., "gemm": ..., "graph": ...}."""
        if self.graph is not None:
            return {"numba": 0, "gemm": 0, "graph": 1}
        gemms = sum(s.gemm for s in self.steps)
        return {"numba": len(self.steps) - gemms, "gemm": gemms, "graph": 0}


class _Now:
    """A plan's building interface that runs each launch and GEMM at once:
    the layer-by-layer launchers use the same builders as the plans."""

    def launch(self, kernel, config, *args, gemm=False):
        kernel[config](*args)

    def gemm(self, fn):
        fn()


NOW = _Now()


def graphs_wanted():
    """Whether a plan on this machine should be captured into a CUDA graph:
    CuPy imports, a real GPU, and ``FASTNN_CUDA_GRAPH`` is not ``0``."""
    if SIMULATOR or os.environ.get("FASTNN_CUDA_GRAPH", "1") == "0":
        return False
    from .dense import _cupy
    return _cupy() is not None


def capture_stream():
    """(numba stream, CuPy stream) on one non-blocking CUDA stream: a graph
    cannot be captured on the legacy default stream. The plan's launches go
    to the numba view, its GEMMs to CuPy's (``with cupy_stream:``)."""
    import cupy
    cs = cupy.cuda.Stream(non_blocking=True)
    return cuda.external_stream(cs.ptr), cs


def _capture(plan):
    """The plan's launches captured (not run) into a CUDA graph on its stream."""
    cs = plan.cupy_stream
    cs.synchronize()
    with cs:
        cs.begin_capture()
        try:
            plan._run()
        finally:
            graph = cs.end_capture()
    return graph
