"""Affine, relu and dropout: strategies and registry entries."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

import layers as L

from ._base import LayerCase, LayerSpec, dims, generic_arrays, normal, register, seeds, upstream

__all__ = ["affine_inputs", "relu_inputs", "dropout_inputs"]


@st.composite
def affine_inputs(draw, dtype=np.float64, max_side: int = 4):
    """x (N, d_1, ..., d_k) with k in 1..3, w (D, M), b (M,); dout (N, M)."""
    N = draw(dims(1, max_side))
    rest = draw(st.lists(dims(1, 3), min_size=1, max_size=3))
    M = draw(dims(1, max_side))
    D = math.prod(rest)
    x = draw(generic_arrays((N, *rest), dtype=dtype, salt=1))
    w = draw(generic_arrays((D, M), dtype=dtype, salt=2))
    b = draw(generic_arrays((M,), dtype=dtype, salt=3))
    return LayerCase((x, w, b), draw(upstream((N, M), dtype)))


@st.composite
def relu_inputs(draw, dtype=np.float64):
    """x of rank 1..4 with every |x| >= 0.1 (away from the kink at 0) and at least one
    positive element; dout like x."""
    shape = tuple(draw(st.lists(dims(1, 4), min_size=1, max_size=4)))
    x = draw(generic_arrays(shape, low=0.1, dtype=dtype))
    if not (x > 0).any():  # all negative: the gradient is 0 and the check vacuous
        x = -x
    return LayerCase((x,), draw(upstream(shape, dtype)))


@st.composite
def dropout_inputs(draw, dtype=np.float64, mode=None):
    """x of rank 1..3; dropout_param with a keep probability p in [0.2, 1], a mode
    ('train' mostly) and always a seed, so the forward is a fixed function of x."""
    shape = tuple(draw(st.lists(dims(1, 4), min_size=1, max_size=3)))
    x = draw(generic_arrays(shape, dtype=dtype, salt=1))
    p = draw(st.one_of(st.just(1.0), st.floats(0.2, 1.0)))
    if mode is None:
        mode = draw(st.sampled_from(["train", "train", "train", "test"]))
    seed = draw(seeds)
    # at least one element kept, else the check is vacuous: the mask dropout_forward
    # draws for this seed on the backend where new arrays are made (the suite's xp; a
    # device draws other masks than numpy's)
    if mode != "test":
        B = L.backend
        u = B.to_numpy(B.uniform_draws(seed, shape, np.float64, B.get_backend()))
        assume(bool(np.any(u < p)))
    param = {"p": p, "mode": mode, "seed": seed}
    return LayerCase((x, param), draw(upstream(shape, dtype)))


def _affine_make(rng, dtype):
    x, w, b = normal(rng, (64, 8, 16), dtype), normal(rng, (128, 96), dtype), \
        normal(rng, (96,), dtype)
    return LayerCase((x, w, b), normal(rng, (64, 96), dtype))


def _relu_make(rng, dtype):
    x = normal(rng, (64, 32, 16), dtype)
    return LayerCase((x,), normal(rng, x.shape, dtype))


def _dropout_make(rng, dtype):
    x = normal(rng, (64, 32, 16), dtype)
    return LayerCase((x, {"p": 0.7, "mode": "train", "seed": 3}), normal(rng, x.shape, dtype))


register(LayerSpec("affine", L.affine_forward, L.affine_backward,
                   lambda dt: affine_inputs(dtype=dt), _affine_make, linear=(0, (2,)),
                   layout="x:N,*D w:D,M b:M"))
register(LayerSpec("relu", L.relu_forward, L.relu_backward,
                   lambda dt: relu_inputs(dtype=dt), _relu_make, layout="x:N,*"))


register(LayerSpec("dropout", L.dropout_forward, L.dropout_backward,
                   lambda dt: dropout_inputs(dtype=dt), _dropout_make, linear=(0, ()),
                   layout="x:N,*"))
