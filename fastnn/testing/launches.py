"""Count what a piece of GPU code asks of the host: numba kernel launches,
GEMM calls and CUDA graph launches.

``with count_launches() as n: ...`` then ``n.numba``, ``n.gemm``,
``n.graph``. It patches the lowest level each target has, so dispatched
launches (``kernel[grid, block](...)``) and a plan's pre-bound ones count
alike:

- the simulator: every kernel runs through ``FakeCUDAKernel.__call__``;
  the tiled GEMM kernel counts as a GEMM;
- a GPU: numba hands every launch to ``cuda.core.launch`` as its dispatcher
  module names it (``numba.cuda.dispatcher.launch``; a plan bound inside
  the ``with`` records the patched one, so build plans inside it);
- GEMMs through CuPy: ``cupy.cublas.gemm``, or any engine module passed as
  ``engine`` (the tests' NumPy stand-in for CuPy);
- graphs: ``Plan.replay`` of a captured plan.
"""
import contextlib

__all__ = ["count_launches", "Launches"]

GEMM_KERNELS = ("gemm_kernel",)


class Launches:
    def __init__(self):
        self.numba = self.gemm = self.graph = 0
        self.names = []                  # numba kernels in launch order, where the target tells (simulator)

    def __repr__(self):
        return f"Launches(numba={self.numba}, gemm={self.gemm}, graph={self.graph})"


@contextlib.contextmanager
def count_launches(engine=None, execute=True):
    """Count launches inside the ``with`` (module docstring).

    ``execute=False`` (the simulator only): count without running the
    kernels or GEMMs, so a network of full size is counted in a moment (the
    count does not depend on the data; the results are then garbage).
    """
    from numba import config

    from fastnn.kernels.cuda import _plan
    n = Launches()
    undo = []

    def patch(owner, name, wrapper):
        real = getattr(owner, name)
        setattr(owner, name, wrapper(real))
        undo.append((owner, name, real))

    if not execute and not config.ENABLE_CUDASIM:
        raise ValueError("execute=False needs the simulator (NUMBA_ENABLE_CUDASIM=1)")
    if config.ENABLE_CUDASIM:
        from numba.cuda.simulator.kernel import FakeCUDAKernel, _kernel_context

        def sim(real):
            def call(self, *args):
                if not (self._device or _kernel_context):
                    name = self.fn.__name__
                    if name in GEMM_KERNELS:
                        n.gemm += 1
                    else:
                        n.numba += 1
                        n.names.append(name)
                    if not execute:
                        return None
                return real(self, *args)
            return call
        patch(FakeCUDAKernel, "__call__", sim)
    else:
        from numba.cuda import dispatcher as nd

        def gpu(real):
            def launch(*a, **k):
                n.numba += 1
                return real(*a, **k)
            return launch
        patch(nd, "launch", gpu)

    if engine is None:
        from fastnn.kernels.cuda.dense import _cupy
        engine = _cupy()
    if engine is not None:
        def gemm(real):
            def call(*a, **k):
                n.gemm += 1
                return real(*a, **k) if execute else None
            return staticmethod(call) if isinstance(engine.cublas, type) else call
        patch(engine.cublas, "gemm", gemm)

    def graph(real):
        def replay(self):
            if self.graph is not None:
                n.graph += 1
            return real(self)
        return replay
    patch(_plan.Plan, "replay", graph)
    try:
        yield n
    finally:
        for owner, name, real in reversed(undo):
            setattr(owner, name, real)
