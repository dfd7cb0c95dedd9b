"""Model checkpoints: ``model.save(path)`` and ``fastnn.load(path)``.

One ``.npz`` (see ``fastnn.io``: atomic write, no pickle) holds

- ``config``: the model's architecture and settings as JSON text;
- ``params``: every parameter tensor by name; ``buffers``: per-layer state
  (batch-norm running statistics, dropout stream positions);
- ``optimizer``: its type, hyperparameters, step count and state buffers
  (when saved with one);
- ``digest``: SHA-256 over everything else. Loading recomputes it, so a
  file damaged in a way the zip format does not catch is refused with a
  clear error. It is a checksum, not a signature: anyone who can write the
  file can recompute it, so it proves nothing about who wrote the file.
  What protects the loader from a crafted file is that nothing is
  unpickled and every loaded value is checked by the same rules as a
  constructed one (layer and optimizer settings, shapes, dtypes, finite
  weights and state, the step count, batch-norm variances). A crafted
  file can still hold weights that predict badly; load files you trust.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import Sequential
    from .optim import Optimizer

import hashlib
import json

import numpy as np

from . import io
from .layers import LAYERS
from .model import Sequential
from .optim import OPTIMIZERS

__all__ = ["save", "load", "dumps", "state", "load_state"]

FORMAT = "fastnn-checkpoint"
VERSION = 1


def _digest(flat):
    """SHA-256 over the stored arrays: names, dtypes, shapes and bytes."""
    h = hashlib.sha256()
    for name in sorted(flat):
        arr = np.ascontiguousarray(flat[name])
        h.update(f"{name}|{arr.dtype.str}|{arr.shape}|".encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def state(model: Sequential, optimizer: Optimizer | None = None) -> dict:
    """What a trained model holds beyond its configuration: ``params`` (every
    tensor by name), ``buffers`` (per layer that keeps state) and, with an
    optimizer, ``optimizer`` (its ``state_dict``). ``load_state`` puts it
    back into a model of the same configuration."""
    if optimizer is not None and optimizer.params is not model.parameters():
        raise ValueError("optimizer was built for another model's parameters")
    tree = {"params": model.parameters().state_dict(),
            "buffers": {str(i): b for i, layer in enumerate(model.layers) if (b := layer.buffers())}}
    if optimizer is not None:
        tree["optimizer"] = optimizer.state_dict()
    return tree


def load_state(model: Sequential, optimizer: Optimizer | None, tree: dict) -> None:
    """Load what ``state`` gave into ``model`` (and ``optimizer``), every
    value checked as the constructors check it (``Parameters`` and
    ``Optimizer.load_state_dict``, ``Layer.load_buffers``)."""
    model.parameters().load_state_dict(tree.get("params", {}))
    buffers = tree.get("buffers", {})
    expected = {str(i) for i, layer in enumerate(model.layers) if layer.buffers()}
    if not isinstance(buffers, dict) or set(buffers) != expected:
        raise ValueError(f"buffers {sorted(buffers) if isinstance(buffers, dict) else buffers!r} do not match "
                         f"the layers that keep state {sorted(expected)}")
    for i, layer_state in buffers.items():
        model.layers[int(i)].load_buffers(layer_state)
    if optimizer is not None:
        optimizer.load_state_dict(tree["optimizer"])


def _tree(model, optimizer):
    tree = {"config": json.dumps({"format": FORMAT, "version": VERSION, "model": model.config(),
                                  "optimizer": None if optimizer is None else {"type": type(optimizer).__name__}}),
            **state(model, optimizer)}
    tree["digest"] = _digest(io.flatten(tree))
    return tree


def save(model: Sequential, path: str | os.PathLike, optimizer: Optimizer | None = None) -> str:
    """Write ``model`` (and ``optimizer``'s state) to ``path`` atomically."""
    return io.save_npz(path, _tree(model, optimizer))


def dumps(model: Sequential, optimizer: Optimizer | None = None) -> bytes:
    """The checkpoint ``save`` would write, as bytes (``load`` reads them back)."""
    return io.dumps_npz(_tree(model, optimizer))


def load(path: str | os.PathLike | bytes, with_optimizer: bool = False,
         backend: str | None = None) -> Sequential | tuple[Sequential, Optimizer | None]:
    """Rebuild a model saved with ``model.save`` (a path) or ``dumps`` (bytes).

    Returns the model, or ``(model, optimizer)`` with ``with_optimizer=True``
    (optimizer None when none was saved). Raises ``ValueError`` for files that
    are truncated, corrupted, pickled, modified, or not fastnn checkpoints,
    and for any value that the constructors would refuse.
    """
    flat = io.load_npz(path, raw=True)
    path = "the checkpoint" if isinstance(path, (bytes, bytearray)) else path
    if "config" not in flat or "digest" not in flat:
        raise ValueError(f"{path} is not a fastnn checkpoint (no config/digest)")
    stored = str(flat.pop("digest"))
    if _digest(flat) != stored:
        raise ValueError(f"{path} failed its integrity check: it was modified or damaged after saving")
    try:
        return _build(io.unflatten(flat), with_optimizer, backend)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    except (TypeError, KeyError, AttributeError, IndexError, OverflowError) as exc:
        raise ValueError(f"{path}: malformed checkpoint ({type(exc).__name__}: {exc})") from exc


def _build(tree, with_optimizer, backend):
    """The model (and optimizer) from a checkpoint's tree. Every value goes
    through the constructors and ``load_state_dict``/``load_buffers``, which
    check it as they would a user's; the digest alone proves nothing (anyone
    can recompute it)."""
    unknown = set(tree) - {"config", "params", "buffers", "optimizer"}
    if unknown:
        raise ValueError(f"unexpected entries {sorted(unknown)}")
    try:
        config = json.loads(str(tree["config"]))
    except json.JSONDecodeError as exc:
        raise ValueError(f"the config is not valid JSON: {exc}") from exc
    if not isinstance(config, dict) or config.get("format") != FORMAT or config.get("version") != VERSION:
        raise ValueError(f"not a {FORMAT} version {VERSION} file")
    mc = config["model"]
    layers = []
    for spec in mc["layers"]:
        cls = LAYERS.get(spec["type"]) if isinstance(spec["type"], str) else None
        if cls is None:
            raise ValueError(f"unknown layer type {spec['type']!r}")
        layers.append(cls(**spec["config"]))
    model = Sequential(layers, loss=mc["loss"], l2=mc["l2"], l1=mc["l1"], dtype=mc["dtype"],
                       backend=backend, seed=mc["seed"])
    load_state(model, None, tree)
    saved = config.get("optimizer")
    if (saved is None) != ("optimizer" not in tree):
        raise ValueError("the config and the stored optimizer state disagree")
    if not with_optimizer:
        return model
    optimizer = None
    if saved is not None:
        state = tree["optimizer"]
        cls = OPTIMIZERS.get(state.get("type")) if isinstance(state.get("type"), str) else None
        if cls is None or saved.get("type") != state["type"]:
            raise ValueError(f"unknown optimizer {state.get('type')!r}")
        optimizer = cls(model.parameters(), backend=backend).load_state_dict(state)
    return model, optimizer
