"""Callbacks for ``Sequential.fit``.

A callback may implement ``on_train_begin(model, history)``,
``on_epoch_end(epoch, logs) -> bool`` (True stops training) and
``on_train_end()``. ``logs`` holds the epoch's entries of the history
(``cost``, ``accuracy``, ``val_cost``, ``val_accuracy``, ``lr``).
"""
from __future__ import annotations

import numpy as np

from . import _checks

__all__ = ["Callback", "EarlyStopping", "OptunaPruning"]


class Callback:
    def on_train_begin(self, model, history):
        self.model = model

    def on_epoch_end(self, epoch, logs):
        return False

    def on_train_end(self):
        pass


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience``
    epochs; with ``restore_best_weights`` the model ends with the weights
    (and batch-norm statistics) of its best epoch.

    ``mode`` is ``"min"`` for costs, ``"max"`` for accuracies, or ``"auto"``
    (max when the name contains "accuracy").
    """

    def __init__(self, monitor: str = "val_cost", patience: int = 5, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = True) -> None:
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        patience = _checks.positive_int("patience", patience, minimum=0)
        self.monitor, self.patience, self.min_delta = monitor, patience, float(min_delta)
        self.mode = ("max" if "accuracy" in monitor else "min") if mode == "auto" else mode
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self, model, history):
        super().on_train_begin(model, history)
        if self.monitor.startswith("val_") and not history.has_validation:
            raise ValueError(f"EarlyStopping monitors {self.monitor!r} but fit got no validation_data")
        self.best = np.inf if self.mode == "min" else -np.inf
        self.best_epoch = None
        self.best_state = None
        self.wait = 0
        self.stopped_epoch = None

    def _improved(self, value):
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch, logs):
        if self.monitor not in logs:
            raise ValueError(f"EarlyStopping: {self.monitor!r} is not logged; have {sorted(logs)}")
        value = logs[self.monitor]
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_state = self.model._snapshot()
            return False
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            return True
        return False

    def on_train_end(self):
        if self.restore_best_weights and self.best_state is not None:
            self.model._restore(self.best_state)


class OptunaPruning(Callback):
    """Report ``monitor`` to an Optuna trial after every epoch and stop the
    trial when its pruner says so (``optuna.TrialPruned`` is raised out of
    ``fit``; Optuna's ``study.optimize`` records the trial as pruned).

    Examples
    --------
    >>> import optuna, fastnn                                    # doctest: +SKIP
    >>> from fastnn import tune
    >>> X, y = fastnn.datasets.moons(400, seed=0)
    >>> (Xt, yt), (Xd, yd), _ = fastnn.data.train_dev_test_split(X, y, dev=0.25, test=0.0, seed=0)
    >>> space = {"lr": tune.LogUniform(1e-4, 1e-1)}
    >>> def objective(trial):
    ...     params = tune.suggest(trial, space)
    ...     model = fastnn.Sequential([fastnn.Dense(2, 16, "relu"), fastnn.Dense(16, 2)], seed=0)
    ...     opt = fastnn.Adam(model.parameters(), lr=params["lr"])
    ...     h = model.fit(Xt, yt, opt, epochs=20, validation_data=(Xd, yd), verbose=False,
    ...                   callbacks=[fastnn.callbacks.OptunaPruning(trial, monitor="val_cost")])
    ...     return h["val_cost"][-1]
    >>> study = optuna.create_study(pruner=optuna.pruners.MedianPruner())
    >>> study.optimize(objective, n_trials=10)
    """

    def __init__(self, trial, monitor: str = "val_cost") -> None:
        try:
            import optuna
        except ImportError:
            raise ImportError("OptunaPruning needs optuna: pip install 'fastnn-numba[optuna]'") from None
        self._pruned = optuna.TrialPruned
        self.trial, self.monitor = trial, monitor

    def on_train_begin(self, model, history):
        super().on_train_begin(model, history)
        if self.monitor.startswith("val_") and not history.has_validation:
            raise ValueError(f"OptunaPruning monitors {self.monitor!r} but fit got no validation_data")

    def on_epoch_end(self, epoch, logs):
        if self.monitor not in logs:
            raise ValueError(f"OptunaPruning: {self.monitor!r} is not logged; have {sorted(logs)}")
        self.trial.report(float(logs[self.monitor]), step=epoch)
        if self.trial.should_prune():
            raise self._pruned(f"pruned at epoch {epoch} ({self.monitor}={logs[self.monitor]:.6g})")
        return False
