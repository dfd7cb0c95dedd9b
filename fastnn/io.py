"""Safe, atomic ``.npz`` files for parameters, optimizer state and checkpoints.

- Saving writes a temporary file in the same folder, flushes it to disk, then
  renames it over the target (``os.replace`` is atomic): a crash mid-save
  leaves the old file intact, never a half-written one.
- Loading never unpickles: an untrusted file cannot run code. Each member's
  header is checked against the bytes stored before anything is allocated.
  A truncated or corrupted file raises ``ValueError``.
- A save killed midway leaves its temporary behind; the next save into the
  same folder removes it (its name holds the dead writer's pid).
- Values are NumPy arrays, scalars (int, float, bool, str) or tuples/lists
  of numbers (they load back as arrays); nested dicts are flattened with
  ``/`` in the keys and rebuilt on load.
"""
from __future__ import annotations

import contextlib
import io as _io
import math
import os
import tempfile
import zipfile

import numpy as np

__all__ = ["save_npz", "load_npz", "dumps_npz", "write_atomic", "flatten", "unflatten"]

_SEP = "/"
_TMP_PREFIX, _TMP_SUFFIX = ".fastnn-", ".npz.tmp"


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


def _stale_temporaries(folder):
    """Remove temporaries left by saves whose process is gone (killed
    mid-save: nothing else would ever delete them). A temporary's name
    carries its writer's pid; one whose writer still runs is left alone."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if not (name.startswith(_TMP_PREFIX) and name.endswith(_TMP_SUFFIX)):
            continue
        pid = name[len(_TMP_PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(folder, name))


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True                   # another user's process, or no way to tell: keep its file
    return True


def save_npz(path: str | os.PathLike, tree: dict) -> str:
    """Atomically write a (nested) dict of arrays and scalars to ``path``.

    Temporaries of earlier saves into the same folder that were killed
    midway are removed first."""
    flat = _flatten(tree)
    return write_atomic(path, lambda f: np.savez(f, **flat))


def write_atomic(path: str | os.PathLike, write) -> str:
    """``write(file)`` into a temporary in ``path``'s folder, synced, then
    renamed over ``path``: a crash leaves the old file or the new one, never
    half of one. ``write`` may also be bytes."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    _stale_temporaries(folder)
    fd, tmp = tempfile.mkstemp(prefix=f"{_TMP_PREFIX}{os.getpid()}-", suffix=_TMP_SUFFIX, dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            if isinstance(write, (bytes, bytearray)):
                f.write(write)
            else:
                write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _member(zf, info, path):
    """One stored ``.npy`` member as an array, its header checked against
    the bytes actually stored before anything is allocated: a damaged or
    crafted header cannot ask for more memory than the file holds."""
    if not info.filename.endswith(".npy"):
        raise ValueError(f"unexpected member {info.filename!r}")
    if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
        raise ValueError(f"member {info.filename!r} is compressed; fastnn writes stored members only")
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"member {info.filename!r} has .npy version {version}")
        if dtype.hasobject:
            raise ValueError(f"member {info.filename!r} holds pickled objects, which are refused")
        if dtype.kind not in "biufcSU":
            raise ValueError(f"member {info.filename!r} holds {dtype}, which fastnn never saves")
        count = math.prod(shape)
        want = count * dtype.itemsize
        if want != info.file_size - f.tell():
            raise ValueError(f"member {info.filename!r} declares shape {shape} of {dtype} ({want} bytes) "
                             f"but stores {info.file_size - f.tell()}")
        data = f.read(want)
    if len(data) != want:
        raise ValueError(f"member {info.filename!r} is truncated")
    arr = np.frombuffer(data, dtype=dtype, count=count).copy()
    return arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)


def dumps_npz(tree: dict) -> bytes:
    """What ``save_npz`` would write, as bytes in memory (no file, no sync):
    for state that travels between processes, e.g. a search's trials."""
    buf = _io.BytesIO()
    np.savez(buf, **_flatten(tree))
    return buf.getvalue()


def load_npz(path: str | os.PathLike | bytes, raw: bool = False) -> dict:
    """Read what ``save_npz`` (a path) or ``dumps_npz`` (bytes) wrote, without
    pickle; ValueError if damaged.

    Any file that is not such an archive (a truncated or corrupted one, a
    ``.npy``, pickled objects, compressed or oversized members) raises
    ``ValueError``; only a missing or unreadable path raises ``OSError``.
    ``raw=True`` returns the stored flat ``{"a/b": array}`` dict instead of
    the nested one.
    """
    in_memory = isinstance(path, (bytes, bytearray))
    name = "the data" if in_memory else os.fspath(path)
    try:
        with (contextlib.nullcontext(_io.BytesIO(path)) if in_memory else open(name, "rb")) as f:
            with zipfile.ZipFile(f) as zf:
                flat = {}
                for info in zf.infolist():
                    key = info.filename[:-len(".npy")] if info.filename.endswith(".npy") else info.filename
                    if key in flat:
                        raise ValueError(f"member {info.filename!r} appears twice")
                    flat[key] = _member(zf, info, name)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except Exception as exc:         # zipfile and numpy raise many types for damaged input
        raise ValueError(f"{name} is not a readable fastnn file (truncated, corrupted, or not an archive "
                         f"that fastnn wrote): {type(exc).__name__}: {exc}") from exc
    return flat if raw else _unflatten(flat)
