"""Fully connected building blocks: affine, relu and dropout (forward and backward side by side)."""

from __future__ import annotations

import math
from numbers import Real

from . import _validate as v
from .backend import get_xp, random_uniform, seeded_or_global_rng


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
    v.array(fn, "w", w, ndim=2, what="(D, M)")
    v.array(fn, "b", b, ndim=1, what="(M,)")
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
    v.shape("affine_backward", "dout", dout, (x2.shape[0], w.shape[1]), "(N, M)")
    dx = (dout @ w.T).reshape(x_shape)  # (N, D) -> x's shape
    dw = x2.T @ dout  # (D, M)
    db = dout.sum(axis=0)  # (M,)
    return dx, dw, db


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
    return xp.maximum(x, 0), x


def relu_backward(dout, cache):
    """Backward pass of relu: the gradient flows where x > 0 (0 at the kink x == 0).

    Inputs:
    - dout: upstream gradient, the shape of x
    - cache: x, from relu_forward

    Returns:
    - dx: the shape of x
    """
    x = cache
    v.shape("relu_backward", "dout", dout, x.shape, "(the shape of x)")
    xp = get_xp(dout, x)
    return xp.where(x > 0, dout, 0)


def _dropout_keep(fn, dropout_param):
    """The validated (p, mode) of a dropout_param dict."""
    v.keys(fn, "dropout_param", dropout_param, ("p", "mode"))
    p = dropout_param["p"]
    if isinstance(p, bool) or not isinstance(p, Real):
        raise TypeError(f"{fn}: dropout_param['p'] must be a number in (0, 1] (the keep "
                        f"probability); got {type(p).__name__}")
    if not 0 < p <= 1:
        raise ValueError(f"{fn}: dropout_param['p'] is the keep probability and must be in "
                         f"(0, 1]; got {p!r}")
    mode = v.choice(fn, "dropout_param['mode']", dropout_param["mode"], ("train", "test"))
    return float(p), mode


def dropout_forward(x, dropout_param):
    """Forward pass of inverted dropout: in train mode each element is kept with
    probability p and scaled by 1/p, so the expected output equals x and test mode is
    the identity.

    Inputs:
    - x: float array of any shape
    - dropout_param: dict with keys
      - p: keep probability, in (0, 1]; p = 1 keeps everything
      - mode: 'train' (drop) or 'test' (identity)
      - seed (optional): an int (or a numpy Generator) for the mask; the same int gives
        the same mask on numpy and cupy. Absent or None: numpy's global random state,
        as CS231n (``np.random.seed`` fixes it). The mask keeps the elements where
        seeded_or_global_rng(seed).random(x.shape) < p.

    Returns a tuple of:
    - out: the shape and dtype of x (in test mode, or with p = 1, x itself: not a copy)
    - cache: what dropout_backward needs (the mask, of x's dtype, holding 0 or 1/p)
    """
    fn = "dropout_forward"
    v.array(fn, "x", x)
    p, mode = _dropout_keep(fn, dropout_param)
    if mode == "test" or p == 1.0:
        return x, (None, x.shape)
    xp = get_xp(x)
    rng = seeded_or_global_rng(dropout_param.get("seed"))
    # drawn on the host, so the mask for a seed is the same on numpy and cupy
    u = random_uniform(rng, x.shape, dtype=x.dtype, xp=xp)  # uniform [0, 1)
    mask = (u < p).astype(x.dtype)  # 1 with probability p
    mask *= 1.0 / p  # Python float: stays in x's dtype
    return x * mask, (mask, x.shape)


def dropout_backward(dout, cache):
    """Backward pass of inverted dropout: the gradient flows through the kept elements,
    scaled by 1/p, with the forward's own mask.

    Inputs:
    - dout: upstream gradient, the shape of x
    - cache: from dropout_forward

    Returns:
    - dx: the shape of x
    """
    mask, x_shape = cache
    v.shape("dropout_backward", "dout", dout, x_shape, "(the shape of x)")
    if mask is None:  # test mode or p = 1: the identity
        return dout
    return dout * mask
