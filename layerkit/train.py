"""The training command: ``layerkit-train`` (or ``python -m layerkit.train``).

With no arguments it trains a FullyConnectedNet on the digits that scikit-learn ships and
prints the validation and test accuracy. Each run gets its own folder (``runs.py``): a
new run never overwrites an old one. In it:

    run.json         the full configuration (written before the first step), status, metrics
    history.json     losses, learning rates, accuracies (optim.history format; written
    history.csv      after every epoch), bits/char per epoch for the language models
    model.npz        the final (best-validation) params and Solver state, a checkpoint
    checkpoints/     the newest --keep per-epoch checkpoints (for --resume)
    loss.png, accuracy.png, filters.png (first-layer weights, when the input is an image)
    events.out.tfevents.*   TensorBoard: tensorboard --logdir runs

``--resume CKPT`` continues a run in its own folder with its own configuration;
``--epochs`` counts from the start of the run. Ctrl-C stops after the step in progress,
saves a checkpoint and everything above, names the checkpoint to resume from, and exits
with 130. A user error prints one line and exits with 2 (``--debug`` shows a traceback).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import pickle
import shlex
import signal
import sys
import time
import zipfile

import numpy as np

from layers import backend
from optim import (Solver, TrainingDivergedError, history_dict, load_checkpoint,
                   save_checkpoint, save_history)

from . import cli_args, runs, tracking
from . import data as datasets
from . import plots
from .cli_types import UsageError, run_command
from .net_table import NETS, build_model, dims

__all__ = ["main", "NETS", "build_model", "write_outputs", "mean_nll", "blas_threads",
           "warm_allocator"]

_dims = dims  # the name the tests and older scripts use

# Errors that mean "this file or these values are not what the flag needs", not a bug.
_INPUT_ERRORS = (OSError, ValueError, KeyError, EOFError, TypeError)


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


def warm_allocator() -> None:
    """Allocate and free 31 MiB once, so glibc raises its mmap threshold (and its trim
    threshold) for the rest of the process: the multi-MB temporaries of a training step
    then come from the heap instead of fresh, page-faulting mmaps. Measured on gpt-lm's
    step: 330 000 page faults and 15 ms of system time per 27 ms step without it, none
    with it (benchmarks.harness does the same before timing)."""
    block = np.ones(31 * 2**20 // 8)  # 31, not 32: glibc adapts only below 32 MiB
    del block


def mean_nll(model, X, y, targets_per_batch: int = 8192) -> float:
    """Mean cross-entropy per predicted character, in nats, over all of (X, y).

    From the scores alone (``model.loss(X)``: no backward, no L2 term): a third of the
    cost of ``model.loss(X, y)`` for the LSTM LM, measured here.
    """
    per_row = y[0].size if y.ndim > 1 else 1
    rows = max(1, targets_per_batch // per_row)
    total = 0.0  # summed where the scores are: one read at the end
    for s in range(0, len(X), rows):
        scores = model.loss(backend.to_xp(X[s:s + rows]))  # (n, V) or (n, T, V)
        xp = backend.get_xp(scores)
        yb = backend.to_xp(y[s:s + rows], xp)
        picked = xp.take_along_axis(scores, yb[..., None], axis=-1)[..., 0]
        total = total + (backend.logsumexp(scores, axis=-1) - picked).sum(dtype=xp.float64)
    return backend.to_scalar(total) / y.size


def _load(a, net):
    """(data, model, vocab) for the run described by ``a`` (vocab None for image data);
    bad values -> UsageError."""
    typed = argparse.Namespace(**{**vars(a), "dtype": np.dtype(a.dtype)})
    vocab = None
    if net.load:  # a net with its own data
        try:
            data, build = net.load(typed)
        except _INPUT_ERRORS as e:
            raise UsageError(f"--net {a.net}: {e}") from None
    elif net.text:
        from .text import char_lm_data

        try:
            data, vocab = char_lm_data(net.text, context=getattr(a, "context", 8),
                                       seq_len=getattr(a, "seq_len", 64),
                                       val_seq_len=a.val_seq_len, max_chars=a.max_chars)
        except ValueError as e:
            raise UsageError(f"--net {a.net} on --max-chars {a.max_chars}: {e}") from None
        build = lambda: net.build(typed, vocab)  # noqa: E731
    else:
        try:
            data = datasets.get_data(a.data, folder=a.data_dir, num_train=a.num_train,
                                     seed=a.split_seed, dtype=np.dtype(a.dtype))
        except _INPUT_ERRORS + (pickle.UnpicklingError,) as e:
            where = f" --data-dir {a.data_dir}" if a.data_dir else ""
            raise UsageError(f"--data {a.data}{where}: {e}") from None
        if a.num_train and len(data["X_train"]) < a.num_train:
            raise UsageError(f"--num-train {a.num_train}: --data {a.data} has "
                             f"{len(data['X_train'])} training examples")
        shape = tuple(data["X_train"].shape[1:])
        classes = int(max(data["y_train"].max(), data["y_val"].max())) + 1
        build = lambda: net.build(typed, shape, classes)  # noqa: E731
    try:
        model = build()
    except (ValueError, TypeError) as e:
        raise UsageError(f"--net {a.net}: {e}") from None
    return data, model, vocab


def _solver(plan, model, data, folder):
    a = plan.config
    kw = dict(update_rule=a.update_rule, optim_config={"learning_rate": a.lr},
              lr_decay=a.lr_decay, schedule=a.schedule, batch_size=a.batch_size,
              num_epochs=a.epochs, seed=a.seed, grad_clip=a.grad_clip,
              checkpoint_name=os.path.join(folder, "checkpoints", a.net),
              print_every=a.print_every, verbose=not a.quiet)
    if not plan.resume:
        return Solver(model, data, **kw)
    try:
        load_checkpoint(plan.resume)  # a clear error for a file that is not one
        solver = Solver.resume(plan.resume, model, data, **kw)
    except _INPUT_ERRORS + (zipfile.BadZipFile,) as e:
        raise UsageError(f"--resume {plan.resume}: cannot continue from it ({e})") from None
    if solver.iteration >= solver.num_iterations:
        raise UsageError(f"--epochs {a.epochs}: the checkpoint {plan.resume} is at epoch "
                         f"{solver.epoch} already; give --epochs > {solver.epoch} to train on")
    return solver


class _Epochs:
    """The Solver callback of a run: TensorBoard, bits/char, history and pruning per epoch."""

    def __init__(self, a, net, model, data, folder, tracker, extra):
        self.a, self.net, self.model, self.data = a, net, model, data
        self.folder, self.tracker, self.extra = folder, tracker, extra

    def __call__(self, solver, grads):
        self.tracker.on_step(solver, grads)
        if solver.iteration % solver.iterations_per_epoch:
            return
        scalars = {}
        if self.net.text:  # the validation loss, which the Solver does not measure
            with blas_threads(self.a.threads):
                bpc = mean_nll(self.model, self.data["X_val"], self.data["y_val"]) / math.log(2)
            self.extra["val_bpc_epoch"].append(solver.epoch)
            self.extra["val_bpc"].append(bpc)
            scalars["val/bits_per_char"] = bpc
        self.tracker.on_epoch(solver, grads, scalars)
        write_history(solver, self.folder, self.extra, csv=False)
        runs.prune_checkpoints(self.folder, self.a.keep)


def write_history(solver, folder: str, extra: dict, csv: bool = True) -> dict:
    """history.json (and .csv): the Solver's history with ``extra`` lists added."""
    h = {**history_dict(solver), **extra}
    save_history(h, os.path.join(folder, "history.json"))
    if csv:
        save_history(h, os.path.join(folder, "history.csv"))
    return h


def _old_extra(folder: str, epochs_done: int) -> dict:
    """The bits/char per epoch a resumed run measured up to its checkpoint."""
    extra = {"val_bpc_epoch": [], "val_bpc": []}
    with contextlib.suppress(OSError, ValueError, KeyError):
        from optim import load_history

        h = load_history(os.path.join(folder, "history.json"))
        for e, v in zip(h["val_bpc_epoch"], h["val_bpc"], strict=True):
            if e <= epochs_done:
                extra["val_bpc_epoch"].append(e)
                extra["val_bpc"].append(v)
    return extra


def write_outputs(solver, model, a, out: str, summary: dict, extra: dict | None = None,
                  lm: bool = False) -> None:
    """history.json/.csv, model.npz, run.json's metrics and the plots."""
    h = write_history(solver, out, extra or {})
    save_checkpoint(os.path.join(out, "model.npz"), solver.checkpoint_state())
    doc = runs.read_run_json(out)
    runs.write_run_json(out, {**doc, "args": vars(a), **summary})
    label = f"{a.net} on {a.data}"
    if lm:
        plots.plot_lm_loss(h, os.path.join(out, "loss.png"), title=f"{label}: loss")
        plots.plot_accuracy(h, os.path.join(out, "accuracy.png"), ylabel="next-character "
                            "accuracy", title=f"{label}: share of characters whose most "
                            "likely prediction is right")
        return
    plots.plot_loss(h, os.path.join(out, "loss.png"), title=f"training loss: {label}",
                    ylabel="loss (softmax cross-entropy + L2, nats)")
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


@contextlib.contextmanager
def _ctrl_c_stops(solver):
    """First Ctrl-C: finish the step in progress, then stop; a second one: stop at once."""
    state = {"count": 0}

    def handler(signum, frame):
        state["count"] += 1
        if state["count"] > 1:
            raise KeyboardInterrupt
        solver.request_stop()

    try:
        old = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: Ctrl-C is not ours to handle
        yield state
        return
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, old)


def _start(plan, argv, folder) -> dict:
    """run.json before the first step: a killed run can be resumed from its checkpoints."""
    doc = dict(plan.saved) if plan.resume else {}
    if plan.resume:
        doc.setdefault("resumed", []).append(
            {"from": plan.resume, "epochs": plan.config.epochs, "at": time.time()})
    doc.update(args=vars(plan.config), status="running",
               command=shlex.join(["layerkit-train", *argv]))
    doc.setdefault("started", time.time())
    runs.write_run_json(folder, doc)
    return doc


def _train(argv: list[str]) -> int:
    plan = cli_args.resolve(argv)
    a, net = plan.config, plan.net
    if a.backend:
        backend.set_backend(a.backend)
    say = (lambda line: None) if a.quiet else (lambda line: print(line, file=sys.stderr))
    warm_allocator()
    data, model, vocab = _load(a, net)
    folder = plan.folder or (runs.claim_out(plan.out, plan.overwrite) if plan.out else
                             runs.new_run_folder(os.path.join("runs", f"{a.net}-{a.data}")))
    try:
        solver = _solver(plan, model, data, folder)
    except UsageError:
        if not plan.resume and not os.listdir(folder):
            os.rmdir(folder)  # nothing was written: leave no empty run behind
        raise
    _start(plan, argv, folder)
    for note in plan.notes:
        print(note, file=sys.stderr)
    if a.track and not tracking.available():
        say("note: tensorboardX is not installed, so no TensorBoard events "
            "(pip install -e '.[track]'; --no-track silences this)")
    # on resume, hide what the old process logged after this checkpoint (its next step on)
    tracker = tracking.Tracker(folder, purge_step=solver.iteration + 1 if plan.resume else None,
                               enabled=a.track)
    extra = _old_extra(folder, solver.epoch) if net.text else {}
    if net.text and not extra:
        extra = {"val_bpc_epoch": [], "val_bpc": []}
    solver.callbacks.append(_Epochs(a, net, model, data, folder, tracker, extra))
    start = time.perf_counter()
    status, resume_from = "finished", None
    with _ctrl_c_stops(solver) as ctrl_c:
        try:
            with blas_threads(a.threads):
                solver.train()
        except TrainingDivergedError as e:
            print(f"layerkit-train: {e}", file=sys.stderr)
            status = "diverged"
    seconds = time.perf_counter() - start
    if ctrl_c["count"] and solver.iteration < solver.num_iterations:
        status = "interrupted"
        resume_from = solver.last_checkpoint
        if solver.iteration % solver.iterations_per_epoch:  # stopped mid-epoch
            resume_from = runs.step_checkpoint_path(folder, a.net, solver.epoch,
                                                    solver.iteration)
            os.makedirs(os.path.dirname(resume_from), exist_ok=True)  # none yet in epoch 1
            save_checkpoint(resume_from, solver.checkpoint_state())
            runs.prune_checkpoints(folder, a.keep)
    summary = {"status": status, "val_acc": float(solver.best_val_acc), "seconds": seconds,
               "epochs_done": solver.epoch, "steps_done": solver.iteration, "folder": folder,
               "input_shape": list(data["X_train"].shape[1:])}
    if status == "interrupted":
        summary["resume_from"] = resume_from
    done = status == "finished"
    if done and "X_test" in data:
        with blas_threads(a.threads):
            summary["test_acc"] = solver.check_accuracy(data["X_test"], data["y_test"])
    if done and net.text:
        with blas_threads(a.threads):
            nats = mean_nll(model, data["X_val"], data["y_val"])
        summary.update(val_nats=nats, val_bpc=nats / math.log(2))
        summary["sample"] = (net.sample(model, vocab, a) if net.sample else
                             model.sample(a.prefix, a.sample_len, a.temperature, seed=a.seed))
    elif net.text and extra.get("val_bpc"):
        summary["val_bpc"] = extra["val_bpc"][-1]
    write_outputs(solver, model, a, folder, summary, extra, lm=bool(net.text))
    tracker.flush_steps(solver)  # steps read after the last callback (a stop, say)
    tracker.hparams(vars(a), {f"hparams/{k}": summary[k] for k in
                              ("val_acc", "test_acc", "val_bpc") if k in summary},
                    step=solver.iteration)
    tracker.close()
    if status == "interrupted":
        where = (f"resume with: layerkit-train --resume {resume_from}" if resume_from
                 else "no step was done; nothing to resume")
        print(f"layerkit-train: stopped by Ctrl-C at step {solver.iteration} of "
              f"{solver.num_iterations} (epoch {solver.epoch + 1}); wrote {folder}; {where}",
              file=sys.stderr)
        return 130
    test = f", test accuracy {summary['test_acc']:.3f}" if "test_acc" in summary else ""
    lm = (f", val loss {summary['val_nats']:.4f} nats = {summary['val_bpc']:.3f} bits/char"
          if "val_nats" in summary else "")
    if "sample" in summary:
        print(f"sample (temperature {a.temperature}):\n{summary['sample']}\n")
    print(f"val accuracy {summary['val_acc']:.3f}{test}{lm} ({a.data}, {a.net}, "
          f"{seconds:.1f} s); wrote {folder}")
    return 0 if status == "finished" else 1


def main(argv=None) -> int:
    """``layerkit-train``: 0 done, 1 diverged, 2 a user error, 130 stopped by Ctrl-C."""
    return run_command("layerkit-train", _train, argv)


if __name__ == "__main__":
    sys.exit(main())
