"""The CS231n sandwiches (affine/conv + norm + relu [+ pool]): strategies and registry
entries."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

import layers as L

from ._base import LayerCase, LayerSpec, dims, generic_arrays, normal, register, upstream
from .conv import conv_inputs
from .core import _affine_make, affine_inputs
from .norm import _norm_params

__all__ = [
    "affine_relu_inputs", "affine_bn_relu_inputs", "affine_ln_relu_inputs",
    "conv_sandwich_inputs",
]


def _normalise(a, axis, eps=1e-5):
    """(a - mean) / sqrt(var + eps) along ``axis``: only used to keep drawn sandwich
    inputs away from relu's kink."""
    c = a - a.mean(axis=axis, keepdims=True)
    return c / np.sqrt((c * c).mean(axis=axis, keepdims=True) + eps)


@st.composite
def affine_relu_inputs(draw, dtype=np.float64):
    """affine_inputs whose pre-activations x @ w + b are all at least 1e-2 from 0, and
    not all negative."""
    case = draw(affine_inputs(dtype=dtype))
    x, w, b = case.inputs
    a = x.reshape(x.shape[0], -1) @ w + b
    assume(np.min(np.abs(a)) > 1e-2)
    assume(np.any(a > 0))  # some unit alive, else every gradient is 0 (a vacuous check)
    return case


@st.composite
def _affine_norm_relu(draw, dtype, axis, min_n, min_m):
    N, M = draw(dims(min_n, 4)), draw(dims(min_m, 4))
    rest = draw(st.lists(dims(1, 3), min_size=1, max_size=2))
    x = draw(generic_arrays((N, *rest), dtype=dtype, salt=1))
    w = draw(generic_arrays((math.prod(rest), M), dtype=dtype, salt=2))
    b = draw(generic_arrays((M,), dtype=dtype, salt=3))
    gamma, beta = draw(_norm_params(M, dtype))
    x2 = x.reshape(N, -1).astype(np.float64)
    if axis == 0:
        # batchnorm (b cancels): scale each column of w so its column of x @ w has a std
        # near 1, within a factor 4 (the rescaled values stay generic)
        std = (x2 @ w).std(axis=0)
        w = (w * np.clip(1.0 / np.maximum(std, 1e-12), 0.25, 4.0)).astype(dtype)
    a = x2 @ w + b  # (N, M)
    # The normaliser multiplies rounding noise by gamma / std: a float32 call stays within
    # a few ulps of the float64 one (the checker's fidelity test) only if no normalised
    # slice has a small std
    assume(np.min(a.std(axis=axis)) >= 0.8)
    pre = gamma * _normalise(a, axis) + beta  # the relu's input
    assume(np.min(np.abs(pre)) > 1e-2)  # off relu's kink
    assume(np.any(pre > 0))  # some unit alive, else every gradient is 0
    return (x, w, b, gamma, beta), draw(upstream((N, M), dtype))


@st.composite
def affine_bn_relu_inputs(draw, dtype=np.float64):
    """x (N, ...) with N >= 3 (with 2 examples batchnorm saturates at +-1 and its
    gradient is all rounding noise), w, b, gamma, beta and bn_param {'mode': 'train'}; every
    column of the affine output has a std of at least 0.8, and the relu input no value
    near 0."""
    inputs, dout = draw(_affine_norm_relu(dtype, axis=0, min_n=3, min_m=1))
    return LayerCase((*inputs, {"mode": "train"}), dout)


@st.composite
def affine_ln_relu_inputs(draw, dtype=np.float64):
    """As affine_bn_relu_inputs for layernorm: M >= 3 (with 2 features layernorm
    saturates at +-1 and its gradient vanishes), every row's std at least 0.8."""
    inputs, dout = draw(_affine_norm_relu(dtype, axis=1, min_n=1, min_m=3))
    return LayerCase((*inputs, {}), dout)


@st.composite
def conv_sandwich_inputs(draw, dtype=np.float64, pool: bool = False, batchnorm: bool = False):
    """Inputs for conv_relu(_pool) / conv_bn_relu(_pool): x, w, b, [gamma, beta (F,)],
    conv_param, [bn_param (train)], [pool_param over the conv's (OH, OW)]; dout matches
    the sandwich's output.

    Channel 0 is kept alive so no check is vacuous (with every relu unit cut, all the
    gradients are identically zero): without batchnorm, x >= 0.1, w[0] >= 0 and b[0] > 0
    make every channel-0 output positive; with batchnorm, beta[0] > 0 makes channel 0's
    largest normalized value positive. Pool windows cover every conv output (stride <=
    pool size), so a live unit always reaches a pool output. (Before batchnorm the conv
    bias has an identically zero gradient whatever the inputs: batchnorm removes it.)"""
    case = draw(conv_inputs(dtype=dtype))
    x, w, b, conv_param = case.inputs
    N, F, OH, OW = case.dout.shape
    if batchnorm:
        # N*OH*OW >= 3: with 2 values per channel batchnorm's output is +-gamma whatever
        # the input, its gradient only eps-sized noise. More than one weight per filter:
        # batchnorm undoes any scaling of a filter, so a single weight's gradient is 0.
        assume(N * OH * OW >= 3 and w[0].size >= 2)
        gamma = draw(generic_arrays((F,), low=0.5, high=1.5, signed=False, dtype=dtype))
        beta = draw(generic_arrays((F,), dtype=dtype))
        beta[0] = abs(beta[0])
        inputs = [x, w, b, gamma, beta, conv_param, {"mode": "train"}]
    else:
        x = np.abs(x)  # generic arrays keep |values| >= low, so x >= 0.1 * scale
        w, b = w.copy(), b.copy()
        w[0], b[0] = np.abs(w[0]), abs(b[0])
        inputs = [x, w, b, conv_param]
    out_shape = (N, F, OH, OW)
    if pool:
        ph, pw, s = draw(st.sampled_from([
            (ph, pw, s) for ph in (1, 2) for pw in (1, 2) for s in (1, 2)
            if s <= min(ph, pw) and OH >= ph and OW >= pw
            and (OH - ph) % s == 0 and (OW - pw) % s == 0]))
        inputs.append({"pool_height": ph, "pool_width": pw, "stride": s})
        out_shape = (N, F, (OH - ph) // s + 1, (OW - pw) // s + 1)
    return LayerCase(tuple(inputs), draw(upstream(out_shape, dtype)))


def _affine_norm_relu_make(rng, dtype):
    x, w, b = normal(rng, (64, 4, 32), dtype), normal(rng, (128, 96), dtype), \
        normal(rng, (96,), dtype)
    gamma, beta = 1 + 0.1 * normal(rng, (96,), dtype), normal(rng, (96,), dtype)
    return LayerCase((x, w, b, gamma, beta, {"mode": "train"}), normal(rng, (64, 96), dtype))


def _sandwich_make(pool, batchnorm):
    def make(rng, dtype):
        x, w, b = normal(rng, (4, 3, 8, 8), dtype), normal(rng, (6, 3, 3, 3), dtype), \
            normal(rng, (6,), dtype)
        inputs = [x, w, b]
        if batchnorm:
            inputs += [1 + 0.1 * normal(rng, (6,), dtype), normal(rng, (6,), dtype)]
        inputs.append({"stride": 1, "pad": 1})
        if batchnorm:
            inputs.append({"mode": "train"})
        side = 8
        if pool:
            inputs.append({"pool_height": 2, "pool_width": 2, "stride": 2})
            side = 4
        return LayerCase(tuple(inputs), normal(rng, (4, 6, side, side), dtype))
    return make


register(LayerSpec("affine_relu", L.affine_relu_forward, L.affine_relu_backward,
                   lambda dt: affine_relu_inputs(dtype=dt), _affine_make,
                   layout="x:N,*D w:D,M b:M"))
register(LayerSpec("affine_bn_relu", L.affine_bn_relu_forward, L.affine_bn_relu_backward,
                   lambda dt: affine_bn_relu_inputs(dtype=dt), _affine_norm_relu_make,
                   layout="x:N,*D w:D,M b:M gamma:M beta:M", empty_batch="error"))
register(LayerSpec("affine_ln_relu", L.affine_ln_relu_forward, L.affine_ln_relu_backward,
                   lambda dt: affine_ln_relu_inputs(dtype=dt), _affine_norm_relu_make,
                   layout="x:N,*D w:D,M b:M gamma:M beta:M"))


for _name, _pool, _bn in [("conv_relu", False, False), ("conv_relu_pool", True, False),
                          ("conv_bn_relu", False, True), ("conv_bn_relu_pool", True, True)]:
    register(LayerSpec(
        _name, getattr(L, _name + "_forward"), getattr(L, _name + "_backward"),
        lambda dt, p=_pool, n=_bn: conv_sandwich_inputs(dtype=dt, pool=p, batchnorm=n),
        _sandwich_make(_pool, _bn),
        # batchnorm makes the conv bias's gradient identically zero: by design, not a bug
        extra={"vacuous_inputs": ("b",)} if _bn else {},
        layout="x:N,C,H,W w:F,C,HH,WW b:F" + (" gamma:F beta:F" if _bn else ""),
        empty_batch="error" if _bn else "ok"))
