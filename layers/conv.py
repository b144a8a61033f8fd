"""Convolution: a naive loop reference and a fast strided-window + BLAS version.

The fast layer is im2col + one batched matrix product (the MLAB / CS231n "fast layers"
idea, with no Cython and no build step):

- ``im2col`` copies a strided view of the zero-padded input into ``cols`` of layout
  (N, C, HH, WW, OH, OW). That copy order keeps the innermost run a row of OW output
  pixels; the (N, OH, OW, C, HH, WW) order copies runs of only WW elements and was 2-4x
  slower on this project's machines.
- ``w (F, C*HH*WW) @ cols (N, C*HH*WW, OH*OW)`` is a batched GEMM that writes (N, F, OH*OW),
  which *is* NCHW: no output transpose.
- ``col2im`` adds the columns back with one strided slice-add per kernel offset (HH*WW
  additions of whole (N, C, OH, OW) blocks) instead of a scatter over every element.

The col layout matches Chainer's GPU im2col kernels, so a GPU build can swap im2col/col2im
for kernels and keep the GEMM code. Everything here runs on numpy or cupy arrays.
"""

from __future__ import annotations

from numbers import Integral

from . import _validate as v
from ._threads import batch_parts, run_parts
from .backend import get_xp, windows

__all__ = [
    "conv_output_shape", "im2col", "col2im",
    "conv_forward_naive", "conv_backward_naive",
    "conv_forward_fast", "conv_backward_fast",
    "conv_forward", "conv_backward",
    "conv_forward_im2col", "conv_backward_im2col", "conv_forward_strides",
    "conv_backward_strides",
]


# --- geometry -------------------------------------------------------------------------


def _int_param(fn: str, dname: str, d, key: str, minimum: int) -> int:
    value = d[key]
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{fn}: {dname}[{key!r}] must be an integer >= {minimum}; "
                         f"got {value!r}")
    return int(value)


def _tile(fn: str, axis: str, size: int, kernel: int, kname: str, stride: int, pad: int,
          context: str) -> int:
    """Output length along one axis, or a ValueError that shows the arithmetic."""
    span = size + 2 * pad - kernel
    expr = f"{axis} + 2*pad - {kname}" if pad else f"{axis} - {kname}"
    if span < 0:
        raise ValueError(
            f"{fn}: the window is larger than the {'padded ' if pad else ''}input along "
            f"{axis}: {expr} = {span} < 0 ({context})")
    if span % stride:
        raise ValueError(
            f"{fn}: geometry does not tile along {axis}: {expr} = {span} is not a multiple "
            f"of stride {stride} ({context}); choose sizes with ({expr}) % stride == 0")
    return span // stride + 1


def conv_output_shape(H: int, W: int, HH: int, WW: int, stride: int = 1, pad: int = 0,
                      fn: str = "conv_output_shape",
                      names: tuple[str, str] = ("HH", "WW")) -> tuple[int, int]:
    """Output size (OH, OW) of a window HH x WW sliding with ``stride`` over an H x W
    input zero-padded by ``pad`` on every side: OH = (H + 2*pad - HH) / stride + 1.

    Raises ValueError when the windows do not tile the padded input exactly (CS231n
    requires it) or do not fit at all; ``fn`` names the caller and ``names`` the window
    sizes in the message.
    """
    context = (f"H, W = {H}, {W}; {names[0]}, {names[1]} = {HH}, {WW}; "
               f"stride {stride}, pad {pad}")
    return (_tile(fn, "H", H, HH, names[0], stride, pad, context),
            _tile(fn, "W", W, WW, names[1], stride, pad, context))


def _pad(x, pad: int):
    """x (N, C, H, W) zero-padded to (N, C, H + 2 pad, W + 2 pad); a new array."""
    if pad == 0:
        return x
    xp = get_xp(x)
    N, C, H, W = x.shape
    out = xp.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=x.dtype)
    out[:, :, pad:pad + H, pad:pad + W] = x  # cheaper than xp.pad on large arrays
    return out


def _conv_inputs(fn: str, x, w, b, conv_param):
    """Validate a conv call; return (stride, pad, OH, OW)."""
    v.array(fn, "x", x, ndim=4, what="(N, C, H, W)")
    v.array(fn, "w", w, ndim=4, what="(F, C, HH, WW)")
    v.array(fn, "b", b, ndim=1, what="(F,)")
    get_xp(x, w, b)  # TypeError on a numpy/cupy mix
    v.same_dtype(fn, x=x, w=w, b=b)
    F, C, HH, WW = w.shape
    if x.shape[1] != C:
        raise ValueError(f"{fn}: x has C = {x.shape[1]} channels (shape {tuple(x.shape)}) "
                         f"but w has C = {C} (shape {tuple(w.shape)}); they must match")
    v.shape(fn, "b", b, (F,), "to match w's F")
    v.keys(fn, "conv_param", conv_param, ("stride", "pad"))
    stride = _int_param(fn, "conv_param", conv_param, "stride", 1)
    pad = _int_param(fn, "conv_param", conv_param, "pad", 0)
    OH, OW = conv_output_shape(x.shape[2], x.shape[3], HH, WW, stride, pad, fn=fn)
    return stride, pad, OH, OW


def _check_dout(fn: str, dout, expected: tuple):
    v.array(fn, "dout", dout, ndim=4, what="(N, F, OH, OW)")
    v.shape(fn, "dout", dout, expected, "(N, F, OH, OW), the shape of the forward's out")


# --- im2col / col2im ------------------------------------------------------------------


def _windows6(x, HH: int, WW: int, stride: int, pad: int):
    """Read-only (N, C, HH, WW, OH, OW) strided view of the zero-padded x."""
    view = windows(_pad(x, pad), (HH, WW), (stride, stride))  # (N, C, OH, OW, HH, WW)
    return view.transpose(0, 1, 4, 5, 2, 3)


def im2col(x, HH: int, WW: int, stride: int = 1, pad: int = 0):
    """The receptive fields of a convolution, copied out as columns.

    Inputs:
    - x: (N, C, H, W)
    - HH, WW: window height and width; stride, pad: as for the conv (must tile)

    Returns:
    - cols: (N, C, HH, WW, OH, OW), contiguous, x's dtype;
      cols[n, c, i, j, p, q] = x_padded[n, c, p*stride + i, q*stride + j]
    """
    xp = get_xp(x)
    conv_output_shape(x.shape[2], x.shape[3], HH, WW, stride, pad, fn="im2col")
    # copy in (N, C, HH, WW, OH, OW) order: the innermost copied run is an output row
    return xp.ascontiguousarray(_windows6(x, HH, WW, stride, pad))


def _col2im_add(dxp, cols, stride: int):
    """Add cols (N, C, HH, WW, OH, OW) into the padded gradient dxp (N, C, Hp, Wp), in
    place: one strided slice-add per kernel offset, HH*WW large additions, no scatter."""
    _, _, HH, WW, OH, OW = cols.shape
    for i in range(HH):
        for j in range(WW):
            dxp[:, :, i:i + stride * (OH - 1) + 1:stride,
                j:j + stride * (OW - 1) + 1:stride] += cols[:, :, i, j]


def col2im(cols, x_shape: tuple, stride: int = 1, pad: int = 0):
    """The adjoint of ``im2col``: every column entry added back to the pixel it came from.

    Inputs:
    - cols: (N, C, HH, WW, OH, OW)
    - x_shape: (N, C, H, W), the shape of im2col's input; stride, pad as for im2col

    Returns:
    - dx: (N, C, H, W), cols' dtype (padding contributions dropped)
    """
    xp = get_xp(cols)
    N, C, H, W = x_shape
    dxp = xp.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=cols.dtype)
    _col2im_add(dxp, cols, stride)
    return dxp[:, :, pad:pad + H, pad:pad + W] if pad else dxp


# --- naive reference ------------------------------------------------------------------


def conv_forward_naive(x, w, b, conv_param):
    """Forward pass of a convolution, one output element at a time (the reference).

    Inputs:
    - x: (N, C, H, W) input
    - w: (F, C, HH, WW) filters
    - b: (F,) biases
    - conv_param: dict with 'stride' (int >= 1) and 'pad' (int >= 0, zero padding on
      every side); (H + 2 pad - HH) and (W + 2 pad - WW) must be multiples of stride

    Returns a tuple of:
    - out: (N, F, OH, OW) with OH = (H + 2 pad - HH) / stride + 1 (likewise OW);
      out[n, f, p, q] = sum(x_padded[n, :, window(p, q)] * w[f]) + b[f]
    - cache: (x, w, b, conv_param)
    """
    fn = "conv_forward_naive"
    stride, pad, OH, OW = _conv_inputs(fn, x, w, b, conv_param)
    xp = get_xp(x, w, b)
    N = x.shape[0]
    F, _, HH, WW = w.shape
    xpad = _pad(x, pad)
    out = xp.zeros((N, F, OH, OW), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for p in range(OH):
                for q in range(OW):
                    window = xpad[n, :, p * stride:p * stride + HH, q * stride:q * stride + WW]
                    out[n, f, p, q] = (window * w[f]).sum() + b[f]
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    """Backward pass of the naive convolution, one output element at a time.

    Inputs:
    - dout: (N, F, OH, OW) upstream gradient
    - cache: from conv_forward_naive

    Returns a tuple of:
    - dx: (N, C, H, W)
    - dw: (F, C, HH, WW)
    - db: (F,)
    """
    x, w, b, conv_param = cache
    fn = "conv_backward_naive"
    stride, pad, OH, OW = _conv_inputs(fn, x, w, b, conv_param)
    _check_dout(fn, dout, (x.shape[0], w.shape[0], OH, OW))
    xp = get_xp(dout, x, w)
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    xpad = _pad(x, pad)
    dxpad = xp.zeros(xpad.shape, dtype=x.dtype)
    dw = xp.zeros(w.shape, dtype=w.dtype)
    for n in range(N):
        for f in range(F):
            for p in range(OH):
                for q in range(OW):
                    rows = slice(p * stride, p * stride + HH)
                    cols = slice(q * stride, q * stride + WW)
                    g = dout[n, f, p, q]
                    dxpad[n, :, rows, cols] += g * w[f]
                    dw[f] += g * xpad[n, :, rows, cols]
    db = dout.sum(axis=(0, 2, 3))
    dx = dxpad[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, db


# --- fast: im2col + batched GEMM -------------------------------------------------------


def conv_forward_fast(x, w, b, conv_param):
    """Forward pass of a convolution: im2col, then one batched matrix product.

    Inputs and outputs as ``conv_forward_naive`` (same values up to rounding):
    - x: (N, C, H, W); w: (F, C, HH, WW); b: (F,); conv_param: 'stride', 'pad'

    With ``layers.set_threads(2)`` the batch is split over two Python threads (see
    ``layers._threads``); the result is the same.

    Returns a tuple of:
    - out: (N, F, OH, OW), contiguous, x's dtype
    - cache: what conv_backward_fast needs (including the (N, C, HH, WW, OH, OW) columns)
    """
    fn = "conv_forward_fast"
    stride, pad, OH, OW = _conv_inputs(fn, x, w, b, conv_param)
    xp = get_xp(x, w, b)
    N = x.shape[0]
    F, C, HH, WW = w.shape
    K, P = C * HH * WW, OH * OW
    w2 = w.reshape(F, K)
    cols = xp.empty((N, C, HH, WW, OH, OW), dtype=x.dtype)
    out = xp.empty((N, F, P), dtype=x.dtype)

    def part(_, n):
        # copy in (N, C, HH, WW, OH, OW) order: the innermost copied run is an output row
        xp.copyto(cols[n], _windows6(x[n], HH, WW, stride, pad))
        xp.matmul(w2, cols[n].reshape(-1, K, P), out=out[n])  # (n, F, OH*OW): NCHW
        out[n] += b.reshape(1, F, 1)  # our own array: in place is safe

    run_parts(part, batch_parts(N, x))
    return out.reshape(N, F, OH, OW), (x.shape, w, cols, stride, pad)


def conv_backward_fast(dout, cache):
    """Backward pass of the fast convolution.

    Inputs:
    - dout: (N, F, OH, OW) upstream gradient
    - cache: from conv_forward_fast

    Returns a tuple of:
    - dx: (N, C, H, W) (a view into a padded buffer when pad > 0)
    - dw: (F, C, HH, WW)
    - db: (F,)
    """
    x_shape, w, cols, stride, pad = cache
    N, C, HH, WW, OH, OW = cols.shape
    F = w.shape[0]
    _check_dout("conv_backward_fast", dout, (N, F, OH, OW))
    xp = get_xp(dout, w, cols)
    K, P = C * HH * WW, OH * OW
    H, W = x_shape[2:]
    d3 = dout.reshape(N, F, P)
    cols3 = cols.reshape(N, K, P)
    w2t = w.reshape(F, K).T
    dxp = xp.empty((N, C, H + 2 * pad, W + 2 * pad), dtype=dout.dtype)

    def part(_, n):
        # dw^T = sum_n cols[n] @ dout[n]^T: BLAS reads the transposed operand in place
        # (cols @ dout^T measured faster than dout @ cols^T here)
        dw_t = xp.matmul(cols3[n], d3[n].transpose(0, 2, 1)).sum(axis=0)  # (K, F)
        dcols = xp.matmul(w2t, d3[n])  # (n, K, OH*OW)
        dxp[n] = 0
        _col2im_add(dxp[n], dcols.reshape(-1, C, HH, WW, OH, OW), stride)
        return dw_t, d3[n].sum(axis=(0, 2))

    partials = run_parts(part, batch_parts(N, dout))  # [(dw^T, db) per part]
    dw = sum(p[0] for p in partials).T.reshape(w.shape)
    db = sum(p[1] for p in partials)
    dx = dxp[:, :, pad:pad + H, pad:pad + W] if pad else dxp
    return dx, dw, db


conv_forward = conv_forward_fast
conv_backward = conv_backward_fast
# the names of CS231n's fast_layers (its two Cython/stride-trick variants are one fast
# layer here; their caches are interchangeable)
conv_forward_im2col = conv_forward_strides = conv_forward_fast
conv_backward_im2col = conv_backward_strides = conv_backward_fast
