"""The course's loop unrolled for the notebooks' networks
(``kernels/cpu/course_nets.py``, written by ``_course_nets_gen.py``)
against the reference loop, and where ``fastnn.course`` uses it."""
import numpy as np
import pytest

from fastnn.course import _engine
from fastnn.kernels import codes
from fastnn.kernels.cpu import _course_nets_gen, course, course_nets
from fastnn.kernels.ref import course as ref_course
from fastnn.testing import assert_close


def test_the_generated_file_is_what_the_generator_writes():
    with open(_course_nets_gen.PATH) as f:
        assert f.read() == _course_nets_gen.source(), \
            "run python -m fastnn.kernels.cpu._course_nets_gen and commit kernels/cpu/course_nets.py"


def _params(dims, rng):
    p = {}
    for l in range(1, len(dims)):
        p[f"W{l}"] = rng.standard_normal((dims[l], dims[l - 1])) * np.sqrt(2.0 / dims[l - 1])
        p[f"b{l}"] = rng.standard_normal((dims[l], 1)) * 0.1
    return p


@pytest.mark.parametrize("dims", sorted(course_nets.NETS), ids=lambda d: "x".join(map(str, d)))
@pytest.mark.parametrize("opt", ["gd", "momentum", "adam"])
@pytest.mark.parametrize("m,dropout,lambd", [(300, False, 0.0), (211, True, 0.0), (211, False, 0.7), (13, True, 0.0),
                                             (1, False, 0.3)])
def test_unrolled_loop_matches_the_reference(dims, opt, m, dropout, lambd):
    """Whole-batch runs: sizes that leave every remainder of the vector
    loops (13: a remainder only; 1), fixed dropout masks, L2, every
    optimizer, several epochs with their own learning rates."""
    rng = np.random.default_rng(m)
    X = rng.standard_normal((2, m))
    Y = (rng.random((1, m)) < 0.5).astype(float)
    p = _params(dims, rng)
    masks = (rng.random((sum(dims[1:-1]), m)) < 0.8).astype(float) if dropout else None
    kw = dict(optimizer=opt, lambd=lambd, keep_prob=0.8 if dropout else 1.0, masks=masks)
    lrs = np.linspace(0.05, 0.01, 7)
    assert _engine._kernel("cpu", dims, True, m) is course_nets.NETS[dims]
    ours, _, s_ours = _engine.train(p, X, Y, lrs, backend="cpu", **kw)
    ref, _, s_ref = _engine.train(p, X, Y, lrs, backend="ref", **kw)
    assert not np.allclose(ref[f"W{len(dims) - 1}"], p[f"W{len(dims) - 1}"])     # the run moved the parameters
    for k in ref:
        assert_close(ours[k], ref[k], "reduction", err_msg=k)
    for k in ("v", "s"):
        assert_close(s_ours[k], s_ref[k], "reduction", err_msg=k)
    assert s_ours["t"] == s_ref["t"] == (7 if opt == "adam" else 0)


def test_fastnn_course_uses_the_unrolled_loop_only_where_it_fits():
    dims = (2, 10, 5, 1)
    unrolled = course_nets.NETS[dims]
    assert _engine._kernel("cpu", dims, True, 300) is unrolled
    assert _engine._kernel("cpu", np.array(dims), True, course_nets.STRIDE) is unrolled
    assert _engine._kernel("cpu", dims, True, course_nets.STRIDE + 1) is course.course_train
    assert _engine._kernel("cpu", dims, False, 300) is course.course_train        # mini-batches or a cost
    assert _engine._kernel("cpu", (2, 10, 4, 1), True, 300) is course.course_train
    assert _engine._kernel("ref", dims, True, 300) is ref_course.course_train


def _call(dims, m, *, perms=0, batch_size=None, every=0, masks=0, run_dims=None):
    n_w = sum(dims[l] * dims[l - 1] for l in range(1, len(dims)))
    n_b = sum(dims[1:])
    hyper = np.zeros(codes.COURSE_HYPER_SLOTS)
    hyper[codes.COURSE_KEEP_PROB] = 1.0
    course_nets.NETS[dims](np.zeros(n_w), np.zeros(n_b), np.zeros(n_w + n_b), np.zeros(n_w + n_b), np.zeros(1),
                           np.zeros(1, np.int64), np.zeros((dims[0], m)), np.zeros((1, m)), np.ones((masks, m)),
                           np.zeros((perms, m), np.int64), np.full(2, 0.1), np.array(run_dims or dims, np.int64),
                           hyper, codes.COURSE_GD, batch_size or m, every)


@pytest.mark.parametrize("bad,match", [
    (dict(perms=2), "perms"), (dict(batch_size=64), "batch_size"), (dict(every=1), "every"),
    (dict(masks=3), "masks"), (dict(run_dims=[2, 10, 5, 2]), "dims"), (dict(run_dims=[2, 10, 1]), "dims"),
])
def test_unrolled_loop_refuses_runs_it_is_not_for(bad, match):
    with pytest.raises(ValueError, match=match):
        _call((2, 10, 5, 1), 100, **bad)


def test_unrolled_loop_refuses_more_examples_than_its_rows_hold():
    with pytest.raises(ValueError, match="X"):
        _call((2, 10, 5, 1), course_nets.STRIDE + 1)
