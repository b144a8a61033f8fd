"""The harness of the notebook replays: the notebooks' own rel_error, a check record,
and the loops the notebooks repeat (gradient checks over a model's params, print_mean_std).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradcheck import eval_numerical_gradient


def rel_error(x, y):
    """The notebooks' own definition (their setup cell)."""
    return np.max(np.abs(x - y) / (np.maximum(1e-8, np.abs(x) + np.abs(y))))


@dataclass
class Check:
    """One printed number (or array) of a cell and what the notebook says it must be."""
    notebook: str
    name: str
    value: object
    kind: str  # "below": value < bound; "near": |value - expected| <= tol elementwise
    target: object
    tol: float = 0.0

    def ok(self) -> bool:
        v = np.asarray(self.value, dtype=np.float64)
        if not np.all(np.isfinite(v)):
            return False
        if self.kind == "below":
            return bool(np.all(v < self.target))
        return bool(np.all(np.abs(v - np.asarray(self.target, dtype=np.float64)) <= self.tol))

    def describe(self) -> str:
        rel = "<" if self.kind == "below" else f"within {self.tol:g} of"
        return f"{self.notebook}: {self.name} = {self.value!r}, needs {rel} {self.target!r}"


class Notebook:
    """Collects the checks of one notebook replay."""

    def __init__(self, name: str):
        self.name = name
        self.checks: list[Check] = []

    def below(self, name, value, bound):
        self.checks.append(Check(self.name, name, _plain(value), "below", bound))

    def near(self, name, value, expected, tol):
        self.checks.append(Check(self.name, name, _plain(value), "near", expected, tol))

    def errors_below(self, prefix, pairs, bound):
        """Several '<name> error: rel_error(...)' prints of one cell under one bound."""
        for name, (a, b) in pairs.items():
            self.below(f"{prefix} {name} error", rel_error(a, b), bound)


def _plain(value):
    a = np.asarray(value, dtype=np.float64)
    return float(a) if a.ndim == 0 else a.tolist()


def grad_errors(nb, prefix, model, X, y, bound_for, h=1e-5):
    """The notebooks' loop: eval_numerical_gradient on every param, rel_error printed."""
    loss, grads = model.loss(X, y)
    for name in sorted(grads):
        f = lambda _: model.loss(X, y)[0]  # noqa: E731 (as the notebooks write it)
        grad_num = eval_numerical_gradient(f, model.params[name], verbose=False, h=h)
        nb.below(f"{prefix} {name} relative error", rel_error(grad_num, grads[name]),
                 bound_for(name))
    return loss


def mean_std(nb, label, x, axis, means, stds, tol):
    """print_mean_std(x, axis): the notebook prints both with 8 decimals."""
    nb.near(f"{label} means", x.mean(axis=axis), means, tol)
    nb.near(f"{label} stds", x.std(axis=axis), stds, tol)
