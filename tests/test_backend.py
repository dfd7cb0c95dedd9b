"""Backend selection and dispatch."""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn import testing


def test_default_is_cpu_and_available():
    assert fastnn.get_backend() == "cpu"
    assert fastnn.available_backends()[:2] == ["ref", "cpu"]


def test_set_and_use_backend():
    x = np.random.default_rng(0).standard_normal((5, 3))
    with fastnn.use_backend("ref"):
        assert fastnn.get_backend() == "ref"
        a = fastnn.activation_forward(x, "tanh")
    assert fastnn.get_backend() == "cpu"
    fastnn.set_backend("ref")
    try:
        b = fastnn.activation_forward(x, "tanh")
    finally:
        fastnn.set_backend("cpu")
    testing.assert_close(a, np.tanh(x))
    testing.assert_close(b, np.tanh(x))


@pytest.mark.skipif("cuda" in fastnn.available_backends(), reason="a GPU is present")
def test_cuda_without_gpu_says_how_to_get_it():
    with pytest.raises(RuntimeError, match=r"pip install 'fastnn-numba\[cuda\]'.*NUMBA_ENABLE_CUDASIM"):
        fastnn.dense_forward(np.ones((2, 2)), np.ones((2, 2)), backend="cuda")
    with pytest.raises(RuntimeError, match="NVIDIA GPU"):
        fastnn.set_backend("cuda")
    assert fastnn.get_backend() == "cpu"


def test_env_default_and_import_compiles_nothing():
    code = ("import fastnn, sys; print(fastnn.get_backend()); "
            "print(any(m.startswith('numba') for m in sys.modules))")
    env = dict(os.environ, FASTNN_BACKEND="ref")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["ref", "False"]
    bad = subprocess.run([sys.executable, "-c", "import fastnn"], env=dict(os.environ, FASTNN_BACKEND="tpu"),
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "backend must be one of" in bad.stderr


def test_second_call_adds_no_specialisation():
    """Calling through the API twice with the same dtypes compiles nothing new."""
    from fastnn.kernels import cpu
    rng = np.random.default_rng(0)
    dispatchers = [cpu.dense.dense_forward, cpu.dense.dense_backward,
                   cpu.activations.activation_forward, cpu.activations.activation_backward,
                   cpu.losses.softmax_cross_entropy, cpu.losses.binary_cross_entropy,
                   cpu.losses.mean_squared_error, cpu.losses.softmax_forward]

    def calls(dt, batch):
        x = rng.standard_normal((batch, 3)).astype(dt)
        w = rng.standard_normal((3, 4)).astype(dt)
        for act in ("relu", "leaky_relu", "sigmoid"):
            out = fastnn.dense_forward(x, w, np.zeros(4, dt), act, alpha=0.2)
            fastnn.dense_backward(np.ones_like(out), x, w, out, act, alpha=0.3)
            fastnn.dense_backward(np.ones_like(out), x, w, out, act, bias=False)
            a = fastnn.activation_forward(x, act, alpha=0.5)
            fastnn.activation_backward(np.ones_like(a), a, act)
        fastnn.softmax_cross_entropy(out, np.arange(batch) % 4)
        fastnn.binary_cross_entropy(out, np.ones_like(out))
        fastnn.mean_squared_error(out, np.ones_like(out))
        fastnn.softmax(out)

    for dt in (np.float32, np.float64):
        calls(dt, 5)
    counts = [len(d.signatures) for d in dispatchers]
    for dt in (np.float32, np.float64):
        calls(dt, 9)                       # other shapes, other activations, same dtypes
    assert [len(d.signatures) for d in dispatchers] == counts
    assert all(c <= 2 for c in counts), counts   # at most one per dtype


def test_disk_cache_key_holds_the_thread_and_bounds_check_options(monkeypatch):
    # numba's own key leaves compile options out: a FASTNN_PARALLEL=0 process
    # would otherwise leave serial kernels that a normal process then loads
    from numba import config
    from numba.core.registry import cpu_target

    from fastnn.kernels.cpu import _jit
    from fastnn.kernels.cpu.activations import activation_forward
    codegen = cpu_target.target_context.codegen()
    sig = ("sig",)
    keys = set()
    for parallel in (True, False):
        for bounds in (0, 1):
            monkeypatch.setattr(_jit, "PARALLEL", parallel)
            monkeypatch.setattr(config, "BOUNDSCHECK", bounds)
            keys.add(_jit._Cache(activation_forward.py_func)._index_key(sig, codegen))
    assert len(keys) == 4
    # nor the wrappers: code cached without a Python entry point must never
    # load into a dispatcher that Python calls
    python = _jit._Cache(activation_forward.py_func, python=True)._index_key(sig, codegen)
    assert _jit._Cache(activation_forward.py_func, python=False)._index_key(sig, codegen) != python


def test_disk_cache_key_changes_with_any_kernel_source(tmp_path, monkeypatch):
    # a cached kernel holds the code of the kernels it calls, but numba only
    # checks the caller's own file: an edit to a callee must change every key
    import shutil

    from numba.core.registry import cpu_target

    from fastnn.kernels.cpu import _jit
    from fastnn.kernels.cpu.activations import activation_forward
    root = tmp_path / "kernels"
    shutil.copytree(_jit._PACKAGE, root, ignore=shutil.ignore_patterns("__pycache__", "*.nb[ic]"))
    before = _jit.source_digest(str(root))
    assert before == _jit.source_digest(_jit._PACKAGE)      # content, not location
    with open(root / "vecmath.py", "a") as f:
        f.write("\n# an edit to a callee\n")
    after = _jit.source_digest.__wrapped__(str(root))
    assert after != before
    codegen = cpu_target.target_context.codegen()
    key = _jit._Cache(activation_forward.py_func)._index_key(("sig",), codegen)
    monkeypatch.setattr(_jit, "source_digest", lambda: after)
    assert _jit._Cache(activation_forward.py_func)._index_key(("sig",), codegen) != key


def _fresh_processes(tmp_path, name, source, code):
    """Write module ``name`` (``source``) into tmp_path; return a function that
    runs ``code`` with the given arguments in a fresh Python process that can
    import it, all such processes sharing one disk cache under tmp_path."""
    (tmp_path / f"{name}.py").write_text(source)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), FASTNN_NUMBA_CACHE="1",
               PYTHONPATH=os.pathsep.join([str(tmp_path)] + sys.path))
    return lambda *args: subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True)


_CALLERS_OF_A_PARALLEL_KERNEL = """
from fastnn.kernels.cpu._jit import kernel, prange


@kernel(parallel=True)
def _fill(out, v):
    for i in prange(out.size):
        out[i] = v


@kernel
def first(out):
    _fill(out, 1.0)


@kernel
def second(out):
    _fill(out, 2.0)
"""


def test_a_kernel_cached_over_a_cached_parallel_callee_loads_in_a_fresh_process(tmp_path):
    # numba#8578: process 1 caches _fill; process 2 loads it from the cache
    # and compiles second, whose entry then lacked the hook that starts the
    # thread pool; process 3 loaded that entry first and called a null
    # pointer (segfault). How batchnorm_forward_eval crashed after a process
    # that only trained had cached _normalize.
    process = _fresh_processes(tmp_path, "callers", _CALLERS_OF_A_PARALLEL_KERNEL,
                               "import sys, numpy as np, callers\n"
                               "a = np.zeros(1000)\n"
                               "getattr(callers, sys.argv[1])(a)\n"
                               "print(a.min(), a.max())\n")
    for step, (name, value) in enumerate([("first", 1.0), ("second", 2.0), ("second", 2.0)]):
        run = process(name)
        assert run.returncode == 0, f"process {step + 1} ({name}) exited {run.returncode}: {run.stderr[-2000:]}"
        assert run.stdout.split() == [str(value)] * 2
    assert list((tmp_path / "cache").rglob("callers.second*.nbc")), "second was not cached: nothing was tested"


_SCALE = """
from fastnn.kernels.cpu._jit import kernel, prange


@kernel(parallel=True)
def scale(out, x, s):
    for i in prange(x.size):
        out[i] = x[i] * s
"""


def test_a_cache_index_that_points_a_signature_at_another_s_code_recompiles(tmp_path):
    # two processes saving different signatures at once can both take the
    # same data file; the index then sends one signature to the other's
    # code, which numba loaded and then failed every call on
    import pickle
    process = _fresh_processes(tmp_path, "scaling", _SCALE,
                               "import sys, numpy as np, scaling\n"
                               "x = np.arange(5, dtype=sys.argv[1]); out = np.zeros_like(x)\n"
                               "scaling.scale(out, x, x.dtype.type(2))\n"
                               "print(out.dtype, out.tolist())\n")

    def run(dtype):
        r = process(dtype)
        assert r.returncode == 0, r.stderr[-2000:]
        assert r.stdout.split(None, 1) == [dtype, "[0.0, 2.0, 4.0, 6.0, 8.0]\n"]

    run("float32")
    run("float64")
    (index,) = (tmp_path / "cache").rglob("scaling.scale-*.nbi")
    with open(index, "rb") as f:           # numba's own index: a version, then (stamp, {key: data file})
        version = pickle.load(f)
        stamp, files = pickle.loads(f.read())
    assert len(files) == 2
    a, b = files
    files[a], files[b] = files[b], files[a]
    with open(index, "wb") as f:
        pickle.dump(version, f, protocol=-1)
        f.write(pickle.dumps((stamp, files), protocol=-1))
    for _ in range(2):                     # recompiled once, then loaded from the rewritten entries
        run("float32")
        run("float64")


def test_serial_twin_is_a_separate_cached_kernel():
    from fastnn.kernels.cpu import _blas, _jit, dense
    twin = _jit.serial(dense.dense_forward)
    assert twin is not dense.dense_forward and twin is _jit.serial(dense.dense_forward)
    assert twin.py_func.__qualname__ == "dense_forward_serial"     # its own disk-cache entry
    assert not twin.targetoptions.get("parallel")
    # the kernels it calls are twins too; kernels with no prange below them are shared
    assert twin.py_func.__globals__["gemm_rows"] is _jit.serial(_blas.gemm_rows) is not _blas.gemm_rows
    assert _jit.serial(_blas._gemm) is _blas._gemm


def test_private_kernels_have_no_python_entry_point_and_say_so():
    # compiled without numba's CPython wrapper (kernels/cpu/_jit.py); a call
    # from Python must be a clear TypeError, never a jump through a null pointer
    from fastnn.kernels.cpu import _jit, activations, dense
    from fastnn.kernels.cpu.step import forward_eval, train_step, train_step_serial
    x = np.ones(8, np.float32)
    with pytest.raises(TypeError, match=r"activations\._forward_in_place is called only from compiled kernels"):
        activations._forward_in_place(x, 1, 0.0)
    twin = _jit.serial(dense.dense_forward)
    assert isinstance(twin, _jit._CompiledOnly) and twin.targetoptions["no_cpython_wrapper"]
    with pytest.raises(TypeError, match="dense_forward_serial is called only from compiled kernels"):
        twin(np.empty((2, 4)), np.ones((2, 3)), np.ones((3, 4)), np.ones(4), 1, 0.0)
    # the public kernels and the step's entry points keep theirs
    for d in (activations.activation_forward, dense.dense_forward, train_step, train_step_serial, forward_eval):
        assert not isinstance(d, _jit._CompiledOnly) and not d.targetoptions.get("no_cpython_wrapper")
    with pytest.raises(ValueError, match="made for compiled callers only"):
        _jit.serial(dense.dense_forward, python=True)
    # a private kernel still runs when a compiled caller calls it
    out = np.empty_like(x)
    activations.activation_forward(out, -x, 1, 0.0)
    assert np.array_equal(out, np.zeros_like(x))


def test_constant_arguments_do_not_compile_a_kernel_per_value():
    # numba's dispatcher compiles a kernel once per literal value its
    # compiled callers pass (gemm_rows gets True/False transposes); fastnn's
    # dispatcher (_jit._Kernel) compiles per type only. Built uncached here,
    # so the compiles happen in this process whatever the disk cache holds.
    from numba import njit
    from numba.core.registry import CPUDispatcher

    from fastnn.kernels.cpu import _jit

    def flip(flag, x):
        return x if flag else -x

    counts = {}
    for cls in (CPUDispatcher, _jit._Kernel):
        callee = njit(flip)
        callee.__class__ = cls

        def both(x):
            return callee(True, x) + 2 * callee(False, x)

        assert njit(both)(3.0) == -3.0
        counts[cls] = [str(sig) for sig in callee.signatures]
    assert len(counts[CPUDispatcher]) == 2                  # numba alone: one per value
    assert len(counts[_jit._Kernel]) == 1 and "Literal" not in counts[_jit._Kernel][0]
