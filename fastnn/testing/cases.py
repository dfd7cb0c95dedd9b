"""One registry of kernel comparisons, shared by the equivalence tests, the
CUDA simulator tests, ``python -m fastnn`` and the benchmarks.

A ``Case`` knows how to build a kernel's arguments for a shape and dtype
(outputs included: gradient buffers start non-zero, so accumulation is
checked), how to call the kernel of any backend, which arguments are outputs
and which tolerance kind each needs, and how many bytes and FLOPs one call
moves, so benchmarks can report GB/s and GFLOP/s.

Inputs are scaled like a trained network's (weights ~ N(0, 1/fan_in),
gradients of a mean cost ~ 1/batch), so tolerances test rounding, not luck.
"""
from dataclasses import dataclass, field
from typing import Callable, Dict, Tuple

import numpy as np

from .. import _arrays
from ..kernels.codes import ACTIVATIONS
from ..kernels.philox import keep_threshold

__all__ = ["Case", "CASES", "copy_args", "compare", "poison", "NONFINITE_CASES"]


@dataclass
class Case:
    name: str                 # "<op>[<variant>]"
    family: str               # kernel module: dense, activations, losses, ...
    op: str                   # kernel function name
    make: Callable            # (shape, dtype, rng) -> dict of kernel arguments, in order
    outputs: Dict[str, str]   # output name -> tolerance kind
    shapes: Tuple[tuple, ...]         # shapes the tests run (1, odd, non-multiples of blocks)
    bench_shapes: Tuple[tuple, ...] = ()
    bytes: Callable = None    # (shape, itemsize) -> bytes one call must move
    flops: Callable = None    # (shape) -> floating-point operations of one call
    tiny: tuple = field(default=None)  # a shape small enough for the CUDA simulator

    def args(self, shape, dtype, seed=0):
        return self.make(shape, np.dtype(dtype), np.random.default_rng(seed))

    def run(self, backend_module, args):
        """Call this case's kernel of a backend on (a copy of) args; return the args."""
        getattr(getattr(backend_module, self.family), self.op)(*args.values())
        return args


def copy_args(args):
    """A copy of a case's arguments (arrays copied, scalars shared), large
    arrays 64-byte aligned as fastnn allocates its own (``_arrays.copy``):
    a benchmark's two sides then do not differ by where NumPy put them."""
    return {k: (_arrays.copy(v) if isinstance(v, np.ndarray) else v) for k, v in args.items()}


def _normal(rng, shape, dtype, std=1.0):
    return (rng.standard_normal(shape) * std).astype(dtype)


# --- dense -----------------------------------------------------------------

def _dense_fwd(act):
    def make(shape, dt, rng):
        batch, n_in, n_out = shape
        return dict(out=np.full((batch, n_out), np.nan, dt),
                    x=_normal(rng, (batch, n_in), dt),
                    w=_normal(rng, (n_in, n_out), dt, 1 / np.sqrt(n_in)),
                    b=_normal(rng, (n_out,), dt, 0.1),
                    act=ACTIVATIONS[act], alpha=dt.type(0.1))
    return make


def _dense_bwd(act, bias=True):
    fwd = _dense_fwd(act)

    def make(shape, dt, rng):
        batch, n_in, n_out = shape
        f = fwd(shape, dt, rng)
        from ..kernels import ref
        ref.dense.dense_forward(f["out"], f["x"], f["w"], f["b"], f["act"], f["alpha"])
        return dict(dx=_normal(rng, (batch, n_in), dt, 0.1),
                    dw=_normal(rng, (n_in, n_out), dt, 0.1),
                    db=_normal(rng, (n_out,), dt, 0.1) if bias else np.empty(0, dt),
                    dz=np.full((batch, n_out), np.nan, dt),
                    dout=_normal(rng, (batch, n_out), dt, 1 / batch),
                    x=f["x"], w=f["w"], out=f["out"], act=f["act"], alpha=f["alpha"])
    return make


# (150, 20, 120): 18,000 outputs, above kernels/cpu/dense._SERIAL_EPILOGUE, so
# both the serial and the threaded epilogue are compared with ref
_DENSE_SHAPES = ((1, 1, 1), (7, 3, 5), (33, 65, 70), (64, 128, 10), (150, 20, 120))
_DENSE_BENCH = ((32, 784, 128), (64, 784, 128), (256, 784, 128), (1024, 784, 128), (4096, 784, 128))


def _dense_bytes(shape, itemsize):
    b, i, o = shape
    return itemsize * (b * i + i * o + o + b * o)


def _dense_bwd_bytes(shape, itemsize):
    b, i, o = shape
    return itemsize * (2 * b * i + 2 * i * o + 2 * o + 4 * b * o)


# --- elementwise -----------------------------------------------------------

def _act_fwd(act):
    def make(shape, dt, rng):
        return dict(out=np.full(shape, np.nan, dt), x=_normal(rng, shape, dt, 3.0),
                    act=ACTIVATIONS[act], alpha=dt.type(0.1))
    return make


def _act_bwd(act):
    fwd = _act_fwd(act)

    def make(shape, dt, rng):
        f = fwd(shape, dt, rng)
        from ..kernels import ref
        ref.activations.activation_forward(f["out"], f["x"], f["act"], f["alpha"])
        return dict(dx=_normal(rng, shape, dt, 0.1), dout=_normal(rng, shape, dt),
                    out=f["out"], act=f["act"], alpha=f["alpha"])
    return make


_EW_SHAPES = ((1, 1), (7, 3), (33, 65), (257, 129))
_EW_BENCH = ((32, 32), (1000, 1000), (4000, 2500))   # 1K, 1M, 10M elements


# --- losses ----------------------------------------------------------------

def _softmax(shape, dt, rng):
    return dict(probs=np.full(shape, np.nan, dt), logits=_normal(rng, shape, dt, 5.0))


def _sce(shape, dt, rng):
    batch, k = shape
    return dict(loss=np.full(batch, np.nan, dt), dlogits=_normal(rng, shape, dt, 0.1),
                probs=np.full(shape, np.nan, dt), logits=_normal(rng, shape, dt, 5.0),
                labels=rng.integers(0, k, batch).astype(np.intp))


def _bce(shape, dt, rng):
    batch, k = shape
    return dict(loss=np.full(batch, np.nan, dt), dlogits=_normal(rng, shape, dt, 0.1),
                logits=_normal(rng, shape, dt, 5.0),
                y=(rng.random(shape) < 0.5).astype(dt))


def _mse(shape, dt, rng):
    batch, k = shape
    return dict(loss=np.full(batch, np.nan, dt), dpred=_normal(rng, shape, dt, 0.1),
                pred=_normal(rng, shape, dt), y=_normal(rng, shape, dt))


_LOSS_SHAPES = ((1, 1), (1, 2), (7, 3), (33, 10), (200, 65))
_LOSS_BENCH = ((64, 10), (4096, 10), (100000, 10), (1000000, 10))


# --- dropout -----------------------------------------------------------------

_KEEP = 0.8
_SEED = np.uint64(0x0123456789ABCDEF)
_OFFSET = np.uint64(12345)


def _nbytes_mask(shape):
    return (int(np.prod(shape)) + 7) // 8


def _dropout_fwd(shape, dt, rng):
    return dict(out=np.full(shape, np.nan, dt), mask=np.zeros(_nbytes_mask(shape), np.uint8),
                x=_normal(rng, shape, dt), seed=_SEED, offset=_OFFSET,
                threshold=keep_threshold(_KEEP), scale=dt.type(1 / _KEEP))


def _dropout_bwd(shape, dt, rng):
    return dict(dx=_normal(rng, shape, dt, 0.1), dout=_normal(rng, shape, dt), seed=_SEED,
                offset=_OFFSET, threshold=keep_threshold(_KEEP), scale=dt.type(1 / _KEEP))


def _dropout_bwd_mask(shape, dt, rng):
    from ..kernels import ref
    mask = np.zeros(_nbytes_mask(shape), np.uint8)
    ref.dropout.dropout_mask(mask, int(np.prod(shape)), _SEED, _OFFSET, keep_threshold(_KEEP))
    return dict(dx=_normal(rng, shape, dt, 0.1), dout=_normal(rng, shape, dt), mask=mask,
                scale=dt.type(1 / _KEEP))


def _dropout_mask(shape, dt, rng):
    return dict(mask=np.zeros(_nbytes_mask(shape), np.uint8), n=int(np.prod(shape)), seed=_SEED,
                offset=_OFFSET, threshold=keep_threshold(_KEEP))


# --- batch norm --------------------------------------------------------------

def _bn_train(shape, dt, rng):
    n, f = shape
    return dict(out=np.full(shape, np.nan, dt), mean=np.full(f, np.nan), rstd=np.full(f, np.nan),
                running_mean=rng.standard_normal(f), running_var=1 + rng.random(f),
                x=(3 + 2 * rng.standard_normal(shape)).astype(dt),
                gamma=(1 + 0.1 * rng.standard_normal(f)).astype(dt), beta=_normal(rng, f, dt, 0.1),
                momentum=0.1, eps=1e-5)


def _bn_eval(shape, dt, rng):
    a = _bn_train(shape, dt, rng)
    return dict(out=a["out"], x=a["x"], running_mean=3 + a["running_mean"],
                running_var=4 * a["running_var"], gamma=a["gamma"], beta=a["beta"], eps=1e-5)


def _bn_bwd(shape, dt, rng):
    from ..kernels import ref
    a = _bn_train(shape, dt, rng)
    ref.batchnorm.batchnorm_forward_train(*a.values())
    n, f = shape
    return dict(dx=_normal(rng, shape, dt, 0.1), dgamma=_normal(rng, f, dt, 0.1),
                dbeta=_normal(rng, f, dt, 0.1), dout=_normal(rng, shape, dt, 1 / n),
                x=a["x"], mean=a["mean"], rstd=a["rstd"], gamma=a["gamma"])


_BN_SHAPES = ((2, 1), (7, 3), (33, 65), (257, 130))
_BN_BENCH = ((64, 128), (1024, 1024), (4000, 2500))


# --- regularization ----------------------------------------------------------

def _penalty(shape, dt, rng):
    from ..kernels.ref.regularization import CHUNK
    (n,) = shape
    return dict(partials=np.full((n + CHUNK - 1) // CHUNK, np.nan), dw=_normal(rng, shape, dt, 0.1),
                w=_normal(rng, shape, dt), coef=dt.type(0.01))


_PEN_SHAPES = ((1,), (7,), (4097,), (20000,))
_PEN_BENCH = ((1000,), (1000000,), (10000000,))


# --- optimizers ----------------------------------------------------------------

def _optim(kind):
    def make(shape, dt, rng):
        (n,) = shape
        a = dict(p=_normal(rng, shape, dt), g=_normal(rng, shape, dt, 0.1))
        c = dt.type
        if kind == "sgd":
            a.update(lr=c(0.1), weight_decay=c(0.01), n_decay=n // 2)
        elif kind == "momentum":
            a.update(v=_normal(rng, shape, dt, 0.01), lr=c(0.1), beta=c(0.9), weight_decay=c(0.01),
                     n_decay=n // 2)
        elif kind == "rmsprop":
            a.update(s=rng.random(n).astype(dt) * c(0.01), lr=c(0.01), beta=c(0.999), eps=c(1e-8),
                     weight_decay=c(0.01), n_decay=n // 2)
        else:
            t = 3
            a.update(m=_normal(rng, shape, dt, 0.01), v=rng.random(n).astype(dt) * c(0.01), lr=c(1e-3),
                     beta1=c(0.9), beta2=c(0.999), eps=c(1e-8), weight_decay=c(0.01),
                     decoupled=kind == "adamw", n_decay=n // 2, bc1=1 - 0.9 ** t, bc2=1 - 0.999 ** t)
        return a
    return make


_OPT_STATE = {"sgd": (), "momentum": ("v",), "rmsprop": ("s",), "adam": ("m", "v"), "adamw": ("m", "v")}
_OPT_ARRAYS = {"sgd": 3, "momentum": 5, "rmsprop": 5, "adam": 7, "adamw": 7}   # reads + writes
_OPT_SHAPES = ((1,), (7,), (1000,), (65537,))
_OPT_BENCH = ((1000,), (1000000,), (10000000,))


# --- data movement and training-loop bookkeeping --------------------------------

def _fill(shape, dt, rng):
    return dict(a=np.full(shape, np.nan, dt), value=dt.type(1.5))


def _gather(shape, dt, rng):
    rows, cols = shape
    return dict(out=np.full(shape, np.nan, dt), x=_normal(rng, (rows + 3, cols), dt),
                idx=rng.integers(0, rows + 3, rows).astype(np.intp))


def _sum_into(shape, dt, rng):
    return dict(acc=np.array([0.5, 0.25, 2.0]), index=1, values=_normal(rng, shape, dt), scale=0.5)


def _argmax_hits(shape, dt, rng):
    batch, k = shape
    logits = _normal(rng, shape, dt)
    logits[0] = 0                                  # a tie: the first maximum wins
    return dict(hits=np.array([1.0, 2.0]), index=1, logits=logits,
                labels=rng.integers(0, k, batch).astype(np.intp))


def _threshold_hits(shape, dt, rng):
    logits = _normal(rng, shape, dt)
    logits.flat[0] = 0                             # exactly 0 is not > 0
    return dict(hits=np.array([1.0, 2.0]), index=0, logits=logits,
                y=rng.integers(0, 2, shape).astype(dt))


def _segment_norms(shape, dt, rng):
    (n,) = shape
    return dict(acc=np.array([0.5, 0.0, 1.0]), x=_normal(rng, shape, dt),
                starts=np.array([0, n // 2, 1], np.int64), stops=np.array([n // 2, n, 1], np.int64))


def _ew_bytes(n_arrays):
    return lambda shape, itemsize: n_arrays * itemsize * int(np.prod(shape))


def _build():
    cases = []
    for act in ACTIVATIONS:
        cases.append(Case(f"dense_forward[{act}]", "dense", "dense_forward", _dense_fwd(act),
                          {"out": "reduction"}, _DENSE_SHAPES, _DENSE_BENCH if act == "relu" else (),
                          _dense_bytes, lambda s: 2 * s[0] * s[1] * s[2], tiny=(3, 5, 17)))
        cases.append(Case(f"dense_backward[{act}]", "dense", "dense_backward", _dense_bwd(act),
                          {"dx": "reduction", "dw": "reduction", "db": "reduction", "dz": "elementwise"},
                          _DENSE_SHAPES, _DENSE_BENCH if act == "relu" else (),
                          _dense_bwd_bytes, lambda s: 4 * s[0] * s[1] * s[2], tiny=(3, 5, 17)))
        cases.append(Case(f"activation_forward[{act}]", "activations", "activation_forward",
                          _act_fwd(act), {"out": "elementwise"}, _EW_SHAPES,
                          _EW_BENCH if act in ("relu", "sigmoid") else (), _ew_bytes(2),
                          lambda s: int(np.prod(s)), tiny=(3, 5)))
        cases.append(Case(f"activation_backward[{act}]", "activations", "activation_backward",
                          _act_bwd(act), {"dx": "elementwise"}, _EW_SHAPES,
                          _EW_BENCH if act in ("relu", "sigmoid") else (), _ew_bytes(4),
                          lambda s: 2 * int(np.prod(s)), tiny=(3, 5)))
    cases.append(Case("dense_backward[relu,nobias]", "dense", "dense_backward",
                      _dense_bwd("relu", bias=False),
                      {"dx": "reduction", "dw": "reduction", "dz": "elementwise"},
                      _DENSE_SHAPES, (), _dense_bwd_bytes, lambda s: 4 * s[0] * s[1] * s[2],
                      tiny=(3, 5, 17)))
    cases.append(Case("softmax_forward", "losses", "softmax_forward", _softmax,
                      {"probs": "reduction"}, _LOSS_SHAPES, _LOSS_BENCH, _ew_bytes(2),
                      lambda s: 4 * int(np.prod(s)), tiny=(3, 4)))
    cases.append(Case("softmax_cross_entropy", "losses", "softmax_cross_entropy", _sce,
                      {"loss": "reduction", "dlogits": "reduction", "probs": "reduction"},
                      _LOSS_SHAPES, _LOSS_BENCH,
                      lambda s, i: i * (4 * s[0] * s[1] + s[0]) + 8 * s[0],
                      lambda s: 6 * int(np.prod(s)), tiny=(3, 4)))
    cases.append(Case("binary_cross_entropy", "losses", "binary_cross_entropy", _bce,
                      {"loss": "reduction", "dlogits": "elementwise"}, _LOSS_SHAPES, _LOSS_BENCH,
                      lambda s, i: i * (4 * s[0] * s[1] + s[0]),
                      lambda s: 10 * int(np.prod(s)), tiny=(3, 4)))
    cases.append(Case("mean_squared_error", "losses", "mean_squared_error", _mse,
                      {"loss": "reduction", "dpred": "elementwise"}, _LOSS_SHAPES, _LOSS_BENCH,
                      lambda s, i: i * (4 * s[0] * s[1] + s[0]),
                      lambda s: 4 * int(np.prod(s)), tiny=(3, 4)))
    n = lambda s: int(np.prod(s))                                  # noqa: E731
    cases += [
        Case("dropout_forward", "dropout", "dropout_forward", _dropout_fwd,
             {"out": "elementwise", "mask": "exact"}, _EW_SHAPES, _EW_BENCH,
             lambda s, i: 2 * i * n(s) + _nbytes_mask(s), lambda s: n(s), tiny=(3, 5)),
        Case("dropout_backward", "dropout", "dropout_backward", _dropout_bwd,
             {"dx": "elementwise"}, _EW_SHAPES, _EW_BENCH,
             lambda s, i: 3 * i * n(s), lambda s: 2 * n(s), tiny=(3, 5)),
        Case("dropout_backward_mask", "dropout", "dropout_backward_mask", _dropout_bwd_mask,
             {"dx": "elementwise"}, _EW_SHAPES, _EW_BENCH,
             lambda s, i: 3 * i * n(s) + _nbytes_mask(s), lambda s: 2 * n(s), tiny=(3, 5)),
        Case("dropout_mask", "dropout", "dropout_mask", _dropout_mask,
             {"mask": "exact"}, _EW_SHAPES, (), lambda s, i: _nbytes_mask(s), lambda s: 0, tiny=(3, 5)),
        Case("batchnorm_forward_train", "batchnorm", "batchnorm_forward_train", _bn_train,
             {"out": "reduction", "mean": "reduction", "rstd": "reduction",
              "running_mean": "reduction", "running_var": "reduction"}, _BN_SHAPES, _BN_BENCH,
             lambda s, i: 2 * i * n(s), lambda s: 8 * n(s), tiny=(9, 5)),
        Case("batchnorm_forward_eval", "batchnorm", "batchnorm_forward_eval", _bn_eval,
             {"out": "elementwise"}, _BN_SHAPES, _BN_BENCH,
             lambda s, i: 2 * i * n(s), lambda s: 4 * n(s), tiny=(9, 5)),
        Case("batchnorm_backward", "batchnorm", "batchnorm_backward", _bn_bwd,
             {"dx": "reduction", "dgamma": "reduction", "dbeta": "reduction"}, _BN_SHAPES, _BN_BENCH,
             lambda s, i: 4 * i * n(s), lambda s: 12 * n(s), tiny=(9, 5)),
        Case("l2_penalty", "regularization", "l2_penalty", _penalty,
             {"partials": "reduction", "dw": "elementwise"}, _PEN_SHAPES, _PEN_BENCH,
             lambda s, i: 3 * i * n(s), lambda s: 4 * n(s), tiny=(5,)),
        Case("l1_penalty", "regularization", "l1_penalty", _penalty,
             {"partials": "reduction", "dw": "elementwise"}, _PEN_SHAPES, _PEN_BENCH,
             lambda s, i: 3 * i * n(s), lambda s: 3 * n(s), tiny=(5,)),
    ]
    cases += [
        Case("fill", "data", "fill", _fill, {"a": "exact"}, ((1, 1), (7, 3), (300, 70)), (),
             lambda s, i: i * n(s), lambda s: 0, tiny=(3, 5)),
        Case("gather_rows", "data", "gather_rows", _gather, {"out": "exact"}, ((1, 1), (7, 3), (300, 70)),
             (), lambda s, i: 2 * i * n(s) + 8 * s[0], lambda s: 0, tiny=(3, 5)),
        Case("sum_into", "metrics", "sum_into", _sum_into, {"acc": "reduction"},
             ((1,), (7,), (1000,), (65537,)), (), lambda s, i: i * n(s), lambda s: n(s), tiny=(5,)),
        Case("argmax_hits", "metrics", "argmax_hits", _argmax_hits, {"hits": "exact"},
             ((1, 1), (7, 3), (300, 10)), (), lambda s, i: i * n(s) + 8 * s[0], lambda s: n(s), tiny=(4, 3)),
        Case("threshold_hits", "metrics", "threshold_hits", _threshold_hits, {"hits": "exact"},
             ((1, 1), (7, 3), (300, 2)), (), lambda s, i: 2 * i * n(s), lambda s: n(s), tiny=(4, 2)),
        Case("segment_norms", "metrics", "segment_norms", _segment_norms, {"acc": "reduction"},
             ((2,), (7,), (1000,), (65537,)), (), lambda s, i: i * n(s), lambda s: 2 * n(s), tiny=(6,)),
    ]
    for kind, state in _OPT_STATE.items():
        op = "adam_update" if kind == "adamw" else f"{kind}_update"
        cases.append(Case(f"{op}[{kind}]" if kind == "adamw" else op, "optim", op, _optim(kind),
                          {"p": "elementwise", **{k: "elementwise" for k in state}}, _OPT_SHAPES,
                          _OPT_BENCH if kind != "sgd" else (), _ew_bytes(_OPT_ARRAYS[kind]),
                          lambda s: 10 * n(s), tiny=(5,)))
    return {c.name: c for c in cases}


CASES = _build()


def compare(case, backend_module, shape, dtype, seed=0):
    """Run a case on ref and on ``backend_module`` from identical arguments.

    Returns {output name: (actual, expected, tolerance kind)}.
    """
    from ..kernels import ref
    args = case.args(shape, dtype, seed)
    expected = case.run(ref, copy_args(args))
    actual = case.run(backend_module, copy_args(args))
    return {name: (actual[name], expected[name], kind) for name, kind in case.outputs.items()}


def _float_inputs(case, args):
    return [k for k, v in args.items()
            if isinstance(v, np.ndarray) and v.dtype.kind == "f" and k not in case.outputs and v.size]


def poison(case, args, rng, fraction):
    """Put NaN, +inf and -inf at random places (each element with
    probability ``fraction``) of a case's float inputs, in place; labels,
    masks, seeds and offsets are structural (the API checks them), and the
    buffers a kernel accumulates into are outputs, so neither is touched."""
    for k in _float_inputs(case, args):
        flat = args[k].reshape(-1)
        hit = rng.random(flat.size) < fraction
        flat[hit] = rng.choice(np.array([np.nan, np.inf, -np.inf], flat.dtype), int(hit.sum()))
    return args


# the cases with float inputs to poison
NONFINITE_CASES = tuple(name for name, case in CASES.items()
                        if _float_inputs(case, case.args(case.tiny or case.shapes[0], np.float64)))
