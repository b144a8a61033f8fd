"""Safe checkpoints: plain ``.npz`` files, written atomically, read without pickle.

A checkpoint is a tree of dicts whose leaves are arrays or JSON values (numbers, strings,
bools, None, lists of those). ``save_checkpoint`` splits it in two:

- every array leaf becomes one npz entry, named by its path (``params/W1``,
  ``optim/W1/m``); cupy arrays are moved to the host first;
- everything else stays in a JSON document stored as a 0-d unicode array under ``meta``,
  with ``{"__array__": "params/W1"}`` where an array was.

Both kinds load with ``numpy.load(path, allow_pickle=False)``: nothing in the file can run
code when opened. Python floats survive the JSON round trip exactly (``repr`` is exact).

The write goes to a temporary file in the same folder, is flushed and fsync'ed, then
renamed over the target with ``os.replace`` (atomic on POSIX and Windows): a crash at any
moment leaves either the old checkpoint or the new one, never a torn file.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import numpy as np

from layers.backend import is_array, to_numpy

__all__ = ["save_checkpoint", "load_checkpoint", "write_npz_atomic", "FORMAT"]

FORMAT = "layerkit-checkpoint-1"
_UMASK = os.umask(0)  # read once: mkstemp makes 0600 files, a checkpoint gets the usual mode
os.umask(_UMASK)
_MARK = "__array__"


def _flatten(tree: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    """The JSON-able part of ``tree``; array leaves are moved into ``arrays``."""
    if is_array(tree):
        a = np.asarray(to_numpy(tree))
        if a.dtype.hasobject:
            raise TypeError(f"checkpoint entry {path!r} is an object array; only numeric "
                            "arrays can be saved without pickle")
        arrays[path] = a
        return {_MARK: path}
    if isinstance(tree, dict):
        out = {}
        for k, v in tree.items():
            if not isinstance(k, str) or "/" in k or not k or k == _MARK:
                raise ValueError(f"checkpoint keys must be non-empty strings without '/'; "
                                 f"got {k!r} under {path or 'the top level'!r}")
            out[k] = _flatten(v, f"{path}/{k}" if path else k, arrays)
        return out
    if isinstance(tree, (list, tuple)):
        return [_flatten(v, f"{path}/{i}", arrays) for i, v in enumerate(tree)]
    if isinstance(tree, np.generic):  # numpy scalar -> the Python number it holds
        return tree.item()
    if tree is None or isinstance(tree, (bool, int, float, str)):
        return tree
    raise TypeError(f"checkpoint entry {path!r} has type {type(tree).__name__}; only arrays, "
                    "numbers, strings, bools, None, lists and dicts can be saved")


def _unflatten(tree: Any, arrays) -> Any:
    if isinstance(tree, dict):
        if set(tree) == {_MARK}:
            return arrays[tree[_MARK]]
        return {k: _unflatten(v, arrays) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_unflatten(v, arrays) for v in tree]
    return tree


def write_npz_atomic(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to the .npz file ``path`` so that a crash never leaves it torn.

    The data go to a temporary file beside ``path`` (same filesystem, so the rename is
    atomic), are fsync'ed, and the file is renamed over ``path``. On an error the temporary
    file is removed and ``path`` keeps its previous content.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=folder)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as f:
            np.savez(f, allow_pickle=False, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(folder)  # make the rename itself durable


def _fsync_folder(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows, where folders cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(path: str | os.PathLike, tree: dict) -> None:
    """Save a tree of dicts (array and JSON leaves) to ``path`` atomically, without pickle."""
    arrays: dict[str, np.ndarray] = {}
    doc = {"format": FORMAT, "tree": _flatten(tree, "", arrays)}
    if "meta" in arrays:
        raise ValueError("checkpoint: the top-level key 'meta' is reserved")
    arrays["meta"] = np.array(json.dumps(doc))  # 0-d unicode array: loads without pickle
    write_npz_atomic(path, arrays)


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint written by ``save_checkpoint``; arrays come back as numpy arrays.

    Uses ``numpy.load(..., allow_pickle=False)``: a file holding pickled objects is refused.
    """
    with np.load(path, allow_pickle=False) as f:
        if "meta" not in f.files:
            raise ValueError(f"{os.fspath(path)!r} is not a layerkit checkpoint (no 'meta' entry)")
        doc = json.loads(str(f["meta"][()]))
        if doc.get("format") != FORMAT:
            raise ValueError(f"{os.fspath(path)!r}: unknown checkpoint format "
                             f"{doc.get('format')!r}; expected {FORMAT!r}")
        arrays = {k: f[k] for k in f.files if k != "meta"}
    return _unflatten(doc["tree"], arrays)
