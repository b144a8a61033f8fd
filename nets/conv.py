"""Convolutional nets: CS231n's ThreeLayerConvNet and a small residual net.

Both follow the model contract: ``params`` (a dict of arrays, read by reference at every
call), ``dtype`` and ``reg`` read at call time, and ``loss(X, y=None)`` returning scores,
or ``(loss, grads)`` with grads keyed like params. The L2 term 0.5 * reg * sum(W^2)
covers the weights only (not biases, gamma or beta). New arrays are made on the chosen
backend (``layers.backend``); a loss call runs on whatever backend its inputs live on.
"""

from __future__ import annotations

import math

import numpy as np

from layers import backend
from layers.conv import conv_backward_fast, conv_forward_fast, conv_output_shape
from layers.conv_sandwich import (conv_bn_relu_backward, conv_bn_relu_forward,
                                  conv_relu_pool_backward, conv_relu_pool_forward)
from layers.core import affine_backward, affine_forward, relu_backward, relu_forward
from layers.losses import softmax_loss
from layers.pool import global_avg_pool_backward, global_avg_pool_forward
from layers.spatial_norm import spatial_batchnorm_backward, spatial_batchnorm_forward

from .base import Model

__all__ = ["ThreeLayerConvNet", "ResidualConvNet"]


def _labels_or_scores(fn: str, X, input_dim):
    if not backend.is_array(X) or X.ndim != 4 or tuple(X.shape[1:]) != tuple(input_dim):
        got = tuple(X.shape) if backend.is_array(X) else type(X).__name__
        C, H, W = input_dim
        raise ValueError(f"{fn}: X must have shape (N, {C}, {H}, {W}) (the net's "
                         f"input_dim); got {got}")


class ThreeLayerConvNet(Model):
    """conv - relu - 2x2 max pool - affine - relu - affine - softmax (CS231n).

    The conv keeps the spatial size (stride 1, pad (filter_size - 1) // 2, so an odd
    filter_size); the pool halves it.

    Params:
    - W1 (F, C, filter_size, filter_size), b1 (F,)
    - W2 (F * H/2 * W/2, hidden_dim), b2 (hidden_dim,)
    - W3 (hidden_dim, num_classes), b3 (num_classes,)
    """

    def __init__(self, input_dim=(3, 32, 32), num_filters=32, filter_size=7, hidden_dim=100,
                 num_classes=10, weight_scale=1e-3, reg=0.0, dtype=np.float32, seed=None):
        super().__init__(dtype)
        dtype = self.dtype
        C, H, W = input_dim
        self.input_dim = (C, H, W)
        self.reg = reg
        self.conv_param = {"stride": 1, "pad": (filter_size - 1) // 2}
        self.pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
        fn = "ThreeLayerConvNet"
        OH, OW = conv_output_shape(H, W, filter_size, filter_size, 1,
                                   self.conv_param["pad"], fn=fn)
        PH, PW = conv_output_shape(OH, OW, 2, 2, 2, 0, fn=fn + " (2x2 pool after the conv)",
                                   names=("pool_height", "pool_width"))
        rng = backend.seeded_or_global_rng(seed)  # None: np.random, W1 W2 W3 as CS231n
        F = num_filters
        shapes = {"W1": (F, C, filter_size, filter_size), "W2": (F * PH * PW, hidden_dim),
                  "W3": (hidden_dim, num_classes)}
        biases = {"b1": F, "b2": hidden_dim, "b3": num_classes}
        self.params = {}
        for k, shape in shapes.items():  # draws in a fixed order: same seed, same weights
            self.params[k] = backend.random_normal(rng, shape, dtype, scale=weight_scale)
        xp = backend.get_xp(self.params["W1"])
        for k, n in biases.items():
            self.params[k] = xp.zeros(n, dtype=dtype)

    def _forward(self, X):
        """Scores (N, num_classes) and the caches, computed in self.dtype."""
        _labels_or_scores(type(self).__name__ + ".loss", X, self.input_dim)
        p = self.params
        X = self._input(X)
        a1, c1 = conv_relu_pool_forward(X, p["W1"], p["b1"], self.conv_param, self.pool_param)
        h, c2 = affine_forward(a1, p["W2"], p["b2"])
        a2, c3 = relu_forward(h)
        scores, c4 = affine_forward(a2, p["W3"], p["b3"])
        return scores, (c1, c2, c3, c4), p

    @staticmethod
    def _backward(dscores, caches):
        """(dX, grads without the L2 term) from the gradient on the scores."""
        c1, c2, c3, c4 = caches
        grads = {}
        da2, grads["W3"], grads["b3"] = affine_backward(dscores, c4)
        dh = relu_backward(da2, c3)
        da1, grads["W2"], grads["b2"] = affine_backward(dh, c2)
        dX, grads["W1"], grads["b1"] = conv_relu_pool_backward(da1, c1)
        return dX, grads

    def loss(self, X, y=None):
        """Scores, or the loss and gradients.

        Inputs:
        - X: (N, C, H, W) images (cast to self.dtype)
        - y: (N,) integer labels in [0, num_classes), or None

        Returns:
        - y None: scores (N, num_classes)
        - else a tuple (loss, grads): loss a 0-d array, grads keyed like self.params
        """
        scores, caches, p = self._forward(X)
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        _, grads = self._backward(dscores, caches)
        loss = self.regularize(loss, grads)
        return loss, grads

    def input_gradient(self, X, dscores):
        """The gradient of sum(scores * dscores) with respect to the images: what
        saliency maps and fooling images (network visualisation) are made of.

        Inputs:
        - X: (N, C, H, W) images
        - dscores: (N, num_classes) weights on the scores (a one-hot row picks one
          class's score)

        Returns a tuple of:
        - scores: (N, num_classes) at X
        - dX: (N, C, H, W), self.dtype
        """
        scores, caches, _ = self._forward(X)
        dX, _ = self._backward(dscores.astype(scores.dtype, copy=False), caches)
        return scores, dX

    FEATURE_LAYERS = ("conv", "hidden", "scores")

    def feature_gradient(self, X, layer, dfeat=None):
        """The features of X at ``layer`` and the gradient of sum(features * dfeat) with
        respect to the images: what feature inversion and class visualisation are made of.

        Inputs:
        - X: (N, C, H, W) images
        - layer: 'conv' (after conv - relu - pool: (N, F, H/2, W/2)), 'hidden' (after the
          hidden affine - relu: (N, hidden_dim)) or 'scores' ((N, num_classes))
        - dfeat: weights on the features, their shape; None for the features only

        Returns a tuple of:
        - features: at ``layer``, self.dtype
        - dX: (N, C, H, W), or None when dfeat is None
        """
        if layer not in self.FEATURE_LAYERS:
            raise ValueError(f"{type(self).__name__}.feature_gradient: layer must be one of "
                             f"{self.FEATURE_LAYERS}; got {layer!r}")
        if layer == "scores":
            return self.input_gradient(X, dfeat) if dfeat is not None else (self.loss(X), None)
        _labels_or_scores(type(self).__name__ + ".feature_gradient", X, self.input_dim)
        p = {k: w.astype(self.dtype, copy=False) for k, w in self.params.items()}
        X = X.astype(self.dtype, copy=False)
        feat, c1 = conv_relu_pool_forward(X, p["W1"], p["b1"], self.conv_param,
                                          self.pool_param)  # (N, F, H/2, W/2)
        if layer == "hidden":
            h, c2 = affine_forward(feat, p["W2"], p["b2"])
            feat, c3 = relu_forward(h)  # (N, hidden_dim)
        if dfeat is None:
            return feat, None
        dfeat = dfeat.astype(feat.dtype, copy=False)
        if layer == "hidden":
            dfeat, _, _ = affine_backward(relu_backward(dfeat, c3), c2)  # on the conv features
        dX, _, _ = conv_relu_pool_backward(dfeat, c1)
        return feat, dX


class ResidualConvNet(Model):
    """A small residual conv net (the ResNet idea at digits / CIFAR-10 scale).

    stem:   conv 3x3 (C -> F) - spatial batchnorm - relu
    blocks: num_blocks times  a -> relu(a + bn(conv(relu(bn(conv(a))))))  (identity skip,
            all convs 3x3, stride 1, pad 1, F -> F, no bias: batchnorm's beta is the bias)
    head:   global average pool over H x W - affine (F -> num_classes) - softmax

    Params (L = 1 + 2 * num_blocks convs): W1..WL (F, C or F, 3, 3), gamma1..gammaL and
    beta1..betaL (F,), and the head W{L+1} (F, num_classes), b{L+1} (num_classes,).
    Batchnorm runs in train mode when y is given and in test mode (running statistics,
    kept in ``self.bn_params``) when y is None.
    """

    def __init__(self, input_dim=(3, 32, 32), num_filters=16, num_blocks=2, num_classes=10,
                 weight_scale=None, reg=0.0, dtype=np.float32, seed=None):
        super().__init__(dtype)
        dtype = self.dtype
        C, H, W = input_dim
        self.input_dim = (C, H, W)
        self.num_blocks = num_blocks
        self.reg = reg
        self.conv_param = {"stride": 1, "pad": 1}
        F = num_filters
        L = 1 + 2 * num_blocks
        self.num_convs = L
        rng = backend.default_rng(seed)
        self.params = {}
        for i in range(1, L + 1):
            fan_in = (C if i == 1 else F) * 9
            scale = math.sqrt(2.0 / fan_in) if weight_scale is None else weight_scale
            self.params[f"W{i}"] = backend.random_normal(rng, (F, C if i == 1 else F, 3, 3),
                                                         dtype, scale=scale)
            xp = backend.get_xp(self.params[f"W{i}"])
            self.params[f"gamma{i}"] = xp.ones(F, dtype=dtype)
            self.params[f"beta{i}"] = xp.zeros(F, dtype=dtype)
        scale = math.sqrt(1.0 / F) if weight_scale is None else weight_scale
        self.params[f"W{L + 1}"] = backend.random_normal(rng, (F, num_classes), dtype,
                                                         scale=scale)
        self.params[f"b{L + 1}"] = xp.zeros(num_classes, dtype=dtype)
        self.bn_params = [{"mode": "train"} for _ in range(L)]

    def state_dicts(self) -> list[dict]:
        """The batchnorm running statistics: saved in checkpoints, moved by ``to``."""
        return self.bn_params

    def _conv_bn(self, a, i, p, mode, relu):
        """conv i (no bias) -> batchnorm i [-> relu]; returns (out, cache)."""
        xp = backend.get_xp(a)
        w = p[f"W{i}"]
        zero_bias = xp.zeros(w.shape[0], dtype=w.dtype)
        bn_param = self.bn_params[i - 1]
        bn_param["mode"] = mode
        if relu:
            return conv_bn_relu_forward(a, w, zero_bias, p[f"gamma{i}"], p[f"beta{i}"],
                                        self.conv_param, bn_param)
        z, cc = conv_forward_fast(a, w, zero_bias, self.conv_param)
        out, bc = spatial_batchnorm_forward(z, p[f"gamma{i}"], p[f"beta{i}"], bn_param)
        return out, (cc, bc)

    def _conv_bn_back(self, dout, cache, i, grads, relu):
        if relu:
            dx, grads[f"W{i}"], _, grads[f"gamma{i}"], grads[f"beta{i}"] = \
                conv_bn_relu_backward(dout, cache)
            return dx
        cc, bc = cache
        dz, grads[f"gamma{i}"], grads[f"beta{i}"] = spatial_batchnorm_backward(dout, bc)
        dx, grads[f"W{i}"], _ = conv_backward_fast(dz, cc)
        return dx

    def loss(self, X, y=None):
        """Scores, or the loss and gradients (as ThreeLayerConvNet.loss).

        Inputs:
        - X: (N, C, H, W) images (cast to self.dtype)
        - y: (N,) integer labels, or None (then batchnorm uses its running statistics)

        Returns:
        - y None: scores (N, num_classes)
        - else (loss, grads): loss a 0-d array, grads keyed like self.params
        """
        _labels_or_scores("ResidualConvNet.loss", X, self.input_dim)
        mode = "test" if y is None else "train"
        p = self.params
        X = self._input(X)
        L = self.num_convs
        a, stem_cache = self._conv_bn(X, 1, p, mode, relu=True)  # (N, F, H, W)
        block_caches = []
        for k in range(self.num_blocks):
            i = 2 + 2 * k  # the block's two convs are i and i + 1
            h, c1 = self._conv_bn(a, i, p, mode, relu=True)
            z, c2 = self._conv_bn(h, i + 1, p, mode, relu=False)
            a, c3 = relu_forward(z + a)  # the identity skip
            block_caches.append((c1, c2, c3))
        pooled, pool_cache = global_avg_pool_forward(a)  # (N, F)
        scores, head_cache = affine_forward(pooled, p[f"W{L + 1}"], p[f"b{L + 1}"])
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        grads = {}
        dpooled, grads[f"W{L + 1}"], grads[f"b{L + 1}"] = affine_backward(dscores, head_cache)
        da = global_avg_pool_backward(dpooled, pool_cache)
        for k in reversed(range(self.num_blocks)):
            i = 2 + 2 * k
            c1, c2, c3 = block_caches[k]
            dsum = relu_backward(da, c3)  # flows into both the branch and the skip
            dh = self._conv_bn_back(dsum, c2, i + 1, grads, relu=False)
            da = self._conv_bn_back(dh, c1, i, grads, relu=True) + dsum
        self._conv_bn_back(da, stem_cache, 1, grads, relu=True)
        loss = self.regularize(loss, grads)
        return loss, grads
