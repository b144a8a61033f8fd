"""The first thing to train: a small fully connected net on toy 2-D data (spiral, moons,
circles, XOR, generated in code), about a second each, and a picture of what it learnt.

    python examples/toy_2d.py [--data spiral moons circles xor] [--out runs/examples/toy_2d]

For each data set: a FullyConnectedNet (two hidden layers of 64) trained by the Solver
with Adam, its validation accuracy printed, and ``<data>.png``: the decision regions with
the validation points (misclassified ones edged in red). ``all.png`` puts them side by
side. The same data train from the command line: ``layerkit-train --data spiral``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from layerkit.data import TOY_DATASETS, get_data  # noqa: E402
from layerkit.plots import draw_decision_boundary, plot_decision_boundary  # noqa: E402
from nets import FullyConnectedNet  # noqa: E402
from optim import Solver  # noqa: E402


def train_toy(name: str, epochs: int = 60, hidden=(64, 64), seed: int = 0, n=None):
    """A FullyConnectedNet trained on the toy set ``name``; returns (model, data, seconds).

    The data are not centred (the generators centre them already), so the points plot
    in their own coordinates."""
    kw = {} if n is None else {"num_val": n // 5, "num_test": n // 5}
    data = get_data(name, seed=seed, center=False, **kw)
    if n is not None:  # a smaller training set for quick runs
        data["X_train"], data["y_train"] = data["X_train"][:n], data["y_train"][:n]
    classes = int(data["y_train"].max()) + 1
    model = FullyConnectedNet(list(hidden), input_dim=2, num_classes=classes,
                              weight_scale=0.5, reg=1e-4, seed=seed)
    start = time.perf_counter()
    with threadpool_limits(limits=1, user_api="blas"):  # tiny GEMMs: 1 thread is faster
        Solver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-2},
               lr_decay=0.97, batch_size=32, num_epochs=epochs, seed=seed,
               verbose=False).train()
    return model, data, time.perf_counter() - start


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="+", choices=TOY_DATASETS, default=list(TOY_DATASETS))
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0, help="data, weights, minibatches")
    ap.add_argument("--out", default="runs/examples/toy_2d", help="folder for the PNGs")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    fig, axes = plt.subplots(1, len(args.data), figsize=(4 * len(args.data), 4.2),
                             squeeze=False)
    for ax, name in zip(axes[0], args.data):
        model, data, seconds = train_toy(name, args.epochs, seed=args.seed)
        acc = plot_decision_boundary(model, data["X_val"], data["y_val"],
                                     os.path.join(args.out, f"{name}.png"), title=name)
        draw_decision_boundary(ax, model, data["X_val"], data["y_val"], title=name)
        print(f"{name:8s} validation accuracy {acc:.3f} ({len(data['y_train'])} training "
              f"points, {args.epochs} epochs, {seconds:.1f} s)")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "all.png"), dpi=80)
    plt.close(fig)
    print(f"wrote {args.out}/{{{','.join(args.data)},all}}.png")


if __name__ == "__main__":
    main()
