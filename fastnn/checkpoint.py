"""Model checkpoints: ``model.save(path)`` and ``fastnn.load(path)``.

One ``.npz`` (see ``fastnn.io``: atomic write, no pickle) holds

- ``config``: the model's architecture and settings as JSON text;
- ``params``: every parameter tensor by name; ``buffers``: per-layer state
  (batch-norm running statistics, dropout stream positions);
- ``optimizer``: its type, hyperparameters, step count and state buffers
  (when saved with one);
- ``digest``: SHA-256 over everything else. Loading recomputes it, so a
  file modified after saving, or damaged in a way the zip format does not
  catch, is refused with a clear error.
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

__all__ = ["save", "load"]

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


def save(model: Sequential, path: str | os.PathLike, optimizer: Optimizer | None = None) -> str:
    """Write ``model`` (and ``optimizer``'s state) to ``path`` atomically."""
    if optimizer is not None and optimizer.params is not model.parameters():
        raise ValueError("optimizer was built for another model's parameters")
    tree = {
        "config": json.dumps({"format": FORMAT, "version": VERSION, "model": model.config(),
                              "optimizer": None if optimizer is None else
                              {"type": type(optimizer).__name__}}),
        "params": model.parameters().state_dict(),
        "buffers": {str(i): b for i, layer in enumerate(model.layers) if (b := layer.buffers())},
    }
    if optimizer is not None:
        tree["optimizer"] = optimizer.state_dict()
    tree["digest"] = _digest(io.flatten(tree))
    return io.save_npz(path, tree)


def load(path: str | os.PathLike, with_optimizer: bool = False,
         backend: str | None = None) -> Sequential | tuple[Sequential, Optimizer | None]:
    """Rebuild a model saved with ``model.save``.

    Returns the model, or ``(model, optimizer)`` with ``with_optimizer=True``
    (optimizer None when none was saved). Raises ``ValueError`` for files that
    are truncated, corrupted, pickled, modified, or not fastnn checkpoints.
    """
    flat = io.load_npz(path, raw=True)
    if "config" not in flat or "digest" not in flat:
        raise ValueError(f"{path} is not a fastnn checkpoint (no config/digest)")
    stored = str(flat.pop("digest"))
    if _digest(flat) != stored:
        raise ValueError(f"{path} failed its integrity check: it was modified or damaged after saving")
    tree = io.unflatten(flat)
    try:
        config = json.loads(tree["config"])
    except (TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: the config is not valid JSON: {exc}") from exc
    if config.get("format") != FORMAT or config.get("version") != VERSION:
        raise ValueError(f"{path}: not a {FORMAT} version {VERSION} file")
    mc = config["model"]
    try:
        layers = [LAYERS[spec["type"]](**spec["config"]) for spec in mc["layers"]]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path}: unknown or malformed layer in the config: {exc}") from exc
    model = Sequential(layers, loss=mc["loss"], l2=mc["l2"], l1=mc["l1"], dtype=mc["dtype"],
                       backend=backend, seed=mc["seed"])
    model.parameters().load_state_dict(tree.get("params", {}))
    for i, state in tree.get("buffers", {}).items():
        model.layers[int(i)].load_buffers(state)
    if not with_optimizer:
        return model
    optimizer = None
    if config.get("optimizer") is not None:
        state = tree["optimizer"]
        cls = OPTIMIZERS.get(state.get("type"))
        if cls is None:
            raise ValueError(f"{path}: unknown optimizer {state.get('type')!r}")
        optimizer = cls(model.parameters(), backend=backend).load_state_dict(state)
    return model, optimizer
