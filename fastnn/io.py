"""Safe, atomic ``.npz`` files for parameters, optimizer state and checkpoints.

- Saving writes a temporary file in the same folder, flushes it to disk, then
  renames it over the target (``os.replace`` is atomic): a crash mid-save
  leaves the old file intact, never a half-written one.
- Loading never unpickles (``allow_pickle=False``): an untrusted file cannot
  run code. A truncated or corrupted file raises ``ValueError``.
- Values are NumPy arrays, scalars (int, float, bool, str) or tuples/lists
  of numbers (they load back as arrays); nested dicts are flattened with
  ``/`` in the keys and rebuilt on load.
"""
from __future__ import annotations

import os
import tempfile
import zipfile

import numpy as np

__all__ = ["save_npz", "load_npz", "flatten", "unflatten"]

_SEP = "/"


def flatten(tree, prefix=""):
    """A nested dict as the flat ``{"a/b": array}`` dict that is stored."""
    return _flatten(tree, prefix)


def _flatten(tree, prefix=""):
    out = {}
    for key, value in tree.items():
        if not isinstance(key, str) or not key or _SEP in key:
            raise ValueError(f"keys must be non-empty strings without {_SEP!r}, got {key!r}")
        name = prefix + key
        if isinstance(value, dict):
            out.update(_flatten(value, name + _SEP))
        elif isinstance(value, (np.ndarray, np.generic, int, float, bool, str, tuple, list)):
            arr = np.asarray(value)
            if arr.dtype.kind == "O":
                raise TypeError(f"{name}: object arrays cannot be saved without pickle")
            out[name] = arr
        else:
            raise TypeError(f"{name}: cannot save a {type(value).__name__} (arrays and scalars only)")
    return out


def unflatten(flat):
    """Inverse of ``flatten``; 0-d arrays come back as Python scalars."""
    return _unflatten(flat)


def _unflatten(flat):
    tree = {}
    for name, arr in flat.items():
        node = tree
        *parents, leaf = name.split(_SEP)
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = arr.item() if arr.ndim == 0 else arr
    return tree


def save_npz(path: str | os.PathLike, tree: dict) -> str:
    """Atomically write a (nested) dict of arrays and scalars to ``path``."""
    path = os.fspath(path)
    flat = _flatten(tree)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".fastnn-", suffix=".npz.tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **flat)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load_npz(path: str | os.PathLike, raw: bool = False) -> dict:
    """Read what ``save_npz`` wrote, without pickle; ValueError if damaged.

    ``raw=True`` returns the stored flat ``{"a/b": array}`` dict instead of
    the nested one.
    """
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            flat = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise ValueError(f"{path} is not a readable fastnn file (truncated, corrupted, or pickled "
                         f"objects, which are refused): {exc}") from exc
    return flat if raw else _unflatten(flat)
