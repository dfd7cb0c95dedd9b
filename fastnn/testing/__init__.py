"""The one tolerance table, and comparison helpers built on it.

Backends are never compared bitwise (BLAS, vector units and GPUs sum in
different orders); they are compared with ``|a - b| <= atol + rtol * |b|``
using the tolerances of the dtype and the kind of computation:

- ``elementwise``: each output depends on O(1) inputs (activations, updates);
- ``reduction``: each output sums many inputs (GEMMs, softmax sums, batch
  statistics), so rounding grows with the length of the sum.
- ``elementary``: one elementary function (exp, log, log1p, tanh) of one
  float, against NumPy's float64 result rounded to the dtype: a few units in
  the last place (float32: 3 ulp = 3 * 2^-23 relative; atol lets results
  in the subnormal range, where ulps are absolute, pass at the same bar);
- ``exact``: bit-identity is the feature (dropout masks): compared bitwise,
  for any dtype.
"""
import numpy as np

__all__ = ["TOLERANCES", "tolerance", "assert_close", "assert_same_nonfinite", "max_violation"]

TOLERANCES = {
    np.dtype(np.float32): {
        "elementwise": dict(rtol=1e-5, atol=1e-6),
        "reduction": dict(rtol=1e-4, atol=1e-5),
        "elementary": dict(rtol=3 * 2.0 ** -23, atol=3 * 2.0 ** -149),
    },
    np.dtype(np.float64): {
        "elementwise": dict(rtol=1e-12, atol=1e-14),
        "reduction": dict(rtol=1e-10, atol=1e-12),
        "elementary": dict(rtol=3 * 2.0 ** -52, atol=3 * 2.0 ** -1074),
    },
}


def tolerance(dtype, kind="elementwise"):
    """dict(rtol=..., atol=...) for a dtype and a kind of computation."""
    if kind == "exact":
        return dict(rtol=0.0, atol=0.0)
    return TOLERANCES[np.dtype(dtype)][kind]


def assert_close(actual, expected, kind="elementwise", err_msg=""):
    """Assert two arrays agree within the table's tolerance for their dtype."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    if actual.dtype != expected.dtype:
        raise AssertionError(f"dtypes differ: {actual.dtype} vs {expected.dtype} {err_msg}")
    if kind == "exact":
        np.testing.assert_array_equal(actual, expected, err_msg=err_msg)
        return
    np.testing.assert_allclose(actual, expected, err_msg=err_msg, **tolerance(actual.dtype, kind))


def assert_same_nonfinite(actual, expected, kind="elementwise", err_msg=""):
    """IEEE propagation as the reference does it: non-finite exactly where
    ``expected`` is, and within the table's tolerance elsewhere.

    Elementwise (and exact) outputs must also agree on which non-finite
    value (NaN, +inf or -inf). A reduction's order of operations differs
    between backends by design, so there inf - inf may give NaN on one side
    and an infinity on the other: only finiteness must agree.
    """
    a, e = np.asarray(actual), np.asarray(expected)
    tests = (("non-finite", lambda v: ~np.isfinite(v)),)
    if kind in ("elementwise", "exact"):
        tests += (("NaN", np.isnan), ("+inf", np.isposinf), ("-inf", np.isneginf))
    for what, test in tests:
        where = np.argwhere(test(a) != test(e))
        if where.size:
            at = tuple(int(i) for i in where[0])
            raise AssertionError(f"{err_msg}: {what} differs from the reference at {at}: {a[at]} vs {e[at]}")
    finite = np.isfinite(e)
    assert_close(a[finite], e[finite], kind, err_msg=err_msg)


def max_violation(actual, expected, kind="elementwise"):
    """max(|a - b| / (atol + rtol |b|)): <= 1 means within tolerance."""
    if kind == "exact":
        return 0.0 if np.array_equal(actual, expected) else float("inf")
    t = tolerance(np.asarray(actual).dtype, kind)
    a = np.asarray(actual, dtype=np.float64)
    b = np.asarray(expected, dtype=np.float64)
    return float(np.max(np.abs(a - b) / (t["atol"] + t["rtol"] * np.abs(b)), initial=0.0))
