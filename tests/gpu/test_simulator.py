"""The simulator fix in ``kernels/cuda/_launch.py``: one shared array per
call site and block, even when threads switch mid-allocation.

Runs without a GPU and without the simulator enabled: it drives a subclass
of the simulator's shared-memory allocator from plain Python threads.
"""
import threading
import time
import types

import numba
import numpy as np
import pytest

kernelapi = pytest.importorskip("numba.cuda.simulator.kernelapi")

from fastnn.kernels.cuda import _launch  # noqa: E402

THREADS = 8


def _allocate_from_threads(shared, monkeypatch):
    # np.empty that sleeps: every thread is switched out between looking up
    # the call site and storing its array, the window of the race
    slow = types.SimpleNamespace(**{k: getattr(np, k) for k in ("dtype", "float32", "float64")})
    slow.empty = lambda *a, **k: (time.sleep(0.002), np.empty(*a, **k))[1]
    monkeypatch.setattr(_launch, "np", slow)
    start = threading.Barrier(THREADS)
    got = [None] * THREADS

    def thread(t):
        start.wait()
        a = shared.array(4, np.float64)
        b = shared.array((2, 3), np.float32)
        got[t] = (a, b)

    workers = [threading.Thread(target=thread, args=(t,)) for t in range(THREADS)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return got


def test_shared_array_is_one_per_call_site_across_thread_switches(monkeypatch):
    class Shared(kernelapi.FakeCUDAShared):
        pass

    _launch.atomic_shared_arrays(Shared)
    got = _allocate_from_threads(Shared(0), monkeypatch)
    firsts = {id(a) for a, _ in got}
    seconds = {id(b) for _, b in got}
    assert len(firsts) == 1 and len(seconds) == 1, "threads of a block got different shared arrays"
    a, b = got[0]
    assert a is not b                                   # call sites stay distinct
    assert a.shape == (4,) and a.dtype == np.float64
    assert b.shape == (2, 3) and b.dtype == np.float32


def test_patch_is_applied_once(monkeypatch):
    class Shared(kernelapi.FakeCUDAShared):
        pass

    _launch.atomic_shared_arrays(Shared)
    patched = Shared.array
    _launch.atomic_shared_arrays(Shared)
    assert Shared.array is patched


def test_dynamic_shared_memory_keeps_the_original_path():
    class Shared(kernelapi.FakeCUDAShared):
        pass

    _launch.atomic_shared_arrays(Shared)
    s = Shared(64)
    a = s.array(0, numba.float32)
    assert a.size == 16 and np.shares_memory(a, s.array(0, numba.float64))
