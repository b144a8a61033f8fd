"""examples/modules_convnet.py: runs on digits and on MNIST IDX files, in-process and short
(the full run, 15 epochs to >= 98% test accuracy, is the README's command)."""

import importlib.util
import os

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from tests.test_data import _idx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def one_blas_thread():
    with threadpool_limits(limits=1, user_api="blas"):  # as the script's __main__ does
        yield


def _example():
    spec = importlib.util.spec_from_file_location(
        "modules_convnet", os.path.join(ROOT, "examples", "modules_convnet.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_digits_one_epoch_learns_and_is_reproducible(capsys):
    ex = _example()
    ex.main(["--epochs", "1"])
    first = capsys.readouterr().out
    ex.main(["--epochs", "1"])
    assert capsys.readouterr().out == first  # manual_seed fixes weights and dropout masks
    test_acc = float(first.split("test accuracy")[1].split()[0])
    assert test_acc > 0.7, first


def test_mnist_from_idx_files(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 40), ("t10k", 10)):
        _idx(tmp_path / f"{prefix}-images-idx3-ubyte",
             rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), 0x08)
        _idx(tmp_path / f"{prefix}-labels-idx1-ubyte",
             rng.integers(0, 10, n).astype(np.uint8), 0x08)
    _example().main(["--data", "mnist", "--data-dir", str(tmp_path), "--epochs", "1"])
    assert "(mnist)" in capsys.readouterr().out


def test_mnist_needs_a_folder():
    with pytest.raises(SystemExit) as e:
        _example().main(["--data", "mnist"])
    assert e.value.code == 2
