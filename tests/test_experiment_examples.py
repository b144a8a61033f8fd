"""Fast smoke tests of the cores of the experiment examples (toy 2-D data, karate-club GCN,
image memorisation, class visualisation and feature inversion), at small sizes, plus
ThreeLayerConvNet.feature_gradient, which the visualisation runs on."""

import os
import subprocess
import sys

import numpy as np
import pytest

from gradcheck import eval_numerical_gradient_array
from nets import ThreeLayerConvNet
from tests.helpers import host

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples"))


@pytest.mark.parametrize("layer", ThreeLayerConvNet.FEATURE_LAYERS)
def test_feature_gradient_matches_numerical(layer):
    rng = np.random.default_rng(6)
    model = ThreeLayerConvNet(input_dim=(1, 4, 4), num_filters=2, filter_size=3,
                              hidden_dim=5, num_classes=3, weight_scale=0.5, seed=6,
                              dtype=np.float64)
    X = rng.standard_normal((2, 1, 4, 4))
    feat, none = model.feature_gradient(X, layer)
    assert none is None
    shape = {"conv": (2, 2, 2, 2), "hidden": (2, 5), "scores": (2, 3)}[layer]
    assert feat.shape == shape
    dfeat = rng.standard_normal(shape)
    feat2, dX = model.feature_gradient(X, layer, dfeat)
    np.testing.assert_array_equal(host(feat), host(feat2))
    num = eval_numerical_gradient_array(lambda x: model.feature_gradient(x, layer)[0], X,
                                        dfeat)
    np.testing.assert_allclose(host(dX), num, rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match="layer must be one of"):
        model.feature_gradient(X, "pool")


def test_toy_core():
    from toy_2d import train_toy

    model, data, _ = train_toy("moons", epochs=15, n=200)
    pred = host(model.loss(data["X_val"])).argmax(axis=1)
    assert len(data["y_train"]) == 200 and np.mean(pred == data["y_val"]) > 0.9


def test_toy_script(tmp_path):
    env = {**os.environ, "PYTHONPATH": ROOT, "MPLBACKEND": "Agg"}
    r = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "toy_2d.py"),
                        "--data", "xor", "circles", "--epochs", "10", "--out", str(tmp_path)],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "xor      validation accuracy" in r.stdout
    for name in ("xor", "circles", "all"):
        assert (tmp_path / f"{name}.png").stat().st_size > 1000


def test_karate_core():
    pytest.importorskip("networkx")
    from karate_gcn import karate, pca2, train_gcn

    G, A, y = karate()
    assert A.shape == (34, 34) and A.sum() == 2 * 78 and np.bincount(y).tolist() == [17, 17]
    model, X, _ = train_gcn(A, y, labelled=(0, 33), seed=0)
    pred = host(model.loss(X)).argmax(axis=1)
    other = np.setdiff1d(np.arange(34), [0, 33])
    assert np.mean(pred[other] == y[other]) >= 0.95
    assert pca2(host(model.embed(X)).astype(np.float64)).shape == (34, 2)


def test_memorize_core():
    from memorize_image import coordinates, errors, fit, fourier_features, load_image

    img = load_image(shrink=16)  # (37, 32, 3)
    assert img.shape == (37, 32, 3) and img.dtype == np.float32 and 0 <= img.min() < img.max() <= 1
    P = coordinates(*img.shape[:2])
    assert P.shape == (37 * 32, 2) and np.abs(P).max() < 1
    F = fourier_features(P, num_freqs=3)
    np.testing.assert_allclose(F[:, [0, 3]], np.sin(np.pi * P), atol=1e-6)  # k = 0: x, y
    np.testing.assert_allclose(F[:, 6 + 1], np.cos(2 * np.pi * P[:, 0]), atol=1e-6)
    target = img.reshape(-1, 3)
    flat = errors(np.full_like(target, target.mean()), target)
    for loss in ("l1", "l2"):
        model, _ = fit(F, target, loss, hidden=(32, 32), steps=150, batch=256, lr=5e-3)
        e = errors(host(model.loss(F)), target)
        assert e[1] < 0.7 * flat[1] and e[0] < flat[0]  # better than the mean colour


def test_class_visualization_core():
    from class_visualization import invert_features, visualize_class
    from visualize_saliency import trained_convnet

    model, data, mean = trained_convnet(epochs=1, seed=0)
    start = visualize_class(model, 3, mean, iters=0)
    vis = visualize_class(model, 3, mean, iters=30)
    assert host(model.loss(vis))[0, 3] > host(model.loss(start))[0, 3] + 1
    assert (vis + mean).min() >= 0 and (vis + mean).max() <= 1
    x0 = data["X_val"][:1]
    _, err0 = invert_features(model, x0, "conv", mean, iters=0)
    x, err = invert_features(model, x0, "conv", mean, iters=60)
    assert x.shape == x0.shape and err < 0.6 * err0
