"""GELU, the causal mask, the learned positional embedding, the transformer block and
cross-attention: values against references written here from the equations (and PyTorch
where it is installed), properties (causality, dropout modes), property-based gradient
checks, bad input. (Purity, dtype and the registry-wide gradient check run in the
conformance suite.)"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck import check_layer
from gradcheck.strategies import transformer_block_inputs
from layers import (MHA_KEYS, causal_mask, gelu_backward, gelu_forward,
                    multihead_attention_backward, multihead_attention_forward,
                    positional_embedding_backward, positional_embedding_forward,
                    transformer_block_backward, transformer_block_forward)
from tests.helpers import host

MHA = MHA_KEYS


def _block_params(rng, E, F, scale=0.3):
    p = {k: scale * rng.standard_normal((E, E) if k[0] == "W" else (E,)) for k in MHA}
    p.update(ln1_gamma=1 + 0.1 * rng.standard_normal(E), ln1_beta=0.1 * rng.standard_normal(E),
             ln2_gamma=1 + 0.1 * rng.standard_normal(E), ln2_beta=0.1 * rng.standard_normal(E),
             W_ff1=scale * rng.standard_normal((E, F)), b_ff1=0.1 * rng.standard_normal(F),
             W_ff2=scale * rng.standard_normal((F, E)), b_ff2=0.1 * rng.standard_normal(E))
    return p


# --- references written from the equations, one position and one head at a time ---------


def _ref_layernorm(v, g, b):
    mu = sum(v) / len(v)
    var = sum((vi - mu) ** 2 for vi in v) / len(v)
    return np.array([(vi - mu) / math.sqrt(var + 1e-5) for vi in v]) * g + b


def _ref_gelu(z):
    return 0.5 * z * (1 + np.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z ** 3)))


def _ref_attention(xq, xkv, p, h, mask):
    """Multi-head attention for one example, a loop over heads and query rows."""
    S, E = xq.shape
    d = E // h
    Q, K, V = xq @ p["Wq"] + p["bq"], xkv @ p["Wk"] + p["bk"], xkv @ p["Wv"] + p["bv"]
    out = np.zeros((S, E))
    for head in range(h):
        cols = slice(head * d, (head + 1) * d)
        for s in range(S):
            keys = [t for t in range(xkv.shape[0]) if mask is None or mask[s, t]]
            w = np.array([Q[s, cols] @ K[t, cols] / math.sqrt(d) for t in keys])
            w = np.exp(w - w.max())
            w /= w.sum()
            out[s, cols] = sum(wi * V[t, cols] for wi, t in zip(w, keys))
    return out @ p["Wo"] + p["bo"]


def _ref_block(x, p, h, mask):
    out = np.empty_like(x)
    for n in range(x.shape[0]):
        a = np.array([_ref_layernorm(v, p["ln1_gamma"], p["ln1_beta"]) for v in x[n]])
        x1 = x[n] + _ref_attention(a, a, p, h, mask)
        b = np.array([_ref_layernorm(v, p["ln2_gamma"], p["ln2_beta"]) for v in x1])
        out[n] = x1 + _ref_gelu(b @ p["W_ff1"] + p["b_ff1"]) @ p["W_ff2"] + p["b_ff2"]
    return out


# --- GELU ----------------------------------------------------------------------------


def test_gelu_is_close_to_the_exact_erf_gelu_and_matches_known_values(xp):
    x = np.linspace(-6, 6, 241)
    out, _ = gelu_forward(xp.asarray(x))
    exact = 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
    np.testing.assert_allclose(host(out), exact, atol=1e-3)  # the tanh form's known error
    # GPT-2's tanh GELU at 1 and -1 (PyTorch: gelu(±1, approximate='tanh'))
    np.testing.assert_allclose(host(out)[[100, 140]], [-0.15880800939172324,
                                                       0.8411919906082768], rtol=1e-12)


def test_gelu_against_pytorch_values_and_gradient():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal(50) * 4
    dout = np.random.default_rng(1).standard_normal(50)
    t = torch.tensor(x, requires_grad=True)
    y = torch.nn.functional.gelu(t, approximate="tanh")
    y.backward(torch.tensor(dout))
    out, cache = gelu_forward(x)
    np.testing.assert_allclose(out, y.detach().numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(gelu_backward(dout, cache), t.grad.numpy(), rtol=1e-12,
                               atol=1e-15)


def test_gelu_has_no_overflow_far_out_and_keeps_float32(xp):
    x = xp.asarray(np.array([-1e4, -60.0, 60.0, 1e4], dtype=np.float32))
    out, cache = gelu_forward(x)
    dx = gelu_backward(xp.ones_like(x), cache)
    assert out.dtype == dx.dtype == np.float32
    assert np.isfinite(host(out)).all() and np.isfinite(host(dx)).all()
    np.testing.assert_allclose(host(out), [0.0, 0.0, 60.0, 1e4], rtol=1e-7, atol=1e-30)
    np.testing.assert_allclose(host(dx), [0.0, 0.0, 1.0, 1.0], rtol=1e-7, atol=1e-20)


def test_gelu_float32_keeps_its_relative_precision_where_the_output_is_tiny():
    """0.5 x (1 + tanh(u)) in float32 loses every digit for x around -5 (1 + tanh(u)
    cancels); the layer must not."""
    x = np.linspace(-9, -3, 61)
    out64, c64 = gelu_forward(x)
    out32, c32 = gelu_forward(x.astype(np.float32))
    # float32's error in u (~1e-7 relative) grows by |u| ~ 50 through exp
    np.testing.assert_allclose(out32, out64, rtol=1e-4)
    np.testing.assert_allclose(gelu_backward(np.ones(61, np.float32), c32),
                               gelu_backward(np.ones(61), c64), rtol=1e-4)


@given(x=st.lists(st.floats(-8, 8), min_size=1, max_size=12))
def test_gelu_gradient_check(x):
    check_layer(gelu_forward, gelu_backward, np.array(x) + 1e-3)


# --- causal mask and positional embedding --------------------------------------------------


def test_causal_mask_lets_position_t_see_positions_up_to_t(xp):
    m = host(causal_mask(5, xp))
    assert m.dtype == bool
    for s in range(5):
        for t in range(5):
            assert m[s, t] == (t <= s)
    with pytest.raises(ValueError, match="causal_mask: T must be an int >= 1; got 0"):
        causal_mask(0)


def test_positional_embedding_adds_row_t_and_sums_its_gradient(xp):
    r = np.random.default_rng(0)
    x, W = r.standard_normal((3, 4, 2)), r.standard_normal((6, 2))
    out, cache = positional_embedding_forward(xp.asarray(x), xp.asarray(W))
    for t in range(4):
        np.testing.assert_allclose(host(out)[:, t], x[:, t] + W[t], rtol=1e-15)
    dout = r.standard_normal((3, 4, 2))
    dx, dW = positional_embedding_backward(xp.asarray(dout), cache)
    np.testing.assert_array_equal(host(dx), dout)
    np.testing.assert_allclose(host(dW)[:4], dout[0] + dout[1] + dout[2], rtol=1e-14)
    np.testing.assert_array_equal(host(dW)[4:], 0.0)
    with pytest.raises(ValueError, match=r"positional_embedding_forward: W_pos must have "
                                         r"shape \(max_len, E\) with max_len >= T = 4"):
        positional_embedding_forward(xp.asarray(x), xp.asarray(W[:3]))


# --- the block -------------------------------------------------------------------------


@pytest.mark.parametrize("masked", [False, True])
def test_block_against_a_reference_from_the_equations(xp, masked):
    r = np.random.default_rng(1)
    N, T, E, h, F = 2, 5, 6, 3, 10
    x, p = r.standard_normal((N, T, E)), _block_params(r, E, F)
    mask = np.tril(np.ones((T, T), bool)) if masked else None
    out, _ = transformer_block_forward(xp.asarray(x), {k: xp.asarray(v) for k, v in p.items()},
                                       h, None if mask is None else xp.asarray(mask))
    np.testing.assert_allclose(host(out), _ref_block(x, p, h, mask), rtol=1e-10, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(case=transformer_block_inputs(), data=st.data())
def test_block_is_causal_under_the_causal_mask(case, data):
    x, p, h = case.inputs[:3]
    T = x.shape[1]
    t = data.draw(st.integers(0, T - 1))
    out, _ = transformer_block_forward(x, p, h, causal_mask(T))
    x2 = x.copy()
    # the future changes (not by a constant: layernorm would remove that)
    x2[:, t + 1:] += np.random.default_rng(0).standard_normal(x2[:, t + 1:].shape)
    out2, _ = transformer_block_forward(x2, p, h, causal_mask(T))
    np.testing.assert_allclose(out2[:, :t + 1], out[:, :t + 1], rtol=1e-12, atol=1e-12)
    if t + 1 < T:
        assert not np.allclose(out2[:, t + 1:], out[:, t + 1:])


@settings(max_examples=10, deadline=None)  # the conformance suite runs the same strategy
@given(case=transformer_block_inputs())
def test_block_gradient_check(case):
    check_layer(transformer_block_forward, transformer_block_backward, *case.inputs,
                dout=case.dout)


def test_block_dropout_modes(xp):
    r = np.random.default_rng(2)
    x = xp.asarray(r.standard_normal((2, 4, 6)))
    p = {k: xp.asarray(v) for k, v in _block_params(r, 6, 8).items()}
    plain, _ = transformer_block_forward(x, p, 2)
    for off in ({"p": 0.5, "mode": "test"}, {"p": 1.0, "mode": "train", "seed": 0}):
        same, _ = transformer_block_forward(x, p, 2, dropout_param=off)
        np.testing.assert_array_equal(host(same), host(plain))
    a, _ = transformer_block_forward(x, p, 2, dropout_param={"p": 0.5, "mode": "train",
                                                             "seed": 7})
    b, _ = transformer_block_forward(x, p, 2, dropout_param={"p": 0.5, "mode": "train",
                                                             "seed": 7})
    c, _ = transformer_block_forward(x, p, 2, dropout_param={"p": 0.5, "mode": "train",
                                                             "seed": 8})
    np.testing.assert_array_equal(host(a), host(b))
    assert not np.allclose(host(a), host(plain)) and not np.allclose(host(a), host(c))


def test_block_gradient_check_with_dropout_and_causal_mask():
    r = np.random.default_rng(3)
    x, p = r.standard_normal((2, 5, 4)), _block_params(r, 4, 6)
    check_layer(transformer_block_forward, transformer_block_backward, x, p, 2,
                causal_mask(5), {"p": 0.6, "mode": "train", "seed": 1})


def test_block_bad_input(xp):
    r = np.random.default_rng(4)
    p = {k: xp.asarray(v) for k, v in _block_params(r, 4, 6).items()}
    with pytest.raises(ValueError, match=r"transformer_block_forward: x must be 3-D"):
        transformer_block_forward(xp.zeros((4, 4)), p, 2)
    del p["W_ff2"]
    with pytest.raises(ValueError, match=r"transformer_block_forward: params is missing "
                                         r"key\(s\) \['W_ff2'\]"):
        transformer_block_forward(xp.zeros((1, 2, 4)), p, 2)


# --- cross-attention through multihead_attention_forward ---------------------------------


def _cross_forward(x, memory, params, h):
    return multihead_attention_forward(x, memory, memory, params, h)


def _cross_backward(dout, cache):
    dx, dkey, dvalue, dparams = multihead_attention_backward(dout, cache)
    return dx, dkey + dvalue, dparams  # memory feeds both keys and values


def test_cross_attention_against_the_reference_and_gradient_check(xp):
    r = np.random.default_rng(5)
    N, S, T, E, h = 2, 3, 5, 4, 2  # queries from a 3-step sequence, keys/values from 5
    x, mem = r.standard_normal((N, S, E)), r.standard_normal((N, T, E))
    p = {k: 0.5 * r.standard_normal((E, E) if k[0] == "W" else (E,)) for k in MHA}
    out, _ = _cross_forward(*(xp.asarray(a) for a in (x, mem)),
                            {k: xp.asarray(v) for k, v in p.items()}, h)
    assert out.shape == (N, S, E)
    for n in range(N):
        np.testing.assert_allclose(host(out)[n], _ref_attention(x[n], mem[n], p, h, None),
                                   rtol=1e-10, atol=1e-12)
    check_layer(_cross_forward, _cross_backward, x, mem, p, h)


@pytest.mark.parametrize("F, parts", [(2048, 1), (4096, 2)])
def test_block_splits_automatically_only_from_a_large_batch(monkeypatch, F, parts):
    """The automatic mode splits a block from N T F = 2**20 on, over the cores allowed."""
    from layers import _threads

    monkeypatch.delenv("LAYERKIT_THREADS", raising=False)
    monkeypatch.setattr(_threads, "_threads", None)
    monkeypatch.setattr(_threads, "_auto_threads", lambda: 2)  # as on a 2-core machine
    r = np.random.default_rng(7)
    N, T, E = 16, 16, 8  # N T F = 2**19 or 2**20
    x = r.standard_normal((N, T, E)).astype(np.float32)
    p = {k: v.astype(np.float32) for k, v in _block_params(r, E, F).items()}
    _, cache = transformer_block_forward(x, p, 2)
    assert len(cache) == parts


@pytest.mark.parametrize("per_example_mask", [False, True])
def test_block_split_over_threads_gives_the_same_result(per_example_mask):
    from layers import set_threads

    r = np.random.default_rng(6)
    N, T, E = 10, 5, 8
    x, p, dout = r.standard_normal((N, T, E)), _block_params(r, E, 12), \
        r.standard_normal((N, T, E))
    mask = np.tril(np.ones((T, T), bool))
    if per_example_mask:  # (N, 1, T, T): each example its own mask, sliced per part
        mask = np.stack([np.roll(mask, n % 3, axis=1) | np.eye(T, dtype=bool)
                         for n in range(N)])[:, None]
    out1, c1 = transformer_block_forward(x, p, 2, mask)
    g1 = transformer_block_backward(dout, c1)
    set_threads(2)
    try:
        out2, c2 = transformer_block_forward(x, p, 2, mask)
        g2 = transformer_block_backward(dout, c2)
    finally:
        set_threads(None)  # back to LAYERKIT_THREADS (default auto)
    assert len(c2) == 2  # it did split
    np.testing.assert_allclose(out2, out1, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(g2[0], g1[0], rtol=1e-12, atol=1e-12)
    for k in g1[1]:
        np.testing.assert_allclose(g2[1][k], g1[1][k], rtol=1e-12, atol=1e-12, err_msg=k)
