"""Convolution: a naive loop reference and a fast strided-window + BLAS version.

The fast layer is im2col + one batched matrix product (the MLAB / CS231n "fast layers"
idea, with no Cython and no build step):

- ``im2col`` copies a strided view of the zero-padded input into ``cols`` of layout
  (N, C, HH, WW, OH, OW) (for stride 1, usually the flat-window layout described below).
  That copy order keeps the innermost run a row of OW output pixels; the
  (N, OH, OW, C, HH, WW) order copies runs of only WW elements and was 2-4x slower on
  this project's machines.
- ``w (F, C*HH*WW) @ cols (N, C*HH*WW, OH*OW)`` is a batched GEMM that writes (N, F, OH*OW),
  which *is* NCHW: no output transpose.
- ``col2im`` adds the columns back with one strided slice-add per kernel offset (HH*WW
  additions of whole (N, C, OH, OW) blocks) instead of a scatter over every element.

The fast layer runs a few examples at a time (see _CHUNK_BYTES). The col layout matches
Chainer's GPU im2col kernels, so a GPU build can swap im2col/col2im for kernels and keep
the GEMM code. Everything here runs on numpy or cupy arrays.
"""

from __future__ import annotations

from . import _validate as v
from ._cache import backward_of, forward_layer
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
    H, W = v.integer(fn, "H", H, 1), v.integer(fn, "W", W, 1)
    HH, WW = v.integer(fn, names[0], HH, 1), v.integer(fn, names[1], WW, 1)
    stride, pad = v.integer(fn, "stride", stride, 1), v.integer(fn, "pad", pad, 0)
    context = (f"H, W = {H}, {W}; {names[0]}, {names[1]} = {HH}, {WW}; "
               f"stride {stride}, pad {pad}")
    return (_tile(fn, "H", H, HH, names[0], stride, pad, context),
            _tile(fn, "W", W, WW, names[1], stride, pad, context))


def _conv_params(fn: str, x, w, b):
    """x checked first (its dtype is the computation's); integer w, b cast to it."""
    v.array(fn, "x", x, ndim=4, what="(N, C, H, W)")
    return (v.float_param(fn, "w", w, x, ndim=4, what="(F, C, HH, WW)"),
            v.float_param(fn, "b", b, x, ndim=1, what="(F,)"))


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
    stride = v.integer(fn, "conv_param['stride']", conv_param["stride"], 1)
    pad = v.integer(fn, "conv_param['pad']", conv_param["pad"], 0)
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
    v.array("im2col", "x", x, ndim=4, what="(N, C, H, W)")
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
    fn = "col2im"
    v.array(fn, "cols", cols, ndim=6, what="(N, C, HH, WW, OH, OW)")
    if not (isinstance(x_shape, (tuple, list)) and len(x_shape) == 4):
        raise TypeError(f"{fn}: x_shape must be a tuple (N, C, H, W); got {x_shape!r}")
    N, C, H, W = (v.integer(fn, f"x_shape[{i}]", n, 0) for i, n in enumerate(x_shape))
    _, _, HH, WW, OH, OW = cols.shape
    if (N, C) != cols.shape[:2] or (OH, OW) != conv_output_shape(H, W, HH, WW, stride, pad,
                                                                  fn=fn):
        raise ValueError(f"{fn}: cols of shape {tuple(cols.shape)} do not come from an input "
                         f"of x_shape {tuple(x_shape)} with stride {stride}, pad {pad}; "
                         f"cols must be (N, C, HH, WW, OH, OW) with (N, C) from x_shape and "
                         f"(OH, OW) = conv_output_shape(H, W, HH, WW, stride, pad)")
    xp = get_xp(cols)
    dxp = xp.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=cols.dtype)
    _col2im_add(dxp, cols, stride)
    return dxp[:, :, pad:pad + H, pad:pad + W] if pad else dxp


# --- naive reference ------------------------------------------------------------------


@forward_layer
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
    w, b = _conv_params(fn, x, w, b)
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


@backward_of("conv_forward_naive")
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


# --- stride 1: windows over the flattened padded input --------------------------------
#
# With stride 1, window offset (i, j) of every output pixel of an image is one shift of
# the padded image read flat: output (p, q) at "padded width" index p*Wp + q reads
# x_padded.flat[p*Wp + q + i*Wp + j]. So the columns of offset (i, j) for all OH rows are
# ONE contiguous run of OH*Wp elements, at the cost of Wp - OW = WW - 1 junk columns per
# output row (windows that wrap into the next row; 12.5 % more GEMM work for 3x3 on
# 16 x 16). The im2col copy then runs at memcpy speed instead of one OW-element run per
# output row (0.5 vs 1.9 ms on x (64,32,16,16), w (64,32,3,3), one core), and col2im
# becomes HH*WW adds of long runs (2.7 vs 5.5 ms): numpy's per-row loop overhead was
# what bounded both. The junk columns are harmless: the forward drops them, and the
# backward zeroes the upstream gradient there, so they add exact zeros into dx and dw.


def _use_flat(stride: int, WW: int, OW: int) -> bool:
    """Flat windows when their junk columns are at most 1/8 of the GEMM: conv x
    (64,32,16,16) w (64,32,3,3) took 17.9 instead of 18.7 ms (one core, fwd+bwd); with
    7x7 windows on 32 x 32 (19 % junk) it was slower, 25.5 against 22.8 ms."""
    return stride == 1 and 8 * (WW - 1) <= OW


def _flat_padded(x, pad: int, tail: int):
    """x (N, C, H, W) zero-padded by ``pad`` and flattened per channel, plus ``tail``
    zeros so the last window's junk columns stay inside: (N, C, Hp*Wp + tail)."""
    xp = get_xp(x)
    N, C, H, W = x.shape
    Hp, Wp = H + 2 * pad, W + 2 * pad
    buf = xp.zeros((N, C, Hp * Wp + tail), dtype=x.dtype)
    buf[:, :, :Hp * Wp].reshape(N, C, Hp, Wp)[:, :, pad:pad + H, pad:pad + W] = x
    return buf


def _flat_windows(xpf, HH: int, WW: int, Wp: int, Q: int):
    """Read-only (N, C, HH, WW, Q) view of a _flat_padded array:
    view[n, c, i, j, :] = xpf[n, c, i*Wp + j : i*Wp + j + Q]."""
    s0, s1, s2 = xpf.strides
    N, C, L = xpf.shape
    if (HH - 1) * Wp + WW - 1 + Q > L:  # as_strided would read past the buffer
        raise AssertionError(f"_flat_windows: a buffer of {L} per channel is too short")
    return get_xp(xpf).lib.stride_tricks.as_strided(
        xpf, (N, C, HH, WW, Q), (s0, s1, Wp * s2, s2, s2), writeable=False)


# --- fast: im2col + batched GEMM, a few examples at a time -----------------------------
#
# The batch runs in chunks of about _CHUNK_BYTES of columns: im2col, GEMM and col2im of
# a chunk then stay in cache, and no temporary outgrows glibc's mmap threshold (32 MiB:
# a bigger array is a fresh mapping every call and page-faults on first touch, 2.6 ms
# extra for the 38 MB of columns of a 7x7 conv on (64, 3, 32, 32)). The backward
# recomputes the columns from x instead of keeping them: a copy at memcpy speed, against
# holding C*HH*WW times x's memory per layer between forward and backward. Measured on
# one core, fwd+bwd, chunks of 4 MB against the whole batch at once: 7.7 vs 7.8 ms
# (c3_k3), 22.8 vs 24.5 (c32_k3), 22.1 vs 24.3 (c3_k7, N=50), 27.4 vs 35.5 (c3_k7,
# N=64); 2 MB chunks were about the same, 16 MB and more lost most of the gain.
_CHUNK_BYTES = 4 * 2**20


class _Plan:
    """The geometry of one fast conv: which window layout, and the chunk size."""

    def __init__(self, x_shape, w_shape, itemsize: int, stride: int, pad: int):
        N, C, H, W = x_shape
        F, _, HH, WW = w_shape
        self.OH, self.OW = conv_output_shape(H, W, HH, WW, stride, pad)
        self.x_shape, self.w_shape, self.stride, self.pad = x_shape, w_shape, stride, pad
        self.flat = _use_flat(stride, WW, self.OW)
        self.Hp, self.Wp = H + 2 * pad, W + 2 * pad
        self.K = C * HH * WW
        # output row width: padded (with junk columns) on the flat layout
        self.row = self.Wp if self.flat else self.OW
        self.Q = self.OH * self.row
        self.chunk = max(1, _CHUNK_BYTES // (self.K * self.Q * itemsize))

    def chunks(self, part: slice) -> list[slice]:
        return [slice(a, min(a + self.chunk, part.stop))
                for a in range(part.start, part.stop, self.chunk)]

    def cols(self, x):
        """im2col of the examples x (n, C, H, W): a new (n, K, Q) array."""
        xp = get_xp(x)
        _, _, HH, WW = self.w_shape
        if self.flat:
            view = _flat_windows(_flat_padded(x, self.pad, WW - 1), HH, WW, self.Wp, self.Q)
        else:  # (n, C, HH, WW, OH, OW): the innermost copied run is an output row
            view = _windows6(x, HH, WW, self.stride, self.pad)
        return xp.ascontiguousarray(view).reshape(x.shape[0], self.K, self.Q)


def conv_forward_fast(x, w, b, conv_param):
    """Forward pass of a convolution: im2col, then one batched matrix product.

    Inputs and outputs as ``conv_forward_naive`` (same values up to rounding):
    - x: (N, C, H, W); w: (F, C, HH, WW); b: (F,); conv_param: 'stride', 'pad'

    Stride 1 with rows wide enough takes the flat-window layout above; the rest copy 2-D
    windows. When the work is large enough the batch is split over Python threads (see
    ``layers._threads``); the result is the same.

    Returns a tuple of:
    - out: (N, F, OH, OW), contiguous, x's dtype
    - cache: what conv_backward_fast needs (x, w and the geometry; x is kept, not copied)
    """
    fn = "conv_forward_fast"
    w, b = _conv_params(fn, x, w, b)
    stride, pad, OH, OW = _conv_inputs(fn, x, w, b, conv_param)
    xp = get_xp(x, w, b)
    N, F = x.shape[0], w.shape[0]
    plan = _Plan(x.shape, w.shape, x.dtype.itemsize, stride, pad)
    w2 = w.reshape(F, plan.K)
    out = xp.empty((N, F, OH, OW), dtype=x.dtype)

    def part(_, n):
        for m in plan.chunks(n):
            cols = plan.cols(x[m])
            o3 = out[m].reshape(-1, F, OH * OW)
            if plan.flat:  # (m, F, OH*Wp): NCHW plus the junk columns, dropped here
                full = xp.matmul(w2, cols)
                xp.copyto(out[m], full.reshape(-1, F, OH, plan.Wp)[..., :OW])
            else:
                xp.matmul(w2, cols, out=o3)  # (m, F, OH*OW): NCHW, no transpose
            # the bias on the contiguous output: broadcast over the flat layout's sliced
            # rows it cost 4x the copy
            o3 += b.reshape(F, 1)

    run_parts(part, batch_parts(N, x, work=N * plan.K * plan.Q))
    return out, (x, w, plan)


def conv_backward_fast(dout, cache):
    """Backward pass of the fast convolution.

    Inputs:
    - dout: (N, F, OH, OW) upstream gradient
    - cache: from conv_forward_fast

    Returns a tuple of:
    - dx: (N, C, H, W), a view into a padded buffer
    - dw: (F, C, HH, WW)
    - db: (F,)
    """
    x, w, plan = cache
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    OH, OW, Wp, pad, s = plan.OH, plan.OW, plan.Wp, plan.pad, plan.stride
    _check_dout("conv_backward_fast", dout, (N, F, OH, OW))
    xp = get_xp(dout, w, x)
    w2t = w.reshape(F, plan.K).T
    if plan.flat:  # per channel: the padded image flat, plus the junk columns' overrun
        dxf = xp.empty((N, C, plan.Hp * Wp + WW - 1), dtype=dout.dtype)
        dxp = dxf[:, :, :plan.Hp * Wp].reshape(N, C, plan.Hp, Wp)
    else:
        dxp = xp.empty((N, C, plan.Hp, Wp), dtype=dout.dtype)

    def part(_, n):
        dw_t = xp.zeros((plan.K, F), dtype=dout.dtype)  # (an array even for N = 0)
        for m in plan.chunks(n):
            cols = plan.cols(x[m])  # (m, K, Q), recomputed
            if plan.flat:  # dout with zeros on the junk columns
                d = xp.zeros((m.stop - m.start, F, OH, Wp), dtype=dout.dtype)
                d[..., :OW] = dout[m]
                d = d.reshape(-1, F, plan.Q)
            else:
                d = dout[m].reshape(-1, F, plan.Q)
            # dw^T = sum_n cols[n] @ d[n]^T: BLAS reads the transposed operand in place
            # (cols @ d^T measured faster than d @ cols^T here)
            dw_t = dw_t + xp.matmul(cols, d.transpose(0, 2, 1)).sum(axis=0)  # (K, F)
            dcols = xp.matmul(w2t, d)  # (m, K, Q)
            if plan.flat:  # col2im: one add of long contiguous runs per kernel offset
                dxf[m] = 0
                dcols = dcols.reshape(-1, C, HH, WW, plan.Q)
                for i in range(HH):
                    for j in range(WW):
                        dxf[m, :, i * Wp + j:i * Wp + j + plan.Q] += dcols[:, :, i, j]
            else:
                dxp[m] = 0
                _col2im_add(dxp[m], dcols.reshape(-1, C, HH, WW, OH, OW), s)
        return dw_t, dout[n].sum(axis=(0, 2, 3))

    partials = run_parts(part, batch_parts(N, dout, work=N * plan.K * plan.Q))
    dw = sum(p[0] for p in partials).T.reshape(w.shape)
    db = sum(p[1] for p in partials)
    return dxp[:, :, pad:pad + H, pad:pad + W], dw, db


# The tagged cache and the dout checks of layers/_cache.py, applied here rather than as
# decorators so that the bodies above (being reworked for speed) merge without conflicts.
conv_forward_fast = forward_layer(conv_forward_fast)
conv_backward_fast = backward_of("conv_forward_fast")(conv_backward_fast)
conv_forward = conv_forward_fast
conv_backward = conv_backward_fast
# the names of CS231n's fast_layers (its two Cython/stride-trick variants are one fast
# layer here; their caches are interchangeable)
conv_forward_im2col = conv_forward_strides = conv_forward_fast
conv_backward_im2col = conv_backward_strides = conv_backward_fast
