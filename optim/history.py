"""A Solver's history as plain data, saved as JSON (the whole record) or CSV (one row per step).

history_dict(solver) ->
    {"iteration": [1..n], "epoch": [fraction of epochs done after each step],
     "loss": [...], "lr": [...], "grad_norm": [...] (empty unless grad_clip),
     "acc_iteration": [...], "acc_epoch": [...], "train_acc": [...], "val_acc": [...],
     "best_val_acc": float, "iterations_per_epoch": int, "num_epochs": int,
     "update_rule": str}
"""

from __future__ import annotations

import csv
import json
import os

__all__ = ["history_dict", "save_history", "load_history"]

_CSV_COLUMNS = ("iteration", "epoch", "loss", "lr", "grad_norm", "train_acc", "val_acc")


def history_dict(solver) -> dict:
    """The Solver's losses, rates and accuracies as lists of Python numbers."""
    ipe = solver.iterations_per_epoch
    n = len(solver.loss_history)
    return {
        "iteration": list(range(1, n + 1)),
        "epoch": [t / ipe for t in range(1, n + 1)],
        "loss": [float(x) for x in solver.loss_history],
        "lr": [float(x) for x in solver.lr_history],
        "grad_norm": [float(x) for x in solver.grad_norm_history],
        "acc_iteration": [int(t) for t in solver.acc_iterations],
        "acc_epoch": [t / ipe for t in solver.acc_iterations],
        "train_acc": [float(a) for a in solver.train_acc_history],
        "val_acc": [float(a) for a in solver.val_acc_history],
        "best_val_acc": float(solver.best_val_acc),
        "iterations_per_epoch": ipe,
        "num_epochs": solver.num_epochs,
        "update_rule": solver.rule_name,
    }


def save_history(history: dict, path: str | os.PathLike) -> None:
    """Write ``history`` (from history_dict) as .json, or as .csv with one row per step.

    CSV columns: iteration, epoch, loss, lr, grad_norm, train_acc, val_acc; accuracies
    (and grad_norm without clipping) are blank on the steps where they were not measured.
    """
    path = os.fspath(path)
    if path.endswith(".json"):
        with open(path, "w") as f:
            json.dump(history, f, indent=1)
        return
    if not path.endswith(".csv"):
        raise ValueError(f"save_history: path must end in .json or .csv; got {path!r}")
    accs = {t: (tr, va) for t, tr, va in zip(history["acc_iteration"], history["train_acc"],
                                             history["val_acc"], strict=True)}
    norms = history["grad_norm"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(_CSV_COLUMNS)
        for i, t in enumerate(history["iteration"]):
            tr, va = accs.get(t, ("", ""))
            w.writerow([t, history["epoch"][i], history["loss"][i], history["lr"][i],
                        norms[i] if i < len(norms) else "", tr, va])


def load_history(path: str | os.PathLike) -> dict:
    """Read a history saved as JSON."""
    with open(path) as f:
        return json.load(f)
