"""fastnn.course: the assignments' functions with the notebooks' numbers.

Published figures (the initialization notebook's outputs) are compared to
the printed precision; the plain-NumPy reference written the notebooks' way
(``bench/_course_numpy.py``) is the oracle elsewhere.
"""
import os

import numpy as np
import pytest

from bench import _course_numpy as plain
from fastnn.course import datasets
from fastnn.course import initialization as init


def test_circles_and_moons_are_scikit_learn_s_to_the_bit():
    sk = pytest.importorskip("sklearn.datasets")
    for ours, theirs, kw in ((datasets.make_circles, sk.make_circles, dict(n_samples=300, noise=0.05)),
                             (datasets.make_moons, sk.make_moons, dict(n_samples=301, noise=0.2)),
                             (datasets.make_circles, sk.make_circles, dict(n_samples=7, factor=0.3))):
        np.random.seed(11)
        a = ours(**kw)
        np.random.seed(11)
        b = theirs(**kw)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_load_dataset_layouts():
    train_X, train_Y, test_X, test_Y = init.load_dataset()
    assert train_X.shape == (2, 300) and train_Y.shape == (1, 300)
    assert test_X.shape == (2, 100) and test_Y.shape == (1, 100)
    X, Y = datasets.load_moons()
    assert X.shape == (2, 300) and Y.shape == (1, 300)


def test_initializations_are_the_notebook_s():
    he = init.initialize_parameters_he([3, 2, 1])
    np.random.seed(3)
    W1 = np.random.randn(2, 3) * np.sqrt(2 / 3)
    W2 = np.random.randn(1, 2) * np.sqrt(2 / 2)
    assert np.array_equal(he["W1"], W1) and np.array_equal(he["W2"], W2)
    assert he["b1"].shape == (2, 1) and not he["b1"].any()
    rnd = init.initialize_parameters_random([3, 2, 1])
    np.random.seed(3)
    assert np.array_equal(rnd["W1"], np.random.randn(2, 3) * 10)
    zeros = init.initialize_parameters_zeros([3, 2, 1])
    assert not any(v.any() for v in zeros.values())


def test_he_run_prints_the_notebook_s_costs(capsys):
    train_X, train_Y, test_X, test_Y = init.load_dataset()
    parameters = init.model(train_X, train_Y, initialization="he", num_iterations=1001)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Cost after iteration 0: 0.8830537463419761"
    assert out[1].startswith("Cost after iteration 1000: 0.687982591972")     # published: 0.687982591973
    p = init.predict(train_X, train_Y, parameters, print_accuracy=False)
    assert p.shape == (1, 300) and set(np.unique(p)) <= {0, 1}


def test_he_run_accuracies_and_zeros_run():
    train_X, train_Y, test_X, test_Y = init.load_dataset()
    he = init.model(train_X, train_Y, initialization="he", print_cost=False)
    assert round(float(np.mean(init.predict(train_X, train_Y, he, print_accuracy=False) == train_Y)), 4) == 0.9933
    assert round(float(np.mean(init.predict(test_X, test_Y, he, print_accuracy=False) == test_Y)), 2) == 0.96
    zeros = init.model(train_X, train_Y, initialization="zeros", num_iterations=2001, print_cost=False)
    net_cost = init.compute_loss(init.forward_propagation(train_X, zeros)[0], train_Y)
    assert round(net_cost, 11) == 0.69314718056
    assert np.mean(init.predict(train_X, train_Y, zeros, print_accuracy=False) == train_Y) == 0.5


def test_model_equals_the_plain_numpy_run():
    """The whole trajectory, against the notebooks' way in NumPy: the same
    parameters to float64 rounding (He on the circles, 3000 iterations)."""
    train_X, train_Y, _, _ = init.load_dataset()
    ours = init.model(train_X, train_Y, num_iterations=3000, print_cost=False)
    theirs, _ = plain.gd_model(train_X, train_Y, [2, 10, 5, 1], "he", 0.01, 3000)
    for k in theirs:
        np.testing.assert_allclose(ours[k], theirs[k], rtol=1e-9, atol=1e-12)


def test_functions_match_the_notebook_formulas():
    train_X, train_Y, _, _ = init.load_dataset()
    p = init.initialize_parameters_he([2, 10, 5, 1])
    a3, cache = init.forward_propagation(train_X, p)
    ref_a3, _ = plain.forward(train_X, p)
    np.testing.assert_allclose(a3, ref_a3, rtol=1e-13)
    grads = init.backward_propagation(train_X, train_Y, cache)
    _, ref_cache = plain.forward(train_X, p)
    ref = plain.backward(train_X, train_Y, p, ref_cache)
    for k in ("dW1", "db1", "dW2", "db2", "dW3", "db3"):
        np.testing.assert_allclose(grads[k], ref[k], rtol=1e-10, atol=1e-14)


def test_course_layout_errors_name_the_argument():
    train_X, train_Y, _, _ = init.load_dataset()
    p = init.initialize_parameters_he([2, 10, 5, 1])
    with pytest.raises(ValueError, match="batch-major"):
        init.forward_propagation(train_X.T.copy(), p)
    with pytest.raises(ValueError, match=r"reshape\(1, -1\)"):
        init.model(train_X, train_Y.ravel())
    bad = dict(p)
    del bad["W2"]
    with pytest.raises(ValueError, match="W2"):
        init.forward_propagation(train_X, bad)
    bad = dict(p, W2=np.ones((5, 3)))
    with pytest.raises(ValueError, match="W2"):
        init.forward_propagation(train_X, bad)
    with pytest.raises(ValueError, match="initialization"):
        init.model(train_X, train_Y, initialization="xavier")


@pytest.mark.parametrize("opt", ["gd", "momentum", "adam"])
@pytest.mark.parametrize("batch,dropout,lambd", [(300, False, 0.0), (64, True, 0.7), (7, False, 0.0),
                                                 (300, True, 0.0), (256, True, 0.0)])
@pytest.mark.parametrize("dims", [[2, 10, 5, 1], [2, 7, 6, 3, 1], [2, 1, 9, 2]])
def test_course_kernel_matches_its_reference(opt, batch, dropout, lambd, dims):
    """kernels/cpu/course.py against kernels/ref/course.py: mini-batches in
    permuted order, fixed dropout masks, L2, every optimizer, layer widths
    that leave every size of last block (the kernel sums four or two rows
    per pass)."""
    from fastnn.course import _engine
    from fastnn.testing import assert_close
    X, Y, _, _ = init.load_dataset()
    p = init.initialize_parameters_he(dims)
    if dims[-1] > 1:
        Y = np.vstack([Y, 1 - Y])
    rng = np.random.default_rng(0)
    perms = np.array([rng.permutation(300) for _ in range(6)]) if batch in (64, 7) else None   # 256: in order
    masks = (rng.random((sum(dims[1:-1]), 300)) < 0.8).astype(float) if dropout else None
    kw = dict(optimizer=opt, lambd=lambd, keep_prob=0.8 if dropout else 1.0, masks=masks, perms=perms,
              batch_size=batch, every=2)
    lrs = np.full(6, 0.05)
    cpu, c_cpu, s_cpu = _engine.train(p, X, Y, lrs, backend="cpu", **kw)
    ref, c_ref, s_ref = _engine.train(p, X, Y, lrs, backend="ref", **kw)
    for k in ref:
        assert_close(cpu[k], ref[k], "reduction", err_msg=k)
    assert_close(np.array(c_cpu), np.array(c_ref), "reduction")
    assert s_cpu["t"] == s_ref["t"] == (6 * -(-300 // batch) if opt == "adam" else 0)


FOOTBALL = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "course_football_2d.npz")


def _football():
    if not os.path.exists(FOOTBALL):
        pytest.skip("../shared/data/course_football_2d.npz is absent")
    d = np.load(FOOTBALL)
    return d["X_train"].T, d["y_train"].reshape(1, -1), d["X_test"].T, d["y_test"].reshape(1, -1)


@pytest.mark.parametrize("kw,printed,accuracies", [
    ({}, ["0.6557412523481002", "0.163299875257242"], (0.947867298578, 0.915)),
    ({"lambd": 0.7}, ["0.6974484493131264", "0.268491887328223"], (0.938388625592, 0.93)),
    ({"keep_prob": 0.86}, ["0.6543912405149825", "0.061016986574905"], (0.928909952607, 0.95)),
])
def test_regularization_runs_print_the_notebook_s_numbers(capsys, kw, printed, accuracies):
    from fastnn.course import regularization as reg
    X, Y, tX, tY = _football()
    reg.model(X, Y, num_iterations=10001, **kw)
    out = capsys.readouterr().out.splitlines()
    # to 12 significant digits, the precision the issue quotes: the last
    # digits of a 17-digit print depend on the BLAS's summation order
    assert out[0].startswith("Cost after iteration 0: ")
    assert float(out[0].split(": ")[1]) == pytest.approx(float(printed[0]), rel=1e-12)
    assert float(out[1].split(": ")[1]) == pytest.approx(float(printed[1]), rel=1e-12)
    if not kw.get("lambd") and not kw.get("keep_prob"):
        return                           # the accuracies are after 30,000 iterations
    full = reg.model(X, Y, print_cost=False, **kw)
    assert round(float(np.mean(reg.predict(X, Y, full, print_accuracy=False) == Y)), 12) == accuracies[0]
    assert round(float(np.mean(reg.predict(tX, tY, full, print_accuracy=False) == tY)), 3) == accuracies[1]


def test_regularization_functions_match_the_notebook_formulas():
    from fastnn.course import regularization as reg
    X, Y, _, _ = init.load_dataset()
    p = reg.initialize_parameters([2, 20, 3, 1])
    a3, cache = reg.forward_propagation_with_dropout(X, p, keep_prob=0.86)
    ref_a3, ref_cache = plain.forward(X, p, keep_prob=0.86)
    np.testing.assert_allclose(a3, ref_a3, rtol=1e-13)
    grads = reg.backward_propagation_with_dropout(X, Y, cache, 0.86)
    ref = plain.backward(X, Y, p, ref_cache, keep_prob=0.86)
    for k in ("dW1", "db1", "dW2", "db2", "dW3", "db3"):
        np.testing.assert_allclose(grads[k], ref[k], rtol=1e-10, atol=1e-14)
    a3, cache = init.forward_propagation(X, p)
    assert reg.compute_cost_with_regularization(a3, Y, p, 0.7) == pytest.approx(
        plain.cost(a3, Y, p, 0.7), rel=1e-14)
    grads = reg.backward_propagation_with_regularization(X, Y, cache, 0.7)
    ref = plain.backward(X, Y, p, plain.forward(X, p)[1], lambd=0.7)
    for k in ("dW1", "dW2", "dW3"):
        np.testing.assert_allclose(grads[k], ref[k], rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError, match="one at a time"):
        reg.model(X, Y, lambd=0.7, keep_prob=0.8)


def test_optimization_runs_print_the_notebook_s_numbers(capsys):
    from fastnn.course import optimization as opt
    X, Y = opt.load_dataset()
    published = {"gd": ["0.702405", "0.668101", "0.635288", "0.600491", "0.573367"],
                 "momentum": ["0.702413", "0.668167", "0.635388", "0.600591", "0.573444"],
                 "adam": ["0.702166", "0.167845", "0.141316", "0.138788", "0.136066"]}
    for name, costs in published.items():
        p = opt.model(X, Y, [2, 5, 2, 1], name)
        out = capsys.readouterr().out.splitlines()
        assert out == [f"Cost after epoch {i * 1000}: {c}" for i, c in enumerate(costs)]
        acc = np.mean(opt.predict(X, Y, p, print_accuracy=False) == Y)
        assert round(float(acc), 2) == (0.94 if name == "adam" else 0.72)


def test_optimization_model_equals_the_plain_numpy_run():
    from fastnn.course import optimization as opt
    X, Y = opt.load_dataset()
    ours = opt.model(X, Y, [2, 5, 2, 1], "adam", num_epochs=300, print_cost=False)
    theirs, _ = plain.adam_model(X, Y, [2, 5, 2, 1], num_epochs=300)
    for k in theirs:
        np.testing.assert_allclose(ours[k], theirs[k], rtol=1e-9, atol=1e-12)


def test_optimization_functions_are_the_notebook_s():
    from fastnn.course import optimization as opt
    X, Y = opt.load_dataset()
    batches = opt.random_mini_batches(X, Y, 64, seed=11)
    ref = plain.random_mini_batches(X, Y, 64, seed=11)
    assert [b[0].shape[1] for b in batches] == [64, 64, 64, 64, 44]
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(batches, ref))
    p = opt.initialize_parameters([2, 5, 2, 1])
    grads = {"d" + k: np.full_like(v, 0.5) for k, v in p.items()}
    v, s = opt.initialize_adam(p)
    p2, v, s, vc, sc = opt.update_parameters_with_adam(dict(p), grads, v, s, 1, learning_rate=0.01)
    np.testing.assert_allclose(p2["W1"], p["W1"] - 0.01 * 1 / (1 + 1e-8 / 0.5), rtol=1e-12)
    assert opt.update_lr(0.5, 2, 1) == 0.5 / 3
    assert opt.schedule_lr_decay(0.5, 2500, 1, 1000) == 0.5 / 3
    with pytest.raises(ValueError, match="optimizer"):
        opt.model(X, Y, [2, 5, 2, 1], "sgd")


def _gradcheck_case():
    np.random.seed(1)                    # the notebook's gradient_check_n_test_case
    x = np.random.randn(4, 3)
    y = np.array([1, 1, 0])
    names = [("W1", (5, 4)), ("b1", (5, 1)), ("W2", (3, 5)), ("b2", (3, 1)), ("W3", (1, 3)), ("b3", (1, 1))]
    return x, y, {k: np.random.randn(*s) for k, s in names}


def test_gradient_check_n(capsys):
    from fastnn.course import gradient_checking as gc
    x, y, p = _gradcheck_case()
    cost, cache = gc.forward_propagation_n(x, y, p)
    a3, _ = plain.forward(x, p)
    assert cost == pytest.approx(plain.cost(a3, y.reshape(1, -1)), rel=1e-13)
    grads = gc.backward_propagation_n(x, y, cache)
    difference = gc.gradient_check_n(p, grads, x, y, print_msg=True)
    assert difference < 2e-7 and "works perfectly fine" in capsys.readouterr().out
    assert f"{difference:.9e}".startswith("1.18909130")          # the notebook: 1.1890913...e-07
    grads["dW2"] = grads["dW2"] * 2                             # the notebook's planted mistake
    assert gc.gradient_check_n(p, grads, x, y, print_msg=True) > 2e-7
    assert "There is a mistake" in capsys.readouterr().out
    theta, keys = gc.dictionary_to_vector(p)
    assert theta.shape == (47, 1) and keys[:20] == ["W1"] * 20 and keys[-1] == "b3"
    back = gc.vector_to_dictionary(theta)
    assert all(np.array_equal(back[k], p[k]) for k in p)
    with pytest.raises(ValueError, match="47"):
        gc.vector_to_dictionary(theta[:-1])


def test_python_m_fastnn_course_matches_every_published_figure(capsys):
    from fastnn.__main__ import main
    args = ["course"] + (["--football", FOOTBALL] if os.path.exists(FOOTBALL) else [])
    assert main(args) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("  ")][1:]
    assert len(rows) == 18
    compared = [(r[-2], r[-1]) for r in rows if r[-1] != "data)"]
    assert len(compared) >= 11
    # as printed, to 12 significant digits at most (see the regularization test)
    assert all(float(ours) == pytest.approx(float(notebook), rel=max(1e-12, 0.5 * 10.0 ** -(len(notebook) - 2)))
               for notebook, ours in compared), compared
