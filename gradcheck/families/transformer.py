"""GELU, the learned positional embedding and the transformer block: strategies and
registry entries."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import layers as L

from ._base import LayerCase, LayerSpec, dims, generic_arrays, normal, register, seeds, upstream

__all__ = ["gelu_inputs", "positional_embedding_inputs", "transformer_block_inputs"]


@st.composite
def gelu_inputs(draw, dtype=np.float64):
    """x of rank 1..3 with values up to +-4 (GELU is smooth: no kinks to avoid)."""
    shape = tuple(draw(st.lists(dims(1, 4), min_size=1, max_size=3)))
    x = draw(generic_arrays(shape, low=0.0, high=4.0, dtype=dtype, salt=1))
    return LayerCase((x,), draw(upstream(shape, dtype)))


@st.composite
def positional_embedding_inputs(draw, dtype=np.float64):
    """x (N, T, E), W_pos (max_len, E) with max_len >= T; dout (N, T, E)."""
    N, T, E = draw(dims(1, 3)), draw(dims(1, 4)), draw(dims(1, 4))
    max_len = T + draw(st.integers(0, 2))
    x = draw(generic_arrays((N, T, E), dtype=dtype, salt=1))
    W_pos = draw(generic_arrays((max_len, E), dtype=dtype, salt=2))
    return LayerCase((x, W_pos), draw(upstream((N, T, E), dtype)))


@st.composite
def _block_mask(draw, T):
    """None, the causal mask, or a random (T, T) mask with at least one True per row (a
    row with none would attend to nothing)."""
    kind = draw(st.sampled_from(["none", "causal", "random"]))
    if kind == "none":
        return None
    if kind == "causal":
        return np.tril(np.ones((T, T), dtype=bool))
    rng = np.random.default_rng(draw(seeds))
    m = rng.random((T, T)) < 0.6
    m[np.arange(T), rng.integers(0, T, T)] = True
    return m


def block_params(draw, E, F, dtype):
    """Every block param, generic; gammas near 1 so neither layernorm is degenerate."""
    params = {}
    for i, k in enumerate(L.BLOCK_KEYS):
        shape = {"W_ff1": (E, F), "b_ff1": (F,), "W_ff2": (F, E)}.get(
            k, (E, E) if k[0] == "W" else (E,))
        a = draw(generic_arrays(shape, dtype=dtype, salt=10 + i))
        params[k] = (a * 0.2 + 1).astype(dtype) if "gamma" in k else a
    return params


@st.composite
def transformer_block_inputs(draw, dtype=np.float64):
    """x (N, T, E) with E >= 2 (layernorm over one feature is constant), params, a head
    count dividing E, an optional mask (causal or random, >= 1 True per row) and, now
    and then, train-mode dropout with a seed; dout (N, T, E)."""
    N, T = draw(dims(1, 2)), draw(dims(1, 3))  # small: ~16 params, each checked
    h = draw(st.sampled_from([1, 2]))
    E = h * draw(dims(2 // h, 2))  # heads divide E, E >= 2
    F = draw(dims(1, 3))
    x = draw(generic_arrays((N, T, E), dtype=dtype, salt=1))
    params = block_params(draw, E, F, dtype)
    mask = draw(_block_mask(T))
    dropout = draw(st.one_of(st.none(), st.builds(
        lambda p, s: {"p": p, "mode": "train", "seed": s}, st.floats(0.5, 1.0), seeds)))
    return LayerCase((x, params, h, mask, dropout), draw(upstream((N, T, E), dtype)))


def _gelu_make(rng, dtype):
    x = normal(rng, (64, 32, 16), dtype) * 2
    return LayerCase((x,), normal(rng, x.shape, dtype))


def _positional_make(rng, dtype):
    x, W = normal(rng, (16, 20, 32), dtype), normal(rng, (24, 32), dtype)
    return LayerCase((x, W), normal(rng, x.shape, dtype))


def _block_make(rng, dtype):
    N, T, E, F = 4, 16, 32, 64
    params = {k: normal(rng, {"W_ff1": (E, F), "b_ff1": (F,), "W_ff2": (F, E)}.get(
        k, (E, E) if k[0] == "W" else (E,)), dtype) * 0.2 for k in L.BLOCK_KEYS}
    for k in ("ln1_gamma", "ln2_gamma"):
        params[k] = (params[k] + 1).astype(dtype)
    x = normal(rng, (N, T, E), dtype)
    return LayerCase((x, params, 4, L.causal_mask(T, np)), normal(rng, x.shape, dtype))


register(LayerSpec("gelu", L.gelu_forward, L.gelu_backward,
                   lambda dt: gelu_inputs(dtype=dt), _gelu_make, layout="x:N,*"))
register(LayerSpec("positional_embedding", L.positional_embedding_forward,
                   L.positional_embedding_backward,
                   lambda dt: positional_embedding_inputs(dtype=dt), _positional_make,
                   linear=(0, (1,)), layout="x:N,T,E W_pos:L,E"))
register(LayerSpec("transformer_block", L.transformer_block_forward,
                   L.transformer_block_backward,
                   lambda dt: transformer_block_inputs(dtype=dt), _block_make,
                   # softmax ignores a shift shared by all keys: bk's gradient is 0
                   extra={"vacuous_inputs": ("bk",)},
                   layout="x:N,T,E params.ln1_gamma:E params.ln1_beta:E params.Wq:E,E "
                          "params.bq:E params.Wk:E,E params.bk:E params.Wv:E,E params.bv:E "
                          "params.Wo:E,E params.bo:E params.ln2_gamma:E params.ln2_beta:E "
                          "params.W_ff1:E,F params.b_ff1:F params.W_ff2:F,E params.b_ff2:E "
                          "mask:~T,T"))
