"""Batch, layer, spatial batch and spatial group normalisation: strategies and registry
entries."""

from __future__ import annotations


import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

import layers as L

from ._base import LayerCase, LayerSpec, dims, generic_arrays, normal, register, upstream

__all__ = [
    "batchnorm_inputs", "layernorm_inputs", "spatial_batchnorm_inputs",
    "spatial_groupnorm_inputs",
]


@st.composite
def _norm_params(draw, D, dtype):
    """gamma (signed, away from 0) and beta, both (D,)."""
    gamma = draw(generic_arrays((D,), low=0.2, high=2.0, dtype=dtype, salt=4))
    beta = draw(generic_arrays((D,), dtype=dtype, salt=5))
    return gamma, beta


@st.composite
def batchnorm_inputs(draw, dtype=np.float64, mode=None):
    """x (N, D) with N >= 2 and every column non-constant (generic values are distinct,
    and far apart compared with sqrt(eps)); gamma, beta (D,); bn_param with a mode
    ('train' mostly; 'test' with drawn running statistics), sometimes eps and momentum.

    Below float64, N >= 3: with two examples xhat is +-1 whatever x, dx is a difference
    of nearly equal terms, and in float32 it is rounding noise (the fidelity test fails
    on a correct layer)."""
    N, D = draw(dims(2 if np.dtype(dtype) == np.float64 else 3, 5)), draw(dims(1, 4))
    x = draw(generic_arrays((N, D), dtype=dtype, salt=1))
    gamma, beta = draw(_norm_params(D, dtype))
    if mode is None:
        mode = draw(st.sampled_from(["train", "train", "train", "test"]))
    param = {"mode": mode}
    if draw(st.booleans()):
        param["eps"] = draw(st.sampled_from([1e-5, 1e-3]))
        param["momentum"] = draw(st.sampled_from([0.9, 0.5]))
    if mode == "test" or draw(st.booleans()):
        param["running_mean"] = draw(generic_arrays((D,), dtype=dtype, salt=6))
        param["running_var"] = draw(generic_arrays((D,), low=0.5, high=2.0, signed=False,
                                                   dtype=dtype, salt=7))
    return LayerCase((x, gamma, beta, param), draw(upstream((N, D), dtype)))


@st.composite
def layernorm_inputs(draw, dtype=np.float64):
    """x (N, D) with D >= 2 (D >= 3 below float64, as for batchnorm's N) and every row
    non-constant; gamma, beta (D,); ln_param."""
    N, D = draw(dims(1, 4)), draw(dims(2 if np.dtype(dtype) == np.float64 else 3, 5))
    x = draw(generic_arrays((N, D), dtype=dtype, salt=1))
    gamma, beta = draw(_norm_params(D, dtype))
    param = draw(st.sampled_from([{}, {"eps": 1e-5}, {"eps": 1e-3}]))
    return LayerCase((x, gamma, beta, dict(param)), draw(upstream((N, D), dtype)))


@st.composite
def spatial_batchnorm_inputs(draw, dtype=np.float64, mode: str = "train"):
    """x (N, C, H, W) with N*H*W >= 3, gamma and beta (C,), bn_param {'mode', 'eps'}
    (+ running stats of (C,) in test mode); dout like x.

    (With 2 values per channel the normalized output is +-1 whatever x is, so dx is only
    eps-sized rounding noise and a float32-vs-float64 comparison means nothing.)"""
    N, C, H, W = draw(dims(1, 3)), draw(dims(1, 3)), draw(dims(1, 3)), draw(dims(1, 3))
    assume(N * H * W >= 3)
    x = draw(generic_arrays((N, C, H, W), high=2.0, dtype=dtype))
    gamma = draw(generic_arrays((C,), low=0.5, high=1.5, dtype=dtype))
    beta = draw(generic_arrays((C,), dtype=dtype))
    bn_param = {"mode": mode, "eps": 1e-5}
    if mode == "test":
        bn_param["running_mean"] = draw(generic_arrays((C,), dtype=dtype))
        bn_param["running_var"] = draw(generic_arrays((C,), low=0.5, high=2.0,
                                                      signed=False, dtype=dtype))
    return LayerCase((x, gamma, beta, bn_param), draw(upstream((N, C, H, W), dtype)))


@st.composite
def spatial_groupnorm_inputs(draw, dtype=np.float64):
    """x (N, C, H, W) with C = G * (C // G) and at least three values per group (see
    spatial_batchnorm_inputs), gamma and beta (1, C, 1, 1), G, gn_param {'eps'}; dout
    like x."""
    N, G, per = draw(dims(1, 2)), draw(dims(1, 3)), draw(dims(1, 2))
    H, W = draw(dims(1, 3)), draw(dims(1, 3))
    assume(per * H * W >= 3)
    C = G * per
    x = draw(generic_arrays((N, C, H, W), high=2.0, dtype=dtype))
    gamma = draw(generic_arrays((1, C, 1, 1), low=0.5, high=1.5, dtype=dtype))
    beta = draw(generic_arrays((1, C, 1, 1), dtype=dtype))
    return LayerCase((x, gamma, beta, G, {"eps": 1e-5}), draw(upstream((N, C, H, W), dtype)))


def _norm_make(N, D):
    def make(rng, dtype):
        x = normal(rng, (N, D), dtype)
        gamma, beta = 1 + 0.1 * normal(rng, (D,), dtype), normal(rng, (D,), dtype)
        return LayerCase((x, gamma, beta, {"mode": "train"}), normal(rng, (N, D), dtype))
    return make


def _spatial_bn_make(mode):
    def make(rng, dtype):
        x = normal(rng, (8, 4, 6, 6), dtype)
        gamma, beta = 1 + 0.1 * normal(rng, (4,), dtype), normal(rng, (4,), dtype)
        bn_param = {"mode": mode, "running_mean": normal(rng, (4,), dtype),
                    "running_var": (1 + rng.random(4)).astype(dtype)}
        return LayerCase((x, gamma, beta, bn_param), normal(rng, x.shape, dtype))
    return make


def _spatial_gn_make(rng, dtype):
    x = normal(rng, (4, 6, 5, 5), dtype)
    gamma = 1 + 0.1 * normal(rng, (1, 6, 1, 1), dtype)
    return LayerCase((x, gamma, normal(rng, (1, 6, 1, 1), dtype), 3, {"eps": 1e-5}),
                     normal(rng, x.shape, dtype))


register(LayerSpec("batchnorm", L.batchnorm_forward, L.batchnorm_backward,
                   lambda dt: batchnorm_inputs(dtype=dt), _norm_make(256, 128),
                   alt_backwards=(L.batchnorm_backward_alt,), layout="x:N,D gamma:D beta:D",
                   empty_batch="error"))
register(LayerSpec("layernorm", L.layernorm_forward, L.layernorm_backward,
                   lambda dt: layernorm_inputs(dtype=dt), _norm_make(128, 256),
                   layout="x:N,D gamma:D beta:D"))


register(LayerSpec("spatial_batchnorm", L.spatial_batchnorm_forward,
                   L.spatial_batchnorm_backward,
                   lambda dt: spatial_batchnorm_inputs(dtype=dt), _spatial_bn_make("train"),
                   layout="x:N,C,H,W gamma:C beta:C", empty_batch="error"))
register(LayerSpec("spatial_batchnorm_test_mode", L.spatial_batchnorm_forward,
                   L.spatial_batchnorm_backward,
                   lambda dt: spatial_batchnorm_inputs(dtype=dt, mode="test"),
                   _spatial_bn_make("test"), layout="x:N,C,H,W gamma:C beta:C"))
register(LayerSpec("spatial_groupnorm", L.spatial_groupnorm_forward,
                   L.spatial_groupnorm_backward,
                   lambda dt: spatial_groupnorm_inputs(dtype=dt), _spatial_gn_make,
                   layout="x:N,C,H,W gamma:1,C,1,1 beta:1,C,1,1"))
