"""Host syncs per Solver step on a device, counted on the CuPy stand-in (no GPU needed).

    python -m benchmarks.solver_syncs

A FullyConnectedNet on 200 random examples, batch 10, one epoch (20 steps), Adam,
print_every=10, with and without grad_clip. Counts are exact (not timings): every read of
a device value back to the host (float(), int(), bool(), .get(), .item()) outside
Solver.check_accuracy, besides the one scan of the params when train() starts.
"""

import numpy as np

from nets import FullyConnectedNet
from optim import Solver
from tests import fake_cupy
from tests.test_solver_device import train_syncs


def main():
    fake_cupy.install()  # `cupy` is the stand-in from here on (this process only)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 20)).astype(np.float32)
    y = rng.integers(0, 5, 200)
    data = {"X_train": X, "y_train": y, "X_val": X[:50], "y_val": y[:50]}
    for clip in (None, 1.0):
        model = FullyConnectedNet([16], input_dim=20, num_classes=5, seed=0).to("cupy")
        s = Solver(model, data, update_rule="adam", batch_size=10, num_epochs=1,
                   print_every=10, verbose=False, seed=0, grad_clip=clip,
                   num_train_samples=50)
        syncs, in_acc, steps = train_syncs(s)
        print(f"grad_clip={clip}: {steps} steps, print_every=10: {syncs} syncs "
              f"({syncs / steps:.2f} per step) outside check_accuracy; {in_acc} in its "
              "4 calls")


if __name__ == "__main__":
    main()
