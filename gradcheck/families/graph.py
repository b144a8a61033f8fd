"""Graph convolution (``layers.graph``): strategies and registry entries."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import layers as L

from ._base import (LayerCase, LayerSpec, dims, generic_arrays, normal, register, seeds,
                    upstream)

__all__ = ["adjacency", "graph_conv_inputs"]


@st.composite
def adjacency(draw, N: int, dtype=np.float64):
    """A normalised adjacency (N, N): a random undirected graph through
    ``normalize_adjacency``, then multiplied elementwise by generic values in [0.5, 1.5]
    so that no two entries are equal (the layer takes any real matrix, and the check of
    dadj should not rest on the symmetric, repeated entries of a real graph alone)."""
    rng = np.random.default_rng(draw(seeds))
    a = np.triu((rng.random((N, N)) < 0.5).astype(np.float64), 1)
    norm = L.normalize_adjacency(a + a.T)  # (N, N), self loops added
    jitter = draw(generic_arrays((N, N), low=0.5, high=1.5, signed=False, salt=7))
    return (norm * jitter).astype(dtype)


@st.composite
def graph_conv_inputs(draw, dtype=np.float64):
    """x (N, D), adj_norm (N, N), w (D, M), b (M,); dout (N, M)."""
    N, D, M = draw(dims(1, 5)), draw(dims(1, 4)), draw(dims(1, 4))
    x = draw(generic_arrays((N, D), dtype=dtype, salt=1))
    adj = draw(adjacency(N, dtype))
    w = draw(generic_arrays((D, M), dtype=dtype, salt=2))
    b = draw(generic_arrays((M,), dtype=dtype, salt=3))
    return LayerCase((x, adj, w, b), draw(upstream((N, M), dtype)))


def _graph_conv_make(rng, dtype):
    N, D, M = 96, 64, 48
    a = np.triu((rng.random((N, N)) < 0.1).astype(np.float64), 1)
    adj = L.normalize_adjacency(a + a.T).astype(dtype)
    return LayerCase((normal(rng, (N, D), dtype), adj, normal(rng, (D, M), dtype),
                      normal(rng, (M,), dtype)), normal(rng, (N, M), dtype))


register(LayerSpec("graph_conv", L.graph_conv_forward, L.graph_conv_backward,
                   lambda dt: graph_conv_inputs(dtype=dt), _graph_conv_make, linear=(0, (3,)),
                   layout="x:N,D adj_norm:N,N w:D,M b:M"))
