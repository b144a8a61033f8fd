"""Fully connected building blocks: affine, relu and dropout (forward and backward side by side)."""

from __future__ import annotations

import math

from . import validate as v
from ._cache import backward_of, forward_layer
from .backend import get_xp, numpy, uniform_draws


@forward_layer
def affine_forward(x, w, b):
    """Forward pass of a fully connected (affine) layer: out = x @ w + b.

    Inputs:
    - x: (N, d_1, ..., d_k) float array; each example is read as a vector of
      D = d_1 * ... * d_k
    - w: (D, M) weights
    - b: (M,) biases

    Returns a tuple of:
    - out: (N, M), the dtype of the inputs
    - cache: what affine_backward needs
    """
    fn = "affine_forward"
    v.array(fn, "x", x, min_ndim=1, what="(N, d_1, ..., d_k)")
    w = v.float_param(fn, "w", w, x, ndim=2, what="(D, M)")
    b = v.float_param(fn, "b", b, x, ndim=1, what="(M,)")
    get_xp(x, w, b)
    v.same_dtype(fn, x=x, w=w, b=b)
    N = x.shape[0]
    D = math.prod(x.shape[1:])
    if w.shape[0] != D:
        raise ValueError(
            f"{fn}: w must have shape (D, M) with D = {D} (x of shape {tuple(x.shape)} "
            f"read as (N, D)); got {tuple(w.shape)}"
        )
    v.shape(fn, "b", b, (w.shape[1],), "to match w's M")
    x2 = x.reshape(N, D)  # a view when x is contiguous
    out = x2 @ w  # (N, M)
    out += b
    return out, (x2, w, x.shape)


@backward_of("affine_forward")
def affine_backward(dout, cache):
    """Backward pass of the affine layer.

    Inputs:
    - dout: (N, M) upstream gradient
    - cache: from affine_forward

    Returns a tuple of:
    - dx: (N, d_1, ..., d_k), the shape of x
    - dw: (D, M)
    - db: (M,)
    """
    x2, w, x_shape = cache
    dx = (dout @ w.T).reshape(x_shape)  # (N, D) -> x's shape
    dw = x2.T @ dout  # (D, M)
    db = dout.sum(axis=0)  # (M,)
    return dx, dw, db


@forward_layer
def relu_forward(x):
    """Forward pass of a rectified linear unit: out = max(x, 0), elementwise.

    Inputs:
    - x: float array of any shape

    Returns a tuple of:
    - out: same shape and dtype as x
    - cache: what relu_backward needs
    """
    v.array("relu_forward", "x", x)
    xp = get_xp(x)
    return xp.maximum(x, 0), (x,)


@backward_of("relu_forward")
def relu_backward(dout, cache):
    """Backward pass of relu: the gradient flows where x > 0 (0 at the kink x == 0).

    Inputs:
    - dout: upstream gradient, the shape of x
    - cache: from relu_forward (it holds x)

    Returns:
    - dx: the shape of x
    """
    (x,) = cache
    get_xp(dout, x)  # TypeError on a numpy/cupy mix
    # a product with the mask, not where(): where() branches per element and a relu's
    # signs are random, so it runs about 10x slower on a conv activation. (An infinite
    # dout where x <= 0 gives nan instead of 0: a diverged run, reported as such.)
    return dout * (x > 0)


def _dropout_keep(fn, dropout_param):
    """The validated (p, mode) of a dropout_param dict."""
    v.keys(fn, "dropout_param", dropout_param, ("p", "mode"))
    p = v.number(fn, "dropout_param['p']", dropout_param["p"], low=0, high=1, low_open=True,
                 why="the keep probability")
    mode = v.choice(fn, "dropout_param['mode']", dropout_param["mode"], ("train", "test"))
    seed = dropout_param.get("seed")
    if seed is not None and not isinstance(seed, numpy.random.Generator):
        v.integer(fn, "dropout_param['seed']", seed, 0)  # (or None, or a Generator)
    return p, mode


@forward_layer
def dropout_forward(x, dropout_param):
    """Forward pass of inverted dropout: in train mode each element is kept with
    probability p and scaled by 1/p, so the expected output equals x and test mode is
    the identity.

    Inputs:
    - x: float array of any shape
    - dropout_param: dict with keys
      - p: keep probability, in (0, 1]; p = 1 keeps everything
      - mode: 'train' (drop) or 'test' (identity)
      - seed (optional): an int (the same mask at every call) or a numpy Generator (a
        new mask each call, reproducibly) for the mask. Absent or None: the global
        random state, as CS231n (``np.random.seed`` fixes it on numpy). The mask keeps
        the elements where ``backend.uniform_draws(seed, x.shape, ...) < p``: on numpy
        seeded_or_global_rng(seed).random(x.shape); on a device the device's own
        generator draws it (no host transfer; other numbers than numpy's for a seed).

    Returns a tuple of:
    - out: the shape and dtype of x (in test mode, or with p = 1, x itself: not a copy)
    - cache: what dropout_backward needs (the mask, of x's dtype, holding 0 or 1/p)
    """
    fn = "dropout_forward"
    v.array(fn, "x", x)
    p, mode = _dropout_keep(fn, dropout_param)
    if mode == "test" or p == 1.0:
        return x, (None, x.shape)
    # drawn where x is: on a device, by its generator (no mask sent from the host)
    u = uniform_draws(dropout_param.get("seed"), x.shape, x.dtype, get_xp(x))  # [0, 1)
    mask = (u < p).astype(x.dtype)  # 1 with probability p
    mask *= 1.0 / p  # Python float: stays in x's dtype
    return x * mask, (mask, x.shape)


@backward_of("dropout_forward")
def dropout_backward(dout, cache):
    """Backward pass of inverted dropout: the gradient flows through the kept elements,
    scaled by 1/p, with the forward's own mask.

    Inputs:
    - dout: upstream gradient, the shape of x
    - cache: from dropout_forward

    Returns:
    - dx: the shape of x
    """
    mask, _ = cache
    if mask is None:  # test mode or p = 1: the identity
        return dout
    return dout * mask
