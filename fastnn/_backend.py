"""Backend selection: per call (``backend=``) or a global default.

The default is ``cpu``, or the environment variable ``FASTNN_BACKEND`` read
at import. Kernel packages are imported on first use, so ``import fastnn``
compiles nothing and needs no GPU.
"""
from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Iterator

BACKENDS = ("ref", "cpu", "cuda")

_CUDA_HELP = (
    "backend 'cuda' needs an NVIDIA GPU with its driver and the CUDA target of "
    "numba: pip install 'fastnn-numba[cuda]' (numba-cuda[cu13]). {why} "
    "To run the CUDA kernels without a GPU (slowly, for tests), set "
    "NUMBA_ENABLE_CUDASIM=1 before importing fastnn."
)


def _check_name(name):
    if not isinstance(name, str) or name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    return name


_default = _check_name(os.environ.get("FASTNN_BACKEND", "cpu"))


def _cuda_problem():
    """None if cuda can run here, else a sentence saying why not."""
    try:
        from numba import cuda
    except Exception as exc:  # numba-cuda missing or broken
        return f"Importing numba.cuda failed: {exc}."
    try:
        if cuda.is_available():
            return None
    except Exception as exc:
        return f"numba.cuda.is_available() failed: {exc}."
    return "No CUDA GPU was found (numba.cuda.is_available() is False)."


def available_backends() -> list[str]:
    """Backends that can run on this machine, e.g. ``['ref', 'cpu']``."""
    names = ["ref", "cpu"]
    if _cuda_problem() is None:
        names.append("cuda")
    return names


def set_backend(name: str) -> None:
    """Set the default backend for calls that do not pass ``backend=``."""
    global _default
    _check_name(name)
    if name == "cuda":
        _require_cuda()
    _default = name


def get_backend() -> str:
    """The current default backend's name."""
    return _default


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Context manager: ``with fastnn.use_backend("ref"): ...``."""
    global _default
    previous = _default
    set_backend(name)
    try:
        yield
    finally:
        _default = previous


def _require_cuda():
    why = _cuda_problem()
    if why is not None:
        raise RuntimeError(_CUDA_HELP.format(why=why))


def resolve(backend=None):
    """Backend name for one call: ``backend`` or the default."""
    name = _default if backend is None else _check_name(backend)
    if name == "cuda":
        _require_cuda()
    return name


def kernels(backend=None, **arrays):
    """The kernel package (``fastnn.kernels.<name>``) for one call.

    ``arrays`` (name=array) are the call's arguments: a device array with a
    backend other than cuda is a clear TypeError, not a numba crash.
    """
    name = resolve(backend)
    if arrays and name != "cuda":
        from ._arrays import check_placement
        check_placement(name, **arrays)
    return importlib.import_module(f"fastnn.kernels.{name}")
