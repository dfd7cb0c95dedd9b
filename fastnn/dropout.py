"""Inverted dropout (course 2, week 1) with reproducible, portable masks.

Each element's keep decision comes from Philox4x32-10 keyed by ``seed`` and
counted by element index plus ``offset`` (see ``kernels/philox.py``):
the mask is the same on ref, cpu and cuda, for any thread count and any way
the work is split, and backward can regenerate it from (seed, offset)
instead of storing it. The formulas live in ``kernels/ref/dropout.py``.

Offsets count Philox blocks of 4 elements; a call on n elements uses
``dropout_blocks(n)`` of them, so successive calls of one stream use
``offset, offset + dropout_blocks(n), ...`` (the Dropout layer does this).
"""
from __future__ import annotations

import numpy as np

from . import _arrays, _checks
from ._backend import kernels
from .kernels.codes import LINEAR
from .kernels.philox import blocks as dropout_blocks
from .kernels.philox import keep_threshold

__all__ = ["dropout_forward", "dropout_backward", "dropout_mask", "dropout_blocks"]


def _stream(seed, offset, n):
    seed = _checks.uint64("seed", seed)
    offset = _checks.uint64("offset", offset)
    if offset + dropout_blocks(n) > 2 ** 64:
        raise ValueError("offset + dropout_blocks(n) overflows the 64-bit counter; start a new seed")
    return np.uint64(seed), np.uint64(offset)


def dropout_forward(x: np.ndarray, keep_prob: float, *, seed: int, offset: int = 0, training: bool = True,
                    return_mask: bool = False, out: np.ndarray | None = None,
                    backend: str | None = None) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Inverted dropout: keep each element with probability ``keep_prob``,
    scaled by ``1 / keep_prob``, so the expected activation is unchanged.

    Parameters
    ----------
    x : ndarray, float32 or float64, C-contiguous, any shape
    keep_prob : float in (0, 1]; 1 is the identity
    seed : int in [0, 2**64), the stream's key
    offset : int, Philox block offset of this call (see ``dropout_blocks``)
    training : bool; False (inference) is the identity
    return_mask : bool; also return the packed keep mask (uint8, ceil(n/8)
        bytes, little-endian bits) for ``dropout_backward(mask=...)``
    out : ndarray like x, optional
    backend : optional

    Returns
    -------
    out, or (out, mask) when ``return_mask``

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> out = fastnn.dropout_forward(np.ones((2, 4)), 0.5, seed=7)
    >>> sorted(set(out.ravel().tolist())) <= [0.0, 2.0]
    True
    """
    keep_prob = _checks.probability("keep_prob", keep_prob)
    training = _checks.flag("training", training)
    return_mask = _checks.flag("return_mask", return_mask)
    _checks.array("x", x, None)
    if out is None:
        out = _arrays.empty_like(x)
    else:
        _checks.output("out", out, x.shape, x.dtype, [("x", x)])
    n = x.size
    mask = _arrays.zeros((n + 7) // 8 if return_mask else 0, np.uint8, like=x)
    if not training or keep_prob == 1.0:
        _arrays.copy_into(out, x)
        if return_mask:
            _arrays.fill(mask, 255)
            if n % 8:                       # bits past the end stay 0, as np.packbits gives
                _arrays.copy_into(mask[-1:], np.array([(1 << (n % 8)) - 1], np.uint8))
    else:
        seed, offset = _stream(seed, offset, n)
        kernels(backend, x=x, out=out).dropout.dropout_forward(out, mask, x, seed, offset, keep_threshold(keep_prob),
                                                 x.dtype.type(1.0 / keep_prob))
    return (out, mask) if return_mask else out


def dropout_backward(dout: np.ndarray, keep_prob: float, *, seed: int | None = None, offset: int = 0,
                     mask: np.ndarray | None = None, dx: np.ndarray | None = None,
                     backend: str | None = None) -> np.ndarray:
    """``dx += dout * keep / keep_prob``, the mask regenerated from
    (seed, offset) or read from ``mask`` (what ``return_mask`` gave).

    Returns ``dx`` (allocated zeroed when not given).
    """
    keep_prob = _checks.probability("keep_prob", keep_prob)
    _checks.array("dout", dout, None)
    if dx is None:
        dx = _arrays.zeros_like(dout)
    else:
        _checks.output("dx", dx, dout.shape, dout.dtype, [("dout", dout)])
    n = dout.size
    scale = dout.dtype.type(1.0 / keep_prob)
    if mask is not None:
        if (not (isinstance(mask, np.ndarray) or _arrays.is_device(mask)) or np.dtype(mask.dtype) != np.uint8
                or tuple(mask.shape) != ((n + 7) // 8,)):
            raise ValueError(f"mask must be a uint8 array of shape ({(n + 7) // 8},) from "
                             "dropout_forward(return_mask=True)")
        if isinstance(mask, np.ndarray):
            mask = np.ascontiguousarray(mask)
        kernels(backend, dout=dout, dx=dx, mask=mask).dropout.dropout_backward_mask(dx, dout, mask, scale)
    elif keep_prob == 1.0:
        # everything kept: dx += dout, the linear activation's backward (on
        # either side, without generating a mask)
        kernels(backend, dout=dout, dx=dx).activations.activation_backward(dx, dout, dout, LINEAR, scale)
    else:
        if seed is None:
            raise ValueError("dropout_backward needs the forward's seed (and offset) or its mask")
        seed, offset = _stream(seed, offset, n)
        k = kernels(backend, dout=dout, dx=dx).dropout
        k.dropout_backward(dx, dout, seed, offset, keep_threshold(keep_prob), scale)
    return dx


def dropout_mask(shape: tuple[int, ...], keep_prob: float, *, seed: int, offset: int = 0,
                 backend: str | None = None) -> np.ndarray:
    """The boolean keep mask that ``dropout_forward`` uses for this stream."""
    keep_prob = _checks.probability("keep_prob", keep_prob)
    n = int(np.prod(shape))
    if n == 0:
        raise ValueError(f"shape must not be empty, got {shape}")
    seed, offset = _stream(seed, offset, n)
    packed = np.zeros((n + 7) // 8, np.uint8)
    kernels(backend).dropout.dropout_mask(packed, n, seed, offset, keep_threshold(keep_prob))
    return np.unpackbits(packed, count=n, bitorder="little").astype(bool).reshape(shape)
