"""Attention and multi-head attention: strategies and registry entries."""

from __future__ import annotations


import numpy as np
from hypothesis import strategies as st

import layers as L

from ._base import LayerCase, LayerSpec, dims, generic_arrays, normal, register, seeds, upstream

__all__ = ["attention_inputs", "multihead_attention_inputs"]


@st.composite
def _mask(draw, shape):
    """A bool mask with at least two True per row: a row attending to one key has a
    constant softmax, and its query gets no gradient at all."""
    rng = np.random.default_rng(draw(seeds))
    m = rng.random(shape) < 0.7
    first, second = rng.choice(shape[-1], size=2, replace=False)
    m[..., first] = True
    m[..., second] = True
    return m


@st.composite
def attention_inputs(draw, dtype=np.float64):
    """q (B..., S, d), k (B..., T, d), v (B..., T, dv), optional mask (S, T) or full."""
    lead = tuple(draw(st.lists(dims(1, 2), min_size=0, max_size=2)))
    S_, d, dv = (draw(dims(1, 3)) for _ in range(3))
    T_ = draw(dims(2, 3))  # T = 1 makes the softmax constant: dq = dk = 0
    q = draw(generic_arrays((*lead, S_, d), dtype=dtype, salt=1))
    k = draw(generic_arrays((*lead, T_, d), dtype=dtype, salt=2))
    v = draw(generic_arrays((*lead, T_, dv), dtype=dtype, salt=3))
    mask = draw(st.one_of(st.none(), _mask((S_, T_)), _mask((*lead, S_, T_))))
    return LayerCase((q, k, v, mask), draw(upstream((*lead, S_, dv), dtype)))


@st.composite
def multihead_attention_inputs(draw, dtype=np.float64):
    """query (N, S, E), key/value (N, T, E), params, num_heads dividing E, optional mask."""
    N, S_, T_ = draw(dims(1, 2)), draw(dims(1, 3)), draw(dims(2, 3))
    h = draw(st.sampled_from([1, 2]))
    E = h * draw(dims(1, 2))
    query = draw(generic_arrays((N, S_, E), dtype=dtype, salt=1))
    key = draw(generic_arrays((N, T_, E), dtype=dtype, salt=2))
    value = draw(generic_arrays((N, T_, E), dtype=dtype, salt=3))
    params = {k: draw(generic_arrays((E, E) if k[0] == "W" else (E,), dtype=dtype,
                                     salt=10 + i))
              for i, k in enumerate(L.MHA_KEYS)}
    mask = draw(st.one_of(st.none(), _mask((S_, T_))))
    return LayerCase((query, key, value, params, h, mask), draw(upstream((N, S_, E), dtype)))


def _attention_make(rng, dtype):
    q, k = normal(rng, (8, 4, 32, 16), dtype), normal(rng, (8, 4, 24, 16), dtype)
    v = normal(rng, (8, 4, 24, 16), dtype)
    mask = rng.random((32, 24)) < 0.8
    return LayerCase((q, k, v, mask), normal(rng, (8, 4, 32, 16), dtype))


def _mha_make(rng, dtype):
    E = 32
    params = {k: normal(rng, (E, E) if k[0] == "W" else (E,), dtype) * 0.2
              for k in L.MHA_KEYS}
    x, kv = normal(rng, (8, 24, E), dtype), normal(rng, (8, 16, E), dtype)
    return LayerCase((x, kv, kv.copy(), params, 4, None), normal(rng, (8, 24, E), dtype))


register(LayerSpec("attention", L.attention_forward, L.attention_backward,
                   lambda dt: attention_inputs(dtype=dt), _attention_make,
                   layout="q:N,A|S,d k:N,A|T,d v:N,A|T,e mask:~S,T"))
register(LayerSpec("multihead_attention", L.multihead_attention_forward,
                   L.multihead_attention_backward,
                   lambda dt: multihead_attention_inputs(dtype=dt), _mha_make,
                   layout="query:N,S,E key:N,T,E value:N,T,E params.Wq:E,E params.bq:E "
                          "params.Wk:E,E params.bk:E params.Wv:E,E params.bv:E "
                          "params.Wo:E,E params.bo:E"))
