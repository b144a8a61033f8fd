"""Fully connected classifiers with a softmax loss: TwoLayerNet and FullyConnectedNet.

Both compute in the dtype of their params (TwoLayerNet float64 and FullyConnectedNet
float32 unless asked otherwise, as CS231n; float64 while ``gradcheck.check_net`` swaps in
float64 copies), reading ``model.params`` and ``model.reg`` at every call. New weights
are made on ``layers.backend.get_backend()`` from a numpy Generator seeded by an integer
``seed`` (the same weights on numpy and cupy), or with ``seed=None`` from numpy's global
random state in CS231n's order (W1, W2, ...), so ``np.random.seed(231)`` fixes them as
it does in the CS231n notebooks.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

from layers import (affine_backward, affine_bn_relu_backward, affine_bn_relu_forward,
                    affine_forward, affine_ln_relu_backward, affine_ln_relu_forward,
                    affine_relu_backward, affine_relu_forward, dropout_backward,
                    dropout_forward, softmax_loss)
from layers.backend import get_backend, random_normal, seeded_or_global_rng

from .base import Model

__all__ = ["TwoLayerNet", "FullyConnectedNet"]


def _positive_int(cls: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{cls}: {name} must be a positive integer; got {value!r}")
    return int(value)


class TwoLayerNet(Model):
    """affine - relu - affine - softmax, with L2 regularisation on the two weights.

    Params: W1 (D, H), b1 (H,), W2 (H, C), b2 (C,); weights drawn from
    N(0, weight_scale^2), biases zero. Computes in float64 by default, as CS231n's.
    """

    def __init__(self, input_dim=3 * 32 * 32, hidden_dim=100, num_classes=10,
                 weight_scale=1e-3, reg=0.0, dtype=np.float64, seed=None):
        super().__init__(dtype)
        name = type(self).__name__
        D = _positive_int(name, "input_dim", input_dim)
        H = _positive_int(name, "hidden_dim", hidden_dim)
        C = _positive_int(name, "num_classes", num_classes)
        self.reg = reg
        rng = seeded_or_global_rng(seed)  # None: np.random's global state, as CS231n
        xp = get_backend()
        self.params["W1"] = random_normal(rng, (D, H), self.dtype, xp, scale=weight_scale)
        self.params["b1"] = xp.zeros(H, dtype=self.dtype)
        self.params["W2"] = random_normal(rng, (H, C), self.dtype, xp, scale=weight_scale)
        self.params["b2"] = xp.zeros(C, dtype=self.dtype)

    def loss(self, X, y=None):
        """Scores for X, or the loss and its gradients.

        Inputs:
        - X: (N, d_1, ..., d_k) with d_1 * ... * d_k = D
        - y: (N,) integer labels in [0, C), or None

        Returns:
        - y None: scores (N, C)
        - else a tuple (loss, grads): the mean softmax loss plus 0.5 * reg * sum(W ** 2),
          and grads, a dict keyed like params
        """
        p = self.params
        X = self._input(X)
        h, cache1 = affine_relu_forward(X, p["W1"], p["b1"])  # (N, H)
        scores, cache2 = affine_forward(h, p["W2"], p["b2"])  # (N, C)
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        grads = {}
        dh, grads["W2"], grads["b2"] = affine_backward(dscores, cache2)
        _, grads["W1"], grads["b1"] = affine_relu_backward(dh, cache1)
        loss = self.regularize(loss, grads)
        return loss, grads


class FullyConnectedNet(Model):
    """{affine - [batch/layer norm] - relu - [dropout]} x (L - 1) - affine - softmax.

    Params: W1..WL, b1..bL; with a normalization also gamma1..gamma(L-1) (ones) and
    beta1..beta(L-1) (zeros). Weights are drawn from N(0, weight_scale^2), biases zero.

    Dropout keeps each hidden unit with probability ``dropout_keep_ratio`` (1: no
    dropout); ``dropout`` is its 2018-2020 CS231n name (also a keep probability).
    Without a seed, weights and masks come from numpy's global random state, as CS231n.
    With a ``seed``, the masks are fixed too, as in CS231n: every ``loss``
    call draws the same masks (layer i uses seed ``dropout_param['seed'] + i``), which
    makes a dropout net gradient-checkable. To train with fresh masks from a reproducible
    stream, set ``net.dropout_param['seed']`` to a numpy Generator (or delete it for fresh
    entropy at every call).

    State besides params: ``bn_params`` (one dict per hidden layer; batchnorm's running
    statistics) and ``dropout_param``. ``loss(X)`` (no labels) runs in test mode:
    running statistics, no dropout.
    """

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10,
                 dropout_keep_ratio=1, normalization=None, reg=0.0, weight_scale=1e-2,
                 dtype=np.float32, seed=None, dropout=None):
        super().__init__(dtype)
        name = type(self).__name__
        if dropout is not None:  # the CS231n 2018-2020 keyword, a keep probability
            if dropout_keep_ratio != 1 and dropout_keep_ratio != dropout:
                raise ValueError(f"{name}: dropout is another name for dropout_keep_ratio; "
                                 f"got both ({dropout!r} and {dropout_keep_ratio!r})")
            dropout_keep_ratio = dropout
        try:
            hidden = [_positive_int(name, "hidden_dims[%d]" % i, h)
                      for i, h in enumerate(hidden_dims)]
        except TypeError:
            raise TypeError(f"{name}: hidden_dims must be a list of positive integers; "
                            f"got {hidden_dims!r}") from None
        dims = [_positive_int(name, "input_dim", input_dim), *hidden,
                _positive_int(name, "num_classes", num_classes)]
        if normalization not in (None, "batchnorm", "layernorm"):
            raise ValueError(f"{name}: normalization must be one of (None, 'batchnorm', "
                             f"'layernorm'); got {normalization!r}")
        keep = dropout_keep_ratio
        if isinstance(keep, bool) or not isinstance(keep, Real) or not 0 < keep <= 1:
            what = "dropout" if dropout is not None else "dropout_keep_ratio"
            raise ValueError(f"{name}: {what} is a keep probability and must "
                             f"be in (0, 1]; got {keep!r}")
        self.normalization = normalization
        self.use_dropout = keep != 1
        self.reg = reg
        self.num_layers = len(dims) - 1

        rng = seeded_or_global_rng(seed)  # None: np.random's global state, as CS231n
        xp = get_backend()
        for i in range(1, self.num_layers + 1):
            d_in, d_out = dims[i - 1], dims[i]
            self.params[f"W{i}"] = random_normal(rng, (d_in, d_out), self.dtype, xp,
                                                 scale=weight_scale)
            self.params[f"b{i}"] = xp.zeros(d_out, dtype=self.dtype)
            if normalization is not None and i < self.num_layers:
                self.params[f"gamma{i}"] = xp.ones(d_out, dtype=self.dtype)
                self.params[f"beta{i}"] = xp.zeros(d_out, dtype=self.dtype)

        self.dropout_param: dict = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": float(keep)}
            if seed is not None:  # fixed masks, derived from the same seed as the weights
                self.dropout_param["seed"] = int(rng.integers(2**32))
        hidden_layers = self.num_layers - 1
        if normalization == "batchnorm":
            self.bn_params = [{"mode": "train"} for _ in range(hidden_layers)]
        else:  # layernorm has no mode or state; CS231n keeps empty dicts here too
            self.bn_params = [{} for _ in range(hidden_layers)]

    def state_dicts(self) -> list[dict]:
        return list(self.bn_params)

    def _dropout_param(self, i: int, mode: str) -> dict:
        """Layer i's dropout dict: the net's, with the layer's own seed."""
        param = {**self.dropout_param, "mode": mode}
        seed = param.get("seed")
        if isinstance(seed, Integral) and not isinstance(seed, bool):
            param["seed"] = int(seed) + i  # distinct masks per layer, fixed per call
        return param

    def loss(self, X, y=None):
        """Scores for X (test mode), or the loss and its gradients (train mode).

        Inputs:
        - X: (N, d_1, ..., d_k) with d_1 * ... * d_k = input_dim
        - y: (N,) integer labels in [0, C), or None

        Returns:
        - y None: scores (N, C), computed in test mode
        - else a tuple (loss, grads): the mean softmax loss plus 0.5 * reg * sum(W ** 2)
          over W1..WL, and grads, a dict keyed like params
        """
        p = self.params
        L = self.num_layers
        mode = "test" if y is None else "train"
        h = self._input(X)
        caches = []
        for i in range(1, L):
            W, b = p[f"W{i}"], p[f"b{i}"]
            if self.normalization == "batchnorm":
                self.bn_params[i - 1]["mode"] = mode
                h, cache = affine_bn_relu_forward(h, W, b, p[f"gamma{i}"], p[f"beta{i}"],
                                                  self.bn_params[i - 1])
            elif self.normalization == "layernorm":
                h, cache = affine_ln_relu_forward(h, W, b, p[f"gamma{i}"], p[f"beta{i}"],
                                                  self.bn_params[i - 1])
            else:
                h, cache = affine_relu_forward(h, W, b)
            drop_cache = None
            if self.use_dropout:
                h, drop_cache = dropout_forward(h, self._dropout_param(i, mode))
            caches.append((cache, drop_cache))
        scores, last_cache = affine_forward(h, p[f"W{L}"], p[f"b{L}"])  # (N, C)
        if y is None:
            return scores

        loss, dscores = softmax_loss(scores, y)
        grads = {}
        dh, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dscores, last_cache)
        for i in range(L - 1, 0, -1):
            cache, drop_cache = caches[i - 1]
            if drop_cache is not None:
                dh = dropout_backward(dh, drop_cache)
            if self.normalization == "batchnorm":
                dh, dW, db, dgamma, dbeta = affine_bn_relu_backward(dh, cache)
            elif self.normalization == "layernorm":
                dh, dW, db, dgamma, dbeta = affine_ln_relu_backward(dh, cache)
            else:
                dh, dW, db = affine_relu_backward(dh, cache)
            grads[f"W{i}"], grads[f"b{i}"] = dW, db
            if self.normalization is not None:
                grads[f"gamma{i}"], grads[f"beta{i}"] = dgamma, dbeta
        loss = self.regularize(loss, grads)
        return loss, grads
