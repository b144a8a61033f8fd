"""A small convnet written the PyTorch way, ``Sequential(...)`` of modules trained with
``optim.Adam``, on the 8x8 digits that scikit-learn ships (or MNIST from local files).

    python examples/modules_convnet.py                        # digits, ~10 s on 2 cores
    python examples/modules_convnet.py --data mnist --data-dir ~/mnist --epochs 3

Every module's forward is one of the kit's hand-written layer pairs, lifted by
``nets.autograd.apply``; the loop is the PyTorch one (zero_grad, forward, loss, backward,
step). Prints the validation accuracy per epoch and the test accuracy of the best epoch.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from layerkit.data import get_data  # noqa: E402
from nets.autograd import no_grad  # noqa: E402
from nets.modules import (BatchNorm2d, Conv2d, Dropout, Flatten, Linear,  # noqa: E402
                          MaxPool2d, ReLU, Sequential, cross_entropy, manual_seed)
from optim import Adam  # noqa: E402


def convnet(C: int, H: int, W: int, classes: int = 10, width: int = 32) -> Sequential:
    """[conv3x3-batchnorm-relu-pool] x 2, then a 128-unit hidden layer with dropout."""
    return Sequential(
        Conv2d(C, width, 3, padding=1), BatchNorm2d(width), ReLU(), MaxPool2d(2),
        Conv2d(width, 2 * width, 3, padding=1), BatchNorm2d(2 * width), ReLU(),
        MaxPool2d(2),                                                    # (N, 2w, H/4, W/4)
        Flatten(),
        Linear(2 * width * (H // 4) * (W // 4), 128), ReLU(), Dropout(0.3),
        Linear(128, classes))


def accuracy(model, X, y, batch: int = 500) -> float:
    model.eval()
    with no_grad():
        pred = np.concatenate([model(X[i:i + batch]).data.argmax(axis=1)
                               for i in range(0, len(X), batch)])
    model.train()
    return float((pred == y).mean())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", choices=("digits", "mnist"), default="digits")
    p.add_argument("--data-dir", default=None, help="folder of the MNIST IDX files")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    if a.data == "mnist" and a.data_dir is None:
        p.error("--data mnist reads local IDX files: give --data-dir")
    data = get_data(a.data, a.data_dir, seed=a.seed)
    X, y = data["X_train"], data["y_train"]
    manual_seed(a.seed)
    model = convnet(*X.shape[1:])
    opt = Adam(model.parameters(), lr=a.lr)
    rng = np.random.default_rng(a.seed)
    best, best_state = -1.0, None
    for epoch in range(1, a.epochs + 1):
        order = rng.permutation(len(y))
        for i in range(0, len(y), a.batch_size):
            idx = order[i:i + a.batch_size]
            opt.zero_grad()
            loss = cross_entropy(model(X[idx]), y[idx])
            loss.backward()
            opt.step()
        opt.param_groups[0]["lr"] *= 0.9
        val = accuracy(model, data["X_val"], data["y_val"])
        print(f"epoch {epoch}: loss {loss.item():.4f}, val accuracy {val:.3f}")
        if val > best:
            best, best_state = val, dict(model.state_dict())
    model.load_state_dict(best_state)
    test = accuracy(model, data["X_test"], data["y_test"])
    print(f"best val accuracy {best:.3f}, test accuracy {test:.3f} ({a.data})")
    return 0


if __name__ == "__main__":
    with threadpool_limits(limits=1, user_api="blas"):  # small batches: threads only cost
        sys.exit(main())
