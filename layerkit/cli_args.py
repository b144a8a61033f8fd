"""``layerkit-train``'s flags: the parser, the defaults, and the checks made before any work.

Every value is checked up front (types in ``cli_types``); an option the chosen net does
not read is refused; ``--resume`` takes the run's saved configuration, and flags given
again must agree with it except those in ``FREE_ON_RESUME``.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field

from layers import backend
from optim.rules import RULES

from . import data as datasets
from . import runs
from .cli_types import (Parser, UsageError, decay, nonneg_float, nonneg_int, positive_float,
                        positive_int)
from .net_table import IMAGE_OPTIONS, LM_OPTIONS, NETS, OPTION_DEFAULTS, OPTIONS, Net

__all__ = ["parser", "resolve", "Plan", "DEFAULTS", "FREE_ON_RESUME", "flag"]

# The value of every flag the command line and the net's defaults leave unset.
DEFAULTS = dict(
    net="fc", data="digits", data_dir=None, num_train=None, epochs=10, lr=1e-3,
    update_rule="adam", batch_size=100, reg=0.0, seed=0, split_seed=0, lr_decay=1.0,
    schedule="step", warmup_iters=0, grad_clip=None, dtype="float32", backend=None, threads=1,
    print_every=0, quiet=False, keep=3, track=True, max_chars=None, sample_len=300,
    temperature=0.7, prefix="The ", val_seq_len=256, **OPTION_DEFAULTS)
# How the run is watched and stored, or how long it goes: may change on --resume.
FREE_ON_RESUME = ("epochs", "quiet", "print_every", "threads", "keep", "track", "backend",
                  "sample_len", "temperature", "prefix")
# Where and how to run, never part of a run's configuration.
_SESSION = ("out", "resume", "overwrite", "debug")
# Read by every net.
_COMMON = ("net", "data", "epochs", "lr", "update_rule", "batch_size", "reg", "seed",
           "split_seed", "lr_decay", "schedule", "warmup_iters", "grad_clip", "dtype",
           "backend", "threads", "print_every", "quiet", "keep", "track")


def flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def parser() -> Parser:
    p = Parser(
        prog="layerkit-train",
        description="Train a small net offline and plot what happened. Defaults: a "
                    "FullyConnectedNet on scikit-learn's digits, about a second. Each run "
                    "gets its own folder under runs/ (never overwritten).")
    add = p.add_argument
    nets = "; ".join(f"{k}: {n.help}" for k, n in NETS.items())
    add("--net", choices=list(NETS), help=f"which net (default fc). {nets}")
    own = sorted({n.data for n in NETS.values() if n.data})
    add("--data", choices=(*datasets.DATASETS, "text", *own),
        help="dataset (default digits, built in; 'text' for the language models: the "
             "documentation topics that ship with Python)")
    add("--data-dir", help="mnist, cifar10: folder with the IDX files or the python batches")
    add("--num-train", type=positive_int, help="image data: keep this many training examples")
    add("--epochs", type=positive_int,
        help="epochs, counted from the start of the run (also on --resume)")
    add("--lr", type=positive_float, help="learning rate (> 0)")
    add("--update-rule", choices=sorted(RULES), help="optimizer (default adam)")
    add("--batch-size", type=positive_int)
    add("--reg", type=nonneg_float, help="L2 regularisation strength (>= 0)")
    add("--seed", type=nonneg_int, help="seeds the weights and the minibatch order (default 0)")
    add("--split-seed", type=nonneg_int, help="seeds the train/val/test split (default 0)")
    add("--lr-decay", type=decay, help="multiply the rate by this after each epoch, in (0, 1]")
    add("--schedule", choices=["step", "cosine"], help="learning-rate schedule (default step)")
    add("--warmup-iters", type=nonneg_int,
        help="ramp the rate up linearly over the first N steps (default 0: no warmup)")
    add("--grad-clip", type=positive_float, help="clip the global gradient norm to this")
    add("--dtype", choices=["float32", "float64"])
    add("--backend", choices=["numpy", "cupy"], help="where the net lives (default numpy)")
    add("--threads", type=nonneg_int, help="BLAS threads (default 1; 0 leaves BLAS's choice)")
    for dest, o in OPTIONS.items():
        users = ", ".join(k for k, n in NETS.items() if dest in n.options)
        if o.type is bool:  # --name / --no-name
            add(flag(dest), action=argparse.BooleanOptionalAction, help=f"{users}: {o.help}")
        else:
            add(flag(dest), type=o.type, choices=o.choices, help=f"{users}: {o.help}")
    add("--max-chars", type=positive_int, help="language models: use the text's first N chars")
    add("--sample-len", type=nonneg_int, help="language models: characters sampled at the end")
    add("--temperature", type=positive_float, help="language models: sampling temperature")
    add("--prefix", help="language models: the sample's first characters")
    add("--print-every", type=nonneg_int, help="print the loss every N steps (0 = never)")
    add("--keep", type=nonneg_int,
        help="keep the newest N checkpoints in <run>/checkpoints (default 3; 0 keeps all)")
    add("--out", help="the run's folder: a new or empty one (default runs/<net>-<data>, "
                      "numbered -2, -3, ... when taken)")
    add("--overwrite", action="store_true", default=None,
        help="let --out name an existing run folder, replacing that run")
    add("--resume", metavar="CKPT",
        help="continue a run from one of its checkpoints (or its folder: the newest one)")
    add("--no-track", dest="track", action="store_false", default=None,
        help="write no TensorBoard event files")
    add("-q", "--quiet", action="store_true", default=None, help="no progress output")
    add("--debug", action="store_true", default=None,
        help="show the traceback of an error (also LAYERKIT_DEBUG=1)")
    return p


@dataclass
class Plan:
    """A checked configuration and where it goes.

    config: every setting of the run (saved as run.json's "args"); net: its NETS row;
    folder: the run folder (None for a new run: made after the data load); resume: the
    checkpoint to continue from; notes: lines to print before training.
    """

    config: argparse.Namespace
    net: Net
    out: str | None = None
    overwrite: bool = False
    folder: str | None = None
    resume: str | None = None
    saved: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _allowed(net_name: str) -> set[str]:
    net = NETS[net_name]
    data_options = () if net.load else LM_OPTIONS if net.text else IMAGE_OPTIONS
    return {*_COMMON, *_SESSION, *net.options, *data_options}


def _refuse_foreign(given: dict, net_name: str) -> None:
    foreign = [k for k in given if k not in _allowed(net_name)]
    if foreign:
        k = foreign[0]
        own = sorted(flag(o) for o in NETS[net_name].options)
        raise UsageError(f"{flag(k)} {given[k]}: --net {net_name} does not use it (its own "
                         f"options: {', '.join(own) or 'none'})")


def _check_data(c: dict, net: Net, given: dict) -> None:
    if net.data or c["data"] in {n.data for n in NETS.values() if n.data}:
        if c["data"] != net.data:
            raise UsageError(f"--data {c['data']}: --net {c['net']} trains on "
                             f"--data {net.data or 'text or an image set'}")
        return
    if net.text and c["data"] != "text":
        raise UsageError(f"--data {c['data']}: --net {c['net']} trains on --data text")
    if not net.text and c["data"] == "text":
        lms = ", ".join(k for k, n in NETS.items() if n.text)
        raise UsageError(f"--data text is for the language models ({lms}); "
                         f"--net {c['net']} takes {', '.join(datasets.DATASETS)}")
    if c["data"] in ("cifar10", "mnist"):
        d = c.get("data_dir")
        if d is None:
            raise UsageError(f"--data {c['data']} is read from local files: give their "
                             "folder with --data-dir")
        if not os.path.isdir(os.path.expanduser(d)):
            raise UsageError(f"--data-dir {d}: no such folder")
    elif "data_dir" in given:
        raise UsageError(f"--data-dir {given['data_dir']}: --data {c['data']} is built in "
                         "and reads no folder")


def _check_plan(c: dict, given: dict) -> None:
    if c["schedule"] == "cosine" and c["lr_decay"] != 1.0:
        raise UsageError(f"--lr-decay {c['lr_decay']}: --schedule cosine sets the rate "
                         "itself; leave --lr-decay out")
    if c.get("backend") == "cupy" and not backend.gpu_available():
        raise UsageError("--backend cupy: no usable cupy and CUDA device here "
                         "(pip install -e '.[gpu]' on a machine with an NVIDIA GPU)")


def _new_run(given: dict) -> Plan:
    name = given.get("net", DEFAULTS["net"])
    net = NETS[name]
    _refuse_foreign(given, name)
    c = {**DEFAULTS, **({"data": "text"} if net.text else {}),
         **({"data": net.data} if net.data else {}), **net.defaults, **given}
    if c["schedule"] == "cosine" and "lr_decay" not in given:
        c["lr_decay"] = 1.0  # cosine sets the rate itself
    _check_data(c, net, given)
    _check_plan(c, given)
    if given.get("overwrite") and "out" not in given:
        raise UsageError("--overwrite needs --out (the run folder to replace)")
    config = {k: c[k] for k in sorted(_allowed(name) - set(_SESSION))}
    return Plan(argparse.Namespace(**config), net, out=given.get("out"),
                overwrite=bool(given.get("overwrite")))


def _resumed_run(given: dict) -> Plan:
    ckpt, folder = runs.locate_checkpoint(given["resume"])
    saved = runs.read_run_json(folder)
    old = dict(saved.get("args", {}))
    name = old.get("net")
    if name not in NETS:
        raise UsageError(f"--resume {given['resume']}: {folder}/run.json names no known net "
                         f"({name!r})")
    if "overwrite" in given:
        raise UsageError("--overwrite: a resumed run continues in its own folder")
    if "out" in given and os.path.abspath(given["out"]) != os.path.abspath(folder):
        raise UsageError(f"--out {given['out']}: a resumed run continues in its own folder "
                         f"{folder}")
    _refuse_foreign(given, name)
    for k, v in given.items():
        if k in FREE_ON_RESUME or k in _SESSION or k not in old or old[k] == v:
            continue
        free = ", ".join(flag(f) for f in FREE_ON_RESUME)
        raise UsageError(f"{flag(k)} {v}: the run in {folder} has {flag(k)} {old[k]}; a "
                         f"resumed run keeps its configuration (it may change {free}); "
                         "start a new run to change it")
    net = NETS[name]
    c = {**DEFAULTS, **net.defaults, **old, **{k: v for k, v in given.items()
                                                if k not in _SESSION}}
    _check_data(c, net, {k: v for k, v in given.items() if k in old})
    _check_plan(c, given)
    config = {k: c[k] for k in sorted(_allowed(name) - set(_SESSION))}
    plan = Plan(argparse.Namespace(**config), net, folder=folder, resume=ckpt, saved=saved)
    if c["schedule"] == "cosine" and c["epochs"] != old.get("epochs", c["epochs"]):
        plan.notes.append(
            f"note: --epochs {c['epochs']} moves the cosine schedule's end from epoch "
            f"{old['epochs']} to {c['epochs']}: from here on the rate differs from the "
            "original plan's, so the result differs from a straight run of either length")
    return plan


def resolve(argv) -> Plan:
    """Parse ``argv`` and check it: a Plan, or a UsageError naming the flag."""
    given = {k: v for k, v in vars(parser().parse_args(argv)).items() if v is not None}
    return _resumed_run(given) if "resume" in given else _new_run(given)
