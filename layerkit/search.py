"""Random hyperparameter search: ``layerkit-search`` (or ``python -m layerkit.search``).

Each trial draws a learning rate and a regularisation strength log-uniformly from their
ranges and a hidden size from a list, trains the net with the Solver for a few epochs, and
records the best validation accuracy. The table is printed best first; ``--out`` gets
search.json, search.csv and search.png (lr vs reg, coloured by validation accuracy).

Each trial is also a TensorBoard run (``<out>/trial-NN``) with its hyperparameters and
final accuracy: ``tensorboard --logdir <out>`` compares them in the HParams tab. A new
search never overwrites an old one (``runs/search``, ``runs/search-2``, ...).

Random rather than grid search: with the same budget it tries more distinct values of the
hyperparameter that matters most (Bergstra & Bengio, 2012).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time

import numpy as np

from layers import backend
from optim import Solver, TrainingDivergedError
from optim.rules import RULES

from . import data as datasets
from . import plots, runs, tracking
from .cli_types import Parser, UsageError, nonneg_int, positive_float, positive_int, run_command
from .net_table import NETS, OPTION_DEFAULTS, build_model
from .train import blas_threads

IMAGE_NETS = [k for k, n in NETS.items() if not n.text]

__all__ = ["main", "sample_trials", "run_search", "format_table"]


def sample_trials(n: int, lr_range, reg_range, hidden_sizes, seed: int) -> list[dict]:
    """``n`` draws of {lr, reg, hidden}: lr and reg log-uniform in their ranges."""
    rng = np.random.default_rng(seed)
    lo_lr, hi_lr = np.log10(lr_range)
    lo_reg, hi_reg = np.log10(reg_range)
    return [{"lr": float(10 ** rng.uniform(lo_lr, hi_lr)),
             "reg": float(10 ** rng.uniform(lo_reg, hi_reg)),
             "hidden": int(rng.choice(hidden_sizes))} for _ in range(n)]


def run_search(trials: list[dict], data: dict, a: argparse.Namespace, log=print,
               folder: str | None = None) -> list[dict]:
    """Train one net per trial; return the trials with val_acc, train_acc, seconds added.

    With ``folder``, trial i writes TensorBoard events to ``folder/trial-<i>``.
    """
    input_shape = tuple(data["X_train"].shape[1:])
    num_classes = int(max(data["y_train"].max(), data["y_val"].max())) + 1
    results = []
    for i, t in enumerate(trials):
        hidden = ",".join([str(t["hidden"])] * a.layers)
        args = argparse.Namespace(**{**vars(a), "hidden": hidden, "reg": t["reg"],
                                     "seed": a.seed + i, "dtype": np.dtype(a.dtype)})
        model = build_model(args, input_shape, num_classes)
        solver = Solver(model, data, update_rule=a.update_rule,
                        optim_config={"learning_rate": t["lr"]}, lr_decay=a.lr_decay,
                        batch_size=a.batch_size, num_epochs=a.epochs, seed=a.seed + i,
                        verbose=False)
        tracker = tracking.Tracker(os.path.join(folder, f"trial-{i + 1:02d}"),
                                   enabled=folder is not None and a.track)
        solver.callbacks.append(tracker.on_step)
        solver.callbacks.append(lambda s, g, tr=tracker: None if s.iteration %
                                s.iterations_per_epoch else tr.on_epoch(s, g))
        start = time.perf_counter()
        diverged = False
        try:
            solver.train()
        except TrainingDivergedError:
            diverged = True  # a too-large rate is a result, not a crash
        r = {**t, "val_acc": float(solver.best_val_acc),
             "train_acc": float(solver.train_acc_history[-1]) if solver.train_acc_history
             else float("nan"),
             "diverged": diverged, "seconds": time.perf_counter() - start}
        tracker.hparams({"lr": r["lr"], "reg": r["reg"], "hidden": r["hidden"],
                         "net": a.net, "epochs": a.epochs},
                        {"hparams/val_acc": r["val_acc"]}, step=solver.iteration)
        tracker.close()
        results.append(r)
        log(f"trial {i + 1}/{len(trials)}: lr {r['lr']:.2e}  reg {r['reg']:.2e}  "
            f"hidden {r['hidden']}  val {r['val_acc']:.3f}{'  (diverged)' if diverged else ''}")
    return results


def format_table(results: list[dict]) -> str:
    """The results as a text table, best validation accuracy first."""
    rows = sorted(results, key=lambda r: -r["val_acc"])
    lines = [f"{'rank':>4}  {'val_acc':>7}  {'train_acc':>9}  {'lr':>9}  {'reg':>9}  "
             f"{'hidden':>6}  {'seconds':>7}"]
    for k, r in enumerate(rows, 1):
        note = "  diverged" if r["diverged"] else ""
        lines.append(f"{k:>4}  {r['val_acc']:>7.3f}  {r['train_acc']:>9.3f}  {r['lr']:>9.2e}  "
                     f"{r['reg']:>9.2e}  {r['hidden']:>6}  {r['seconds']:>7.2f}{note}")
    return "\n".join(lines)


def parser() -> Parser:
    p = Parser(
        prog="layerkit-search",
        description="Random search over learning rate, regularisation and hidden size.")
    add = p.add_argument
    add("--net", choices=IMAGE_NETS, default="fc")
    add("--data", choices=datasets.DATASETS, default="digits")
    add("--data-dir")
    add("--num-train", type=positive_int, help="keep only this many training examples")
    add("--trials", type=positive_int, default=12)
    add("--epochs", type=positive_int, default=8, help="epochs per trial")
    add("--lr-range", type=positive_float, nargs=2, default=[1e-4, 3e-2],
        metavar=("LOW", "HIGH"))
    add("--reg-range", type=positive_float, nargs=2, default=[1e-5, 1e-1],
        metavar=("LOW", "HIGH"))
    add("--hidden-sizes", default="32,64,128,256", help="comma-separated choices")
    add("--layers", type=positive_int, default=2,
        help="hidden layers, each of the drawn size (fc)")
    add("--update-rule", choices=sorted(RULES), default="adam")
    add("--batch-size", type=positive_int, default=50)
    add("--lr-decay", type=positive_float, default=0.95)
    add("--weight-scale", type=positive_float, default=None)
    add("--seed", type=nonneg_int, default=0, help="seeds the draws, the weights and the batches")
    add("--split-seed", type=nonneg_int, default=0)
    add("--dtype", choices=["float32", "float64"], default="float32")
    add("--backend", choices=["numpy", "cupy"])
    add("--threads", type=nonneg_int, default=1,
        help="BLAS threads (0 leaves BLAS's own choice)")
    add("--no-track", dest="track", action="store_false",
        help="write no TensorBoard event files")
    add("--out", help="folder for the results (default runs/search, numbered -2, -3, ... "
                      "when taken)")
    add("--debug", action="store_true", help="show the traceback of an error")
    return p


def _search(argv) -> int:
    a = parser().parse_args(argv)
    if a.backend:
        backend.set_backend(a.backend)
    defaults = {**OPTION_DEFAULTS, "num_filters": 16, "filter_size": 3,
                **NETS[a.net].defaults}
    for k in ("weight_scale", "dropout_keep", "normalization", "num_filters", "filter_size",
              "num_blocks"):
        if getattr(a, k, None) is None:
            setattr(a, k, defaults.get(k))
    for name, (lo, hi) in (("--lr-range", a.lr_range), ("--reg-range", a.reg_range)):
        if not lo <= hi:
            raise UsageError(f"{name} {lo} {hi}: needs LOW <= HIGH")
    try:
        hidden = [int(h) for h in a.hidden_sizes.split(",")]
    except ValueError:
        hidden = [0]
    if min(hidden) < 1:
        raise UsageError(f"--hidden-sizes {a.hidden_sizes}: needs positive integers "
                         "separated by commas, e.g. 32,64")
    try:
        data = datasets.get_data(a.data, folder=a.data_dir, num_train=a.num_train,
                                 seed=a.split_seed, dtype=np.dtype(a.dtype))
    except (OSError, ValueError) as e:
        raise UsageError(f"--data {a.data}: {e}") from None
    out = runs.claim_out(a.out, False) if a.out else runs.new_run_folder(
        os.path.join("runs", "search"))
    trials = sample_trials(a.trials, a.lr_range, a.reg_range, hidden, a.seed)
    start = time.perf_counter()
    with blas_threads(a.threads):
        results = run_search(trials, data, a, folder=out)
    print(format_table(results))
    a.out = out
    with open(os.path.join(a.out, "search.json"), "w") as f:
        json.dump({"args": vars(a), "results": results}, f, indent=1)
    with open(os.path.join(a.out, "search.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(results[0]))
        w.writeheader()
        w.writerows(sorted(results, key=lambda r: -r["val_acc"]))
    plots.plot_search(results, os.path.join(out, "search.png"),
                      title=f"random search, {a.net} on {a.data}")
    best = max(results, key=lambda r: r["val_acc"])
    print(f"best val accuracy {best['val_acc']:.3f} (lr {best['lr']:.2e}, reg {best['reg']:.2e}, "
          f"hidden {best['hidden']}; {a.trials} trials, {time.perf_counter() - start:.1f} s); "
          f"wrote {a.out}")
    return 0 if math.isfinite(best["val_acc"]) else 1


def main(argv=None) -> int:
    """``layerkit-search``: 0 done, 1 every trial failed, 2 a user error."""
    return run_command("layerkit-search", _search, argv)


if __name__ == "__main__":
    sys.exit(main())
