"""Small models that keep the CS231n contract, for testing optim and the Solver without nets.

Each has ``params`` and ``loss(X, y=None)`` (scores without labels, ``(loss, grads)`` with
them) and reads ``params`` at every call. ``xp`` puts the params on a backend (the same
numbers on each: drawn on the host); ``blobs`` is host data, as a dataset on disk is.
"""

import math

import numpy as np

from layers import (affine_backward, affine_forward, relu_backward, relu_forward,
                    softmax_loss)
from layers.backend import to_xp


class SoftmaxRegression:
    """scores = X W + b; loss = softmax + 0.5 reg |W|^2."""

    def __init__(self, input_dim, num_classes, reg=0.0, dtype=np.float64, seed=0, xp=np):
        rng = np.random.default_rng(seed)
        self.reg = reg
        self.params = to_xp({
            "W": (1e-2 * rng.standard_normal((input_dim, num_classes))).astype(dtype),
            "b": np.zeros(num_classes, dtype),
        }, xp)  # drawn on the host: the same weights on every backend

    def loss(self, X, y=None):
        scores, cache = affine_forward(X, self.params["W"], self.params["b"])
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        _, dW, db = affine_backward(dscores, cache)
        W = self.params["W"]
        return loss + 0.5 * self.reg * (W * W).sum(), {"W": dW + self.reg * W, "b": db}


class TinyMLP:
    """affine - relu - affine - softmax, with L2 on the weights."""

    def __init__(self, input_dim, hidden_dim, num_classes, reg=0.0, dtype=np.float64,
                 seed=0, weight_scale=None, xp=np):
        rng = np.random.default_rng(seed)
        s1 = weight_scale or np.sqrt(2.0 / input_dim)
        s2 = weight_scale or np.sqrt(2.0 / hidden_dim)
        self.reg = reg
        self.params = to_xp({
            "W1": (s1 * rng.standard_normal((input_dim, hidden_dim))).astype(dtype),
            "b1": np.zeros(hidden_dim, dtype),
            "W2": (s2 * rng.standard_normal((hidden_dim, num_classes))).astype(dtype),
            "b2": np.zeros(num_classes, dtype),
        }, xp)

    def loss(self, X, y=None):
        p = self.params
        a, c1 = affine_forward(X, p["W1"], p["b1"])
        h, c2 = relu_forward(a)
        scores, c3 = affine_forward(h, p["W2"], p["b2"])
        if y is None:
            return scores
        loss, ds = softmax_loss(scores, y)
        dh, dW2, db2 = affine_backward(ds, c3)
        _, dW1, db1 = affine_backward(relu_backward(dh, c2), c1)
        loss = loss + 0.5 * self.reg * ((p["W1"] ** 2).sum() + (p["W2"] ** 2).sum())
        return loss, {"W1": dW1 + self.reg * p["W1"], "b1": db1,
                      "W2": dW2 + self.reg * p["W2"], "b2": db2}


def blobs(n=200, d=5, classes=3, seed=0, dtype=np.float64):
    """Gaussian clusters: an easy, fast classification set split into train/val."""
    rng = np.random.default_rng(seed)
    centers = 3.0 * rng.standard_normal((classes, d))
    y = rng.integers(0, classes, n)
    X = (centers[y] + rng.standard_normal((n, d))).astype(dtype)
    k = n * 3 // 4
    return {"X_train": X[:k], "y_train": y[:k], "X_val": X[k:], "y_val": y[k:]}


class Poison:
    """``model`` (any backend) whose loss turns inf, or the gradient ``what`` nan, at
    training call ``at_call`` (calls without labels are not counted)."""

    def __init__(self, model, at_call, what):
        self.model, self.at_call, self.what, self.calls = model, at_call, what, 0
        self.params = model.params  # the same dict: the Solver updates it in place

    def loss(self, X, y=None):
        out = self.model.loss(X, y)
        if y is None:
            return out
        self.calls += 1
        loss, grads = out
        if self.calls == self.at_call:
            if self.what == "loss":
                loss = loss * math.inf
            else:
                grads = dict(grads)
                g = grads[self.what].copy()
                g[0] = math.nan
                grads[self.what] = g
        return loss, grads
