"""Train a FullyConnectedNet on the built-in digits with the Solver, then plot the run.

    python examples/train_fc.py            (after: pip install -e .)

Takes about a second on a laptop; writes fc_loss.png and fc_accuracy.png beside you.
"""

import numpy as np

from layerkit.data import get_data
from layerkit.plots import plot_accuracy, plot_loss
from nets import FullyConnectedNet
from optim import Solver, history_dict

# 1297 / 250 / 250 images of 8x8 pixels, the training mean subtracted from every split
data = get_data("digits", seed=0)
print({k: v.shape for k, v in data.items()})

model = FullyConnectedNet([100, 100], input_dim=64, num_classes=10, reg=1e-3,
                          weight_scale=0.1, dtype=np.float32, seed=0)
solver = Solver(model, data,
                update_rule="adam", optim_config={"learning_rate": 2e-3}, lr_decay=0.95,
                num_epochs=30, batch_size=50, print_every=0, seed=0)
solver.train()  # leaves the best-validation params in model.params

test_acc = solver.check_accuracy(data["X_test"], data["y_test"])
print(f"best val accuracy {solver.best_val_acc:.3f}, test accuracy {test_acc:.3f}")

history = history_dict(solver)
plot_loss(history, "fc_loss.png")
plot_accuracy(history, "fc_accuracy.png")
