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
moment leaves either the old checkpoint or the new one, never a torn file. A temporary
file left by a killed writer (its name holds the writer's pid) is removed by the next
successful write of the same checkpoint.

Loading reads every entry in full and turns whatever is wrong with a file (cut short, a
byte changed, an entry missing, someone else's .npz) into a ``CheckpointError`` that names
the file, what is wrong and what a checkpoint should be.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import zipfile
import zlib
from typing import Any

import numpy as np

from layers.backend import is_array, to_numpy

__all__ = ["save_checkpoint", "load_checkpoint", "write_npz_atomic", "FORMAT",
           "CheckpointError"]

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


def _unflatten(tree: Any, arrays, where: str) -> Any:
    """Rebuild the tree, with every array the meta names taken from ``arrays``."""
    if isinstance(tree, dict):
        if set(tree) == {_MARK}:
            key = tree[_MARK]
            if key not in arrays:
                raise CheckpointError(f"{where}: entry {key!r} is listed in the checkpoint's "
                                      f"meta but missing from the file; expected every array "
                                      f"the meta lists (the file has {sorted(arrays)})")
            return arrays[key]
        return {k: _unflatten(v, arrays, where) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_unflatten(v, arrays, where) for v in tree]
    return tree


def write_npz_atomic(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to the .npz file ``path`` so that a crash never leaves it torn.

    The data go to a temporary file beside ``path`` (same filesystem, so the rename is
    atomic), are fsync'ed, and the file is renamed over ``path``. On an error the temporary
    file is removed and ``path`` keeps its previous content.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.{os.getpid()}.", suffix=".tmp", dir=folder)
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
    for stale in _stale_temporaries(folder, base):  # left by a writer that was killed
        try:
            os.unlink(stale)
        except OSError:
            pass


def _stale_temporaries(folder: str, base: str) -> list[str]:
    """Temporary files of ``base`` whose writer is gone: its pid (in the name) no longer
    runs, or (where pids cannot be asked, or the name has none) older than an hour. A
    writer that is still running keeps its file."""
    prefix, out = f".{base}.", []
    for name in os.listdir(folder):
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        full = os.path.join(folder, name)
        pid = name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and os.name == "posix":
            if int(pid) != os.getpid() and not _running(int(pid)):
                out.append(full)
        else:
            try:
                if time.time() - os.path.getmtime(full) > 3600:
                    out.append(full)
            except OSError:
                pass
    return out


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists (POSIX: signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists but is not ours
        return True
    return True


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


class CheckpointError(ValueError):
    """A file that is not a readable layerkit checkpoint: truncated, altered after it was
    written, missing an entry, or someone else's ``.npz``. The message names the file,
    what is wrong with it and what was expected."""


_EXPECTED = f"expected a layerkit checkpoint (an .npz written by save_checkpoint, {FORMAT})"


def _read_entries(path: str) -> dict[str, np.ndarray]:
    """Every entry of the .npz at ``path``, read in full (so a CRC error shows here)."""
    with open(path, "rb") as raw:  # FileNotFoundError etc. stay as they are
        head = raw.read(6)
    if not head.startswith((b"PK", b"\x93NUMPY")):
        raise CheckpointError(f"{path}: not an .npz archive (it starts with {head!r}, not a "
                              f"zip header); {_EXPECTED}")
    f = None
    try:
        f = np.load(path, allow_pickle=False)
        if not isinstance(f, np.lib.npyio.NpzFile):  # a .npy file: one array
            raise CheckpointError(f"{path}: a single .npy array, not an .npz archive; "
                                  f"{_EXPECTED}")
        return {k: f[k] for k in f.files}
    except (CheckpointError, FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except zipfile.BadZipFile as e:
        why = str(e)
        if "CRC" in why:
            why = f"{why}: the file was changed after it was written"
        elif why == "File is not a zip file":
            why = "not a zip archive (cut short, or not an .npz at all)"
        raise CheckpointError(f"{path}: corrupt checkpoint: {why}; {_EXPECTED}") from e
    except (EOFError, zlib.error, OSError, ValueError, KeyError, UnicodeError) as e:
        why = str(e) or type(e).__name__
        if "allow_pickle" in why:
            raise CheckpointError(f"{path}: an entry holds pickled Python objects, which are "
                                  "never loaded (allow_pickle=False: unpickling could run "
                                  f"code); {_EXPECTED}") from e
        raise CheckpointError(f"{path}: corrupt checkpoint: an entry cannot be read "
                              f"({why}; the file is cut short or was altered); "
                              f"{_EXPECTED}") from e
    finally:
        if isinstance(f, np.lib.npyio.NpzFile):
            f.close()


def load_checkpoint(path: str | os.PathLike, required: tuple[str, ...] = ()) -> dict:
    """Read a checkpoint written by ``save_checkpoint``; arrays come back as numpy arrays.

    Uses ``numpy.load(..., allow_pickle=False)``: a file holding pickled objects is refused.
    ``required`` lists top-level keys the caller needs. Anything wrong with the file (cut
    short, a byte changed, an entry missing, a foreign .npz, a missing required key) is a
    ``CheckpointError`` (a ``ValueError``) naming the file, what is wrong and what was
    expected; a missing file stays a ``FileNotFoundError``.
    """
    where = os.fspath(path)
    entries = _read_entries(where)
    if "meta" not in entries:
        raise CheckpointError(f"{where}: no 'meta' entry, so not a layerkit checkpoint (it "
                              f"holds {sorted(entries)[:8]}); {_EXPECTED}")
    meta = entries.pop("meta")
    try:
        doc = json.loads(str(meta[()]))
    except (ValueError, IndexError) as e:
        raise CheckpointError(f"{where}: the 'meta' entry is not the JSON document a "
                              f"checkpoint holds ({e}); {_EXPECTED}") from e
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise CheckpointError(f"{where}: unknown checkpoint format {found!r}; expected "
                              f"{FORMAT!r}")
    tree = _unflatten(doc.get("tree"), entries, where)
    if not isinstance(tree, dict):
        raise CheckpointError(f"{where}: the checkpoint's meta holds no tree of entries; "
                              f"{_EXPECTED}")
    missing = [k for k in required if k not in tree]
    if missing:
        raise CheckpointError(f"{where}: the checkpoint lacks {missing}; expected the keys "
                              f"{list(required)} (it has {sorted(tree)})")
    return tree
