"""Class visualisation and feature inversion (CS182 / CS231n network visualisation) on the
conv net of ``visualize_saliency.py``, trained on scikit-learn's 8x8 digits.

    python examples/class_visualization.py [--out runs/examples/class_visualization]

Writes
- classes.png: for each digit, the image the net finds most typical of it: gradient
  ascent on the class score from a faint random start, with L2 regularisation, random
  jitter and a periodic blur (Simonyan et al. 2014; Yosinski et al. 2015), pixels kept
  in the valid range. Printed: the net's softmax probability of the class for each.
- inversion.png: validation images reconstructed from their features alone (Mahendran
  & Vedaldi 2015): an image is fitted by Adam so that its features at a layer match the
  original's, with a total-variation prior; from the conv layer (32 x 4 x 4 features)
  and from the hidden layer (128 features). Printed: relative feature and pixel errors.
"""

from __future__ import annotations

import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.ndimage import gaussian_filter  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from layers.backend import to_numpy  # noqa: E402
from optim import adam  # noqa: E402
from visualize_saliency import report_validation, trained_convnet  # noqa: E402  (same net)


def _clamp(X, mean):
    """Keep X + mean (the displayed image) in [0, 1]: X is mean-subtracted."""
    return np.clip(X + mean, 0.0, 1.0) - mean


def visualize_class(model, target: int, mean, iters=300, lr=0.5, l2_reg=1e-3, jitter=1,
                    blur_every=10, blur_sigma=0.5, seed=0):
    """Gradient ascent on score_target(X) - l2_reg * ||X||^2 from a faint random start.

    Each step shifts the image by a random jitter (undone after the step, so no pixel
    pattern can rely on an exact position), takes a gradient step normalised to a mean
    |step| of ``lr`` / 10 per pixel, clamps the image to valid pixels and, every
    ``blur_every`` steps, blurs it. Returns X (1, C, H, W), mean-subtracted."""
    rng = np.random.default_rng(seed)
    C = model.params["W3"].shape[1]
    onehot = np.eye(C, dtype=np.float32)[[target]]
    X = (0.01 * rng.standard_normal((1, *model.input_dim))).astype(np.float32)
    for t in range(iters):
        dy, dx = (int(v) for v in rng.integers(-jitter, jitter + 1, 2))
        X = np.roll(X, (dy, dx), axis=(2, 3))
        _, dX = model.input_gradient(X, onehot)
        dX = to_numpy(dX) - 2 * l2_reg * X  # ascent direction of the regularised score
        X = X + (lr / 10) * dX / (np.abs(dX).mean() + 1e-12)
        X = np.roll(X, (-dy, -dx), axis=(2, 3))
        if blur_every and t % blur_every == blur_every - 1:
            X = gaussian_filter(X, sigma=(0, 0, blur_sigma, blur_sigma)).astype(np.float32)
        X = _clamp(X, mean)
    return X


def _tv(X):
    """Squared total variation sum of (neighbour differences)^2 and its gradient."""
    dh = X[:, :, 1:, :] - X[:, :, :-1, :]
    dw = X[:, :, :, 1:] - X[:, :, :, :-1]
    g = np.zeros_like(X)
    g[:, :, 1:, :] += 2 * dh
    g[:, :, :-1, :] -= 2 * dh
    g[:, :, :, 1:] += 2 * dw
    g[:, :, :, :-1] -= 2 * dw
    return float((dh * dh).sum() + (dw * dw).sum()), g


def invert_features(model, X0, layer: str, mean, iters=400, lr=0.05, tv_reg=0.02, seed=0):
    """An image whose features at ``layer`` match X0's: Adam on
    ||phi(X) - phi(X0)||^2 / ||phi(X0)||^2 + tv_reg * TV(X), pixels clamped to the valid
    range. Returns (X, relative feature error)."""
    target, _ = model.feature_gradient(X0, layer)
    target = to_numpy(target)
    norm = float((target * target).sum()) + 1e-12
    rng = np.random.default_rng(seed)
    X = (0.01 * rng.standard_normal(X0.shape)).astype(np.float32)
    config = {"learning_rate": lr}
    for _ in range(iters):
        feat, _ = model.feature_gradient(X, layer)
        diff = to_numpy(feat) - target
        _, dX = model.feature_gradient(X, layer, 2 * diff / norm)
        _, dtv = _tv(X)
        X, config = adam(X, to_numpy(dX) + tv_reg * dtv, config)
        X = _clamp(X, mean)
    feat, _ = model.feature_gradient(X, layer)
    err = float(np.linalg.norm(to_numpy(feat) - target) / np.sqrt(norm))
    return X, err


def softmax(scores):
    z = np.exp(scores - scores.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/examples/class_visualization",
                    help="folder for the PNGs")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--iters", type=int, default=300, help="class visualisation steps")
    ap.add_argument("--inversion-iters", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0, help="data split, weights, starts")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    model, data, mean = trained_convnet(args.epochs, args.seed)
    Xv, yv = data["X_val"], data["y_val"]
    report_validation(model, data, args.epochs)

    # class visualisation: one image per digit
    C = model.params["W3"].shape[1]
    imgs = [visualize_class(model, c, mean, args.iters, seed=args.seed + c) for c in range(C)]
    probs = [float(softmax(to_numpy(model.loss(x)))[0, c]) for c, x in enumerate(imgs)]
    print("class visualisations, the net's probability of their class: "
          + ", ".join(f"{c}: {p:.3f}" for c, p in enumerate(probs)))
    fig, axes = plt.subplots(1, C, figsize=(1.3 * C, 1.9))
    for c, ax in enumerate(axes):
        ax.imshow((imgs[c] + mean)[0, 0], cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"{c}\np={probs[c]:.2f}", fontsize=9)
        ax.axis("off")
    fig.suptitle("class visualisation: gradient ascent on each class score", fontsize=10)
    fig.savefig(os.path.join(args.out, "classes.png"), dpi=100, bbox_inches="tight")
    plt.close(fig)

    # feature inversion: five validation images, from two layers
    idx = [int(np.flatnonzero(yv == c)[0]) for c in (0, 2, 4, 6, 8)]
    layers = ("conv", "hidden")
    fig, axes = plt.subplots(1 + len(layers), len(idx), figsize=(1.6 * len(idx), 5.2))
    for j, i in enumerate(idx):
        x0 = Xv[i:i + 1]
        axes[0, j].imshow((x0 + mean)[0, 0], cmap="gray_r", vmin=0, vmax=1)
        axes[0, j].set_title("original" if j == 0 else "", fontsize=9)
        for r, layer in enumerate(layers, start=1):
            x, ferr = invert_features(model, x0, layer, mean, args.inversion_iters,
                                      seed=args.seed + j)
            perr = float(np.linalg.norm(x - x0) / np.linalg.norm(x0 + mean))
            print(f"digit {yv[i]} from the {layer} features: relative feature error "
                  f"{ferr:.3f}, pixel error {perr:.3f}")
            axes[r, j].imshow((x + mean)[0, 0], cmap="gray_r", vmin=0, vmax=1)
            axes[r, j].set_title(f"from {layer}" if j == 0 else "", fontsize=9)
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle("feature inversion: images rebuilt from their features", fontsize=10)
    fig.savefig(os.path.join(args.out, "inversion.png"), dpi=100, bbox_inches="tight")
    plt.close(fig)
    print(f"wrote {args.out}/classes.png and {args.out}/inversion.png")


if __name__ == "__main__":
    main()
