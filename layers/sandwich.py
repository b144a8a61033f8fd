"""Sandwich layers (CS231n ``layer_utils``): common chains of layers as one forward and one
backward. Each cache is the tuple of the sub-layers' caches; the backward unpacks it and
runs the sub-backwards in reverse order.

The fully connected sandwiches live here; dropout, where a net wants it, follows a
sandwich as a layer of its own (``dropout_forward``), so its mode and seed stay visible.
"""

from __future__ import annotations

from ._cache import backward_of, forward_layer
from .backend import get_xp
from .core import affine_backward, affine_forward, relu_backward, relu_forward
from .norm import batchnorm_backward_alt, batchnorm_forward, layernorm_backward, layernorm_forward


@forward_layer
def affine_relu_forward(x, w, b):
    """An affine layer followed by a relu.

    Inputs:
    - x: (N, d_1, ..., d_k), read as (N, D)
    - w: (D, M) weights
    - b: (M,) biases

    Returns a tuple of:
    - out: (N, M)
    - cache: (affine cache, relu cache)
    """
    a, fc_cache = affine_forward(x, w, b)  # (N, M)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


@backward_of("affine_relu_forward")
def affine_relu_backward(dout, cache):
    """Backward pass of affine_relu_forward.

    Inputs:
    - dout: (N, M) upstream gradient
    - cache: from affine_relu_forward

    Returns a tuple of:
    - dx: (N, d_1, ..., d_k)
    - dw: (D, M)
    - db: (M,)
    """
    fc_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)  # (N, M)
    return affine_backward(da, fc_cache)


@forward_layer
def affine_bn_relu_forward(x, w, b, gamma, beta, bn_param):
    """affine -> batchnorm -> relu.

    Inputs:
    - x: (N, d_1, ..., d_k), read as (N, D)
    - w: (D, M) weights
    - b: (M,) biases
    - gamma, beta: (M,) batchnorm scale and shift
    - bn_param: batchnorm's dict (mode, eps, momentum, running statistics), updated in
      train mode as batchnorm_forward documents

    Returns a tuple of:
    - out: (N, M)
    - cache: (affine cache, batchnorm cache, relu cache, whether batchnorm ran in train
      mode)
    """
    a, fc_cache = affine_forward(x, w, b)  # (N, M)
    an, bn_cache = batchnorm_forward(a, gamma, beta, bn_param)  # (N, M)
    out, relu_cache = relu_forward(an)
    return out, (fc_cache, bn_cache, relu_cache, bn_param["mode"] == "train")


@backward_of("affine_bn_relu_forward")
def affine_bn_relu_backward(dout, cache):
    """Backward pass of affine_bn_relu_forward (batchnorm through its fast formula).

    Inputs:
    - dout: (N, M) upstream gradient
    - cache: from affine_bn_relu_forward

    Returns a tuple of:
    - dx: (N, d_1, ..., d_k)
    - dw: (D, M)
    - db: (M,)
    - dgamma: (M,)
    - dbeta: (M,)
    """
    fc_cache, bn_cache, relu_cache, train = cache
    dan = relu_backward(dout, relu_cache)  # (N, M)
    da, dgamma, dbeta = batchnorm_backward_alt(dan, bn_cache)
    dx, dw, db = affine_backward(da, fc_cache)
    if train:
        # batchnorm subtracts each column's batch mean, so the bias before it cancels:
        # db is exactly zero (summing da would give rounding noise, which the CS231n
        # BatchNormalization notebook's "1e-08~1e-10 for b" check catches), as in
        # conv_bn_relu_backward
        db = get_xp(db).zeros_like(db)
    return dx, dw, db, dgamma, dbeta


@forward_layer
def affine_ln_relu_forward(x, w, b, gamma, beta, ln_param):
    """affine -> layernorm -> relu.

    Inputs:
    - x: (N, d_1, ..., d_k), read as (N, D)
    - w: (D, M) weights
    - b: (M,) biases
    - gamma, beta: (M,) layernorm scale and shift
    - ln_param: layernorm's dict (optional eps)

    Returns a tuple of:
    - out: (N, M)
    - cache: (affine cache, layernorm cache, relu cache)
    """
    a, fc_cache = affine_forward(x, w, b)  # (N, M)
    an, ln_cache = layernorm_forward(a, gamma, beta, ln_param)  # (N, M)
    out, relu_cache = relu_forward(an)
    return out, (fc_cache, ln_cache, relu_cache)


@backward_of("affine_ln_relu_forward")
def affine_ln_relu_backward(dout, cache):
    """Backward pass of affine_ln_relu_forward.

    Inputs:
    - dout: (N, M) upstream gradient
    - cache: from affine_ln_relu_forward

    Returns a tuple of:
    - dx: (N, d_1, ..., d_k)
    - dw: (D, M)
    - db: (M,)
    - dgamma: (M,)
    - dbeta: (M,)
    """
    fc_cache, ln_cache, relu_cache = cache
    dan = relu_backward(dout, relu_cache)  # (N, M)
    da, dgamma, dbeta = layernorm_backward(dan, ln_cache)
    dx, dw, db = affine_backward(da, fc_cache)
    return dx, dw, db, dgamma, dbeta
