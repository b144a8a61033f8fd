"""PNG plots of a training run and of a hyperparameter search.

Drawn with matplotlib's Agg canvas on ``Figure`` objects: no pyplot, no window, no change
to the caller's matplotlib backend, so the functions work on a headless machine and inside
a notebook alike.
"""

from __future__ import annotations

import math

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from layers.backend import get_xp, to_numpy, to_xp

__all__ = ["plot_loss", "plot_lm_loss", "plot_accuracy", "plot_filters", "plot_search",
           "plot_compare", "filter_grid", "decision_grid", "draw_decision_boundary",
           "plot_decision_boundary", "plot_transfer"]


def _figure(width=6.4, height=4.0):
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Running mean over ``window`` steps (shorter at the start), to see the trend."""
    c = np.cumsum(np.insert(values, 0, 0.0))
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(idx - window, 0)
    return (c[idx] - c[lo]) / (idx - lo)


def _window(history: dict) -> int:
    return max(1, min(50, history.get("iterations_per_epoch", 10)))


def _loss_curve(ax, epoch, loss, window, label="minibatch loss", color="tab:blue"):
    """The loss per step (faint) and its running mean over ``window`` steps."""
    if len(loss):
        ax.plot(epoch, loss, color=color, alpha=0.3, lw=0.8, label=label)
        ax.plot(epoch, _smooth(loss, window), color=color, lw=2,
                label=f"running mean ({window} steps)")
        if np.all(loss > 0) and loss.max() / loss.min() > 30:
            ax.set_yscale("log")


def plot_loss(history: dict, path: str, title: str = "training loss",
              ylabel: str = "loss") -> None:
    """Loss per step (faint) and its running mean, against epochs; learning rate on the right."""
    loss = np.asarray(history["loss"], float)
    epoch = np.asarray(history["epoch"], float)
    fig = _figure()
    ax = fig.add_subplot()
    _loss_curve(ax, epoch, loss, _window(history))
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    lr = np.asarray(history.get("lr", []), float)
    if len(lr) == len(loss) and len(lr) and np.ptp(lr) > 0:
        ax2 = ax.twinx()
        ax2.plot(epoch, lr, color="tab:gray", ls="--", lw=1, label="learning rate")
        ax2.set_ylabel("learning rate", color="tab:gray")
        ax2.legend(loc="center right", fontsize=8)
    ax.legend(loc="upper right", fontsize=8)
    fig.savefig(path)


def plot_lm_loss(history: dict, path: str, title: str = "language model loss") -> None:
    """A language model's loss in bits per character: the training loss per step (and its
    running mean) and the validation loss after each epoch (``val_bpc``, ``val_bpc_epoch``).

    The nets report the mean cross-entropy per character in nats; / ln 2 gives bits.
    """
    bits = np.asarray(history["loss"], float) / math.log(2)
    fig = _figure()
    ax = fig.add_subplot()
    _loss_curve(ax, np.asarray(history["epoch"], float), bits, _window(history),
                label="training, per minibatch")
    if history.get("val_bpc"):
        ax.plot(history["val_bpc_epoch"], history["val_bpc"], "s-", color="tab:orange",
                ms=5, label=f"validation (last {history['val_bpc'][-1]:.3f})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("bits per character (cross-entropy / ln 2)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    fig.savefig(path)


def plot_accuracy(history: dict, path: str, title: str = "accuracy",
                  ylabel: str = "accuracy") -> None:
    """Train and validation accuracy at each check, against epochs."""
    x = np.asarray(history["acc_epoch"], float)
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot(x, history["train_acc"], "o-", ms=3, label="train")
    ax.plot(x, history["val_acc"], "s-", ms=3, label="validation")
    best = history.get("best_val_acc")
    if best is not None:
        ax.axhline(best, color="tab:orange", ls=":", lw=1, label=f"best val {best:.3f}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.savefig(path)


def filter_grid(w: np.ndarray, pad: int = 1) -> np.ndarray:
    """Tile filters ``(F, C, HH, WW)`` into one image ``(rows*(HH+pad), cols*(WW+pad), C)``.

    Each filter is scaled to [0, 1] on its own (its sign and contrast are what matter);
    C must be 1 or 3. The gaps are left at 1 (white).
    """
    w = np.asarray(w, np.float64)
    if w.ndim != 4 or w.shape[1] not in (1, 3):
        raise ValueError(f"filter_grid: w must be (F, C, HH, WW) with C = 1 or 3; got {w.shape}")
    F, C, HH, WW = w.shape
    cols = math.ceil(math.sqrt(F))
    rows = math.ceil(F / cols)
    grid = np.ones((rows * (HH + pad) - pad, cols * (WW + pad) - pad, C))
    lo = w.min(axis=(1, 2, 3), keepdims=True)
    span = np.maximum(w.max(axis=(1, 2, 3), keepdims=True) - lo, 1e-12)
    scaled = (w - lo) / span
    for f in range(F):
        r, c = divmod(f, cols)
        grid[r * (HH + pad):r * (HH + pad) + HH, c * (WW + pad):c * (WW + pad) + WW] = \
            scaled[f].transpose(1, 2, 0)
    return grid


def plot_filters(w: np.ndarray, path: str, title: str = "first-layer filters") -> None:
    """The filters ``(F, C, HH, WW)`` as a grid of images (grey for C = 1, RGB for C = 3)."""
    grid = filter_grid(w)
    fig = _figure(5, 5)
    ax = fig.add_subplot()
    if grid.shape[2] == 1:
        ax.imshow(grid[:, :, 0], cmap="gray", interpolation="nearest", vmin=0, vmax=1)
    else:
        ax.imshow(grid, interpolation="nearest")
    ax.set_title(f"{title} ({w.shape[2]}x{w.shape[3]})")
    ax.axis("off")
    fig.savefig(path)


def plot_search(results: list[dict], path: str, title: str = "random search") -> None:
    """Learning rate vs regularisation (log axes), each trial coloured by validation accuracy.

    ``results``: dicts with keys lr, reg, val_acc (and hidden, shown as the marker size).
    """
    lr = np.array([r["lr"] for r in results], float)
    reg = np.array([r["reg"] for r in results], float)
    acc = np.array([r["val_acc"] for r in results], float)
    hidden = np.array([r.get("hidden", 1) for r in results], float)
    sizes = 30 + 120 * (hidden - hidden.min()) / max(np.ptp(hidden), 1)
    fig = _figure()
    ax = fig.add_subplot()
    sc = ax.scatter(lr, reg, c=acc, s=sizes, cmap="viridis", edgecolors="k", linewidths=0.5)
    best = int(np.argmax(acc))
    ax.scatter(lr[best], reg[best], s=sizes[best] * 3, facecolors="none", edgecolors="red",
               linewidths=1.5, label=f"best: val {acc[best]:.3f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("regularisation (reg)")
    ax.set_title(f"{title}: {len(results)} trials (marker size: hidden size)")
    ax.legend(loc="best", fontsize=8)
    fig.colorbar(sc, ax=ax, label="validation accuracy")
    fig.savefig(path)


def plot_compare(runs: list[tuple[str, dict]], path: str) -> None:
    """Several runs' curves in one figure: training loss (running mean) and validation
    accuracy, or bits/char for language models, against epochs.

    ``runs``: (label, history) pairs, histories as written by ``layerkit-train``.
    """
    fig = _figure(11, 4.2)
    ax_loss, ax_val = fig.subplots(1, 2)
    lm = any(h.get("val_bpc") for _, h in runs)
    for i, (label, h) in enumerate(runs):
        color = f"C{i % 10}"
        loss = np.asarray(h["loss"], float) / (math.log(2) if lm else 1.0)
        if len(loss):
            ax_loss.plot(h["epoch"], _smooth(loss, _window(h)), color=color, lw=1.5,
                         label=label)
        if lm and h.get("val_bpc"):
            ax_val.plot(h["val_bpc_epoch"], h["val_bpc"], "s-", ms=3, color=color, label=label)
        elif not lm:
            ax_val.plot(h["acc_epoch"], h["val_acc"], "o-", ms=3, color=color, label=label)
    ax_loss.set_ylabel("training loss, bits/char (running mean)" if lm else
                       "training loss (running mean)")
    ax_val.set_ylabel("validation bits per character" if lm else "validation accuracy")
    for ax, what in ((ax_loss, "training loss"), (ax_val, "validation")):
        ax.set_xlabel("epoch")
        ax.set_title(f"{what}, {len(runs)} runs")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    fig.savefig(path)


# --- decision boundaries of 2-D classifiers ----------------------------------------------


def _predict_fn(classifier):
    """A function (M, 2) host points -> (M,) host predicted classes, from a model of the kit
    (``loss(X)`` gives scores; the points go to its params' backend) or any callable
    returning scores (M, C) or labels (M,)."""
    fn = classifier.loss if hasattr(classifier, "loss") else classifier
    params = getattr(classifier, "params", None)
    xp = get_xp(next(iter(params.values()))) if params else np

    def predict(P):
        out = np.asarray(to_numpy(fn(to_xp(P, xp))))
        return out.argmax(axis=1) if out.ndim == 2 else out.astype(np.int64)
    return predict


def decision_grid(classifier, X, resolution: int = 200, margin: float = 0.1,
                  batch: int = 8192):
    """The classifier's predictions on a grid covering the points X (N, 2).

    Returns (xs (R,), ys (R,), classes (R, R)) with classes[i, j] the prediction at
    (xs[j], ys[i]); the grid spans X's range widened by ``margin`` of it on each side,
    and is evaluated in batches of ``batch`` points in X's dtype.
    """
    X = np.asarray(to_numpy(X))
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"decision_grid: X must be (N, 2) points; got {X.shape}")
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = margin * np.maximum(hi - lo, 1e-12)
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    P = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2).astype(X.dtype)  # (R*R, 2)
    predict = _predict_fn(classifier)
    classes = np.concatenate([predict(P[s:s + batch]) for s in range(0, len(P), batch)])
    return xs, ys, classes.reshape(resolution, resolution)


def draw_decision_boundary(ax, classifier, X, y, resolution: int = 200, title=None):
    """Draw the classifier's decision regions (light) and the points X (N, 2) coloured by
    their labels y (N,) on the matplotlib axes ``ax``; misclassified points get a red
    edge. Returns the accuracy on (X, y)."""
    X, y = np.asarray(to_numpy(X)), np.asarray(to_numpy(y))
    xs, ys, grid = decision_grid(classifier, X, resolution)
    C = int(max(grid.max(), y.max())) + 1
    cmap = matplotlib.colormaps["tab10"].resampled(10)
    colors = [cmap(c % 10) for c in range(C)]
    ax.contourf(xs, ys, grid, levels=np.arange(C + 1) - 0.5,
                colors=[matplotlib.colors.to_rgba(c, 0.25) for c in colors])
    ax.contour(xs, ys, grid, levels=np.arange(C) + 0.5, colors="k", linewidths=0.6)
    pred = _predict_fn(classifier)(X)
    wrong = pred != y
    ax.scatter(X[:, 0], X[:, 1], c=[colors[c] for c in y], s=12,
               edgecolors=np.where(wrong[:, None], [[1, 0, 0, 1]], [[0, 0, 0, 0.4]]),
               linewidths=np.where(wrong, 1.5, 0.3))
    acc = float(np.mean(~wrong))
    ax.set_title(f"{title or 'decision boundary'} (accuracy {acc:.3f})", fontsize=10)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    return acc


def plot_decision_boundary(classifier, X, y, path: str, title: str = "decision boundary",
                           resolution: int = 200) -> float:
    """Save a picture of a trained 2-D classifier's decision regions with the points
    X (N, 2) and labels y (N,) (see ``draw_decision_boundary``); returns the accuracy.

    ``classifier``: a net of the kit (its ``loss(X)`` gives scores) or any function of
    (M, 2) points returning scores (M, C) or labels (M,).
    """
    fig = _figure(5, 5)
    acc = draw_decision_boundary(fig.add_subplot(), classifier, X, y, resolution, title)
    fig.savefig(path)
    return acc


def plot_transfer(pretrain: dict, finetune: dict, path: str, baseline: float | None = None,
                  title: str = "pretraining and fine-tuning") -> None:
    """Both learning curves of a transfer experiment on one figure: left, the pretraining
    loss per step (``pretrain``, a history dict) with ``baseline`` (e.g. the unigram
    model's nats per token) as a line; right, the validation accuracy per epoch of each
    fine-tuning run (``finetune``: label -> history dict)."""
    fig = _figure(11.0, 4.0)
    left, right = fig.subplots(1, 2)
    loss = np.asarray(pretrain["loss"], float)
    epoch = np.asarray(pretrain["epoch"], float)
    left.plot(epoch, loss, color="tab:blue", alpha=0.25, lw=0.8)
    left.plot(epoch, _smooth(loss, 20), color="tab:blue", lw=2, label="masked-LM loss")
    if baseline is not None:
        left.axhline(baseline, color="tab:gray", ls="--", lw=1,
                     label=f"unigram baseline {baseline:.2f}")
    left.set_xlabel("pretraining epoch")
    left.set_ylabel("loss (nats per masked token)")
    left.set_title("pretraining")
    left.grid(alpha=0.3)
    left.legend(loc="upper right", fontsize=8)
    for label, h in finetune.items():
        right.plot(h["acc_epoch"], h["val_acc"], "o-", ms=2.5, lw=1.2, label=label)
    right.set_xlabel("fine-tuning epoch")
    right.set_ylabel("validation accuracy")
    right.set_ylim(0, 1.0)
    right.set_title("fine-tuning")
    right.grid(alpha=0.3)
    right.legend(loc="lower right", fontsize=8)
    fig.suptitle(title)
    fig.savefig(path)
