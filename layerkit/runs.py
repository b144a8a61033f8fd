"""Run folders: one per run, never overwritten, found again from any of their checkpoints.

    runs/fc-digits/            the first default fc run on digits; then fc-digits-2, -3, ...
        run.json               the configuration (written before the first step), status,
                               final metrics
        history.json/.csv      updated after every epoch
        checkpoints/           <net>_epoch_<e>.npz after each epoch (the newest --keep),
                               <net>_epoch_<e>_step_<t>.npz when stopped mid-epoch
        model.npz, *.png, events.out.tfevents.*   (TensorBoard)

A folder is claimed with ``os.makedirs`` (atomic), so two runs started at once get two
folders.
"""

from __future__ import annotations

import json
import os
import re
import shutil

from .cli_types import UsageError

__all__ = ["new_run_folder", "claim_out", "locate_checkpoint", "read_run_json",
           "write_run_json", "checkpoints", "prune_checkpoints", "step_checkpoint_path"]

_EPOCH = re.compile(r"_epoch_(\d+)\.npz$")
_STEP = re.compile(r"_epoch_(\d+)_step_(\d+)\.npz$")


def _claim(path: str) -> bool:
    """Make ``path`` (True), or True if it is an empty folder; False if it is taken."""
    try:
        os.makedirs(path)
        return True
    except FileExistsError:
        return os.path.isdir(path) and not os.listdir(path)


def new_run_folder(base: str) -> str:
    """``base`` if free (new or empty), else the first free ``base-2``, ``base-3``, ..."""
    for n in range(1, 100_000):
        path = base if n == 1 else f"{base}-{n}"
        if _claim(path):
            return path
    raise UsageError(f"no free run folder named {base}-N; clean up {os.path.dirname(base)}")


def claim_out(out: str, overwrite: bool) -> str:
    """The folder ``--out`` names, if new or empty; an old run's only with ``overwrite``."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"--out {out}: is a file; give a folder for the run")
    if _claim(out):
        return out
    if not os.path.isfile(os.path.join(out, "run.json")):
        raise UsageError(f"--out {out}: the folder holds files and no run.json; give a new or "
                         "empty folder (--overwrite replaces only a run's folder)")
    if not overwrite:
        raise UsageError(f"--out {out}: holds a run already; give a new folder, add "
                         "--overwrite to replace it, or --resume one of its checkpoints")
    shutil.rmtree(out)
    os.makedirs(out)
    return out


def checkpoints(folder: str) -> list[str]:
    """The run's checkpoint files, oldest first (by epochs done, then step)."""
    ck = os.path.join(folder, "checkpoints")
    found = []
    for name in os.listdir(ck) if os.path.isdir(ck) else []:
        m = _STEP.search(name)
        key = (int(m[1]), int(m[2])) if m else None
        if key is None and (m := _EPOCH.search(name)):
            key = (int(m[1]), 0)
        if key is not None:
            found.append((key, os.path.join(ck, name)))
    return [p for _, p in sorted(found)]


def prune_checkpoints(folder: str, keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints (``keep`` 0: keep all)."""
    if keep:
        for path in checkpoints(folder)[:-keep]:
            os.remove(path)


def step_checkpoint_path(folder: str, net: str, epoch: int, iteration: int) -> str:
    """Where a run stopped mid-epoch saves its state: after ``epoch`` epochs, at step t."""
    return os.path.join(folder, "checkpoints", f"{net}_epoch_{epoch}_step_{iteration}.npz")


def locate_checkpoint(path: str) -> tuple[str, str]:
    """(checkpoint, run folder) for ``--resume PATH``: a checkpoint file or a run folder."""
    if os.path.isdir(path):
        found = checkpoints(path)
        if not found:
            raise UsageError(f"--resume {path}: no checkpoints in {path}/checkpoints")
        return found[-1], path
    if not os.path.isfile(path):
        raise UsageError(f"--resume {path}: no such file")
    here = os.path.dirname(path) or "."
    folder = os.path.dirname(here) if os.path.basename(os.path.abspath(here)) == \
        "checkpoints" else here
    if not os.path.isfile(os.path.join(folder, "run.json")):
        raise UsageError(f"--resume {path}: no run.json in {folder}; layerkit-train resumes "
                         "the checkpoints of its own run folders")
    return path, folder


def read_run_json(folder: str) -> dict:
    path = os.path.join(folder, "run.json")
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise UsageError(f"{path}: cannot be read as a run's run.json ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("args"), dict):
        raise UsageError(f"{path}: not a run.json written by layerkit-train (no 'args')")
    return doc


def write_run_json(folder: str, doc: dict) -> None:
    """Write run.json through a temporary file and a rename: never half-written."""
    path = os.path.join(folder, "run.json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(tmp, path)
