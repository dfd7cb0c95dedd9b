"""Export a trained model to ONNX, for serving stacks that read it
(onnxruntime, Triton, ...). Needs the ``onnx`` extra.

The graph is the model's inference forward:

- ``Dense``: ``Gemm`` (``MatMul`` without a bias); its fused activation
  follows as ``Relu``, ``LeakyRelu``, ``Sigmoid`` or ``Tanh``.
- ``BatchNorm``: inference form, with the running statistics. Where it
  follows a linear ``Dense`` directly, it is folded into that layer's
  weights by default (``fold_batchnorm``)::

      s  = gamma / sqrt(running_var + eps)
      W' = W * s          (per output column)
      b' = (b - running_mean) * s + beta

  otherwise (or with ``fold_batchnorm=False``) it is a
  ``BatchNormalization`` node.
- ``Dropout``: the identity (inference), so nothing.
- Outputs, by the model's loss: ``probabilities`` (``Softmax`` or
  ``Sigmoid``, what ``predict_proba`` gives) and ``label`` (int64, what
  ``predict`` gives) for classifiers; ``predictions`` for mean squared
  error. ``logits`` always.

The batch axis is dynamic (``"batch"``): one file serves any batch size.
"""
from __future__ import annotations

import os

import numpy as np

from . import _arrays, _checks, io
from .layers import Activation, BatchNorm, Dense, Dropout

__all__ = ["to_onnx", "OPSET"]

# ONNX opset of the exported graph: Softmax on one axis (13+), Gemm with
# an optional C (11+); 17 is read by every onnxruntime since 1.11
OPSET = 17

_ACTIVATIONS = {"relu": "Relu", "leaky_relu": "LeakyRelu", "sigmoid": "Sigmoid", "tanh": "Tanh", "linear": None}


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("ONNX export needs the onnx package: pip install 'fastnn-numba[onnx]'") from None
    return onnx


class _Graph:
    """Nodes and initializers, with fresh names."""

    def __init__(self, onnx, dtype):
        self.onnx, self.dtype = onnx, dtype
        self.nodes, self.initializers = [], []
        self.count = 0

    def name(self, stem):
        self.count += 1
        return f"{stem}_{self.count}"

    def constant(self, stem, value, dtype=None):
        name = self.name(stem)
        arr = np.asarray(value, dtype=self.dtype if dtype is None else dtype)
        self.initializers.append(self.onnx.numpy_helper.from_array(arr, name))
        return name

    def node(self, op, inputs, output=None, **attrs):
        output = output or self.name(op.lower())
        self.nodes.append(self.onnx.helper.make_node(op, list(inputs), [output], **attrs))
        return output


def _host(a):
    """A parameter or statistic as float64 on the host (a device model's
    weights are read back once, for the export)."""
    return np.asarray(_arrays.host_copy(a), np.float64)


def _activation(g, x, name, alpha):
    if name not in _ACTIVATIONS:
        raise TypeError(f"activation {name!r} has no ONNX export")
    op = _ACTIVATIONS[name]
    if op is None:
        return x
    if op == "LeakyRelu" and g.dtype == np.float64:
        # LeakyRelu's alpha is a float32 attribute: 0.01 would be off by
        # 2e-10; in float64 the slope is a constant of the graph's dtype
        positive = g.node("Greater", [x, g.constant("zero", 0.0)])
        return g.node("Where", [positive, x, g.node("Mul", [x, g.constant("alpha", alpha)])])
    return g.node(op, [x], alpha=float(alpha)) if op == "LeakyRelu" else g.node(op, [x])


def _bn_scale(bn):
    mean = _host(bn.running_mean)
    scale = _host(bn.params["gamma"]) / np.sqrt(_host(bn.running_var) + bn.eps)
    return mean, scale


def _body(g, model, x, fold_batchnorm):
    """The layers as nodes from input name ``x``; returns the logits' name."""
    layers = [layer for layer in model.layers if not isinstance(layer, Dropout)]
    i = 0
    while i < len(layers):
        layer = layers[i]
        if isinstance(layer, Dense):
            W = _host(layer.params["W"])
            b = _host(layer.params["b"]) if layer.bias else None
            nxt = layers[i + 1] if i + 1 < len(layers) else None
            if fold_batchnorm and isinstance(nxt, BatchNorm) and layer.activation == "linear":
                mean, scale = _bn_scale(nxt)
                b = ((np.zeros(W.shape[1]) if b is None else b) - mean) * scale + _host(nxt.params["beta"])
                W = W * scale
                i += 1                                  # the BatchNorm is in the weights now
            if b is None:
                z = g.node("MatMul", [x, g.constant("W", W)])
            else:
                z = g.node("Gemm", [x, g.constant("W", W), g.constant("b", b)])
            x = _activation(g, z, layer.activation, layer.alpha)
        elif isinstance(layer, BatchNorm):
            mean, _ = _bn_scale(layer)
            x = g.node("BatchNormalization", [x, g.constant("gamma", _host(layer.params["gamma"])),
                                              g.constant("beta", _host(layer.params["beta"])),
                                              g.constant("mean", mean), g.constant("var", _host(layer.running_var))],
                       epsilon=float(layer.eps))
        elif isinstance(layer, Activation):
            x = _activation(g, x, layer.name, layer.alpha)
        else:
            raise TypeError(f"layer {type(layer).__name__} has no ONNX export: export models built from "
                            "fastnn's Dense, BatchNorm, Dropout and activation layers")
        i += 1
    return x


def to_onnx(model, path: str | os.PathLike | None = None, fold_batchnorm: bool = True,
            dtype=None, _head=None):
    """The model's inference forward as an ONNX model (``onnx.ModelProto``);
    with ``path``, also written there atomically.

    Parameters
    ----------
    model : a fastnn ``Sequential`` (cpu or cuda: weights are read to the host)
    path : where to write the ``.onnx`` file, or None
    fold_batchnorm : fold each BatchNorm that follows a linear Dense into
        that layer's weights (one Gemm instead of two nodes)
    dtype : float32 or float64 for the graph; None takes the model's dtype

    Input ``X`` has shape ``(batch, in_features)``; outputs are named in the
    module docstring. Raises ``TypeError`` for a layer that has no export.
    """
    onnx = _onnx()
    from .model import Sequential
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a fastnn.Sequential, got {type(model).__name__}")
    model._own()
    fold_batchnorm = _checks.flag("fold_batchnorm", fold_batchnorm)
    dtype = model.dtype if dtype is None else np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    elem = onnx.helper.np_dtype_to_tensor_dtype(dtype)
    g = _Graph(onnx, dtype)
    logits = _body(g, model, "X", fold_batchnorm)
    outputs = [("logits", [None, model.out_features], elem)]
    g.node("Identity", [logits], "logits")
    head = _head or _default_head
    outputs += head(g, model, "logits", elem)
    graph = onnx.helper.make_graph(
        g.nodes, "fastnn", [onnx.helper.make_tensor_value_info("X", elem, ["batch", model.in_features])],
        [onnx.helper.make_tensor_value_info(n, e, ["batch"] + s[1:]) for n, s, e in outputs],
        initializer=g.initializers)
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                   producer_name="fastnn")
    proto.ir_version = min(proto.ir_version, 8)   # what onnxruntime 1.11+ reads
    onnx.checker.check_model(proto)
    if path is not None:
        io.write_atomic(path, proto.SerializeToString())
    return proto


def _default_head(g, model, logits, elem):
    """``probabilities`` and ``label`` as ``predict_proba`` and ``predict``
    give them; ``predictions`` for a regression loss."""
    onnx = g.onnx
    int64 = onnx.TensorProto.INT64
    if model.loss == "softmax_cross_entropy":
        g.node("Softmax", [logits], "probabilities", axis=1)
        g.node("ArgMax", [logits], "label", axis=1, keepdims=0)
        return [("probabilities", [None, model.out_features], elem), ("label", [None], int64)]
    if model.loss == "binary_cross_entropy":
        g.node("Sigmoid", [logits], "probabilities")
        positive = g.node("Greater", [logits, g.constant("zero", 0.0)])
        g.node("Cast", [positive], "label", to=int64)
        return [("probabilities", [None, model.out_features], elem), ("label", [None, model.out_features], int64)]
    g.node("Identity", [logits], "predictions")
    return [("predictions", [None, model.out_features], elem)]
