"""Fully connected building blocks: affine and relu (forward and backward side by side)."""

from __future__ import annotations

import math

from . import _validate as v
from .backend import get_xp


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
