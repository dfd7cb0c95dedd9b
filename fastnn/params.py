"""All of a model's parameters in one flat buffer.

``Parameters`` owns two contiguous arrays, ``data`` and ``grad``, and hands out
per-tensor views into them (``params["w1"]``, ``params.grad_of("w1")``).
Optimizer state uses the same layout, so an optimizer step is one fused
kernel call over everything (the multi-tensor idea of fused optimizers).

Tensors marked ``decay=True`` (the weights) are laid out first, so weight
decay and L2 regularization apply to ``data[:n_decay]`` in one pass; biases
and batch-norm parameters come after and are not decayed.

With ``device=True`` both buffers live on the GPU (numba device arrays) and
the views are device views: the cuda backend's optimizers and layers then
work in place, and only ``state_dict``/``load_state_dict`` cross the bus.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from . import _arrays, _checks

__all__ = ["Parameters"]


class Parameters:
    """Named parameter tensors, views into one flat buffer.

    Parameters
    ----------
    tensors : dict name -> ndarray (initial values, copied in) or shape tuple (zeros)
    dtype : float32 or float64; arrays must already have it
    decay : set of names that take weight decay / L2 (default: every 2-D tensor)
    device : bool, keep the buffers on the CUDA device (the cuda backend)

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> p = fastnn.Parameters({"w": np.ones((2, 3)), "b": (3,)})
    >>> p.data.size, p.n_decay, np.shares_memory(p["w"], p.data)
    (9, 6, True)
    """

    def __init__(self, tensors: dict[str, ArrayLike], dtype: DTypeLike = np.float64,
                 decay: Iterable[str] | None = None, device: bool = False) -> None:
        dt = np.dtype(dtype)
        if dt not in _checks.FLOAT_DTYPES:
            raise TypeError(f"dtype must be float32 or float64, got {dt}")
        if not isinstance(tensors, dict) or not tensors:
            raise ValueError("tensors must be a non-empty dict of name -> array or shape")
        shapes, values = {}, {}
        for name, t in tensors.items():
            if isinstance(t, np.ndarray):
                if t.dtype != dt:
                    raise TypeError(f"{name} has dtype {t.dtype}, the Parameters are {dt}")
                if t.size == 0:
                    raise ValueError(f"{name} must not be empty, got shape {t.shape}")
                _checks.finite(name, t)
                shapes[name], values[name] = t.shape, t
            else:
                shp = tuple(int(s) for s in t)
                if any(s <= 0 for s in shp):
                    raise ValueError(f"{name}: shape must be positive, got {shp}")
                shapes[name] = shp
        if decay is None:
            decay = {n for n, s in shapes.items() if len(s) == 2}
        unknown = set(decay) - set(shapes)
        if unknown:
            raise ValueError(f"decay names unknown tensors: {sorted(unknown)}")
        # decayed tensors first, each group in the given order
        order = [n for n in shapes if n in decay] + [n for n in shapes if n not in decay]
        self.dtype = dt
        self.layout = []                      # (name, offset, shape), in buffer order
        offset = 0
        for name in order:
            size = int(np.prod(shapes[name]))
            self.layout.append((name, offset, shapes[name]))
            offset += size
        self.n_decay = sum(int(np.prod(shapes[n])) for n in shapes if n in decay)
        data = _arrays.host_empty(offset, dt, zero=True)      # 64-byte aligned (see _arrays)
        for name, off, shp in self.layout:
            if name in values:
                data[off:off + int(np.prod(shp))] = values[name].reshape(-1)
        self.device = bool(device)
        if self.device:
            from numba import cuda
            self._data = cuda.to_device(data)              # the one upload
        else:
            self._data = data
        self._grad = _arrays.zeros(offset, dt, like=self._data)
        self._views = {}
        self._grads = {}
        for name, off, shp in self.layout:
            size = int(np.prod(shp))
            self._views[name] = self.data[off:off + size].reshape(shp)
            self._grads[name] = self.grad[off:off + size].reshape(shp)

    # The kernels and optimizers trust these two buffers' sizes: they are
    # read-only attributes (change their values in place, never replace them).
    @property
    def data(self):
        """The flat parameter buffer (every tensor is a view into it)."""
        return self._data

    @property
    def grad(self):
        """The flat gradient buffer, laid out like ``data``."""
        return self._grad

    def __getitem__(self, name):
        return self._views[name]

    def __contains__(self, name):
        return name in self._views

    def __iter__(self):
        return iter(self._views)

    def __len__(self):
        return len(self._views)

    def names(self):
        """Tensor names in buffer order."""
        return [n for n, _, _ in self.layout]

    def grad_of(self, name: str) -> np.ndarray:
        """The gradient view of one tensor."""
        return self._grads[name]

    def grads(self):
        """dict name -> gradient view."""
        return dict(self._grads)

    def zero_grad(self) -> None:
        _arrays.fill(self.grad, 0)

    @property
    def size(self):
        return self.data.size

    def state_dict(self) -> dict:
        """Host copies of every tensor, by name (for ``fastnn.io.save_npz``)."""
        return {name: _arrays.host_copy(self._views[name]) for name in self.names()}

    def load_state_dict(self, state: dict) -> Parameters:
        """Copy tensors back in; names, shapes and dtype must match exactly."""
        missing = set(self._views) - set(state)
        extra = set(state) - set(self._views)
        if missing or extra:
            raise ValueError(f"state does not match the parameters: missing {sorted(missing)}, "
                             f"unexpected {sorted(extra)}")
        for name, view in self._views.items():
            arr = state[name] if _arrays.is_device(state[name]) else np.asarray(state[name])
            if tuple(arr.shape) != tuple(view.shape) or np.dtype(arr.dtype) != self.dtype:
                raise ValueError(f"{name}: expected {tuple(view.shape)} {self.dtype}, "
                                 f"got {tuple(arr.shape)} {arr.dtype}")
            _checks.finite(name, _arrays.to_host(arr))
        for name, view in self._views.items():
            _arrays.copy_into(view, state[name])
        return self

    def __repr__(self):
        where = ", on the device" if self.device else ""
        return (f"Parameters({len(self)} tensors, {self.size} values, {self.dtype}, "
                f"n_decay={self.n_decay}{where})")
