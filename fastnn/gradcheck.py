"""Gradient checking by two-sided differences (course 2, week 1).

For each entry theta_i of each parameter tensor::

    g_approx_i = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)

and the relative difference ``||g - g_approx|| / (||g|| + ||g_approx||)`` is
judged with the course's thresholds: below 1e-7 fine, below 1e-5 look again,
above 1e-3 almost certainly a bug (in between: worrying).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import List, Tuple

import numpy as np

__all__ = ["gradcheck", "GradcheckReport", "TensorReport", "verdict", "relative_difference"]

FINE, LOOK_AGAIN, BUG = 1e-7, 1e-5, 1e-3


def verdict(rel: float) -> str:
    """The course's reading of a relative difference."""
    if not np.isfinite(rel):
        return "bug (not finite)"
    if rel < FINE:
        return "fine"
    if rel < LOOK_AGAIN:
        return "look again"
    if rel <= BUG:
        return "worrying"
    return "bug"


def relative_difference(g: np.ndarray, g_approx: np.ndarray) -> float:
    """||g - g_approx|| / (||g|| + ||g_approx||); 0 when both are 0."""
    num = np.linalg.norm(g - g_approx)
    den = np.linalg.norm(g) + np.linalg.norm(g_approx)
    return float(num / den) if den > 0 else 0.0


@dataclass
class TensorReport:
    """Result for one parameter tensor.

    worst: (index, analytic, numeric) for the entries with the largest
    absolute differences, largest first.
    """
    name: str
    shape: Tuple[int, ...]
    rel: float
    checked: int
    worst: List[tuple] = field(default_factory=list)

    @property
    def verdict(self):
        return verdict(self.rel)


@dataclass
class GradcheckReport:
    """Per-tensor reports plus the overall relative difference over all entries."""
    tensors: List[TensorReport]
    rel: float
    eps: float

    @property
    def verdict(self):
        return verdict(self.rel)

    def ok(self, threshold=FINE):
        """True when the overall and every tensor's difference is below threshold."""
        return self.rel < threshold and all(t.rel < threshold for t in self.tensors)

    def __str__(self):
        lines = [f"gradcheck (eps={self.eps:g}): overall {self.rel:.3e} -> {self.verdict}",
                 f"{'tensor':<16}{'shape':<14}{'checked':>8}  {'rel diff':>10}  verdict"]
        for t in self.tensors:
            lines.append(f"{t.name:<16}{str(t.shape):<14}{t.checked:>8}  {t.rel:>10.3e}  {t.verdict}")
            if t.verdict != "fine":
                for idx, a, n in t.worst:
                    lines.append(f"    at {idx}: analytic {a:+.8e}  numeric {n:+.8e}")
        return "\n".join(lines)


def gradcheck(fun: Callable[[], tuple[float, dict[str, np.ndarray]]], params: dict[str, np.ndarray], *,
              eps: float = 1e-7, worst: int = 3, max_entries: int | None = None,
              rng: int | np.random.Generator = 0) -> GradcheckReport:
    """Compare analytic gradients with two-sided finite differences.

    Parameters
    ----------
    fun : callable ``fun() -> (cost, grads)``
        Computes the cost from the *current* contents of ``params`` and the
        analytic gradients: a dict (same keys as ``params``) or a sequence (same
        order). It is called once for the gradients, then twice per checked
        entry (its gradients are then ignored). Works for a single op, a layer
        or a whole model.
    params : dict name -> ndarray, or a sequence of ndarrays
        float64 arrays that ``fun`` reads; each entry is perturbed in place and
        restored exactly.
    eps : float, the perturbation (the course uses 1e-7).
    worst : int, how many of the worst entries to list per tensor.
    max_entries : int, optional; check at most this many randomly chosen
        entries per tensor (seeded by ``rng``), for large tensors.

    Returns
    -------
    GradcheckReport; ``print(report)`` shows a table, ``report.ok()`` checks it.

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> w = np.array([1.0, -2.0])
    >>> report = fastnn.gradcheck(lambda: (float(w @ w), [2 * w]), [w])
    >>> report.ok()
    True
    """
    if isinstance(params, dict):
        names, arrays = list(params), list(params.values())
    else:
        arrays = list(params)
        names = [f"param{i}" for i in range(len(arrays))]
    for name, a in zip(names, arrays):
        if not isinstance(a, np.ndarray) or a.dtype != np.float64:
            raise TypeError(f"gradient checking needs float64 parameters; {name} is "
                            f"{getattr(a, 'dtype', type(a).__name__)}")
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    cost, grads = fun()
    grads = [grads[n] for n in names] if isinstance(grads, dict) else list(grads)
    if len(grads) != len(arrays):
        raise ValueError(f"fun returned {len(grads)} gradients for {len(arrays)} parameters")
    generator = np.random.default_rng(rng)
    reports, all_g, all_n = [], [], []
    for name, a, g in zip(names, arrays, grads):
        g = np.asarray(g, dtype=np.float64)
        if g.shape != a.shape:
            raise ValueError(f"gradient of {name} has shape {g.shape}, parameter has {a.shape}")
        flat = a.reshape(-1)  # a view: perturbations reach the caller's array
        if flat.base is None and a.size and not np.shares_memory(flat, a):
            raise ValueError(f"{name} must be contiguous to be perturbed in place")
        idx = np.arange(a.size)
        if max_entries is not None and a.size > max_entries:
            idx = np.sort(generator.choice(a.size, size=max_entries, replace=False))
        numeric = np.empty(idx.size)
        for k, i in enumerate(idx):
            saved = flat[i]
            flat[i] = saved + eps
            plus = float(fun()[0])
            flat[i] = saved - eps
            minus = float(fun()[0])
            flat[i] = saved
            numeric[k] = (plus - minus) / (2 * eps)
        analytic = g.reshape(-1)[idx]
        order = np.argsort(-np.abs(analytic - numeric))[:worst]
        worst_entries = [(tuple(int(v) for v in np.unravel_index(idx[j], a.shape)),
                          float(analytic[j]), float(numeric[j])) for j in order]
        reports.append(TensorReport(name, tuple(a.shape), relative_difference(analytic, numeric),
                                    int(idx.size), worst_entries))
        all_g.append(analytic)
        all_n.append(numeric)
    overall = relative_difference(np.concatenate(all_g), np.concatenate(all_n))
    return GradcheckReport(reports, overall, eps)
