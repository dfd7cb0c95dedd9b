"""fastnn.sklearn: scikit-learn's own estimator checks, its tools
(Pipeline, cross-validation, searches with n_jobs), labels, persistence,
and the threads of workers."""
import pickle
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.datasets import load_digits, make_classification, make_multilabel_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import fastnn  # noqa: E402
from fastnn.sklearn import MLPClassifier, MLPRegressor, _threads_here  # noqa: E402
from fastnn.testing import assert_close  # noqa: E402

# Checks that cannot pass, with the reason (also in the README): none.
EXPECTED_FAILURES = {}


@parametrize_with_checks([MLPClassifier(), MLPRegressor()],
                         expected_failed_checks=lambda est: EXPECTED_FAILURES)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X, y


def quiet(**kw):
    return {"max_iter": 30, "random_state": 0, **kw}


@pytest.fixture(autouse=True)
def _no_convergence_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def test_pipeline_learns_the_digits(digits):
    X, y = digits
    from sklearn.neural_network import MLPClassifier as SkMLP
    ours = make_pipeline(StandardScaler(), MLPClassifier(**quiet())).fit(X[:1400], y[:1400])
    theirs = make_pipeline(StandardScaler(), SkMLP(**quiet())).fit(X[:1400], y[:1400])
    # the last 397 digits are the hard ones: scikit-learn's MLP scores 0.89 there
    assert ours.score(X[1400:], y[1400:]) > theirs.score(X[1400:], y[1400:]) - 0.03 > 0.85


def test_cross_val_score_with_n_jobs_equals_serial(digits):
    """Two worker processes give the very numbers one process gives:
    every fit is seeded, and results do not depend on threads."""
    X, y = digits
    est = make_pipeline(StandardScaler(), MLPClassifier(**quiet(hidden_layer_sizes=(32,))))
    serial = cross_val_score(est, X, y, cv=3, n_jobs=1)
    parallel = cross_val_score(est, X, y, cv=3, n_jobs=2)
    np.testing.assert_array_equal(parallel, serial)
    assert serial.min() > 0.85


def test_grid_search_with_n_jobs(digits):
    X, y = digits
    grid = GridSearchCV(make_pipeline(StandardScaler(), MLPClassifier(**quiet())),
                        {"mlpclassifier__alpha": [1e-4, 1.0], "mlpclassifier__hidden_layer_sizes": [(16,), (64,)]},
                        cv=3, n_jobs=2)
    grid.fit(X, y)
    assert len(grid.cv_results_["mean_test_score"]) == 4
    assert grid.best_params_["mlpclassifier__hidden_layer_sizes"] == (64,)
    assert grid.best_score_ > 0.85


def test_randomized_search_with_n_jobs(digits):
    from scipy.stats import loguniform
    X, y = digits
    search = RandomizedSearchCV(make_pipeline(StandardScaler(), MLPClassifier(**quiet())),
                                {"mlpclassifier__learning_rate_init": loguniform(1e-4, 1e-1)},
                                n_iter=4, cv=3, n_jobs=2, random_state=0)
    search.fit(X, y)
    rates = search.cv_results_["param_mlpclassifier__learning_rate_init"]
    assert len(set(rates)) == 4 and all(1e-4 <= r <= 1e-1 for r in rates)
    assert search.best_score_ > 0.85


def _threads_in_worker(n_threads):
    return _threads_here(n_threads)


@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_workers_run_one_numba_thread(backend):
    """Inside joblib's workers (processes or threads) an estimator uses one
    numba thread unless told otherwise; the main thread uses them all."""
    import joblib
    import numba
    got = joblib.Parallel(n_jobs=2, backend=backend)(joblib.delayed(_threads_in_worker)(None) for _ in range(2))
    assert got == [1, 1]
    assert _threads_here(None) == numba.get_num_threads()
    assert _threads_here(1) == 1
    before = numba.get_num_threads()
    numba.set_num_threads(1)                     # the caller's own setting is kept
    try:
        assert _threads_here(None) == 1
    finally:
        numba.set_num_threads(before)


def test_fit_restores_the_callers_thread_count(digits):
    import numba
    X, y = digits
    before = numba.get_num_threads()
    MLPClassifier(**quiet(n_threads=1, max_iter=2)).fit(X, y)
    assert numba.get_num_threads() == before


@pytest.mark.parametrize("labels", [np.array(["cat", "dog", "eel"]), np.array([-3, 7, 11])])
def test_labels_come_back_as_given(digits, labels):
    X, y = digits
    yl = labels[y % 3]
    clf = MLPClassifier(**quiet()).fit(X / 16, yl)
    np.testing.assert_array_equal(clf.classes_, np.sort(labels))
    pred = clf.predict(X / 16)
    assert pred.dtype == yl.dtype
    assert np.mean(pred == yl) > 0.9
    proba = clf.predict_proba(X / 16)
    assert proba.shape == (len(X), 3)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(1)], pred)


def test_binary_has_one_sigmoid_output_and_two_columns(digits):
    X, y = digits
    clf = MLPClassifier(**quiet()).fit(X / 16, np.where(y < 5, "low", "high"))
    assert clf.out_activation_ == "logistic" and clf.coefs_[-1].shape == (100, 1)
    p = clf.predict_proba(X[:50] / 16)
    assert p.shape == (50, 2)
    assert_close(p.sum(1), np.ones(50))
    np.testing.assert_array_equal(clf.predict(X[:50] / 16), clf.classes_[(p[:, 1] > 0.5).astype(int)])


def test_multilabel():
    X, Y = make_multilabel_classification(n_samples=400, n_classes=4, random_state=0)
    clf = MLPClassifier(**quiet(max_iter=200)).fit(X, Y)
    pred = clf.predict(X)
    assert pred.shape == Y.shape and set(np.unique(pred)) <= {0, 1}
    assert clf.predict_proba(X).shape == Y.shape
    assert clf.score(X, Y) > 0.5                  # subset accuracy, as scikit-learn scores it


def test_regressor_one_and_several_targets():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 5))
    Y = np.stack([X @ rng.standard_normal(5), np.sin(X[:, 0])], axis=1)
    one = MLPRegressor(**quiet(max_iter=200)).fit(X, Y[:, 0])
    assert one.predict(X).shape == (500,) and one.score(X, Y[:, 0]) > 0.95
    two = MLPRegressor(**quiet(max_iter=200)).fit(X, Y)
    assert two.predict(X).shape == (500, 2) and two.score(X, Y) > 0.9


def test_partial_fit_needs_classes_then_continues(digits):
    X, y = digits
    clf = MLPClassifier(**quiet())
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:900] / 16, y[:900], classes=np.arange(10))
    first = clf.loss_curve_[-1]
    for _ in range(5):
        clf.partial_fit(X[:900] / 16, y[:900])
    assert clf.n_iter_ == 6 and clf.t_ == 6 * 900
    assert clf.loss_curve_[-1] < first
    with pytest.raises(ValueError, match="expecting 64 features"):
        clf.partial_fit(X[:, :10], y)


def test_partial_fit_refuses_new_classes(digits):
    X, y = digits
    clf = MLPClassifier(**quiet()).partial_fit(X, y, classes=np.arange(10))
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X[:5], np.array([0, 1, 2, 3, 99]))


def test_warm_start_continues_and_cold_start_restarts(digits):
    X, y = digits
    warm = MLPClassifier(**quiet(max_iter=5, warm_start=True)).fit(X / 16, y)
    loss5 = warm.loss_curve_[-1]
    warm.fit(X / 16, y)
    assert warm.n_iter_ == 10 and warm.loss_curve_[-1] < loss5
    ten = MLPClassifier(**quiet(max_iter=10, shuffle=False)).fit(X / 16, y)
    two_fives = MLPClassifier(**quiet(max_iter=5, shuffle=False, warm_start=True)).fit(X / 16, y).fit(X / 16, y)
    # the optimizer's state is kept too: five and five epochs are ten epochs
    assert_close(two_fives.coefs_[0], ten.coefs_[0], kind="reduction")
    cold = MLPClassifier(**quiet(max_iter=5)).fit(X / 16, y)
    cold.fit(X / 16, y)
    assert cold.n_iter_ == 5


def test_stops_when_the_loss_stalls_and_warns_when_it_does_not(digits):
    X, y = digits
    stalled = MLPClassifier(max_iter=500, tol=10.0, n_iter_no_change=3, random_state=0).fit(X / 16, y)
    assert stalled.n_iter_ == 5           # the first epoch sets best_loss_, then 4 without a gain of tol
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning, match="Maximum iterations"):
            MLPClassifier(max_iter=3, random_state=0).fit(X / 16, y)


def test_early_stopping_keeps_the_best_validation_weights(digits):
    X, y = digits
    clf = MLPClassifier(**quiet(max_iter=300, early_stopping=True, n_iter_no_change=5,
                                learning_rate_init=0.02)).fit(X / 16, y)
    assert clf.best_loss_ is None and len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.n_iter_ < 300


def test_same_seed_same_model_other_seed_other_model(digits):
    X, y = digits
    a = MLPClassifier(**quiet(max_iter=3)).fit(X, y).coefs_[0]
    b = MLPClassifier(**quiet(max_iter=3)).fit(X, y).coefs_[0]
    c = MLPClassifier(**quiet(max_iter=3, random_state=1)).fit(X, y).coefs_[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_coefs_are_views_of_the_weights(digits):
    X, y = digits
    clf = MLPClassifier(**quiet(max_iter=2)).fit(X / 16, y)
    W = clf.coefs_[0]
    assert np.shares_memory(W, clf.model_.parameters().data)
    before = clf.predict_proba(X[:5] / 16)
    W *= 0
    assert not np.allclose(clf.predict_proba(X[:5] / 16), before)


def test_fastnn_options_train(digits):
    X, y = digits
    for kw in (dict(batch_norm=True, keep_prob=0.9), dict(solver="rmsprop", learning_rate_init=1e-3),
               dict(solver="momentum", learning_rate_init=0.05), dict(solver="adamw", weight_decay=1e-3),
               dict(activation="tanh", weight_init="xavier"),
               dict(schedule=fastnn.schedules.ExponentialDecay(0.01, 0.9)), dict(dtype="float32")):
        clf = make_pipeline(StandardScaler(), MLPClassifier(**quiet(**kw))).fit(X[:1400], y[:1400])
        assert clf.score(X[1400:], y[1400:]) > 0.85, kw


def test_float32_input_computes_in_float32(digits):
    X, y = digits
    assert MLPClassifier(**quiet(max_iter=1)).fit(X.astype(np.float32), y).model_.dtype == np.float32
    assert MLPClassifier(**quiet(max_iter=1)).fit(X, y).model_.dtype == np.float64


def test_pickle_round_trip_carries_a_checkpoint_not_buffers(digits):
    X, y = digits
    clf = MLPClassifier(**quiet(max_iter=3, batch_norm=True)).fit(X / 16, y)
    state = clf.__getstate__()
    assert isinstance(state["model_"], bytes) and "optimizer_" not in state
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(back.predict_proba(X / 16), clf.predict_proba(X / 16))
    back.partial_fit(X / 16, y)                   # the optimizer came back too
    assert back.optimizer_.t == clf.optimizer_.t + 9


@pytest.mark.parametrize("params, match", [
    (dict(solver="lbfgs"), "solver"), (dict(hidden_layer_sizes=(0,)), "hidden_layer_sizes"),
    (dict(activation="softplus"), "activation"), (dict(batch_size=0), "batch_size"),
    (dict(learning_rate_init=0.0), "learning_rate_init"), (dict(validation_fraction=1.0), "validation_fraction"),
    (dict(keep_prob=0.0), "keep_prob"), (dict(weight_init="nope"), "init"), (dict(dtype="float16"), "dtype"),
    (dict(max_iter=0), "max_iter"), (dict(alpha=-1.0), "alpha"),
])
def test_bad_parameters_are_named(digits, params, match):
    X, y = digits
    with pytest.raises((ValueError, TypeError), match=match):
        MLPClassifier(**params).fit(X, y)


def test_one_class_is_refused():
    with pytest.raises(ValueError, match="one class"):
        MLPClassifier().fit(np.zeros((5, 2)), np.ones(5))


def test_speed_configuration_learns_like_sklearn():
    """The bench's configuration (bench/bench_sklearn.py): accuracy within
    noise of scikit-learn's on a held-out split of the synthetic problem."""
    from sklearn.neural_network import MLPClassifier as SkMLP
    X, y = make_classification(n_samples=4000, n_features=50, n_informative=20, n_classes=3, random_state=0)
    kw = dict(hidden_layer_sizes=(100,), batch_size=200, max_iter=20, tol=0.0, n_iter_no_change=1000,
              random_state=0)
    ours = MLPClassifier(**kw).fit(X[:3000], y[:3000]).score(X[3000:], y[3000:])
    theirs = SkMLP(**kw).fit(X[:3000], y[:3000]).score(X[3000:], y[3000:])
    assert abs(ours - theirs) < 0.03


def test_joblib_works_after_a_search_on_the_default_pool(digits):
    """fastnn's search pool is its own: scikit-learn's n_jobs (joblib's
    loky pool) still works after a search in the same process."""
    from fastnn import tune
    tune.random_search(lambda p, s: p["x"] ** 2, {"x": tune.Uniform(-1, 1)}, 4, seed=0)
    X, y = digits
    scores = cross_val_score(MLPClassifier(**quiet(max_iter=3)), X[:300], y[:300], cv=2, n_jobs=2)
    assert scores.shape == (2,)


def test_warm_start_takes_new_rates_and_refuses_a_new_network(digits):
    X, y = digits
    clf = MLPClassifier(**quiet(max_iter=2, warm_start=True)).fit(X / 16, y)
    clf.set_params(learning_rate_init=0.0123, alpha=0.5, beta_1=0.8)
    clf.fit(X / 16, y)
    assert clf.optimizer_.lr == 0.0123 and clf.model_.l2 == 0.5 and clf.optimizer_.betas[0] == 0.8
    clf.set_params(hidden_layer_sizes=(7,))
    with pytest.raises(ValueError, match="hidden_layer_sizes changed"):
        clf.fit(X / 16, y)
    clf.set_params(warm_start=False)
    assert clf.fit(X / 16, y).coefs_[0].shape == (64, 7)


def test_warm_start_with_early_stopping_after_partial_fits(digits):
    X, y = digits
    clf = MLPClassifier(**quiet(max_iter=5, warm_start=True, early_stopping=True))
    clf.partial_fit(X / 16, y, classes=np.arange(10))
    assert clf.validation_scores_ is None
    clf.fit(X / 16, y)
    assert clf.n_iter_ == 1 + len(clf.validation_scores_) and clf.best_validation_score_ > 0.5
