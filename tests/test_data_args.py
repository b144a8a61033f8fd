"""The data loaders refuse bad arguments and damaged files with errors that name them."""

import numpy as np
import pytest

from layerkit.data import get_data, read_idx, split


@pytest.mark.parametrize("kw, exc, match", [
    ({"num_val": -5}, ValueError, r"split: num_val must be an integer >= 0; got -5"),
    ({"num_val": 2.5}, TypeError, r"split: num_val must be an integer >= 0; got float 2.5"),
    ({"num_test": None, "num_val": 2000}, ValueError, r"must leave training data"),
    ({"num_train": 0}, ValueError, r"get_data: num_train must be an integer >= 1; got 0"),
    ({"seed": "abc"}, TypeError, r"split: seed must be an integer >= 0"),
])
def test_bad_split_arguments(kw, exc, match):
    with pytest.raises(exc, match=match):
        get_data("digits", **kw)


def test_split_keeps_every_example_once():
    X, y = np.arange(20.0)[:, None], np.arange(20)
    d = split(X, y, np.int64(5), 3, seed=1)
    parts = [d["y_train"], d["y_val"], d["y_test"]]
    assert [len(p) for p in parts] == [12, 5, 3]
    assert sorted(np.concatenate(parts).tolist()) == list(range(20))


def test_a_cut_short_idx_header_names_the_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 10)
    with pytest.raises(ValueError, match=rf"{path}: the IDX header is cut short"):
        read_idx(str(path))
