"""Max pooling (a naive loop reference and a fast strided-slice version) and global
average pooling.

The fast max pool never forms the windows. For each of the ph*pw offsets (i, j) inside a
window, ``x[:, :, i::stride, j::stride]`` (cut to OH x OW) is the (N, C, OH, OW) array of
the (i, j)-th element of every window, so the pool is an elementwise maximum over ph*pw
strided slices. numpy's reductions over tiny trailing axes (the CS231n reshape path) run
an inner loop of 2 elements and are an order of magnitude slower than these full-width
maxima (measured in benchmarks/README.md, "Design measurements").
Overlapping windows (stride < pool) need nothing special.

Ties: as in the naive reference (and torch), the whole gradient of a window goes to the
*first* maximal element in row-major window order, never split between ties.
"""

from __future__ import annotations

from . import _validate as v
from ._cache import backward_of, forward_layer
from .backend import get_xp
from .conv import conv_output_shape

__all__ = [
    "max_pool_forward_naive", "max_pool_backward_naive",
    "max_pool_forward_fast", "max_pool_backward_fast",
    "max_pool_forward", "max_pool_backward",
    "max_pool_forward_reshape", "max_pool_backward_reshape",
    "max_pool_forward_im2col", "max_pool_backward_im2col",
    "global_avg_pool_forward", "global_avg_pool_backward",
]


def _pool_inputs(fn: str, x, pool_param):
    """Validate a pool call; return (ph, pw, stride, OH, OW)."""
    v.array(fn, "x", x, ndim=4, what="(N, C, H, W)")
    v.keys(fn, "pool_param", pool_param, ("pool_height", "pool_width", "stride"))
    ph = v.integer(fn, "pool_param['pool_height']", pool_param["pool_height"], 1)
    pw = v.integer(fn, "pool_param['pool_width']", pool_param["pool_width"], 1)
    stride = v.integer(fn, "pool_param['stride']", pool_param["stride"], 1)
    OH, OW = conv_output_shape(x.shape[2], x.shape[3], ph, pw, stride, 0, fn=fn,
                               names=("pool_height", "pool_width"))
    return ph, pw, stride, OH, OW


def _offset(a, i: int, j: int, stride: int, OH: int, OW: int):
    """The (N, C, OH, OW) strided view of element (i, j) of every window of a."""
    return a[:, :, i:i + stride * (OH - 1) + 1:stride, j:j + stride * (OW - 1) + 1:stride]


# --- naive reference ------------------------------------------------------------------


@forward_layer
def max_pool_forward_naive(x, pool_param):
    """Forward pass of max pooling, one output position at a time (the reference).

    Inputs:
    - x: (N, C, H, W)
    - pool_param: dict with 'pool_height', 'pool_width', 'stride' (ints >= 1); the windows
      must tile: (H - pool_height) and (W - pool_width) multiples of stride

    Returns a tuple of:
    - out: (N, C, OH, OW), OH = (H - pool_height) / stride + 1 (likewise OW)
    - cache: (x, pool_param)
    """
    fn = "max_pool_forward_naive"
    ph, pw, s, OH, OW = _pool_inputs(fn, x, pool_param)
    xp = get_xp(x)
    N, C = x.shape[:2]
    out = xp.zeros((N, C, OH, OW), dtype=x.dtype)
    for p in range(OH):
        for q in range(OW):
            window = x[:, :, p * s:p * s + ph, q * s:q * s + pw]  # (N, C, ph, pw)
            out[:, :, p, q] = window.max(axis=(2, 3))
    return out, (x, pool_param)


@backward_of("max_pool_forward_naive")
def max_pool_backward_naive(dout, cache):
    """Backward pass of the naive max pool: each window's gradient goes to its first
    maximal element (row-major order in the window), accumulating over overlaps.

    Inputs:
    - dout: (N, C, OH, OW) upstream gradient
    - cache: from max_pool_forward_naive

    Returns:
    - dx: (N, C, H, W)
    """
    x, pool_param = cache
    fn = "max_pool_backward_naive"
    ph, pw, s, OH, OW = _pool_inputs(fn, x, pool_param)
    N, C = x.shape[:2]
    v.array(fn, "dout", dout, ndim=4, what="(N, C, OH, OW)")
    v.shape(fn, "dout", dout, (N, C, OH, OW), "(N, C, OH, OW), the shape of the forward's out")
    xp = get_xp(dout, x)
    dx = xp.zeros(x.shape, dtype=dout.dtype)
    for p in range(OH):
        for q in range(OW):
            window = x[:, :, p * s:p * s + ph, q * s:q * s + pw].reshape(N, C, ph * pw)
            first = window.argmax(axis=2)  # (N, C): the first maximum wins
            onehot = xp.arange(ph * pw) == first[:, :, None]  # (N, C, ph*pw)
            g = onehot * dout[:, :, p, q][:, :, None]
            dx[:, :, p * s:p * s + ph, q * s:q * s + pw] += g.reshape(N, C, ph, pw)
    return dx


# --- fast: elementwise maxima over strided slices -------------------------------------


@forward_layer
def max_pool_forward_fast(x, pool_param):
    """Forward pass of max pooling as a running maximum over the ph*pw strided slices.

    Inputs and outputs as ``max_pool_forward_naive`` (identical values):
    - x: (N, C, H, W); pool_param: 'pool_height', 'pool_width', 'stride'

    Returns a tuple of:
    - out: (N, C, OH, OW), contiguous, x's dtype
    - cache: (x, out, pool_param)
    """
    fn = "max_pool_forward_fast"
    ph, pw, s, OH, OW = _pool_inputs(fn, x, pool_param)
    xp = get_xp(x)
    out = xp.array(_offset(x, 0, 0, s, OH, OW), copy=True, order="C")
    for i in range(ph):
        for j in range(pw):
            if i or j:
                xp.maximum(out, _offset(x, i, j, s, OH, OW), out=out)
    return out, (x, out, pool_param)


@backward_of("max_pool_forward_fast")
def max_pool_backward_fast(dout, cache):
    """Backward pass of the fast max pool: per offset, a mask of "this element is the
    window's first maximum" selects dout into a strided slice of dx.

    Inputs:
    - dout: (N, C, OH, OW) upstream gradient
    - cache: from max_pool_forward_fast

    Returns:
    - dx: (N, C, H, W), dout's dtype
    """
    x, out, pool_param = cache
    fn = "max_pool_backward_fast"
    ph, pw, s, OH, OW = _pool_inputs(fn, x, pool_param)
    v.array(fn, "dout", dout, ndim=4, what="(N, C, OH, OW)")
    v.shape(fn, "dout", dout, out.shape, "(N, C, OH, OW), the shape of the forward's out")
    xp = get_xp(dout, x)
    # When the windows tile x exactly (stride == pool), every element of dx is written by
    # exactly one offset, so dx needs no zero fill and each offset can assign, not add.
    exact = ph == s and pw == s
    overlap = s < ph or s < pw
    dx = (xp.empty if exact else xp.zeros)(x.shape, dtype=dout.dtype)
    taken = None  # windows whose maximum was already found at an earlier offset
    last = (ph - 1, pw - 1)
    for i in range(ph):
        for j in range(pw):
            hit = _offset(x, i, j, s, OH, OW) == out  # (N, C, OH, OW) bool
            if taken is None:
                taken = hit
            else:
                xp.greater(hit, taken, out=hit)  # hit and not taken: the first max only
                if (i, j) != last:
                    xp.logical_or(taken, hit, out=taken)
            target = _offset(dx, i, j, s, OH, OW)
            if overlap:
                target += xp.where(hit, dout, 0)
            else:
                xp.multiply(dout, hit, out=target)
    return dx


max_pool_forward = max_pool_forward_fast
max_pool_backward = max_pool_backward_fast
# the names of CS231n's fast_layers (its reshape and im2col variants are one fast layer
# here, and the fast layer handles the geometries the reshape variant cannot)
max_pool_forward_reshape = max_pool_forward_im2col = max_pool_forward_fast
max_pool_backward_reshape = max_pool_backward_im2col = max_pool_backward_fast


# --- global average pooling (the head of a residual net) ------------------------------


@forward_layer
def global_avg_pool_forward(x):
    """Average over the spatial axes.

    Inputs:
    - x: (N, C, H, W)

    Returns a tuple of:
    - out: (N, C), x's dtype
    - cache: x's shape
    """
    fn = "global_avg_pool_forward"
    v.array(fn, "x", x, ndim=4, what="(N, C, H, W)")
    if x.shape[2] * x.shape[3] == 0:
        raise ValueError(f"{fn}: x must have H, W >= 1 (a mean over H x W pixels); got shape "
                         f"{tuple(x.shape)}")
    return x.mean(axis=(2, 3)), x.shape


@backward_of("global_avg_pool_forward")
def global_avg_pool_backward(dout, cache):
    """Backward pass of global average pooling: dout spread evenly over H x W.

    Inputs:
    - dout: (N, C) upstream gradient
    - cache: from global_avg_pool_forward

    Returns:
    - dx: (N, C, H, W)
    """
    N, C, H, W = cache
    xp = get_xp(dout)
    scale = dout / dout.dtype.type(H * W)
    return xp.broadcast_to(scale[:, :, None, None], (N, C, H, W)).copy()
