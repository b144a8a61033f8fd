"""Network visualisation through input gradients (CS182 / CS231n): a saliency map and a
fooling image for a small conv net trained on scikit-learn's 8x8 digits.

    python examples/visualize_saliency.py --out runs/saliency [--epochs 8] [--seed 0]

Trains a ThreeLayerConvNet for a few epochs (Adam, seconds on a laptop), then writes
- saliency.png: one validation image per class and |d score_y / d image|, the pixels whose
  change would move the correct class's score most;
- fooling.png: images nudged by gradient ascent on another class's score until the net
  predicts that class, with the (magnified) change, which stays small.
"""

from __future__ import annotations

import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from layerkit.data import load_digits  # noqa: E402
from layers.backend import to_numpy  # noqa: E402
from nets import ThreeLayerConvNet  # noqa: E402
from optim import Solver  # noqa: E402


def load(seed: int):
    """Digits as (N, 1, 8, 8) float32 in [0, 1], a shuffled 80/20 split, and the training
    mean (subtracted from both parts; added back for display)."""
    X, y = load_digits()  # (N, 1, 8, 8) float32 in [0, 1], (N,) int64
    order = np.random.default_rng(seed).permutation(len(y))
    X, y = X[order], y[order]
    n = int(0.8 * len(y))
    mean = X[:n].mean(axis=0)
    return X[:n] - mean, y[:n], X[n:] - mean, y[n:], mean


def train(model, data, epochs: int, seed: int):
    """Adam through the kit's Solver, the learning rate decayed by 0.8 every epoch."""
    Solver(model, data, update_rule="adam", optim_config={"learning_rate": 5e-3},
           lr_decay=0.8, batch_size=32, num_epochs=epochs, seed=seed,
           verbose=False).train()


def trained_convnet(epochs: int = 8, seed: int = 0):
    """A ThreeLayerConvNet (32 3x3 filters, 128 hidden units) trained on the digits.

    Returns (model, data, mean): data holds X_train, y_train, X_val, y_val (mean-
    subtracted, (N, 1, 8, 8)); mean (1, 8, 8) is the training mean image."""
    rng = np.random.default_rng(seed)
    Xtr, ytr, Xv, yv, mean = load(seed)
    model = ThreeLayerConvNet(input_dim=(1, 8, 8), num_filters=32, filter_size=3,
                              hidden_dim=128, weight_scale=0.05, reg=1e-4,
                              seed=int(rng.integers(2**31)))
    data = {"X_train": Xtr, "y_train": ytr, "X_val": Xv, "y_val": yv}
    with threadpool_limits(limits=1, user_api="blas"):  # tiny GEMMs: 1 thread is faster
        train(model, data, epochs, seed=seed)
    return model, data, mean


def report_validation(model, data, epochs: int) -> np.ndarray:
    """Print the validation accuracy of ``model`` (trained for ``epochs``) and return its
    predicted classes on X_val: (N_val,)."""
    pred = to_numpy(model.loss(data["X_val"])).argmax(axis=1)
    print(f"validation accuracy {np.mean(pred == data['y_val']):.4f} after {epochs} epochs")
    return pred


def saliency(model, X, y):
    """|d score_y / dX|, the maximum over channels: (N, H, W)."""
    onehot = np.eye(model.params["W3"].shape[1], dtype=np.float32)[y]
    _, dX = model.input_gradient(X, onehot)
    return np.abs(to_numpy(dX)).max(axis=1)


def fool(model, x, target: int, step=0.05, max_iters=200):
    """Gradient ascent on the target's score with a normalised step, until the net
    predicts the target. Returns (image, iterations); x is (1, C, H, W)."""
    onehot = np.eye(model.params["W3"].shape[1], dtype=np.float32)[[target]]
    x = x.copy()
    for i in range(max_iters):
        scores, dX = model.input_gradient(x, onehot)
        if int(np.argmax(to_numpy(scores))) == target:
            return x, i
        dX = to_numpy(dX)
        x = x + step * dX / (np.linalg.norm(dX) + 1e-12)
    return x, max_iters


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/saliency", help="folder for the PNGs")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0, help="data split, weights, minibatches")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    model, data, mean = trained_convnet(args.epochs, args.seed)
    Xv, yv = data["X_val"], data["y_val"]
    pred = report_validation(model, data, args.epochs)

    # saliency: the first correctly classified validation image of each class (the
    # first of the class if the net gets none of it right, after very short training)
    idx = np.array([np.flatnonzero((yv == c) & (pred == c))[:1].tolist()
                    + np.flatnonzero(yv == c)[:1].tolist() for c in range(10)])[:, 0]
    sal = saliency(model, Xv[idx], yv[idx])
    fig, axes = plt.subplots(2, 10, figsize=(12, 2.8))
    for j, i in enumerate(idx):
        axes[0, j].imshow((Xv[i] + mean)[0], cmap="gray_r")
        axes[0, j].set_title(str(yv[i]))
        axes[1, j].imshow(sal[j], cmap="hot")
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle("validation images (top) and saliency |d score_y / d pixel| (bottom)")
    fig.savefig(os.path.join(args.out, "saliency.png"), dpi=100, bbox_inches="tight")
    plt.close(fig)

    # fooling images: each of five digits pushed to the next class
    pairs = [(idx[c], (c + 1) % 10) for c in range(0, 10, 2)]
    fig, axes = plt.subplots(3, len(pairs), figsize=(2.2 * len(pairs), 6.6))
    for j, (i, target) in enumerate(pairs):
        x = Xv[i:i + 1]
        fooled, iters = fool(model, x, target)
        now = int(to_numpy(model.loss(fooled)).argmax())
        print(f"digit {yv[i]} -> predicted {now} (target {target}) after {iters} steps, "
              f"max pixel change {np.abs(fooled - x).max():.3f}")
        diff = (fooled - x)[0, 0]
        axes[0, j].imshow((x + mean)[0, 0], cmap="gray_r", vmin=0, vmax=1)
        axes[0, j].set_title(f"a {yv[i]}")
        axes[1, j].imshow((fooled + mean)[0, 0], cmap="gray_r", vmin=0, vmax=1)
        axes[1, j].set_title(f"predicted {now}")
        axes[2, j].imshow(diff / (np.abs(diff).max() + 1e-12), cmap="bwr", vmin=-1, vmax=1)
        axes[2, j].set_title("change (scaled)")
    for ax in axes.ravel():
        ax.axis("off")
    fig.savefig(os.path.join(args.out, "fooling.png"), dpi=100, bbox_inches="tight")
    plt.close(fig)
    print(f"wrote {args.out}/saliency.png and {args.out}/fooling.png")


if __name__ == "__main__":
    main()
