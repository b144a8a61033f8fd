"""Host syncs and host-to-device transfers per Solver step on a device, counted on the CuPy
stand-in (no GPU needed).

    python -m benchmarks.solver_syncs

Each net of tests/test_solver_device.py's NETS (small: 200 examples, batch 10, 20 steps an
epoch, Adam, grad_clip 5, print_every 5) trains two epochs. Counts are exact (not
timings). Syncs: every read of a device value back to the host (float(), int(), bool(),
.get(), .item()) outside Solver.check_accuracy, besides the one scan of the params when
train() starts; "in acc": those in its calls (after step 1 and each epoch: 3 calls of
train and val each). Moved: host arrays sent to the device (asarray of host data, a host
index array) in epoch 1 (when the data move) and epoch 2.
"""

from tests import fake_cupy
from tests.test_solver_device import NETS, _net_solver, train_syncs


def main():
    fake_cupy.install()  # `cupy` is the stand-in from here on (this process only)
    print(f"{'net':26} {'steps':>5} {'syncs/step':>10} {'in acc':>6} {'moved: epoch 1':>14} "
          f"{'epoch 2':>7}")
    for name in sorted(NETS):
        s = _net_solver(name, num_epochs=2)
        syncs = in_acc = 0
        moved = []
        for _ in range(2):
            a, b, _ = train_syncs(s, max_epochs=1)
            syncs, in_acc = syncs + a, in_acc + b
            moved.append(fake_cupy.to_device())
        print(f"{name:26} {s.iteration:5d} {syncs / s.iteration:10.2f} {in_acc:6d} "
              f"{moved[0]:14d} {moved[1]:7d}")


if __name__ == "__main__":
    main()
