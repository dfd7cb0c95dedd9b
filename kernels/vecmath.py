"""exp, log, log1p and tanh that vectorise: branch-free float32 polynomials.

Why: LLVM vectorises a loop only if every call in it has a vector version.
numba's ``math.exp`` is a call to libm's ``expf``, which has one only through
Intel's SVML, and only when llvmlite is built with the SVML patch (check
``numba -s``: "LLVM SVML Patched"); without it every exp-bound kernel
(sigmoid, tanh, softmax, BCE) runs one element at a time. These functions
are plain arithmetic, integer shifts, selects and fused multiply-adds
(``fmuladd``), which LLVM turns into AVX2/AVX-512 code: a float32 exp
costs about 0.4 ns per core on the 2-core Zen 4 development machine (a
vectorised loop over 10M elements), where ``math.exp`` costs several ns.

Scope: float32. A float64 argument goes to ``math`` (accurate, scalar):
float32 is the speed dtype, float64 the accuracy one (gradient checks).
The one exception is ``exp64``, a float64 exp within 1 ulp of NumPy's
that a kernel calls by name where float64 is the speed dtype too: the
course's loop, which runs the notebooks in float64.

Accuracy (float32, against float64 NumPy, tested in
``tests/test_vecmath.py`` over the whole range and the special values):
exp within 1 ulp, log and tanh within 2 ulp, log1p within 3 ulp; inf, -inf and nan behave as
NumPy's. exp results below 2^-126 are subnormal as in NumPy.

Where they run: the cpu backend, where ``kernels/scalar.py``'s shared bodies
call them through an ``@overload`` that numba inlines into the calling
kernel (the float32 polynomial, or ``math`` for float64). The cuda backend
compiles the same bodies with these names bound to ``math``
(``kernels/cuda/_launch.device_function``): libdevice is fast and accurate
on a GPU, which needs no vectorising. The Python functions below run the
float32 polynomials on NumPy scalars, so the bodies are testable in Python.
The coefficients are the minimax polynomials of Moshier's Cephes library
(expf, logf, tanhf).

float32 ``math.log``/``math.log1p`` on the cpu accept a negative argument
and return nan; so do these. The range checks are selects, not branches.
"""
import math

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.extending import lower_builtin, overload, type_callable

_f = np.float32
_i = np.int32

# exp: x = n ln2 + r, |r| <= ln2/2, ln2 split in two so n * _LN2_HI is exact
_LOG2E = _f(1.44269504088896341)
# adding 1.5 * 2^23 rounds a float32 of magnitude < 2^22 to an integer, and
# that integer is then the low bits of the sum: n without a float-to-int
# conversion (which LLVM vectorises through int64 on x86, 3x the instructions)
_MAGIC = _f(12582912.0)
_MAGIC_BITS = _i(0x4B400000)
_LN2_HI = _f(0.693359375)
_LN2_LO = _f(-2.12194440e-4)
# beyond these exp(x) is inf / 0 in float32 anyway; clamping first keeps the
# integer n in range for any input (nan included, restored at the end)
_EXP_MAX = _f(89.0)
_EXP_MIN = _f(-104.0)
_E0 = _f(1.9875691500e-4)
_E1 = _f(1.3981999507e-3)
_E2 = _f(8.3334519073e-3)
_E3 = _f(4.1665795894e-2)
_E4 = _f(1.6666665459e-1)
_E5 = _f(5.0000001201e-1)
# log(m), m in [sqrt(1/2), sqrt(2)), as f = m - 1: f - f^2/2 + f^3 P(f)
_L = (_f(7.0376836292e-2), _f(-1.1514610310e-1), _f(1.1676998740e-1), _f(-1.2420140846e-1),
      _f(1.4249322787e-1), _f(-1.6668057665e-1), _f(2.0000714765e-1), _f(-2.4999993993e-1),
      _f(3.3333331174e-1))
_SQRTH = _f(0.70710678118654752440)
# tanh(x), |x| < 0.625: x + x^3 P(x^2)
_T0 = _f(-5.70498872745e-3)
_T1 = _f(2.06390887954e-2)
_T2 = _f(-5.37397155531e-2)
_T3 = _f(1.33314422036e-1)
_T4 = _f(-3.33332819422e-1)
_TANH_POLY = _f(0.625)

_ZERO = _f(0.0)
_HALF = _f(0.5)
_ONE = _f(1.0)
_TWO = _f(2.0)
_INF = _f(np.inf)
_NAN = _f(np.nan)


def fmuladd(a, b, c):
    """a * b + c, fused into one FMA where the machine has a fast one.

    Compiled, this is LLVM's ``llvm.fmuladd``: the backend fuses it when the
    target has FMA (every x86-64 since 2013, every aarch64) and emits a
    multiply and an add otherwise, never a libm call. It fuses the scalar and
    the vector form alike, so an element gets the same bits whether it lands
    in a vectorised loop body or in its remainder, which is what keeps the
    kernels' results independent of how threads split the elements. The
    Python version (NumPy scalars) is a multiply and an add, rounded twice.
    """
    return a * b + c


# Typed and lowered directly, not as an ``@overload``: a call compiles to
# the one LLVM intrinsic with no IR inlining pass per call site (as an
# overload it cost the cold compile of python -m fastnn 2 s more).
@type_callable(fmuladd)
def _type_fmuladd(context):
    def typer(a, b, c):
        if isinstance(a, types.Float) and a == b and a == c:
            return a
        return None
    return typer


@lower_builtin(fmuladd, types.Float, types.Float, types.Float)
def _lower_fmuladd(context, builder, sig, args):
    lty = context.get_value_type(sig.return_type)
    name = "llvm.fmuladd.f%d" % sig.return_type.bitwidth
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(lty, [lty] * 3), name)
    return builder.call(fn, args)


def wide_vectors():
    """Compiled: vectorise the function this call is compiled into with the
    widest vectors (512-bit on AVX-512). In Python, nothing.

    LLVM tunes many AVX-512 Intel parts to prefer 256-bit vectors, so their
    loops run 8 float32 lanes wide where 16 fit a register. That suits
    memory-bound loops, which gain nothing from wider ones, but a loop over
    the polynomials here is bound by arithmetic. numba's own switch
    (``NUMBA_CPU_FEATURES``) is process-wide, so this sets the LLVM
    function attribute ``"prefer-vector-width"="512"`` on the one function
    being compiled instead. The cpu loops that evaluate a polynomial per
    element call it (activations, softmax, binary cross-entropy): on an
    Emerald Rapids Xeon, at 1M elements, sigmoid forward took 0.83x the
    time, tanh 0.75x, binary cross-entropy 0.70x and softmax 0.92x, with
    memory-bound loops unchanged and no cost to python -m fastnn's cold
    compile (``bench/NOTES.md``, "512-bit vectors").

    The polynomials do not call it themselves: then every function that
    evaluates one is compiled wide, the compiled training steps included,
    and that cost python -m fastnn's cold compile about 2 s (median of six
    alternated cold runs). The results are the same bits at either
    width: nothing here reduces across lanes, and ``fmuladd`` fuses alike at
    every width. Where a machine has no 512-bit vectors (AVX2) or is not
    x86, LLVM ignores the attribute.
    """
    return None


@type_callable(wide_vectors)
def _type_wide_vectors(context):
    def typer():
        return types.none
    return typer


@lower_builtin(wide_vectors)
def _lower_wide_vectors(context, builder, sig, args):
    # a string attribute, which llvmlite's whitelist of attribute names
    # does not list: added to the set directly, it is written verbatim into
    # the function's definition ("key"="value" is valid LLVM IR there)
    set.add(builder.function.attributes, '"prefer-vector-width"="512"')
    return context.get_dummy_value()


# (t's bits) >> 1 is n >> 1 plus half of _MAGIC_BITS (even), so 2^(n >> 1)
# and 2^(n - (n >> 1)) come from t's bits with one shift, one add or
# subtract and one shift each, with no intermediate n
_HALF_BIAS = _i(127) - (_MAGIC_BITS >> _i(1))


def exp32(x):
    """exp(x) for float32 x."""
    # clamps written so that x86's max/min instructions implement them and
    # a nan passes through (max(lo, x) returns x when either is nan): the
    # arithmetic below then carries the nan to the result, with no select
    xc = _EXP_MIN if _EXP_MIN > x else x
    xc = _EXP_MAX if _EXP_MAX < xc else xc
    t = fmuladd(xc, _LOG2E, _MAGIC)
    tb = np.float32(t).view(np.int32)                # _MAGIC_BITS + round(x log2 e)
    nf = t - _MAGIC
    r = fmuladd(nf, -_LN2_LO, fmuladd(nf, -_LN2_HI, xc))
    p = fmuladd(fmuladd(fmuladd(fmuladd(fmuladd(_E0, r, _E1), r, _E2), r, _E3), r, _E4), r, _E5)
    p = fmuladd(p, r * r, r) + _ONE
    # 2^n as two normal factors, 2^(n >> 1) and 2^(n - (n >> 1)), so results
    # near overflow become inf and results below 2^-126 round once into
    # subnormals
    h = tb >> _i(1)
    s1 = np.int32((h + _HALF_BIAS) << _i(23)).view(np.float32)
    s2 = np.int32((tb - h + _HALF_BIAS) << _i(23)).view(np.float32)
    return (p * s1) * s2


def _log32(x):
    """log(x) for finite float32 x >= 2^-126 (callers handle the rest)."""
    bits = np.float32(x).view(np.int32)
    k = ((bits >> _i(23)) & _i(0xFF)) - _i(127)
    m = np.int32((bits & _i(0x7FFFFF)) | _i(0x3F800000)).view(np.float32)   # in [1, 2)
    big = m > _ONE / _SQRTH
    f = (m * _HALF if big else m) - _ONE
    kf = _f(k + _i(1) if big else k)
    z = f * f
    p = _L[0]
    p = fmuladd(p, f, _L[1])
    p = fmuladd(p, f, _L[2])
    p = fmuladd(p, f, _L[3])
    p = fmuladd(p, f, _L[4])
    p = fmuladd(p, f, _L[5])
    p = fmuladd(p, f, _L[6])
    p = fmuladd(p, f, _L[7])
    p = fmuladd(p, f, _L[8])
    y = fmuladd(-_HALF, z, fmuladd(f * z, p, kf * _LN2_LO))
    return fmuladd(kf, _LN2_HI, f + y)


_MIN_NORMAL = _f(2.0 ** -126)
_TWO23 = _f(2.0 ** 23)
_F23 = _f(23.0)


def log32(x):
    """log(x) for float32 x (subnormals scaled up by 2^23 first)."""
    tiny = x < _MIN_NORMAL
    xs = x * _TWO23 if tiny else x
    lg = _log32(xs if (xs > _ZERO and xs < _INF) else _ONE)
    lg = lg - (_F23 * _LN2_HI + _F23 * _LN2_LO) if tiny else lg
    lg = _INF if x == _INF else lg
    lg = -_INF if x == _ZERO else lg
    return _NAN if (x != x or x < _ZERO) else lg


def log1p32(x):
    """log(1 + x) for float32 x, accurate for tiny x (the Goldberg form:
    log(u) * x / (u - 1) cancels the rounding of u = 1 + x)."""
    u = x + _ONE
    d = u - _ONE
    lg = _log32(u if u > _ZERO and u < _INF else _ONE)
    y = x if d == _ZERO else lg * (x / d)
    y = _INF if x == _INF else y
    y = -_INF if u == _ZERO else y
    return _NAN if (x != x or u < _ZERO) else y


def tanh32(x):
    """tanh(x) for float32 x: an odd polynomial near 0, 1 - 2/(e^2|x| + 1) beyond."""
    a = abs(x)
    z = x * x
    small = fmuladd(fmuladd(fmuladd(fmuladd(fmuladd(_T0, z, _T1), z, _T2), z, _T3), z, _T4), z * x, x)
    t = exp32(_TWO * a)
    big = _ONE - _TWO / (t + _ONE)
    big = big if x >= _ZERO else -big
    return small if a < _TANH_POLY else (x if x != x else big)


# float64 exp, for the kernels that opt in (the course's sigmoid): the same
# scheme as exp32, with a degree-13 Taylor polynomial on |r| <= ln2/2 (its
# truncation error is below 1e-17, so the rounding of the Horner steps is all
# that is left: within 2 ulp of NumPy, tested)
_MAGIC64 = np.float64(6755399441055744.0)            # 1.5 * 2^52
_LOG2E64 = np.float64(1.4426950408889634)
_LN2_HI64 = np.float64(6.93147180369123816490e-01)    # 32 significant bits: n * _LN2_HI64 is exact
_LN2_LO64 = np.float64(1.90821492927058770002e-10)
_EXP_MAX64 = np.float64(710.0)
_EXP_MIN64 = np.float64(-746.0)
_ONE64 = np.float64(1.0)
_C64 = tuple(np.float64(1.0 / math.factorial(k)) for k in range(13, 1, -1))   # 1/13! ... 1/2!
_HALF_BIAS64 = np.int64(1023) - (np.float64(_MAGIC64).view(np.int64) >> np.int64(1))


def exp64(x):
    """exp(x) for float64 x, vectorisable (``math.exp`` is a libm call)."""
    # max/min keep a nan (each returns its first argument unless the second
    # compares greater / smaller); the conditional form of exp32 made numba's
    # inliner lose track of a variable here
    xc = min(max(x, _EXP_MIN64), _EXP_MAX64)
    t = fmuladd(xc, _LOG2E64, _MAGIC64)
    tb = np.float64(t).view(np.int64)
    nf = t - _MAGIC64
    r = fmuladd(nf, -_LN2_LO64, fmuladd(nf, -_LN2_HI64, xc))
    p = _C64[0]
    p = fmuladd(p, r, _C64[1])
    p = fmuladd(p, r, _C64[2])
    p = fmuladd(p, r, _C64[3])
    p = fmuladd(p, r, _C64[4])
    p = fmuladd(p, r, _C64[5])
    p = fmuladd(p, r, _C64[6])
    p = fmuladd(p, r, _C64[7])
    p = fmuladd(p, r, _C64[8])
    p = fmuladd(p, r, _C64[9])
    p = fmuladd(p, r, _C64[10])
    p = fmuladd(p, r, _C64[11])
    p = fmuladd(p, r, _ONE64)
    p = fmuladd(p, r, _ONE64)
    h = tb >> np.int64(1)
    s1 = np.int64((h + _HALF_BIAS64) << np.int64(52)).view(np.float64)
    s2 = np.int64((tb - h + _HALF_BIAS64) << np.int64(52)).view(np.float64)
    return (p * s1) * s2


# The Python versions (what the CUDA simulator runs) compute on NumPy
# scalars, which warn where the compiled code silently overflows to inf.

def exp(x):
    """exp(x): ``exp32`` for float32, ``math.exp`` otherwise."""
    if isinstance(x, np.float32):
        with np.errstate(over="ignore", invalid="ignore"):
            return exp32(x)
    return math.exp(x)


def log(x):
    """log(x): ``log32`` for float32, ``math.log`` otherwise."""
    if isinstance(x, np.float32):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return log32(x)
    return math.log(x)


def log1p(x):
    """log(1 + x): ``log1p32`` for float32, ``math.log1p`` otherwise."""
    if isinstance(x, np.float32):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return log1p32(x)
    return math.log1p(x)


def tanh(x):
    """tanh(x): ``tanh32`` for float32, ``math.tanh`` otherwise."""
    if isinstance(x, np.float32):
        with np.errstate(over="ignore", invalid="ignore"):
            return tanh32(x)
    return math.tanh(x)


# numba compiles an overload's body on its own too (to type it) before
# inlining it; no C-callable wrapper for that copy (see kernels/cpu/_jit.py)
_JIT_OPTIONS = {"no_cfunc_wrapper": True}


def _jit_too(fn):
    """Let numba compile ``fn`` (one argument, named x) where kernels call it."""
    @overload(fn, inline="always", jit_options=_JIT_OPTIONS)
    def _impl(x):
        return fn
    return fn


def _register(public, fast, slow):
    @overload(public, inline="always", jit_options=_JIT_OPTIONS)
    def _impl(x):
        if isinstance(x, types.Float) and x.bitwidth == 32:
            return fast
        if isinstance(x, types.Float):
            return slow
        return None
    return _impl


def _math_exp(x):
    return math.exp(x)


def _math_log(x):
    return math.log(x)


def _math_log1p(x):
    return math.log1p(x)


def _math_tanh(x):
    return math.tanh(x)


for _fn in (_log32, exp32, exp64, log32, log1p32, tanh32):
    _jit_too(_fn)
_register(exp, exp32, _math_exp)
_register(log, log32, _math_log)
_register(log1p, log1p32, _math_log1p)
_register(tanh, tanh32, _math_tanh)
