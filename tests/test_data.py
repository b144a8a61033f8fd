"""Loaders on small files written here in the official formats; split and mean subtraction."""

import gzip
import os
import pickle
import struct

import numpy as np
import pytest

from layerkit import data as D


def _cifar_batch(path, n, seed, protocol=2, bytes_keys=True):
    """A batch as the official python version stores it: dict of data (n, 3072) uint8 and
    labels (list of int), plus batch_label and filenames."""
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, 10, n)]
    k = (lambda s: s.encode()) if bytes_keys else (lambda s: s)
    batch = {k("batch_label"): b"training batch", k("labels"): labels, k("data"): data,
             k("filenames"): [b"img_%d.png" % i for i in range(n)]}
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=protocol)
    return data, labels


def test_cifar10_from_official_style_batches(tmp_path):
    parts = [_cifar_batch(tmp_path / f"data_batch_{i}", 4, i, protocol=2 if i % 2 else 4,
                          bytes_keys=i != 3) for i in range(1, 6)]
    test_data, test_labels = _cifar_batch(tmp_path / "test_batch", 3, 99)
    X, y, Xt, yt = D.load_cifar10(str(tmp_path))
    assert X.shape == (20, 3, 32, 32) and X.dtype == np.float32 and y.dtype == np.int64
    assert Xt.shape == (3, 3, 32, 32) and yt.tolist() == test_labels
    assert y.tolist() == sum((p[1] for p in parts), [])
    # layout: each row holds the 1024 red values, then green, then blue, row-major
    raw = parts[1][0][2]  # third image of data_batch_2
    assert X[6, 0, 0, 0] == pytest.approx(raw[0] / 255)
    assert X[6, 1, 0, 0] == pytest.approx(raw[1024] / 255)
    assert X[6, 2, 31, 31] == pytest.approx(raw[3071] / 255)
    assert X[6, 0, 1, 0] == pytest.approx(raw[32] / 255)


def test_cifar10_missing_files_are_named(tmp_path):
    _cifar_batch(tmp_path / "data_batch_1", 2, 0)
    with pytest.raises(FileNotFoundError, match=r"lacks \['data_batch_2'.*'test_batch'\]"):
        D.load_cifar10(str(tmp_path))


class _Boom:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_cifar10_pickle_that_runs_code_is_refused(tmp_path):
    for i in range(1, 6):
        _cifar_batch(tmp_path / f"data_batch_{i}", 2, i)
    _cifar_batch(tmp_path / "test_batch", 2, 0)
    with open(tmp_path / "data_batch_4", "wb") as f:
        pickle.dump({b"data": _Boom(), b"labels": [1]}, f, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load the global .*system"):
        D.load_cifar10(str(tmp_path))


def _idx(path, array, code, gz=False):
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape)
    body = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    with (gzip.open if gz else open)(path, "wb") as f:
        f.write(body)


def test_mnist_from_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    tr = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    te = rng.integers(0, 256, (2, 28, 28), dtype=np.uint8)
    _idx(tmp_path / "train-images-idx3-ubyte", tr, 0x08)
    _idx(tmp_path / "train-labels-idx1-ubyte", np.array([3, 1, 4, 1, 5], np.uint8), 0x08)
    _idx(tmp_path / "t10k-images.idx3-ubyte.gz", te, 0x08, gz=True)  # other spelling, gzip
    _idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([9, 2], np.uint8), 0x08, gz=True)
    X, y, Xt, yt = D.load_mnist(str(tmp_path))
    assert X.shape == (5, 1, 28, 28) and X.dtype == np.float32
    np.testing.assert_allclose(X[:, 0], tr / 255.0, rtol=1e-6)
    np.testing.assert_allclose(Xt[:, 0], te / 255.0, rtol=1e-6)
    assert y.tolist() == [3, 1, 4, 1, 5] and yt.tolist() == [9, 2]


def test_read_idx_types_and_errors(tmp_path):
    a = np.arange(-3, 3, dtype=np.int32).reshape(2, 3)
    _idx(tmp_path / "a", a, 0x0C)
    np.testing.assert_array_equal(D.read_idx(str(tmp_path / "a")), a)
    f = np.array([1.5, -2.25], np.float32)
    _idx(tmp_path / "f", f, 0x0D)
    np.testing.assert_array_equal(D.read_idx(str(tmp_path / "f")), f)
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        D.read_idx(str(tmp_path / "bad"))
    (tmp_path / "short").write_bytes((tmp_path / "a").read_bytes()[:-2])
    with pytest.raises(ValueError, match=r"header says shape \(2, 3\) \(24 bytes"):
        D.read_idx(str(tmp_path / "short"))


def test_digits_split_and_mean():
    d = D.get_data("digits")
    assert {k: v.shape[0] for k, v in d.items() if k != "mean_image"} == {
        "X_train": 1297, "y_train": 1297, "X_val": 250, "y_val": 250,
        "X_test": 250, "y_test": 250}
    assert d["X_train"].shape[1:] == (1, 8, 8) and d["X_train"].dtype == np.float32
    np.testing.assert_allclose(d["X_train"].mean(axis=0), 0, atol=1e-6)
    raw = D.get_data("digits", center=False)
    np.testing.assert_allclose(raw["X_val"] - d["mean_image"], d["X_val"], atol=1e-6)
    assert raw["X_train"].min() == 0 and raw["X_train"].max() == 1
    assert sorted(set(raw["y_train"].tolist())) == list(range(10))


def test_split_is_a_seeded_partition():
    X, y = np.arange(20).reshape(10, 2), np.arange(10)
    a, b = D.split(X, y, 3, 2, seed=5), D.split(X, y, 3, 2, seed=5)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    seen = np.concatenate([a["y_train"], a["y_val"], a["y_test"]])
    assert sorted(seen.tolist()) == list(range(10))
    assert len(a["y_val"]) == 3 and len(a["y_test"]) == 2
    np.testing.assert_array_equal(a["X_val"][:, 0], 2 * a["y_val"])  # rows stay with labels
    assert not np.array_equal(D.split(X, y, 3, 2, seed=6)["y_val"], a["y_val"])
    with pytest.raises(ValueError, match="must leave training data"):
        D.split(X, y, 6, 4)


def test_subtract_mean_leaves_the_input_alone():
    data = {"X_train": np.array([[1.0], [3.0]]), "X_val": np.array([[4.0]]), "y_val": [1]}
    out = D.subtract_mean(data)
    assert out["X_val"].tolist() == [[2.0]] and out["X_train"].tolist() == [[-1.0], [1.0]]
    assert data["X_train"].tolist() == [[1.0], [3.0]] and out["mean_image"].tolist() == [2.0]


def test_cifar10_through_get_data(tmp_path):
    for i in range(1, 6):
        _cifar_batch(tmp_path / f"data_batch_{i}", 10, i)
    _cifar_batch(tmp_path / "test_batch", 5, 0)
    d = D.get_data("cifar10", folder=str(tmp_path), num_val=8)
    assert d["X_train"].shape == (42, 3, 32, 32) and d["X_val"].shape[0] == 8
    assert d["X_test"].shape[0] == 5
    with pytest.raises(ValueError, match="give the folder"):
        D.get_data("mnist")
