"""Sanity check before a long run: a net that cannot overfit 50 examples has a bug.

    python examples/overfit_small.py

With no regularisation and enough capacity the training accuracy must reach 100 %; the
validation accuracy stays low (50 examples say little about the rest). If the training
accuracy stalls, suspect the backward (gradient-check it), the learning rate or the init.
"""

from layerkit.data import get_data
from nets import FullyConnectedNet
from optim import Solver

data = get_data("digits")
small = {"X_train": data["X_train"][:50], "y_train": data["y_train"][:50],
         "X_val": data["X_val"], "y_val": data["y_val"]}

model = FullyConnectedNet([100, 100], input_dim=64, num_classes=10, weight_scale=0.1, seed=0)
solver = Solver(model, small, update_rule="adam", optim_config={"learning_rate": 5e-3},
                num_epochs=40, batch_size=25, print_every=0, seed=0, verbose=False)
solver.train()

train_acc = solver.train_acc_history[-1]
print(f"train accuracy {train_acc:.2f} after {solver.num_epochs} epochs "
      f"(val {solver.val_acc_history[-1]:.2f}); final loss {solver.loss_history[-1]:.4f}")
assert train_acc == 1.0, "could not overfit 50 examples: check the backward and the rate"
