"""Write your own net from layer functions, gradient-check it, then train it.

    python examples/custom_net_gradcheck.py

A net is just ``params`` (a dict of arrays) and ``loss(X, y=None)``; the Solver and the
gradient checker need nothing else.
"""

import numpy as np

from gradcheck import check_net
from layerkit.data import get_data
from layers import (affine_backward, affine_forward, relu_backward, relu_forward,
                    softmax_loss)
from optim import Solver


class TwoLayerSkipNet:
    """affine - relu - affine, plus a linear "skip" path from the input to the scores.

    scores = relu(X W1 + b1) W2 + b2 + X Ws;  L2 on W1, W2 and Ws.
    """

    def __init__(self, input_dim, hidden_dim, num_classes, reg=0.0, seed=0,
                 dtype=np.float32):
        rng = np.random.default_rng(seed)
        self.reg = reg
        self.params = {
            "W1": (np.sqrt(2 / input_dim) * rng.standard_normal((input_dim, hidden_dim))),
            "b1": np.zeros(hidden_dim),
            "W2": (np.sqrt(1 / hidden_dim) * rng.standard_normal((hidden_dim, num_classes))),
            "b2": np.zeros(num_classes),
            "Ws": 0.01 * rng.standard_normal((input_dim, num_classes)),
        }
        self.params = {k: v.astype(dtype) for k, v in self.params.items()}

    def loss(self, X, y=None):
        p = self.params
        a, c1 = affine_forward(X, p["W1"], p["b1"])          # (N, H)
        h, c2 = relu_forward(a)                              # (N, H)
        s, c3 = affine_forward(h, p["W2"], p["b2"])          # (N, C)
        zero = np.zeros(p["Ws"].shape[1], p["Ws"].dtype)
        skip, c4 = affine_forward(X, p["Ws"], zero)          # (N, C)
        scores = s + skip
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        dh, dW2, db2 = affine_backward(dscores, c3)
        _, dW1, db1 = affine_backward(relu_backward(dh, c2), c1)
        _, dWs, _ = affine_backward(dscores, c4)
        grads = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "Ws": dWs}
        for w in ("W1", "W2", "Ws"):
            loss = loss + 0.5 * self.reg * (p[w] * p[w]).sum()
            grads[w] = grads[w] + self.reg * p[w]
        return loss, grads


# 1) gradient check on a few random examples, in float64 (check_net upcasts by itself)
rng = np.random.default_rng(1)
X = rng.standard_normal((5, 6))
y = rng.integers(0, 3, 5)
small = TwoLayerSkipNet(6, 7, 3, reg=0.1, dtype=np.float64)
report = check_net(small, X, y)  # raises GradientCheckError naming the worst entry if wrong
print(report)

# 2) train it on the digits
data = get_data("digits")
model = TwoLayerSkipNet(64, 64, 10, reg=1e-3)
solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 2e-3},
                num_epochs=10, batch_size=50, print_every=0, seed=0)
solver.train()
print(f"best val accuracy {solver.best_val_acc:.3f}")
