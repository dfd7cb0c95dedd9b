"""kernels/vecmath: the vectorisable exp, log, log1p and tanh.

Against NumPy in float64 rounded to the dtype, within the table's
``elementary`` tolerance, over every float32 exponent (random bit patterns),
dense grids where the polynomials switch, and the special values, for the
compiled functions and for the Python ones the CUDA simulator runs.
"""
import re

import llvmlite.binding as llvm
import numpy as np
import pytest
from numba import njit

from fastnn import testing
from fastnn.kernels import vecmath

FUNCS = {"exp": np.exp, "log": np.log, "log1p": np.log1p, "tanh": np.tanh}
SPECIAL = [0.0, -0.0, 1e-45, -1e-45, 1e-38, 1e-30, -1e-30, 0.5, 1.0, -1.0, -0.99999994, 0.625,
           -0.625, 88.7, 88.73, 89.0, -87.3, -103.0, -104.0, -110.0, 1e30, -1e30, 3.4e38,
           np.inf, -np.inf, np.nan]


def _compiled(name):
    fn = getattr(vecmath, name)

    # error_model="numpy" as in the kernels: division must not branch to raise
    @njit(error_model="numpy")
    def apply(out, x):
        for i in range(x.size):
            out[i] = fn(x[i])
    return apply


COMPILED = {name: _compiled(name) for name in FUNCS}


def _inputs(name, dtype):
    rng = np.random.default_rng(7)
    if dtype == np.float32:
        # every exponent and sign: random bit patterns (nan/inf included)
        x = rng.integers(0, 2 ** 32, 200_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    else:
        x = rng.standard_normal(20_000) * 10.0 ** rng.integers(-30, 30, 20_000)
    grids = [np.linspace(-1, 1, 20001), np.linspace(-110, 100, 20001), np.linspace(0, 20, 20001)]
    x = np.concatenate([x] + [g.astype(dtype) for g in grids] + [np.array(SPECIAL, dtype)])
    return x.astype(dtype)


def _expected(name, x):
    with np.errstate(all="ignore"):
        return FUNCS[name](x.astype(np.float64)).astype(x.dtype)


@pytest.mark.parametrize("name", FUNCS)
def test_compiled_matches_numpy(name, dtype):
    x = _inputs(name, dtype)
    out = np.full_like(x, 7.0)
    COMPILED[name](out, x)
    testing.assert_close(out, _expected(name, x), "elementary", err_msg=name)


@pytest.mark.parametrize("name", FUNCS)
def test_special_values_as_numpy(name):
    x = np.array(SPECIAL, np.float32)
    out = np.empty_like(x)
    COMPILED[name](out, x)
    expected = _expected(name, x)
    # inf, -inf, nan and signed zeros exactly where NumPy has them
    for mask in (np.isnan(expected), np.isposinf(expected), np.isneginf(expected), expected == 0):
        np.testing.assert_array_equal(out[mask], expected[mask], err_msg=name)


@pytest.mark.parametrize("name", FUNCS)
def test_python_version_matches_numpy(name):
    """What the CUDA simulator runs: the same float32 bodies on NumPy scalars."""
    x = np.concatenate([np.linspace(-20, 20, 2001, dtype=np.float32), np.array(SPECIAL, np.float32)])
    out = np.array([getattr(vecmath, name)(v) for v in x], np.float32)
    assert all(type(getattr(vecmath, name)(v)) is np.float32 for v in x[:3])
    testing.assert_close(out, _expected(name, x), "elementary", err_msg=name)


@pytest.mark.parametrize("name", FUNCS)
def test_float32_loop_vectorises(name):
    """The point of the module: a float32 loop over it compiles to packed
    (SIMD) multiplies, where ``math.exp`` would leave scalar libm calls."""
    fn = COMPILED[name]
    x = np.linspace(0.1, 2, 64, dtype=np.float32)
    fn(np.empty_like(x), x)
    asm = fn.inspect_asm(fn.signatures[0])
    assert re.search(r"\bv?(mul|fmadd\d*|fmsub\d*|fnmadd\d*)ps\b", asm), f"{name}: no packed float32 arithmetic"


WIDE = '"prefer-vector-width"="512"'


def _exp_wide(out, x):
    vecmath.wide_vectors()
    for i in range(x.size):
        out[i] = vecmath.exp(x[i])


def test_wide_vectors_compiles_its_function_512_bits_wide():
    """``wide_vectors()`` sets the LLVM attribute on the function it is
    compiled into, and on an AVX-512 host that function's loop then runs
    in zmm registers; the same loop without it keeps LLVM's choice. The
    results are the same bits."""
    wide = njit(error_model="numpy")(_exp_wide)
    plain = COMPILED["exp"]
    x = _inputs("exp", np.float32)[:4099]
    out, ref = np.empty_like(x), np.empty_like(x)
    wide(out, x)
    plain(ref, x)
    assert WIDE in wide.inspect_llvm(wide.signatures[0])
    assert WIDE not in plain.inspect_llvm(plain.signatures[0])
    if llvm.get_host_cpu_features().get("avx512f", False):
        assert re.search(r"\bzmm\d+\b", wide.inspect_asm(wide.signatures[0])), "no 512-bit vectors"
    np.testing.assert_array_equal(out.view(np.int32), ref.view(np.int32))


def test_exp_bound_cpu_loops_are_marked_wide():
    """The cpu loops bound by a polynomial call ``wide_vectors`` (compiled
    here afresh: numba cannot show the IR of cached code)."""
    from fastnn.kernels.cpu import activations, losses
    x = np.linspace(-2, 2, 64, dtype=np.float32)
    act = njit(error_model="numpy")(activations._map)
    act(np.empty_like(x), x, 0, np.float32(0))
    in_place = njit(error_model="numpy")(activations._forward_in_place.py_func)
    in_place(x.copy(), 0, np.float32(0))
    soft = njit(error_model="numpy")(losses._block_softmax.py_func)
    soft(np.empty_like(x), x, 8, 8)
    bce = njit(error_model="numpy", parallel=True)(losses.binary_cross_entropy.py_func)
    bce(np.empty(8, np.float32), np.zeros((8, 8), np.float32), x.reshape(8, 8), np.ones((8, 8), np.float32))
    for fn in (act, in_place, soft, bce):
        assert WIDE in fn.inspect_llvm(fn.signatures[0]), fn


@pytest.mark.parametrize("name", FUNCS)
def test_vector_body_and_remainder_agree_bitwise(name):
    """An element gets the same bits in a loop's vectorised body and in its
    scalar remainder (``fmuladd`` fuses both or neither). Where threads split
    an array decides which elements land in a remainder, so this is what
    makes the kernels' results independent of the thread count."""
    x = _inputs(name, np.float32)[:4099]
    whole = np.empty_like(x)
    COMPILED[name](whole, x)
    for shift in (1, 3, 7):
        part = np.empty_like(x[shift:])
        COMPILED[name](part, x[shift:])          # every element moves lanes
        np.testing.assert_array_equal(part.view(np.int32), whole[shift:].view(np.int32))
    one = np.empty(1, np.float32)
    for i in range(0, x.size, 97):               # size 1: scalar code only
        COMPILED[name](one, x[i:i + 1])
        assert one.view(np.int32)[0] == whole.view(np.int32)[i], (name, x[i])


@pytest.mark.skipif(not llvm.get_host_cpu_features().get("fma", False),
                    reason="this CPU has no FMA: fmuladd is a multiply and an add")
def test_fmuladd_fuses_compiled_and_rounds_twice_in_python():
    """Compiled, ``fmuladd`` rounds once (on an FMA machine such as the CI's);
    the Python version is a float32 multiply then an add."""
    @njit
    def apply(out, a, b, c):
        for i in range(out.size):
            out[i] = vecmath.fmuladd(a[i], b[i], c[i])
    rng = np.random.default_rng(3)
    a, b, c = (rng.standard_normal(10_000).astype(np.float32) for _ in range(3))
    out = np.empty_like(a)
    apply(out, a, b, c)
    # a * b is exact in float64; rounding the float64 sum to float32 can
    # differ from one rounding only at a double-rounding tie
    fused = (a.astype(np.float64) * b + c).astype(np.float32)
    assert np.mean(out == fused) > 0.999
    twice = a * b + c
    assert np.mean(out != twice) > 0.01, "not fused"
    py = np.array([vecmath.fmuladd(a[i], b[i], c[i]) for i in range(a.size)], np.float32)
    np.testing.assert_array_equal(py, twice)


def test_exp64_is_within_one_ulp_of_numpy_and_vectorises():
    """The float64 exp the course's loop calls by name: within 1 ulp of
    NumPy's over the whole range (subnormal results within 1 ulp of the
    smallest normal's spacing), and NumPy's inf, 0 and nan at the edges."""
    apply = _compiled("exp64")
    rng = np.random.default_rng(3)
    x = np.concatenate([np.linspace(-745.5, 709.9, 200_001), rng.uniform(-40, 40, 100_000),
                        np.array([0.0, -0.0, 1e-300, 709.78, 709.79, 710.0, 1e308, -708.4, -745.1, -746.0,
                                  -1e308, np.inf, -np.inf, np.nan])])
    out = np.full_like(x, 7.0)
    apply(out, x)
    with np.errstate(all="ignore"):
        expected = np.exp(x)
    finite = np.isfinite(expected) & (expected > 0)
    ulps = np.abs(out[finite] - expected[finite]) / np.spacing(np.maximum(expected[finite], 2.2250738585072014e-308))
    assert ulps.max() <= 1.0
    for mask in (np.isnan(expected), np.isposinf(expected), expected == 0):
        np.testing.assert_array_equal(out[mask], expected[mask])
    # a loop over it is vector code (the reason it exists: math.exp is a libm call)
    asm = "\n".join(apply.inspect_asm().values())
    assert re.search(r"\bv\w+pd\s+%[yz]mm", asm), "the exp64 loop did not vectorise"
