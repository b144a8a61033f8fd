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

__all__ = ["main", "NETS", "LM_CELLS", "NET_DEFAULTS", "build_model", "write_outputs",
           "mean_nll"]


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
                       dtype="float32", seed=a.seed)  # float32 trains (CS231n's default: 64)


def _conv(a, input_shape, num_classes):
    from nets import ThreeLayerConvNet

    return ThreeLayerConvNet(input_dim=tuple(input_shape), num_filters=a.num_filters,
                             filter_size=a.filter_size, hidden_dim=_dims(a.hidden)[0],
                             num_classes=num_classes, weight_scale=a.weight_scale, reg=a.reg,
                             dtype=a.dtype, seed=a.seed)


def _char_lm(a, vocab):
    """A character language model over ``vocab`` (built by main for the text data)."""
    from nets import CharMLPLM, CharRNNLM

    if a.net == "mlp-lm":
        return CharMLPLM(vocab.chars, context=a.context, embed_dim=a.embed,
                         hidden_dim=_dims(a.hidden)[0], reg=a.reg, dtype=a.dtype, seed=a.seed)
    return CharRNNLM(vocab.chars, wordvec_dim=a.embed, hidden_dim=_dims(a.hidden)[0],
                     cell_type=LM_CELLS[a.net], reg=a.reg, dtype=a.dtype, seed=a.seed)


def _gpt_lm(a, vocab):
    """A GPT-style TransformerLM over ``vocab``'s characters; it sees seq_len characters."""
    from nets import TransformerLM

    return TransformerLM(len(vocab.chars), max_len=max(a.seq_len, a.val_seq_len),
                         embed_dim=a.embed, num_heads=a.heads, num_layers=a.layers,
                         tie_weights=a.tie_weights, reg=a.reg, dtype=a.dtype, seed=a.seed)


def _sample_text(model, vocab, a) -> str:
    """gpt-lm: the prefix and sample_len sampled characters; the model starts from the
    topic separator, as the recurrent LMs start from PAD_CHAR."""
    start = list(vocab.encode("\n" + a.prefix))
    ids = model.sample(start, a.sample_len, a.temperature, seed=a.seed)
    return vocab.decode(ids[1:])


def _resnet(a, input_shape, num_classes):
    from nets import ResidualConvNet

    return ResidualConvNet(input_dim=tuple(input_shape), num_filters=a.num_filters,
                           num_blocks=a.num_blocks, num_classes=num_classes,
                           weight_scale=a.weight_scale, reg=a.reg, dtype=a.dtype, seed=a.seed)


NETS: dict[str, Callable] = {"fc": _fc, "two-layer": _two_layer, "conv": _conv,
                             "resnet": _resnet}
# The language models take the text's vocabulary instead of (input_shape, classes).
LM_CELLS = {"mlp-lm": "mlp", "rnn-lm": "rnn", "lstm-lm": "lstm", "gru-lm": "gru",
            "gpt-lm": "transformer"}

# Per-net defaults for what the command line leaves unset. The fc ones reach >= 97 %
# validation accuracy on digits in about a second.
NET_DEFAULTS: dict[str, dict] = {
    "fc": dict(hidden="100,100", weight_scale=0.1, lr=2e-3, epochs=30, batch_size=50,
               reg=1e-3, lr_decay=0.95),
    "two-layer": dict(hidden="100", weight_scale=0.1, lr=2e-3, epochs=30, batch_size=50,
                      reg=1e-3, lr_decay=0.95),
    # ThreeLayerConvNet on digits: 0.988 validation accuracy in 15 epochs (~2 s)
    "conv": dict(hidden="128", weight_scale=0.05, lr=5e-3, epochs=15, batch_size=32,
                 reg=1e-4, lr_decay=0.8, num_filters=32, filter_size=3),
    # ResidualConvNet (He-initialised when weight_scale is None)
    "resnet": dict(weight_scale=None, lr=5e-3, epochs=10, batch_size=32, reg=1e-4,
                   lr_decay=0.8, num_filters=16, num_blocks=2),
    # Character LMs on the pydoc topics (~0.42 M training characters). Same budget for
    # every cell: 6 epochs, 2048 predicted characters per update (the MLP takes 2048
    # contexts, the recurrent nets 32 sequences of 64), Adam with a cosine schedule and
    # the global gradient norm clipped at 5.
    "mlp-lm": dict(data="text", hidden="512", embed=24, context=8, lr=5e-3, epochs=6,
                   batch_size=2048, schedule="cosine", grad_clip=5.0),
    **{name: dict(data="text", hidden="192", embed=24, seq_len=64, lr=1e-2, epochs=6,
                  batch_size=32, schedule="cosine", grad_clip=5.0)
       for name in ("rnn-lm", "lstm-lm", "gru-lm")},
    # TransformerLM (GPT-2 layout, tied embedding) on the same text and split
    "gpt-lm": dict(data="text", embed=64, heads=4, layers=2, seq_len=64, val_seq_len=64,
                   lr=3e-3, epochs=6, batch_size=32, schedule="cosine", grad_clip=1.0),
}
_GLOBAL_DEFAULTS = dict(
    net="fc", data="digits", data_dir=None, num_train=None, epochs=10, lr=1e-3,
    update_rule="adam", batch_size=100, reg=0.0, seed=0, split_seed=0, hidden="100",
    weight_scale=1e-2, dropout_keep=1.0, normalization=None, num_filters=32, filter_size=7,
    lr_decay=1.0, schedule="step", grad_clip=None, num_blocks=2, dtype="float32", backend=None,
    print_every=0, quiet=False, out=None, resume=None, keep=3, threads=1, context=8,
    embed=24, seq_len=64, val_seq_len=256, sample_len=300, temperature=0.7, prefix="The ",
    max_chars=None, heads=4, layers=2, tie_weights=True)
# Arguments that fix the net's shape: on --resume they come back from run.json.
_ARCH = ("net", "data", "data_dir", "num_train", "split_seed", "hidden", "dropout_keep",
         "normalization", "num_filters", "filter_size", "dtype", "seed", "weight_scale",
         "context", "embed", "seq_len", "val_seq_len", "max_chars", "num_blocks", "heads",
         "layers", "tie_weights")


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
    add("--net", choices=sorted([*NETS, *LM_CELLS]), help="which net (default fc)")
    add("--data", choices=(*datasets.DATASETS, "text"),
        help="dataset (default digits, built in; 'text' for the language models: the "
             "documentation topics that ship with Python)")
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
    add("--num-blocks", type=int, help="resnet: residual blocks")
    add("--context", type=int, help="mlp-lm: characters of context")
    add("--embed", type=int, help="language models: character embedding size")
    add("--seq-len", type=int, help="rnn/lstm/gru-lm: training sequence length")
    add("--heads", type=int, help="gpt-lm: attention heads (dividing --embed)")
    add("--layers", type=int, help="gpt-lm: transformer blocks")
    add("--tie-weights", action=argparse.BooleanOptionalAction,
        help="gpt-lm: the output layer is the token embedding (default: tied)")
    add("--max-chars", type=int, help="language models: use only the text's first N chars")
    add("--sample-len", type=int, help="language models: characters to sample at the end")
    add("--temperature", type=float, help="language models: sampling temperature")
    add("--prefix", help="language models: the sample's first characters")
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


def _load(a):
    """(data, model, input_shape) for the run described by ``a``."""
    typed = argparse.Namespace(**{**vars(a), "dtype": np.dtype(a.dtype)})
    if a.net in LM_CELLS:
        if a.data != "text":
            raise SystemExit(f"--net {a.net} trains on --data text; got --data {a.data}")
        from .text import char_lm_data

        kind = "mlp" if a.net == "mlp-lm" else "rnn"
        data, vocab = char_lm_data(kind, context=a.context, seq_len=a.seq_len,
                                   val_seq_len=a.val_seq_len, max_chars=a.max_chars)
        model = _gpt_lm(typed, vocab) if a.net == "gpt-lm" else _char_lm(typed, vocab)
        model.vocab = vocab  # for the sample at the end
        return data, model, tuple(data["X_train"].shape[1:])
    if a.data == "text":
        raise SystemExit(f"--data text is for the language models ({', '.join(LM_CELLS)})")
    data = datasets.get_data(a.data, folder=a.data_dir, num_train=a.num_train,
                             seed=a.split_seed, dtype=np.dtype(a.dtype))
    input_shape = tuple(data["X_train"].shape[1:])
    num_classes = int(max(data["y_train"].max(), data["y_val"].max())) + 1
    return data, build_model(typed, input_shape, num_classes), input_shape


def mean_nll(model, X, y, targets_per_batch: int = 8192) -> float:
    """Mean cross-entropy per predicted character, in nats, over all of (X, y)."""
    per_row = y[0].size if y.ndim > 1 else 1
    rows = max(1, targets_per_batch // per_row)
    total = 0.0
    for s in range(0, len(X), rows):
        loss, _ = model.loss(backend.to_xp(X[s:s + rows]), backend.to_xp(y[s:s + rows]))
        total += float(loss) * len(X[s:s + rows])
    return total / len(X)


def main(argv=None) -> int:
    a = resolve_args(argv)
    if a.backend:
        backend.set_backend(a.backend)
    a.dtype = str(np.dtype(a.dtype))
    data, model, input_shape = _load(a)
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
    if status == 0 and a.net in LM_CELLS:
        with blas_threads(a.threads):
            nats = mean_nll(model, data["X_val"], data["y_val"])
        summary.update(val_nats=nats, val_bpc=nats / math.log(2))
        summary["sample"] = (_sample_text(model, model.vocab, a) if a.net == "gpt-lm" else
                             model.sample(a.prefix, a.sample_len, a.temperature, seed=a.seed))
    write_outputs(solver, model, a, a.out, summary)
    test = f", test accuracy {summary['test_acc']:.3f}" if "test_acc" in summary else ""
    lm = (f", val loss {summary['val_nats']:.4f} nats = {summary['val_bpc']:.3f} bits/char"
          if "val_bpc" in summary else "")
    if "sample" in summary:
        print(f"sample (temperature {a.temperature}):\n{summary['sample']}\n")
    print(f"val accuracy {summary['val_acc']:.3f}{test}{lm} ({a.data}, {a.net}, "
          f"{seconds:.1f} s); wrote {a.out}")
    return status


if __name__ == "__main__":
    sys.exit(main())
