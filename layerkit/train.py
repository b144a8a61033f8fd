"""The training command: ``layerkit-train`` (or ``python -m layerkit.train``).

With no arguments it trains a FullyConnectedNet on the digits that scikit-learn ships and
prints the validation and test accuracy. Everything it writes goes to ``--out``:

    run.json         the arguments, accuracies and wall time
    history.json     losses, learning rates and accuracies (optim.history format)
    history.csv      the same, one row per step
    model.npz        the final (best-validation) params and Solver state, a checkpoint
    checkpoints/     one checkpoint per epoch (for --resume)
    loss.png, accuracy.png, filters.png (first-layer weights, when the input is an image)

``--resume CKPT`` continues a run from a per-epoch checkpoint; ``--epochs`` counts from the
start of the run, and the net's arguments are read back from the run's ``run.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
from typing import Callable

import numpy as np

from layers import backend
from optim import Solver, TrainingDivergedError, history_dict, save_checkpoint, save_history
from optim.rules import RULES

from . import data as datasets
from . import plots

__all__ = ["main", "NETS", "NET_DEFAULTS", "build_model", "write_outputs"]


def _dims(hidden: str | list) -> list[int]:
    return [int(h) for h in hidden.split(",")] if isinstance(hidden, str) else list(hidden)


# --- the nets the command can build: net name -> builder(args, input_shape, classes) ----


def _fc(a, input_shape, num_classes):
    from nets import FullyConnectedNet

    return FullyConnectedNet(_dims(a.hidden), input_dim=math.prod(input_shape),
                             num_classes=num_classes, dropout_keep_ratio=a.dropout_keep,
                             normalization=a.normalization, reg=a.reg,
                             weight_scale=a.weight_scale, dtype=a.dtype, seed=a.seed)


def _two_layer(a, input_shape, num_classes):
    from nets import TwoLayerNet

    return TwoLayerNet(input_dim=math.prod(input_shape), hidden_dim=_dims(a.hidden)[0],
                       num_classes=num_classes, weight_scale=a.weight_scale, reg=a.reg,
                       seed=a.seed)


def _conv(a, input_shape, num_classes):
    from nets import ThreeLayerConvNet

    return ThreeLayerConvNet(input_dim=tuple(input_shape), num_filters=a.num_filters,
                             filter_size=a.filter_size, hidden_dim=_dims(a.hidden)[0],
                             num_classes=num_classes, weight_scale=a.weight_scale, reg=a.reg,
                             dtype=a.dtype, seed=a.seed)


NETS: dict[str, Callable] = {"fc": _fc, "two-layer": _two_layer, "conv": _conv}

# Per-net defaults for what the command line leaves unset. The fc ones reach >= 97 %
# validation accuracy on digits in about a second.
NET_DEFAULTS: dict[str, dict] = {
    "fc": dict(hidden="100,100", weight_scale=0.1, lr=2e-3, epochs=30, batch_size=50,
               reg=1e-3, lr_decay=0.95),
    "two-layer": dict(hidden="100", weight_scale=0.1, lr=2e-3, epochs=30, batch_size=50,
                      reg=1e-3, lr_decay=0.95),
    # ThreeLayerConvNet on digits: about 97-98 % validation accuracy in 15 epochs (~10 s)
    "conv": dict(hidden="100", weight_scale=0.1, lr=2e-3, epochs=15, batch_size=50,
                 reg=1e-3, lr_decay=0.95, num_filters=16, filter_size=3),
}
_GLOBAL_DEFAULTS = dict(
    net="fc", data="digits", data_dir=None, num_train=None, epochs=10, lr=1e-3,
    update_rule="adam", batch_size=100, reg=0.0, seed=0, split_seed=0, hidden="100",
    weight_scale=1e-2, dropout_keep=1.0, normalization=None, num_filters=32, filter_size=7,
    lr_decay=1.0, schedule="step", grad_clip=None, dtype="float32", backend=None,
    print_every=0, quiet=False, out=None, resume=None, keep=3, threads=1)
# Arguments that fix the net's shape: on --resume they come back from run.json.
_ARCH = ("net", "data", "data_dir", "num_train", "split_seed", "hidden", "dropout_keep",
         "normalization", "num_filters", "filter_size", "dtype", "seed", "weight_scale")


def blas_threads(n: int | None):
    """A context that limits BLAS to ``n`` threads (None or 0: leave BLAS as it is).

    The nets trained here are small: their matrix products gain little from a second
    thread, and on a busy machine OpenBLAS's spinning threads made a digits run 10-40x
    slower than one thread (measured on the project's 2-core machine).
    """
    if not n:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits  # comes with scikit-learn
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


def build_model(a, input_shape, num_classes):
    """The net named ``a.net`` for inputs of ``input_shape`` (one example) and classes."""
    if a.net not in NETS:
        raise SystemExit(f"--net must be one of {sorted(NETS)}; got {a.net!r}")
    try:
        return NETS[a.net](a, input_shape, num_classes)
    except ImportError as e:
        raise SystemExit(f"--net {a.net}: this build of layerkit lacks it ({e})") from e


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="layerkit-train",
        description="Train a small net offline and plot what happened. Defaults: a "
                    "FullyConnectedNet on scikit-learn's digits, about a second.")
    add = p.add_argument
    add("--net", choices=sorted(NETS), help="which net (default fc)")
    add("--data", choices=datasets.DATASETS, help="dataset (default digits, built in)")
    add("--data-dir", help="folder with the CIFAR-10 batches or MNIST IDX files")
    add("--num-train", type=int, help="keep only this many training examples")
    add("--epochs", type=int, help="epochs, counted from the start of the run (also on --resume)")
    add("--lr", type=float, help="learning rate")
    add("--update-rule", choices=sorted(RULES), help="optimizer (default adam)")
    add("--batch-size", type=int)
    add("--reg", type=float, help="L2 regularisation strength")
    add("--seed", type=int, help="seeds the weights and the minibatch order (default 0)")
    add("--split-seed", type=int, help="seeds the train/val/test split (default 0)")
    add("--hidden", help="hidden sizes, comma-separated, e.g. 100,100")
    add("--weight-scale", type=float, help="std of the initial weights")
    add("--dropout-keep", type=float, help="dropout keep probability (fc; 1 = off)")
    add("--normalization", choices=["batchnorm", "layernorm"], help="fc: normalization layers")
    add("--num-filters", type=int, help="conv: number of filters")
    add("--filter-size", type=int, help="conv: filter size")
    add("--lr-decay", type=float, help="multiply the rate by this after each epoch")
    add("--schedule", choices=["step", "cosine"], help="learning-rate schedule (default step)")
    add("--grad-clip", type=float, help="clip the global gradient norm to this")
    add("--dtype", choices=["float32", "float64"])
    add("--backend", choices=["numpy", "cupy"], help="where the net lives (default numpy)")
    add("--threads", type=int, help="BLAS threads (default 1; 0 leaves BLAS's own choice)")
    add("--print-every", type=int, help="print the loss every N steps (0 = never)")
    add("--keep", type=int, help="keep the newest N per-epoch checkpoints (default 3)")
    add("--out", help="output folder (default runs/<net>-<data>)")
    add("--resume", metavar="CKPT", help="continue from a checkpoint in <out>/checkpoints")
    add("-q", "--quiet", action="store_true", default=None, help="no progress output")
    return p


def _run_json_for(ckpt: str) -> dict:
    """The run.json of the run that wrote checkpoint ``ckpt`` (its folder or the parent)."""
    folder = os.path.dirname(os.path.abspath(ckpt))
    for f in (folder, os.path.dirname(folder)):
        path = os.path.join(f, "run.json")
        if os.path.isfile(path):
            with open(path) as fh:
                return json.load(fh).get("args", {})
    return {}


def resolve_args(argv=None) -> argparse.Namespace:
    """Command line, then (on --resume) the saved run's net arguments, then the defaults."""
    a = parser().parse_args(argv)
    given = {k: v for k, v in vars(a).items() if v is not None}
    saved = _run_json_for(a.resume) if a.resume else {}
    net = given.get("net", saved.get("net", _GLOBAL_DEFAULTS["net"]))
    merged = {**_GLOBAL_DEFAULTS, **NET_DEFAULTS.get(net, {}),
              **{k: saved[k] for k in _ARCH if k in saved}, **given}
    if merged["schedule"] == "cosine" and "lr_decay" not in given:
        merged["lr_decay"] = 1.0  # cosine sets the rate itself
    a = argparse.Namespace(**merged)
    a.out = a.out or os.path.join("runs", f"{a.net}-{a.data}")
    return a


def write_outputs(solver, model, a, out: str, summary: dict) -> None:
    """history.json/.csv, model.npz, run.json and the plots."""
    h = history_dict(solver)
    save_history(h, os.path.join(out, "history.json"))
    save_history(h, os.path.join(out, "history.csv"))
    save_checkpoint(os.path.join(out, "model.npz"), solver.checkpoint_state())
    with open(os.path.join(out, "run.json"), "w") as f:
        json.dump({"args": {k: v for k, v in vars(a).items() if k != "resume"}, **summary},
                  f, indent=1)
    label = f"{a.net} on {a.data}"
    plots.plot_loss(h, os.path.join(out, "loss.png"), title=f"training loss: {label}")
    plots.plot_accuracy(h, os.path.join(out, "accuracy.png"), title=f"accuracy: {label}")
    w1 = backend.to_numpy(model.params.get("W1"))
    shape = summary.get("input_shape")
    if w1 is not None and shape and len(shape) == 3 and shape[0] in (1, 3):
        if w1.ndim == 4:  # conv filters (F, C, HH, WW)
            plots.plot_filters(w1, os.path.join(out, "filters.png"))
        elif w1.ndim == 2 and w1.shape[0] == math.prod(shape):  # affine: a column per unit
            units = w1.T[:64].reshape(-1, *shape)
            plots.plot_filters(units, os.path.join(out, "filters.png"),
                               title=f"first-layer weights, {len(units)} of {w1.shape[1]} units")


def main(argv=None) -> int:
    a = resolve_args(argv)
    if a.backend:
        backend.set_backend(a.backend)
    a.dtype = str(np.dtype(a.dtype))
    data = datasets.get_data(a.data, folder=a.data_dir, num_train=a.num_train,
                             seed=a.split_seed, dtype=np.dtype(a.dtype))
    input_shape = tuple(data["X_train"].shape[1:])
    num_classes = int(max(data["y_train"].max(), data["y_val"].max())) + 1
    model = build_model(argparse.Namespace(**{**vars(a), "dtype": np.dtype(a.dtype)}),
                        input_shape, num_classes)
    os.makedirs(a.out, exist_ok=True)
    kw = dict(update_rule=a.update_rule, optim_config={"learning_rate": a.lr},
              lr_decay=a.lr_decay, schedule=a.schedule, batch_size=a.batch_size,
              num_epochs=a.epochs, seed=a.seed, grad_clip=a.grad_clip,
              checkpoint_name=os.path.join(a.out, "checkpoints", a.net),
              print_every=a.print_every, verbose=not a.quiet, keep_checkpoints=a.keep)
    if a.resume:
        solver = Solver.resume(a.resume, model, data, **kw)
    else:
        solver = Solver(model, data, **kw)
    start = time.perf_counter()
    status = 0
    try:
        with blas_threads(a.threads):
            solver.train()
    except TrainingDivergedError as e:
        print(f"layerkit-train: {e}", file=sys.stderr)
        status = 1
    seconds = time.perf_counter() - start
    summary = {"val_acc": float(solver.best_val_acc), "seconds": seconds,
               "epochs_done": solver.epoch, "input_shape": list(input_shape)}
    if status == 0 and "X_test" in data:
        with blas_threads(a.threads):
            summary["test_acc"] = solver.check_accuracy(data["X_test"], data["y_test"])
    write_outputs(solver, model, a, a.out, summary)
    test = f", test accuracy {summary['test_acc']:.3f}" if "test_acc" in summary else ""
    print(f"val accuracy {summary['val_acc']:.3f}{test} ({a.data}, {a.net}, "
          f"{seconds:.1f} s); wrote {a.out}")
    return status


if __name__ == "__main__":
    sys.exit(main())
