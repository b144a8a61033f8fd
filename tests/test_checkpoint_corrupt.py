"""Corrupt checkpoints: each kind of damage gives a CheckpointError (a ValueError) that
names the file, says what is wrong and what was expected; a killed writer's temporary file
is removed by the next successful write."""

import os
import zipfile

import numpy as np
import pytest

from optim import Solver, load_checkpoint, save_checkpoint
from optim.checkpoint import CheckpointError, write_npz_atomic
from tests.tiny_models import SoftmaxRegression, blobs

TREE = {"params": {"W1": np.arange(6.0).reshape(2, 3), "b1": np.zeros(3)},
        "history": {"train_acc": np.linspace(0, 1, 50)}, "epoch": 2, "settings": {"x": 1}}


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "run_epoch_2.npz"
    save_checkpoint(path, TREE)
    return path


def _expect(path, *patterns):
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: "), msg  # names the file
    for p in patterns:
        assert p in msg, f"{p!r} not in {msg!r}"
    assert isinstance(info.value, ValueError)
    return msg


def test_truncated(good):
    data = good.read_bytes()
    for keep in (len(data) // 2, len(data) - 10, 100):
        good.write_bytes(data[:keep])
        _expect(good, "corrupt checkpoint", "expected a layerkit checkpoint")


def test_flipped_byte_in_the_data(good):
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as z:
        info = z.getinfo("history/train_acc.npy")
    # the last byte of that entry's data: inside the float array, after its npy header
    pos = info.header_offset + 30 + len(info.filename) + len(info.extra) + \
        info.compress_size - 1
    data[pos] ^= 0x40
    good.write_bytes(bytes(data))
    _expect(good, "Bad CRC-32 for file 'history/train_acc.npy'",
            "changed after it was written", "expected a layerkit checkpoint")


@pytest.mark.parametrize("where", range(0, 2000, 97))
def test_any_flipped_byte_is_an_error_or_the_original(tmp_path, where):
    """Wherever a byte flips, loading gives a CheckpointError or (a byte of zip padding
    nobody reads) exactly the original: never a raw numpy/zip error, never other values."""
    path = tmp_path / "c.npz"
    save_checkpoint(path, TREE)
    data = bytearray(path.read_bytes())
    data[where % len(data)] ^= 0xFF
    path.write_bytes(bytes(data))
    try:
        back = load_checkpoint(path)
    except CheckpointError as e:
        assert str(e).startswith(f"{path}: ")
        return
    np.testing.assert_array_equal(back["params"]["W1"], TREE["params"]["W1"])
    np.testing.assert_array_equal(back["history"]["train_acc"], TREE["history"]["train_acc"])


def test_missing_entry(good, tmp_path):
    stripped = tmp_path / "stripped.npz"
    with np.load(good, allow_pickle=False) as f:
        entries = {k: f[k] for k in f.files if k != "params/W1"}
    write_npz_atomic(stripped, entries)
    _expect(stripped, "entry 'params/W1' is listed in the checkpoint's meta but missing "
                      "from the file", "expected every array the meta lists")


def test_missing_required_key(good):
    with pytest.raises(CheckpointError, match=r"lacks \['optim'\]; expected the keys"):
        load_checkpoint(good, required=("params", "optim"))


def test_foreign_npz(tmp_path):
    path = tmp_path / "weights.npz"
    np.savez(path, W=np.ones(3), b=np.zeros(2))
    _expect(path, "no 'meta' entry, so not a layerkit checkpoint", "['W', 'b']",
            "expected a layerkit checkpoint")


def test_foreign_npy_and_text_files(tmp_path):
    npy = tmp_path / "w.npy"
    np.save(npy, np.ones(3))
    _expect(npy, "a single .npy array, not an .npz archive")
    txt = tmp_path / "notes.npz"
    txt.write_text("hello, not a checkpoint\n")
    _expect(txt, "not an .npz archive (it starts with b'hello,'")


def test_other_format_and_bad_meta(tmp_path):
    path = tmp_path / "old.npz"
    np.savez(path, meta=np.array('{"format": "layerkit-checkpoint-0", "tree": {}}'))
    _expect(path, "unknown checkpoint format 'layerkit-checkpoint-0'",
            "expected 'layerkit-checkpoint-1'")
    np.savez(path, meta=np.array("{not json"))
    _expect(path, "the 'meta' entry is not the JSON document a checkpoint holds")


def test_missing_file_stays_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "nope.npz")


def test_resume_from_a_corrupt_file_names_it(tmp_path):
    data = blobs(n=40, d=3, classes=3)
    s = Solver(SoftmaxRegression(3, 3), data, num_epochs=1, batch_size=10, verbose=False,
               checkpoint_name=str(tmp_path / "r"))
    s.train()
    path = tmp_path / "r_epoch_1.npz"
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(CheckpointError, match=rf"^{path}: corrupt checkpoint"):
        Solver.resume(str(path), SoftmaxRegression(3, 3), data)


def test_only_this_checkpoints_dead_writers_temporaries_are_removed(tmp_path):
    """(A killed writer's temporary: tests/test_checkpoint.py, the killed-process test.)"""
    path = tmp_path / "c.npz"
    dead = tmp_path / ".c.npz.999999999.abc.tmp"  # no such pid
    other = tmp_path / ".other.npz.999999999.x.tmp"  # another checkpoint's: not ours
    dead.write_bytes(b"PK half")
    other.write_bytes(b"")
    write_npz_atomic(path, {"W": np.ones(4)})
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name, "c.npz"]


def test_a_running_writers_temporary_is_kept(tmp_path):
    path = tmp_path / "c.npz"
    mine = tmp_path / f".c.npz.{os.getppid()}.abc.tmp"  # a live process (our parent)
    mine.write_bytes(b"")
    write_npz_atomic(path, {"W": np.ones(4)})
    assert mine.exists()
