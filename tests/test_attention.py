"""Attention and multi-head attention: values against independent references, masks,
bad input. (Gradients, purity and dtype run in the conformance suite.)"""

import numpy as np
import pytest

from layers import (attention_backward, attention_forward, multihead_attention_forward,
                    positional_encoding)
from tests.helpers import host


def test_zero_queries_average_the_values(xp):
    q = xp.zeros((1, 2, 3))
    k = xp.asarray(np.random.default_rng(0).standard_normal((1, 4, 3)))
    v = xp.asarray(np.arange(8.0).reshape(1, 4, 2))
    out, _ = attention_forward(q, k, v)
    np.testing.assert_allclose(host(out), np.broadcast_to(host(v).mean(axis=1), (1, 2, 2)))


def test_against_a_loop_over_rows(xp):
    r = np.random.default_rng(1)
    q, k, v = r.standard_normal((3, 4)), r.standard_normal((5, 4)), r.standard_normal((5, 2))
    expect = np.empty((3, 2))
    for i in range(3):
        s = np.array([q[i] @ k[j] for j in range(5)]) / 2.0  # sqrt(d) = 2
        p = np.exp(s - s.max())
        expect[i] = (p / p.sum()) @ v
    out, _ = attention_forward(*(xp.asarray(a) for a in (q, k, v)))
    np.testing.assert_allclose(host(out), expect, rtol=1e-12)


def test_masked_keys_have_no_effect_and_all_masked_rows_output_zero(xp):
    r = np.random.default_rng(2)
    q, k, v = r.standard_normal((2, 3)), r.standard_normal((4, 3)), r.standard_normal((4, 2))
    mask = np.array([[True, True, False, False], [False, False, False, False]])
    out, cache = attention_forward(*(xp.asarray(a) for a in (q, k, v)), xp.asarray(mask))
    ref, _ = attention_forward(*(xp.asarray(a) for a in (q, k[:2], v[:2])))
    np.testing.assert_allclose(host(out)[0], host(ref)[0], rtol=1e-12)
    np.testing.assert_array_equal(host(out)[1], 0.0)
    dq, dk, dv = attention_backward(xp.ones((2, 2)), cache)
    assert np.isfinite(host(dq)).all()
    np.testing.assert_array_equal(host(dk)[2:], 0.0)  # masked keys get no gradient
    np.testing.assert_array_equal(host(dv)[2:], 0.0)


def test_multihead_equals_heads_computed_one_by_one(xp):
    r = np.random.default_rng(3)
    N, S, T, E, H = 2, 3, 4, 6, 3
    query, key, value = (r.standard_normal(s) for s in [(N, S, E), (N, T, E), (N, T, E)])
    p = {k: r.standard_normal((E, E) if k[0] == "W" else (E,))
         for k in ("Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo")}
    Q, K, V = query @ p["Wq"] + p["bq"], key @ p["Wk"] + p["bk"], value @ p["Wv"] + p["bv"]
    d = E // H
    heads = []
    for h in range(H):
        sl = slice(h * d, (h + 1) * d)  # head h takes a contiguous feature slice
        s = Q[..., sl] @ K[..., sl].transpose(0, 2, 1) / np.sqrt(d)
        a = np.exp(s - s.max(-1, keepdims=True))
        heads.append((a / a.sum(-1, keepdims=True)) @ V[..., sl])
    expect = np.concatenate(heads, axis=-1) @ p["Wo"] + p["bo"]
    out, _ = multihead_attention_forward(xp.asarray(query), xp.asarray(key),
                                         xp.asarray(value),
                                         {k: xp.asarray(a) for k, a in p.items()}, H)
    np.testing.assert_allclose(host(out), expect, rtol=1e-10)


def test_bad_input(xp):
    q = xp.zeros((2, 3))
    with pytest.raises(ValueError, match=r"k must have shape \(\.\.\., T, d\) with d = 3"):
        attention_forward(q, xp.zeros((4, 2)), xp.zeros((4, 2)))
    with pytest.raises(ValueError, match="does not broadcast"):
        attention_forward(q, xp.zeros((4, 3)), xp.zeros((4, 2)), xp.ones((3, 4), bool))
    with pytest.raises(TypeError, match="mask must be a bool array"):
        attention_forward(q, xp.zeros((4, 3)), xp.zeros((4, 2)), xp.ones((2, 4)))
    x = xp.zeros((1, 2, 4))
    p = {k: xp.zeros((4, 4) if k[0] == "W" else (4,))
         for k in ("Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo")}
    with pytest.raises(ValueError, match="num_heads must be a positive int dividing E = 4"):
        multihead_attention_forward(x, x, x, p, 3)
    del p["bo"]
    with pytest.raises(ValueError, match=r"params is missing key\(s\) \['bo'\]"):
        multihead_attention_forward(x, x, x, p, 2)


def test_positional_encoding_values():
    pe = positional_encoding(50, 8, xp=np)
    assert pe.shape == (50, 8) and pe.dtype == np.float32
    t = 7
    np.testing.assert_allclose(pe[t, 0], np.sin(t), rtol=1e-6)
    np.testing.assert_allclose(pe[t, 1], np.cos(t), rtol=1e-6)
    np.testing.assert_allclose(pe[t, 2], np.sin(t / 10000 ** (2 / 8)), rtol=1e-6)
    assert positional_encoding(4, 5, xp=np).shape == (4, 5)
    with pytest.raises(ValueError, match="positional_encoding"):
        positional_encoding(-1, 4)
