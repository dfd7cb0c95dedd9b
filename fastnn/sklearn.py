"""scikit-learn estimators over fastnn models: ``MLPClassifier`` and
``MLPRegressor``. Needs the ``sklearn`` extra.

They take scikit-learn's ``MLPClassifier`` parameters where the meaning is
the same, so they drop into pipelines, cross-validation and searches, and
pass scikit-learn's own estimator checks (``tests/test_sklearn.py``).
Training is fastnn's compiled ``fit``; fastnn's own parameters add batch
normalization, dropout, RMSprop/momentum/AdamW, initializers and
learning-rate schedules.

Differences from scikit-learn's MLP, by choice:

- ``solver``: ``"sgd"``, ``"momentum"``, ``"rmsprop"``, ``"adam"`` or
  ``"adamw"``; no ``lbfgs`` (a mini-batch library). ``momentum`` is the
  momentum solver's beta, ``beta_2`` RMSprop's (the course's names), and
  ``learning_rate`` (sgd's schedules) is ``schedule``, any of
  ``fastnn.schedules``.
- ``dtype=None`` computes in float32 for float32 input, else float64, as
  scikit-learn does; ``dtype="float32"`` is faster.
- No ``sample_weight``: fastnn's compiled losses are means over the batch.
- Sparse input is densified (the kernels are dense).
- ``loss_curve_`` is fastnn's cost: the mean loss over each epoch's batches
  plus the L2 term ``alpha / (2 * batch) * sum ||W||^2`` (scikit-learn's
  term); for regression the loss is the mean squared error over outputs,
  where scikit-learn halves it.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import threading
import warnings

import numpy as np

try:
    import sklearn  # noqa: F401
except ImportError:
    raise ImportError("fastnn.sklearn needs scikit-learn: pip install 'fastnn-numba[sklearn]'") from None
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from . import _checks, checkpoint
from . import init as _init
from .callbacks import Callback
from .layers import BatchNorm, Dense, Dropout, LeakyReLU, ReLU, Sigmoid, Tanh
from .model import Sequential
from .optim import SGD, Adam, AdamW, Momentum, RMSprop
from .schedules import Schedule

__all__ = ["MLPClassifier", "MLPRegressor"]

# scikit-learn's activation names, and fastnn's
_ACTIVATIONS = {"identity": "linear", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu",
                "leaky_relu": "leaky_relu", "linear": "linear", "sigmoid": "sigmoid"}
_ACTIVATION_LAYERS = {cls.name: cls for cls in (ReLU, LeakyReLU, Sigmoid, Tanh)}
_SOLVERS = ("sgd", "momentum", "rmsprop", "adam", "adamw")


def _threads_here(n_threads):
    """numba threads for this call: ``n_threads`` if given (at most numba's
    pool); else one in a worker (a child process, e.g. joblib's ``n_jobs``,
    or a thread other than the main one, e.g. dask's threaded scheduler),
    where other workers share the cores; else the caller's current count
    (``numba.set_num_threads``, all of them by default)."""
    import numba
    if n_threads is not None:
        return min(n_threads, numba.config.NUMBA_NUM_THREADS)
    worker = (multiprocessing.parent_process() is not None
              or threading.current_thread() is not threading.main_thread())
    return 1 if worker else numba.get_num_threads()


@contextlib.contextmanager
def _threads(n_threads):
    # numba's thread count is per calling thread: set and restore it here
    import numba
    before = numba.get_num_threads()
    numba.set_num_threads(_threads_here(n_threads))
    try:
        yield
    finally:
        numba.set_num_threads(before)


class _Monitor(Callback):
    """scikit-learn's stopping rule on fastnn's ``fit``: record the loss
    curve (and validation scores), stop after ``n_iter_no_change`` epochs
    without an improvement of ``tol``, and keep the best weights of an
    early-stopping run."""

    def __init__(self, est, validation, stopping):
        self.est, self.validation, self.stopping = est, validation, stopping
        self.converged = False
        self.best_state = None

    def on_epoch_end(self, epoch, logs):
        est = self.est
        loss = float(logs["cost"])
        est.loss_curve_.append(loss)
        est.n_iter_ += 1
        est.t_ += est._m
        if est.verbose:
            print(f"Iteration {est.n_iter_}, loss = {loss:.8f}")
        if self.validation is not None:
            score = est._score_model(*self.validation)
            est.validation_scores_.append(score)
            if est.verbose:
                print(f"Validation score: {score:f}")
            est._no_improvement_count = (est._no_improvement_count + 1
                                         if not score >= est.best_validation_score_ + est.tol else 0)
            if score > est.best_validation_score_:
                est.best_validation_score_ = score
                self.best_state = self.model._snapshot()
        else:
            est._no_improvement_count = (est._no_improvement_count + 1
                                         if not loss <= est.best_loss_ - est.tol else 0)
            est.best_loss_ = min(est.best_loss_, loss)
        if self.stopping and est._no_improvement_count > est.n_iter_no_change:
            if est.verbose:
                what = "Validation score" if self.validation is not None else "Training loss"
                print(f"{what} did not improve more than tol={est.tol} for {est.n_iter_no_change} "
                      "consecutive epochs. Stopping.")
            self.converged = True
            return True
        return False

    def on_train_end(self):
        if self.best_state is not None:
            self.model._restore(self.best_state)


class _MLP(BaseEstimator):
    """What the classifier and the regressor share: parameters, the model,
    training and persistence."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate_init=0.001, max_iter=200, shuffle=True, random_state=None,
                 tol=1e-4, verbose=False, warm_start=False, momentum=0.9, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10,
                 weight_decay=0.0, batch_norm=False, keep_prob=1.0, weight_init=None, schedule=None,
                 dtype=None, backend=None, n_threads=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.weight_decay = weight_decay
        self.batch_norm = batch_norm
        self.keep_prob = keep_prob
        self.weight_init = weight_init
        self.schedule = schedule
        self.dtype = dtype
        self.backend = backend
        self.n_threads = n_threads

    # --- parameters -------------------------------------------------------
    def _check_params(self):
        """Every parameter checked at fit (scikit-learn's rule: __init__ only stores)."""
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if np.isscalar(sizes) else list(sizes)
        self._hidden = [_checks.positive_int("hidden_layer_sizes", s, maximum=_checks.MAX_FEATURES) for s in sizes]
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {self.activation!r}")
        if self.solver not in _SOLVERS:
            raise ValueError(f"solver must be one of {_SOLVERS}, got {self.solver!r}")
        _checks.scalar("alpha", self.alpha, low=0.0)
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            _checks.positive_int("batch_size", self.batch_size)
        _checks.scalar("learning_rate_init", self.learning_rate_init, low=0.0, low_open=True)
        _checks.positive_int("max_iter", self.max_iter)
        _checks.flag("shuffle", self.shuffle)
        _checks.scalar("tol", self.tol, low=0.0)
        _checks.flag("warm_start", self.warm_start)
        _checks.flag("early_stopping", self.early_stopping)
        _checks.scalar("validation_fraction", self.validation_fraction, low=0.0, high=1.0, low_open=True,
                       high_open=True)
        _checks.scalar("momentum", self.momentum, low=0.0, high=1.0, high_open=True)
        _checks.scalar("beta_1", self.beta_1, low=0.0, high=1.0, high_open=True)
        _checks.scalar("beta_2", self.beta_2, low=0.0, high=1.0, high_open=True)
        _checks.scalar("epsilon", self.epsilon, low=0.0, low_open=True)
        _checks.positive_int("n_iter_no_change", self.n_iter_no_change)
        _checks.scalar("weight_decay", self.weight_decay, low=0.0)
        _checks.flag("batch_norm", self.batch_norm)
        _checks.probability("keep_prob", self.keep_prob)
        if self.weight_init is not None:
            _init.get(self.weight_init)
        if self.schedule is not None and not isinstance(self.schedule, Schedule):
            raise TypeError(f"schedule must be a fastnn.schedules.Schedule or None, got {type(self.schedule).__name__}")
        if self.dtype is not None and np.dtype(self.dtype) not in (np.float32, np.float64):
            raise ValueError(f"dtype must be None, 'float32' or 'float64', got {self.dtype!r}")
        if self.n_threads is not None:
            _checks.positive_int("n_threads", self.n_threads)

    def _layers(self, n_in, n_out):
        act = _ACTIVATIONS[self.activation]
        layers, prev = [], n_in
        for h in self._hidden:
            if self.batch_norm:
                # the BatchNorm's beta does the bias's job
                layers += [Dense(prev, h, init=self.weight_init, bias=False), BatchNorm(h)]
                if act != "linear":
                    layers.append(_ACTIVATION_LAYERS[act]())
            else:
                layers.append(Dense(prev, h, act, init=self.weight_init))
            if self.keep_prob < 1.0:
                layers.append(Dropout(self.keep_prob))
            prev = h
        layers.append(Dense(prev, n_out, init=self.weight_init))
        return layers

    def _optimizer(self, model):
        p, lr, wd = model.parameters(), float(self.learning_rate_init), float(self.weight_decay)
        if self.solver == "sgd":
            return SGD(p, lr=lr, weight_decay=wd)
        if self.solver == "momentum":
            return Momentum(p, lr=lr, beta=self.momentum, weight_decay=wd)
        if self.solver == "rmsprop":
            return RMSprop(p, lr=lr, beta=self.beta_2, eps=self.epsilon, weight_decay=wd)
        cls = Adam if self.solver == "adam" else AdamW
        return cls(p, lr=lr, betas=(self.beta_1, self.beta_2), eps=self.epsilon, weight_decay=wd)

    # --- data -------------------------------------------------------------
    def _validate_X(self, X, reset):
        X = validate_data(self, X, reset=reset, accept_sparse=["csr", "csc", "coo"],
                          dtype=(np.float64, np.float32))
        return self._dense(X)

    @staticmethod
    def _dense(X):
        if hasattr(X, "toarray"):
            X = X.toarray()
        return np.asarray(X).view(np.ndarray)      # memmaps and other subclasses as plain arrays

    def _compute_dtype(self, X):
        if self.dtype is not None:
            return np.dtype(self.dtype)
        return np.dtype(np.float32) if X.dtype == np.float32 else np.dtype(np.float64)

    # --- training ---------------------------------------------------------
    def fit(self, X, y):
        """Train on ``(X, y)`` for up to ``max_iter`` epochs (scikit-learn's
        stopping rule: ``tol`` and ``n_iter_no_change`` on the training loss,
        or on the validation score with ``early_stopping``). With
        ``warm_start`` a fitted estimator continues from its weights and
        optimizer state. Returns self."""
        return self._fit(X, y, incremental=False)

    def _fit(self, X, y, incremental, classes=None):
        self._check_params()
        continuing = hasattr(self, "model_") and (incremental or self.warm_start)
        X, y = validate_data(self, X, y, reset=not continuing, accept_sparse=["csr", "csc", "coo"],
                             multi_output=True, y_numeric=not self._classifier, dtype=(np.float64, np.float32))
        X = self._dense(X)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if continuing and X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                             f"{self.n_features_in_} features as input")
        target, n_out = self._targets(y, continuing, incremental, classes)
        if not continuing:
            self._rng = check_random_state(self.random_state)
            dtype = self._compute_dtype(X)
            self.model_ = Sequential(self._layers(X.shape[1], n_out), loss=self._loss_name, l2=float(self.alpha),
                                     dtype=dtype, backend=self.backend,
                                     seed=int(self._rng.randint(np.iinfo(np.int32).max)))
            self.optimizer_ = self._optimizer(self.model_)
            self._structure = self._structure_now()
            self.loss_curve_, self.n_iter_, self.t_ = [], 0, 0
            self.best_loss_ = np.inf
            self._no_improvement_count = 0
            stopping_by_score = self.early_stopping and not incremental
            self.validation_scores_ = [] if stopping_by_score else None
            self.best_validation_score_ = -np.inf if stopping_by_score else None
            if stopping_by_score:
                self.best_loss_ = None
        else:
            self._refresh_hyperparameters()
            if self.early_stopping and not incremental and self.validation_scores_ is None:
                # a warm start with early stopping after partial fits: its first validation scores
                self.validation_scores_, self.best_validation_score_ = [], -np.inf
        validation = None
        if self.early_stopping and not incremental:
            stratify = y if self._classifier and not self._multilabel else None
            fit_rows, val_rows = train_test_split(np.arange(X.shape[0]), random_state=self._rng,
                                                  test_size=self.validation_fraction, stratify=stratify)
            validation = (X[val_rows], target[val_rows])
            X, target = X[fit_rows], target[fit_rows]
        if self.batch_size == "auto":
            batch = min(200, X.shape[0])
        else:
            if self.batch_size > X.shape[0]:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be "
                              "clipped", stacklevel=3)
            batch = min(int(self.batch_size), X.shape[0])
        self._m = X.shape[0]
        monitor = _Monitor(self, validation, stopping=not incremental)
        epochs = 1 if incremental else int(self.max_iter)
        with _threads(self.n_threads):
            self.model_.fit(X, target, self.optimizer_, epochs=epochs, batch_size=batch, schedule=self.schedule,
                            shuffle=bool(self.shuffle), seed=int(self._rng.randint(np.iinfo(np.int32).max)),
                            callbacks=[monitor], verbose=False)
        self.loss_ = self.loss_curve_[-1]
        if not incremental and not monitor.converged:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                          "optimization hasn't converged yet.", ConvergenceWarning, stacklevel=3)
        return self

    # what a warm start or a partial fit cannot change: the network and its optimizer
    _STRUCTURE = ("hidden_layer_sizes", "activation", "solver", "batch_norm", "keep_prob", "weight_init", "dtype",
                  "backend")

    def _structure_now(self):
        return {name: getattr(self, name) if name != "hidden_layer_sizes" else tuple(self._hidden)
                for name in self._STRUCTURE}

    def _refresh_hyperparameters(self):
        """A warm start or a partial fit continues the fitted network and its
        optimizer state with the current settings of the learning rate, L2,
        weight decay and the optimizer's betas; a change to the network or
        the solver is refused (fit with ``warm_start=False`` to rebuild)."""
        now = self._structure_now()
        changed = [name for name in self._STRUCTURE if now[name] != self._structure[name]]
        if changed:
            raise ValueError(f"{', '.join(changed)} changed since the network was built: a warm start or a "
                             "partial fit continues that network; fit with warm_start=False to build a new one")
        opt = self.optimizer_
        opt.lr = float(self.learning_rate_init)
        opt.weight_decay = float(self.weight_decay)
        self.model_.l2 = float(self.alpha)
        if self.solver == "momentum":
            opt.beta = float(self.momentum)
        elif self.solver == "rmsprop":
            opt.beta, opt.eps = float(self.beta_2), float(self.epsilon)
        elif self.solver in ("adam", "adamw"):
            opt.betas, opt.eps = (float(self.beta_1), float(self.beta_2)), float(self.epsilon)

    def partial_fit(self, X, y, classes=None):
        """One epoch over ``(X, y)``, from the current weights and optimizer
        state (the first call initializes them). Returns self."""
        return self._fit(X, y, incremental=True, classes=classes)

    def _forward(self, X):
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        with _threads(self.n_threads):
            return self.model_.forward(X.astype(self.model_.dtype, copy=False))

    # --- fitted attributes -------------------------------------------------
    def __sklearn_is_fitted__(self):
        return hasattr(self, "model_")

    @property
    def coefs_(self):
        """Weight matrices ``(n_in, n_out)`` per Dense layer, views of the
        model's weights (host models)."""
        check_is_fitted(self)
        return [layer.params["W"] for layer in self.model_.layers if isinstance(layer, Dense)]

    @property
    def intercepts_(self):
        """Bias vectors per Dense layer, views of the model's weights; None
        for a hidden layer followed by batch norm (no bias: the BatchNorm's
        beta takes its place)."""
        check_is_fitted(self)
        return [layer.params.get("b") for layer in self.model_.layers if isinstance(layer, Dense)]

    @property
    def n_layers_(self):
        check_is_fitted(self)
        return len(self.coefs_) + 1

    @property
    def n_outputs_(self):
        check_is_fitted(self)
        return self.model_.out_features

    # --- persistence ------------------------------------------------------
    def __getstate__(self):
        # the model and its optimizer travel as a fastnn checkpoint (no
        # pickled kernels or buffers), rebuilt and validated on load
        state = dict(self.__dict__)
        if "model_" in state:
            state["model_"] = checkpoint.dumps(state["model_"], state.pop("optimizer_"))
        return state

    def __setstate__(self, state):
        if isinstance(state.get("model_"), (bytes, bytearray)):
            state = dict(state)
            state["model_"], state["optimizer_"] = checkpoint.load(state["model_"], with_optimizer=True,
                                                                   backend=state.get("backend"))
        self.__dict__.update(state)

    def to_onnx(self, path=None, fold_batchnorm=True, dtype=None):
        """The fitted model as ONNX (see ``fastnn.onnx``), written to
        ``path`` if given. A classifier's outputs are ``label`` (the
        ``classes_``) and ``probabilities`` as ``predict_proba`` gives them;
        a regressor's ``predictions``."""
        check_is_fitted(self)
        from .onnx import to_onnx
        return to_onnx(self.model_, path, fold_batchnorm=fold_batchnorm, dtype=dtype, _head=self._onnx_head)


class MLPClassifier(ClassifierMixin, _MLP):
    """A multi-layer perceptron classifier trained by fastnn, with
    scikit-learn's interface (see the module docstring for the few
    differences).

    Multiclass targets train a softmax output (softmax cross-entropy);
    binary targets one sigmoid output and multilabel indicator targets one
    sigmoid per label (binary cross-entropy), as scikit-learn's MLP does.

    Parameters
    ----------
    hidden_layer_sizes : sizes of the hidden layers, default (100,)
    activation : "relu" (default), "tanh", "logistic", "identity" or
        "leaky_relu"
    solver : "adam" (default), "adamw", "rmsprop", "momentum" or "sgd"
    alpha : L2 strength, the course's lambda: ``alpha / (2 * batch) * sum ||W||^2``
    batch_size : rows per step; "auto" is ``min(200, n_samples)``
    learning_rate_init : the learning rate (or ``schedule``)
    max_iter : epochs at most
    shuffle, random_state, tol, verbose, warm_start, early_stopping,
    validation_fraction, n_iter_no_change, beta_1, beta_2, epsilon,
    momentum : as in scikit-learn
    weight_decay : the optimizer's weight decay (decoupled for "adamw")
    batch_norm : batch normalization after each hidden Dense, before its activation
    keep_prob : dropout after each hidden layer (1.0: none)
    weight_init : a ``fastnn.init`` name; None picks by activation (He for relu)
    schedule : a ``fastnn.schedules.Schedule``; replaces ``learning_rate_init``
    dtype : None (float32 for float32 input, else float64), "float32" or "float64"
    backend : fastnn backend ("cpu", "ref", "cuda"); None is the default
    n_threads : numba threads; None is all of them, or one inside a worker
        process or thread (``n_jobs`` in scikit-learn's tools)

    Attributes
    ----------
    classes_, n_features_in_, feature_names_in_, loss_, loss_curve_,
    best_loss_, validation_scores_, best_validation_score_, n_iter_, t_,
    coefs_, intercepts_, n_layers_, n_outputs_, out_activation_ : as in
    scikit-learn; ``model_`` (the ``fastnn.Sequential``) and ``optimizer_``.
    """

    _classifier = True

    def _targets(self, y, continuing, incremental, classes):
        check_classification_targets(y)
        if incremental and not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
            self._set_classes(np.asarray(classes), y, given=True)
        elif not continuing:
            self._set_classes(y, y, given=False)
        else:
            seen = unique_labels(y)
            known = self.classes_ if not self._multilabel else np.arange(self.model_.out_features)
            if self._multilabel != (type_of_target(y) == "multilabel-indicator") or np.setdiff1d(seen, known).size:
                what = "warm_start" if not incremental else "partial_fit"
                raise ValueError(f"`y` has classes not in `self.classes_` ({what} keeps the classes of the "
                                 f"first fit): {self.classes_} vs {seen}")
        if self._multilabel:
            return np.ascontiguousarray(y, dtype=np.float64), y.shape[1]
        if len(self.classes_) == 2:
            return (y == self.classes_[1]).astype(np.float64).reshape(-1, 1), 1
        return np.searchsorted(self.classes_, y).astype(np.intp), len(self.classes_)

    def _set_classes(self, classes, y, given):
        kind = type_of_target(y)
        self._multilabel = kind == "multilabel-indicator"
        if self._multilabel:
            self.classes_ = np.arange(y.shape[1])           # the columns, as scikit-learn names them
            self._loss_name = "binary_cross_entropy"
            self.out_activation_ = "logistic"
            return
        self.classes_ = unique_labels(classes)
        if given and np.setdiff1d(unique_labels(y), self.classes_).size:
            raise ValueError(f"`y` has classes not in `classes`: {unique_labels(y)} vs {self.classes_}")
        if len(self.classes_) < 2:
            raise ValueError(f"y has only one class ({self.classes_[0]!r}): a classifier needs at least two "
                             "classes to train")
        binary = len(self.classes_) == 2
        self._loss_name = "binary_cross_entropy" if binary else "softmax_cross_entropy"
        self.out_activation_ = "logistic" if binary else "softmax"

    def predict_proba(self, X):
        """Class probabilities ``(n_samples, n_classes)``, columns in
        ``classes_`` order (one column per label for multilabel targets)."""
        z = self._forward(X)
        p = self.model_._loss.probabilities(z, "ref")
        if not self._multilabel and p.shape[1] == 1:
            p = np.hstack([1 - p, p])
        return p

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """Class labels (an indicator matrix for multilabel targets)."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        with _threads(self.n_threads):
            index = self.model_.predict(X)          # the model's rule, refusing non-finite outputs
        return index if self._multilabel else self.classes_[index]

    def _score_model(self, X, y):
        """Validation accuracy (subset accuracy for multilabel targets) from
        encoded targets, for early stopping."""
        index = self.model_.predict(X)
        truth = y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y
        right = truth == index
        return float((right.all(axis=1) if right.ndim == 2 else right).mean())

    def _onnx_head(self, g, model, logits, elem):
        onnx = g.onnx
        int64 = onnx.TensorProto.INT64
        if self._multilabel:                       # the labels are the columns: the model's own outputs
            from .onnx import _default_head
            return _default_head(g, model, logits, elem)
        if model.out_features == 1:
            p = g.node("Sigmoid", [logits])
            g.node("Concat", [g.node("Sub", [g.constant("one", np.ones((1, 1))), p]), p], "probabilities", axis=1)
            index = g.node("Cast", [g.node("Greater", [logits, g.constant("zero", 0.0)])], to=int64)
            index = g.node("Squeeze", [index, g.constant("axis", [1], np.int64)])
        else:
            g.node("Softmax", [logits], "probabilities", axis=1)
            index = g.node("ArgMax", [logits], axis=1, keepdims=0)
        classes = self.classes_
        if classes.dtype.kind in "OUS":
            table, kind = np.array([str(c) for c in classes], dtype=object), onnx.TensorProto.STRING
            table_name = g.name("classes")
            g.initializers.append(onnx.helper.make_tensor(table_name, kind, [len(table)],
                                                          [s.encode() for s in table]))
        elif classes.dtype.kind in "iub":
            table_name, kind = g.constant("classes", classes.astype(np.int64), np.int64), int64
        else:
            table_name = g.constant("classes", classes.astype(np.float64), np.float64)
            kind = onnx.TensorProto.DOUBLE
        g.node("Gather", [table_name, index], "label", axis=0)
        return [("label", [None], kind), ("probabilities", [None, len(classes)], elem)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.input_tags.sparse = True
        return tags


class MLPRegressor(RegressorMixin, _MLP):
    """A multi-layer perceptron regressor trained by fastnn (mean squared
    error on a linear output), with scikit-learn's interface. Parameters
    and attributes as ``MLPClassifier``'s (``out_activation_`` is
    "identity"); one output per target column."""

    _classifier = False
    _loss_name = "mean_squared_error"
    out_activation_ = "identity"

    def partial_fit(self, X, y):
        """One epoch over ``(X, y)``, from the current weights and optimizer
        state (the first call initializes them). Returns self."""
        return self._fit(X, y, incremental=True)

    def _targets(self, y, continuing, incremental, classes):
        y2 = y.reshape(-1, 1) if y.ndim == 1 else y
        if continuing and y2.shape[1] != self.model_.out_features:
            raise ValueError(f"y has {y2.shape[1]} targets, the fitted model {self.model_.out_features}")
        self._one_target = y.ndim == 1
        return np.ascontiguousarray(y2, dtype=np.float64), y2.shape[1]

    def predict(self, X):
        """Predictions ``(n_samples,)`` for one target, else ``(n_samples, n_targets)``."""
        z = self._forward(X)
        return z[:, 0].copy() if self._one_target else z

    def _score_model(self, X, y):
        return r2_score(y, self.model_.forward(X))

    def _onnx_head(self, g, model, logits, elem):
        if self._one_target:
            g.node("Squeeze", [logits, g.constant("axis", [1], np.int64)], "predictions")
            return [("predictions", [None], elem)]
        g.node("Identity", [logits], "predictions")
        return [("predictions", [None, model.out_features], elem)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.sparse = True
        return tags
