"""Every @cuda.jit kernel compiles to PTX for sm_80 and sm_90 in both dtypes.

This needs numba-cuda's NVVM (the ``cuda`` extra), not a GPU or a driver. It
catches what the simulator accepts but the real compiler rejects (typing of
shared arrays, float64 creeping into float32 code, unsupported calls).
"""
import importlib
import re

import pytest

from .conftest import SIMULATOR

pytestmark = pytest.mark.skipif(SIMULATOR, reason="compile_ptx needs the real CUDA target, not the simulator")

MODULES = ["activations", "batchnorm", "data", "dense", "dropout", "losses", "metrics", "optim", "regularization"]
# statistics and penalty partial sums are float64 by contract in these
FLOAT64_BY_CONTRACT = {"batchnorm", "metrics", "regularization"}
# kernels that read float64 hyperparameters (``codes.HYPER_*``) and fold them
# into the step's constants in float64, once per thread, as the host does
# for the other launches; their per-element loop stays in the layer's dtype
FLOAT64_CONSTANTS = {"update_kernel"}


def _module(name):
    pytest.importorskip("numba.cuda")
    return importlib.import_module(f"fastnn.kernels.cuda.{name}")


def _kernels(mod):
    from numba.cuda.dispatcher import CUDADispatcher
    return {v for v in vars(mod).values() if isinstance(v, CUDADispatcher) and not v.targetoptions.get("device")}


@pytest.mark.parametrize("name", MODULES)
def test_every_kernel_has_a_ptx_signature(name):
    from numba import float32
    mod = _module(name)
    assert set(mod.ptx_signatures(float32)) == _kernels(mod)


class _Device:
    """Stands in for the current GPU where there is none.

    numba-cuda compiles a kernel's ``device=True`` helpers with the compute
    capability of the current device, the only thing it reads from it; with
    no driver, report the capability we are compiling for.
    """
    def __init__(self, cc):
        self.compute_capability = cc


@pytest.mark.parametrize("cc", [(8, 0), (9, 0)], ids=["sm_80", "sm_90"])
@pytest.mark.parametrize("name", MODULES)
@pytest.mark.parametrize("fp", ["float32", "float64"])
def test_compiles_to_ptx(name, cc, fp, monkeypatch):
    import numba
    import numba.cuda.dispatcher as dispatcher
    from numba import cuda
    if not cuda.is_available():
        monkeypatch.setattr(dispatcher, "get_current_device", lambda: _Device(cc))
    ty = getattr(numba, fp)
    for kernel, sig in _module(name).ptx_signatures(ty).items():
        ptx, _ = cuda.compile_ptx(kernel.py_func, sig, cc=cc)
        assert f".target sm_{cc[0]}{cc[1]}" in ptx
        assert ".entry" in ptx
        if fp == "float32" and name not in FLOAT64_BY_CONTRACT and kernel.__name__ not in FLOAT64_CONSTANTS:
            # float32 kernels stay in float32: no double-precision arithmetic
            # (".f64" is the type suffix; registers named %f64 are float32)
            assert not re.search(r"\.f64\b", ptx), f"{kernel.__name__} uses float64 in its float32 build"


@pytest.mark.parametrize("name", MODULES)
def test_kernels_widen_with_float64_not_float(name):
    """``float(v)`` of a float32 is a float32 in compiled numba code (a
    Python float64 in the simulator), so a kernel that meant to widen with it
    squared float32 values in float32 on the GPU alone. Kernels widen with
    ``float64()``; this finds any builtin ``float()`` call inside a
    ``@cuda.jit`` function's body."""
    import ast
    import inspect
    tree = ast.parse(inspect.getsource(_module(name)))

    def jitted(fn):
        return any("cuda.jit" in ast.unparse(d) for d in fn.decorator_list)
    bad = [f"{fn.name}:{call.lineno}" for fn in ast.walk(tree)
           if isinstance(fn, ast.FunctionDef) and jitted(fn)
           for call in ast.walk(fn)
           if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "float"]
    assert not bad, f"float() in cuda kernels (use float64()): {bad}"
