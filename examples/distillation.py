"""Knowledge distillation on the built-in digits (Hinton et al. 2015).

    python examples/distillation.py      # ~30 s on 2 cores: teacher 1.000, student
                                         # alone 0.979, distilled 0.993 (4-seed means)

1. A big teacher: ThreeLayerConvNet (32 filters, 256 hidden units, 134 k params), trained
   on the training images and their copies shifted by one pixel (the "jitter" of Hinton
   et al.'s MNIST teacher): knowledge the labels of the plain images do not hold.
2. A small student (an MLP with one hidden layer of 128, 9.6 k params) trained on the
   plain training images and their labels alone.
3. The same student (same size, initial weights, epochs, batches, optimizer and seeds)
   trained on the same images with the labels and the teacher's scores softened at
   temperature T: ``nets.DistilledNet``, loss = alpha * CE + (1 - alpha) * T^2 KL.

Prints the three test accuracies (250 test images); the students' are means over
``--seeds`` seeds, since single runs of a small net on 250 images move by a point.
"""

import argparse
import time

import numpy as np

from layerkit.data import get_data
from layerkit.train import blas_threads
from nets import DistilledNet, ThreeLayerConvNet
from optim import Solver


def shifted(X, dy, dx):
    """Images (N, C, H, W) moved by (dy, dx) pixels, the background (0 after mean
    subtraction) filling in."""
    out = np.zeros_like(X)
    H, W = X.shape[-2:]
    out[..., max(dy, 0):H + min(dy, 0), max(dx, 0):W + min(dx, 0)] = \
        X[..., max(-dy, 0):H + min(-dy, 0), max(-dx, 0):W + min(-dx, 0)]
    return out


def jittered(data):
    """The training split plus its four one-pixel shifts (5x the images)."""
    moves = [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)]
    X = np.concatenate([shifted(data["X_train"], dy, dx) for dy, dx in moves])
    return {**data, "X_train": X, "y_train": np.tile(data["y_train"], len(moves))}


def train(model, data, seed, **kw):
    """Adam, keeping the final params (not the best-validation ones: on 250 validation
    images an early, half-trained epoch often ties the best and would be picked by noise).
    Returns the test accuracy."""
    solver = Solver(model, data, update_rule="adam", print_every=0, verbose=False, seed=seed,
                    restore_best=False, **kw)
    solver.train()
    return solver.check_accuracy(data["X_test"], data["y_test"])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--student-hidden", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=40, help="student epochs")
    ap.add_argument("--teacher-epochs", type=int, default=10)
    ap.add_argument("--T", type=float, default=8.0, help="distillation temperature")
    ap.add_argument("--alpha", type=float, default=0.1, help="weight of the label loss")
    ap.add_argument("--seeds", type=int, default=4, help="student seeds to average over")
    ap.add_argument("--seed", type=int, default=0, help="data split and teacher seed")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    data = get_data("digits", seed=args.seed)  # 1297 / 250 / 250 images of 8x8
    D = int(np.prod(data["X_train"].shape[1:]))

    teacher = ThreeLayerConvNet(input_dim=data["X_train"].shape[1:], num_filters=32,
                                filter_size=3, hidden_dim=256, num_classes=10,
                                weight_scale=0.05, reg=1e-4, seed=args.seed)
    teacher_acc = train(teacher, jittered(data), args.seed, num_epochs=args.teacher_epochs,
                        batch_size=32, optim_config={"learning_rate": 5e-3}, lr_decay=0.8)

    accs = {"alone": [], "distilled": []}
    for s in range(100, 100 + args.seeds):
        for name, t in (("alone", None), ("distilled", teacher)):
            student = DistilledNet([args.student_hidden], input_dim=D, num_classes=10,
                                   teacher=t, T=args.T, alpha=args.alpha, weight_scale=0.1,
                                   seed=s)
            accs[name].append(train(student, data, s, num_epochs=args.epochs, batch_size=50,
                                    optim_config={"learning_rate": 5e-3}, lr_decay=0.97))
    n_teacher = sum(p.size for p in teacher.params.values())
    n_student = sum(p.size for p in student.params.values())
    print(f"teacher            (conv, {n_teacher} params):  test accuracy {teacher_acc:.3f}")
    for name in ("alone", "distilled"):
        a = np.array(accs[name])
        print(f"student {name:<10} ({n_student} params): test accuracy {a.mean():.3f} "
              f"(mean of {len(a)} seeds: {' '.join(f'{x:.3f}' for x in a)})")
    print(f"T = {args.T}, alpha = {args.alpha}; {time.perf_counter() - t0:.0f} s")
    return teacher_acc, accs


if __name__ == "__main__":
    with blas_threads(1):  # small matrices: one BLAS thread is fastest, and on a busy
        main()             # machine spinning BLAS threads cost 7x here
