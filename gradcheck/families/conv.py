"""Convolution and pooling: strategies (tiling geometry) and registry entries."""

from __future__ import annotations


import numpy as np
from hypothesis import strategies as st

import layers as L

from ._base import LayerCase, LayerSpec, dims, generic_arrays, normal, register, upstream

__all__ = ["conv_geometry", "conv_inputs", "pool_inputs"]


def _tiling_sizes(kernel: int, stride: int, pad: int, max_side: int) -> list[int]:
    """Input sizes in [1, max_side] along which a window tiles: (n + 2 pad - kernel) is a
    non-negative multiple of stride."""
    return [n for n in range(1, max_side + 1)
            if n + 2 * pad >= kernel and (n + 2 * pad - kernel) % stride == 0]


@st.composite
def conv_geometry(draw, max_side: int = 7, max_kernel: int = 3, max_stride: int = 2,
                  max_pad: int = 2, all_padding_windows: bool = False):
    """(H, W, HH, WW, stride, pad) that tile: kernels may be non-square, H != W.

    Sizes are drawn from the ones that tile, so nothing is rejected (n = kernel always
    tiles). Unless ``all_padding_windows``, pad < min(HH, WW), so every window overlaps
    the image: with a 1x1 kernel, pad 1 and stride 2 on a 1x1 image every window sees
    only padding, the gradients of x and w are identically zero and a gradient check of
    that case could not fail."""
    HH, WW = draw(dims(1, max_kernel)), draw(dims(1, max_kernel))
    stride = draw(st.integers(1, max_stride))
    top = max_pad if all_padding_windows else min(max_pad, HH - 1, WW - 1)
    pad = draw(st.integers(0, top))
    H = draw(st.sampled_from(_tiling_sizes(HH, stride, pad, max_side)))
    W = draw(st.sampled_from(_tiling_sizes(WW, stride, pad, max_side)))
    return H, W, HH, WW, stride, pad


@st.composite
def conv_inputs(draw, dtype=np.float64, max_n: int = 2, max_c: int = 3, max_f: int = 3,
                max_side: int = 7, all_padding_windows: bool = False):
    """x (N, C, H, W), w (F, C, HH, WW), b (F,), conv_param {'stride', 'pad'} with a
    tiling geometry (stride 1-2, pad 0-2, kernels 1-3, not necessarily square; see
    ``conv_geometry``); dout (N, F, OH, OW). Small, so a full gradient check of 100
    examples stays quick."""
    H, W, HH, WW, stride, pad = draw(conv_geometry(max_side=max_side,
                                                   all_padding_windows=all_padding_windows))
    N, C, F = draw(dims(1, max_n)), draw(dims(1, max_c)), draw(dims(1, max_f))
    OH, OW = (H + 2 * pad - HH) // stride + 1, (W + 2 * pad - WW) // stride + 1
    x = draw(generic_arrays((N, C, H, W), dtype=dtype))
    w = draw(generic_arrays((F, C, HH, WW), dtype=dtype))
    b = draw(generic_arrays((F,), dtype=dtype))
    return LayerCase((x, w, b, {"stride": stride, "pad": pad}),
                     draw(upstream((N, F, OH, OW), dtype)))


@st.composite
def pool_inputs(draw, dtype=np.float64, max_n: int = 2, max_c: int = 3, max_side: int = 7):
    """x (N, C, H, W) tie-free, pool_param with pool sizes 1-3 and stride 1-3 (so windows
    may overlap, tile exactly or skip elements) whose geometry tiles; dout (N, C, OH, OW).

    x is generic (all values distinct, gaps far above the checker's step), so no window
    has a tie and the max is differentiable at every drawn point."""
    ph, pw = draw(dims(1, 3)), draw(dims(1, 3))
    stride = draw(st.integers(1, 3))
    H = draw(st.sampled_from(_tiling_sizes(ph, stride, 0, max_side)))
    W = draw(st.sampled_from(_tiling_sizes(pw, stride, 0, max_side)))
    N, C = draw(dims(1, max_n)), draw(dims(1, max_c))
    OH, OW = (H - ph) // stride + 1, (W - pw) // stride + 1
    x = draw(generic_arrays((N, C, H, W), dtype=dtype))
    param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    return LayerCase((x, param), draw(upstream((N, C, OH, OW), dtype)))


def _conv_make(rng, dtype):
    x, w, b = normal(rng, (4, 3, 13, 11), dtype), normal(rng, (6, 3, 3, 3), dtype), \
        normal(rng, (6,), dtype)
    return LayerCase((x, w, b, {"stride": 2, "pad": 1}), normal(rng, (4, 6, 7, 6), dtype))


def _pool_make(rng, dtype):
    x = normal(rng, (8, 4, 12, 12), dtype)
    return LayerCase((x, {"pool_height": 2, "pool_width": 2, "stride": 2}),
                     normal(rng, (8, 4, 6, 6), dtype))


def _overlapping_pool_make(rng, dtype):
    x = normal(rng, (8, 4, 13, 13), dtype)
    return LayerCase((x, {"pool_height": 3, "pool_width": 3, "stride": 2}),
                     normal(rng, (8, 4, 6, 6), dtype))


def _avg_pool_make(rng, dtype):
    return LayerCase((normal(rng, (8, 8, 6, 6), dtype),), normal(rng, (8, 8), dtype))


register(LayerSpec("conv", L.conv_forward_fast, L.conv_backward_fast,
                   lambda dt: conv_inputs(dtype=dt), _conv_make,
                   naive=(L.conv_forward_naive, L.conv_backward_naive), linear=(0, (2,)),
                   layout="x:N,C,H,W w:F,C,HH,WW b:F"))
register(LayerSpec("max_pool", L.max_pool_forward_fast, L.max_pool_backward_fast,
                   lambda dt: pool_inputs(dtype=dt), _pool_make,
                   naive=(L.max_pool_forward_naive, L.max_pool_backward_naive),
                   layout="x:N,C,H,W"))
register(LayerSpec("max_pool_overlapping", L.max_pool_forward_fast, L.max_pool_backward_fast,
                   lambda dt: pool_inputs(dtype=dt), _overlapping_pool_make,
                   naive=(L.max_pool_forward_naive, L.max_pool_backward_naive),
                   layout="x:N,C,H,W"))
register(LayerSpec("global_avg_pool", L.global_avg_pool_forward, L.global_avg_pool_backward,
                   lambda dt: pool_inputs(dtype=dt).map(lambda c: LayerCase(
                       c.inputs[:1], c.dout.mean(axis=(2, 3)))),
                   _avg_pool_make, linear=(0, ()), layout="x:N,C,H,W"))
