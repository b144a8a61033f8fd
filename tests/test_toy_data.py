"""Toy 2-D data sets (layerkit.data) and the decision-boundary plot (layerkit.plots)."""

import numpy as np
import pytest

from layerkit.data import (DATASETS, TOY_DATASETS, get_data, make_circles, make_moons,
                           make_spiral, make_toy, make_xor)
from layerkit.plots import decision_grid, plot_decision_boundary

MAKERS = {"spiral": make_spiral, "moons": make_moons, "circles": make_circles,
          "xor": make_xor}


@pytest.mark.parametrize("name", TOY_DATASETS)
def test_shapes_classes_dtype(name):
    X, y = MAKERS[name](n_per_class=40, seed=3)
    classes = 3 if name == "spiral" else 2
    assert X.shape == (40 * classes, 2) and X.dtype == np.float32
    assert y.shape == (40 * classes,) and y.dtype == np.int64
    assert np.array_equal(np.bincount(y), [40] * classes)
    assert np.isfinite(X).all() and np.abs(X).max() < 3
    X64, _ = MAKERS[name](n_per_class=5, dtype=np.float64)
    assert X64.dtype == np.float64


@pytest.mark.parametrize("name", TOY_DATASETS)
def test_deterministic_by_seed(name):
    a, b, c = (MAKERS[name](n_per_class=30, seed=s) for s in (7, 7, 8))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.allclose(a[0], c[0])


def test_what_each_set_is():
    # XOR: the label says whether the coordinates' signs differ
    X, y = make_xor(200, seed=0)
    assert np.array_equal(y, (np.sign(X[:, 0]) != np.sign(X[:, 1])).astype(int))
    # circles: class 0 on the ring of radius 1, class 1 on radius factor
    X, y = make_circles(500, factor=0.4, noise=0.0, seed=0)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r[y == 0], 1.0, rtol=1e-6)
    np.testing.assert_allclose(r[y == 1], 0.4, rtol=1e-6)
    # spiral without noise: radius grows linearly along each arm, from 0 to 1
    X, y = make_spiral(50, classes=4, noise=0.0)
    r = np.hypot(X[:, 0], X[:, 1])
    for c in range(4):
        np.testing.assert_allclose(r[y == c], np.linspace(0, 1, 50), atol=1e-6)
    # moons without noise: each point on its unit half circle
    X, y = make_moons(100, noise=0.0)
    X = X + [0.5, 0.25]
    np.testing.assert_allclose(np.hypot(*X[y == 0].T), 1, rtol=1e-6)
    np.testing.assert_allclose(np.hypot(X[y == 1, 0] - 1, X[y == 1, 1] - 0.5), 1, rtol=1e-6)
    assert (X[y == 0, 1] >= 0).all() and (X[y == 1, 1] <= 0.5).all()


@pytest.mark.parametrize("name", TOY_DATASETS)
def test_get_data_names(name):
    assert name in DATASETS
    data = get_data(name, seed=1)
    assert data["X_train"].shape[1:] == (2,) and len(data["y_val"]) == 200
    assert len(data["y_test"]) == 200 and len(data["y_train"]) >= 599
    again = get_data(name, seed=1, center=False)
    X, _ = make_toy(name, seed=1)
    assert len(X) == sum(len(again[k]) for k in ("X_train", "X_val", "X_test"))
    with pytest.raises(ValueError, match="make_toy: name must be one of"):
        make_toy("spirals")


def test_training_command_takes_a_toy_set(tmp_path, capsys):
    from layerkit.train import main

    assert main(["--data", "xor", "--epochs", "3", "--quiet", "--out", str(tmp_path)]) == 0
    acc = float(capsys.readouterr().out.split("val accuracy")[1].split(",")[0])
    assert acc > 0.9


def test_decision_grid_of_a_known_classifier():
    X = np.array([[-1.0, -2.0], [1.0, 2.0]])
    xs, ys, grid = decision_grid(lambda P: (P[:, 0] > 0.25 * P[:, 1]).astype(int), X,
                                 resolution=41, margin=0.0)
    np.testing.assert_allclose([xs[0], xs[-1], ys[0], ys[-1]], [-1, 1, -2, 2])
    want = (xs[None, :] > 0.25 * ys[:, None]).astype(int)  # [i, j] is (xs[j], ys[i])
    assert grid.shape == (41, 41) and np.array_equal(grid, want)
    # scores (M, C) are reduced by argmax
    _, _, g2 = decision_grid(lambda P: np.c_[P[:, 0], -P[:, 0]], X, resolution=5)
    assert np.array_equal(g2[:, 0], [1] * 5) and np.array_equal(g2[:, -1], [0] * 5)


def test_plot_decision_boundary_writes_png(tmp_path):
    X, y = make_xor(50, seed=0)
    path = tmp_path / "b.png"
    acc = plot_decision_boundary(lambda P: (P[:, 0] * P[:, 1] < 0).astype(int), X, y,
                                 str(path))
    assert acc == 1.0 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
