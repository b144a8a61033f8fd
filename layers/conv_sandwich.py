"""Convenience "sandwich" layers for conv nets (CS231n ``layer_utils``): a conv followed by
relu, optionally spatial batchnorm before the relu and a max pool after it.

Each cache is the tuple of its parts' caches; each backward unpacks it in reverse.
All use the fast conv and pool.
"""

from __future__ import annotations

from ._cache import backward_of, forward_layer
from .backend import get_xp
from .conv import conv_backward_fast, conv_forward_fast
from .core import relu_backward, relu_forward
from .pool import max_pool_backward_fast, max_pool_forward_fast
from .spatial_norm import spatial_batchnorm_backward, spatial_batchnorm_forward

__all__ = [
    "conv_relu_forward", "conv_relu_backward",
    "conv_relu_pool_forward", "conv_relu_pool_backward",
    "conv_bn_relu_forward", "conv_bn_relu_backward",
    "conv_bn_relu_pool_forward", "conv_bn_relu_pool_backward",
]


@forward_layer
def conv_relu_forward(x, w, b, conv_param):
    """conv -> relu.

    Inputs:
    - x: (N, C, H, W); w: (F, C, HH, WW); b: (F,); conv_param: 'stride', 'pad'

    Returns a tuple of:
    - out: (N, F, OH, OW)
    - cache: (conv cache, relu cache)
    """
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    out, relu_cache = relu_forward(a)
    return out, (conv_cache, relu_cache)


@backward_of("conv_relu_forward")
def conv_relu_backward(dout, cache):
    """Backward pass of conv_relu.

    Inputs:
    - dout: (N, F, OH, OW); cache: from conv_relu_forward

    Returns a tuple of:
    - dx: (N, C, H, W); dw: (F, C, HH, WW); db: (F,)
    """
    conv_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)
    return conv_backward_fast(da, conv_cache)


@forward_layer
def conv_relu_pool_forward(x, w, b, conv_param, pool_param):
    """conv -> relu -> max pool.

    Inputs:
    - x: (N, C, H, W); w: (F, C, HH, WW); b: (F,); conv_param: 'stride', 'pad';
      pool_param: 'pool_height', 'pool_width', 'stride'

    Returns a tuple of:
    - out: (N, F, PH, PW), the pool's output size over the conv's (OH, OW)
    - cache: (conv cache, relu cache, pool cache)
    """
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    s, relu_cache = relu_forward(a)
    out, pool_cache = max_pool_forward_fast(s, pool_param)
    return out, (conv_cache, relu_cache, pool_cache)


@backward_of("conv_relu_pool_forward")
def conv_relu_pool_backward(dout, cache):
    """Backward pass of conv_relu_pool.

    Inputs:
    - dout: (N, F, PH, PW); cache: from conv_relu_pool_forward

    Returns a tuple of:
    - dx: (N, C, H, W); dw: (F, C, HH, WW); db: (F,)
    """
    conv_cache, relu_cache, pool_cache = cache
    ds = max_pool_backward_fast(dout, pool_cache)
    da = relu_backward(ds, relu_cache)
    return conv_backward_fast(da, conv_cache)


@forward_layer
def conv_bn_relu_forward(x, w, b, gamma, beta, conv_param, bn_param):
    """conv -> spatial batchnorm -> relu.

    Inputs:
    - x: (N, C, H, W); w: (F, C, HH, WW); b: (F,); gamma, beta: (F,)
    - conv_param: 'stride', 'pad'; bn_param: as spatial_batchnorm_forward (receives the
      new running statistics in train mode)

    Returns a tuple of:
    - out: (N, F, OH, OW)
    - cache: (conv cache, batchnorm cache, relu cache, whether batchnorm ran in train mode)
    """
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    an, bn_cache = spatial_batchnorm_forward(a, gamma, beta, bn_param)
    out, relu_cache = relu_forward(an)
    return out, (conv_cache, bn_cache, relu_cache, bn_param["mode"] == "train")


@backward_of("conv_bn_relu_forward")
def conv_bn_relu_backward(dout, cache):
    """Backward pass of conv_bn_relu.

    Inputs:
    - dout: (N, F, OH, OW); cache: from conv_bn_relu_forward

    Returns a tuple of:
    - dx: (N, C, H, W); dw: (F, C, HH, WW); db: (F,); dgamma, dbeta: (F,)
    """
    conv_cache, bn_cache, relu_cache, train = cache
    dan = relu_backward(dout, relu_cache)
    da, dgamma, dbeta = spatial_batchnorm_backward(dan, bn_cache)
    return _conv_before_bn_backward(da, conv_cache, train) + (dgamma, dbeta)


@forward_layer
def conv_bn_relu_pool_forward(x, w, b, gamma, beta, conv_param, bn_param, pool_param):
    """conv -> spatial batchnorm -> relu -> max pool.

    Inputs: as conv_bn_relu_forward, plus pool_param ('pool_height', 'pool_width',
    'stride').

    Returns a tuple of:
    - out: (N, F, PH, PW)
    - cache: (conv cache, batchnorm cache, relu cache, pool cache, whether batchnorm ran
      in train mode)
    """
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    an, bn_cache = spatial_batchnorm_forward(a, gamma, beta, bn_param)
    s, relu_cache = relu_forward(an)
    out, pool_cache = max_pool_forward_fast(s, pool_param)
    return out, (conv_cache, bn_cache, relu_cache, pool_cache, bn_param["mode"] == "train")


@backward_of("conv_bn_relu_pool_forward")
def conv_bn_relu_pool_backward(dout, cache):
    """Backward pass of conv_bn_relu_pool.

    Inputs:
    - dout: (N, F, PH, PW); cache: from conv_bn_relu_pool_forward

    Returns a tuple of:
    - dx: (N, C, H, W); dw: (F, C, HH, WW); db: (F,); dgamma, dbeta: (F,)
    """
    conv_cache, bn_cache, relu_cache, pool_cache, train = cache
    ds = max_pool_backward_fast(dout, pool_cache)
    dan = relu_backward(ds, relu_cache)
    da, dgamma, dbeta = spatial_batchnorm_backward(dan, bn_cache)
    return _conv_before_bn_backward(da, conv_cache, train) + (dgamma, dbeta)


def _conv_before_bn_backward(da, conv_cache, train: bool):
    """(dx, dw, db) of the conv that feeds a spatial batchnorm. In train mode batchnorm
    subtracts each channel's batch mean, so a per-channel bias before it cancels: db is
    exactly zero (summing da would only give rounding noise). In test mode it does not
    cancel and db is computed."""
    dx, dw, db = conv_backward_fast(da, conv_cache)
    if train:
        db = get_xp(db).zeros_like(db)
    return dx, dw, db
