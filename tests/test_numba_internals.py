"""The numba internals that fastnn's cache layer and shipped kernels use
(``kernels/cpu/_jit.py``, ``kernels/cpu/_shipped.py``) are still there.

numba does not promise them; ``pyproject.toml`` pins numba to the series
they were written against. When a new numba is tried, this file says which
one went missing, instead of a crash or a silent recompile in a user's run.
"""
import importlib.metadata
import inspect
import re

import numba


def _version(text):
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def test_numba_is_within_the_pinned_range():
    spec = next(r for r in importlib.metadata.requires("fastnn-numba") if re.match(r"numba\b", r))
    lower = re.search(r">=\s*([\d.]+)", spec)
    upper = re.search(r"<\s*([\d.]+)", spec)
    assert lower and upper, f"numba must have a lower and an upper bound in pyproject.toml, got {spec!r}"
    have = _version(numba.__version__)
    assert _version(lower.group(1)) <= have < _version(upper.group(1)), (numba.__version__, spec)


def test_the_cache_layer_internals_exist():
    from numba.core.caching import FunctionCache, IndexDataCacheFile
    from numba.core.registry import CPUDispatcher
    from numba.np.ufunc import parallel

    assert callable(getattr(parallel, "_launch_threads", None)), "numba.np.ufunc.parallel._launch_threads"
    for name in ("_index_key", "load_overload", "save_overload"):
        assert callable(getattr(FunctionCache, name, None)), f"FunctionCache.{name}"
    assert list(inspect.signature(FunctionCache._index_key).parameters) == ["self", "sig", "codegen"]
    for name in ("_load_index", "load", "save"):
        assert callable(getattr(IndexDataCacheFile, name, None)), f"IndexDataCacheFile.{name}"
    for name in ("get_call_template", "compile"):
        assert callable(getattr(CPUDispatcher, name, None)), f"CPUDispatcher.{name}"


def test_a_kernel_carries_what_the_cache_layer_reads():
    """A compiled kernel's dispatcher class is fastnn's, its cache is
    fastnn's, and its compile result has the fields the reload hook reads."""
    import numpy as np

    from fastnn.kernels.cpu import _jit
    from fastnn.kernels.cpu.activations import activation_forward

    x = np.ones((2, 3), np.float32)
    out = np.empty_like(x)
    activation_forward(out, x, 1, np.float32(0.0))
    assert isinstance(activation_forward, _jit._Kernel)
    if _jit.CACHE:
        assert isinstance(activation_forward._cache, _jit._Cache)
        assert hasattr(activation_forward._cache, "_impl") and hasattr(activation_forward._cache._impl, "rebuild")
    cres = next(iter(activation_forward.overloads.values()))
    assert hasattr(cres, "reload_init"), "CompileResult.reload_init"
    hooks = getattr(cres.library, "_reload_init", None)
    assert isinstance(hooks, set), "CodeLibrary._reload_init (numba#8578's work-around writes into it)"
