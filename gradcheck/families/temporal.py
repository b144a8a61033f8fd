"""Word embeddings, temporal affine and the temporal softmax loss: strategies and registry
entries."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

import layers as L

from ._base import LayerCase, LayerSpec, dims, generic_arrays, normal, register, upstream

__all__ = [
    "token_ids", "word_embedding_inputs", "temporal_affine_inputs",
    "temporal_softmax_loss_inputs",
]


def token_ids(shape, V: int):
    """An int64 array of ``shape`` with values in [0, V) (repeats allowed, and likely)."""
    n = math.prod(shape)
    return st.lists(st.integers(0, V - 1), min_size=n, max_size=n).map(
        lambda vals: np.asarray(vals, dtype=np.int64).reshape(shape))


@st.composite
def word_embedding_inputs(draw, dtype=np.float64):
    """x (N, T) token ids in [0, V), W (V, D); dout (N, T, D). Repeated ids are common
    (V <= 6), which is what tests the backward's accumulation."""
    N, T, V, D = draw(dims(1, 3)), draw(dims(1, 4)), draw(dims(1, 6)), draw(dims(1, 4))
    x = draw(token_ids((N, T), V))
    W = draw(generic_arrays((V, D), dtype=dtype, salt=1))
    return LayerCase((x, W), draw(upstream((N, T, D), dtype)))


@st.composite
def temporal_affine_inputs(draw, dtype=np.float64):
    """x (N, T, D), w (D, M), b (M,); dout (N, T, M)."""
    N, T, D, M = draw(dims(1, 3)), draw(dims(1, 4)), draw(dims(1, 4)), draw(dims(1, 6))
    x = draw(generic_arrays((N, T, D), dtype=dtype, salt=1))
    w = draw(generic_arrays((D, M), dtype=dtype, salt=2))
    b = draw(generic_arrays((M,), dtype=dtype, salt=3))
    return LayerCase((x, w, b), draw(upstream((N, T, M), dtype)))


@st.composite
def temporal_softmax_loss_inputs(draw, dtype=np.float64):
    """Scores x (N, T, V), targets y (N, T) in [0, V), and a bool mask (N, T) with at
    least one step set (an all-False mask has a zero loss and a zero gradient)."""
    N, T, V = draw(dims(1, 3)), draw(dims(1, 4)), draw(dims(2, 6))
    x = draw(generic_arrays((N, T, V), low=0.0, high=3.0, dtype=dtype, salt=1))
    y = draw(token_ids((N, T), V))
    flags = draw(st.lists(st.booleans(), min_size=N * T, max_size=N * T))
    mask = np.asarray(flags, dtype=bool).reshape(N, T)
    mask.flat[draw(st.integers(0, N * T - 1))] = True
    return LayerCase((x, y, mask))


def _embedding_make(rng, dtype):
    x = rng.integers(0, 50, (16, 20))  # (N, T) ids with many repeats
    return LayerCase((x, normal(rng, (50, 32), dtype)), normal(rng, (16, 20, 32), dtype))


def _temporal_affine_make(rng, dtype):
    x, w, b = normal(rng, (8, 12, 32), dtype), normal(rng, (32, 40), dtype), \
        normal(rng, (40,), dtype)
    return LayerCase((x, w, b), normal(rng, (8, 12, 40), dtype))


def _temporal_loss_make(rng, dtype):
    x = normal(rng, (16, 12, 60), dtype)
    return LayerCase((x, rng.integers(0, 60, (16, 12)), rng.random((16, 12)) < 0.7))


register(LayerSpec("word_embedding", L.word_embedding_forward, L.word_embedding_backward,
                   lambda dt: word_embedding_inputs(dtype=dt), _embedding_make,
                   linear=(1, ()), layout="x:N,T W:V,D"))
register(LayerSpec("temporal_affine", L.temporal_affine_forward, L.temporal_affine_backward,
                   lambda dt: temporal_affine_inputs(dtype=dt), _temporal_affine_make,
                   linear=(0, (2,)), layout="x:N,T,D w:D,M b:M"))
register(LayerSpec("temporal_softmax_loss", L.temporal_softmax_loss, None,
                   lambda dt: temporal_softmax_loss_inputs(dtype=dt), _temporal_loss_make,
                   kind="loss", layout="x:N,T,V y:N,T mask:N,T", empty_batch="error"))
