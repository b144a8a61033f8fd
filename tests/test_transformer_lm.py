"""nets.TransformerLM: whole-net gradient checks (tied and untied, dropout, L2, both
dtypes), param names, the causal property, the loss's memory, sampling, bad input.
(The comparison with the same model in PyTorch is tests/test_transformer_torch.py.)"""

import math
import tracemalloc
import warnings

import numpy as np
import pytest

from gradcheck import GradcheckPrecisionWarning, check_net
from layers import BLOCK_KEYS
from layers.backend import to_xp
from nets import TransformerLM
from nets.transformer import softmax_cross_entropy_inplace

V = 7


def _lm(dtype=np.float64, scale=10.0, **kw):
    """A tiny LM whose weights are scaled up from GPT-2's 0.02 init, so every path
    (attention pattern, layernorm, GELU curvature) carries a gradient worth checking."""
    kw = {"max_len": 6, "embed_dim": 8, "num_heads": 2, "num_layers": 2, "ff_dim": 12,
          "seed": 1, **kw}
    m = TransformerLM(V, dtype=dtype, **kw)
    for k, W in m.params.items():
        if k.split(".")[-1].startswith("W"):
            m.params[k] = (W * scale).astype(dtype)
    return m


def _check(xp, model, **options):
    model.params = to_xp(model.params, xp)
    rng = np.random.default_rng(2)
    X = xp.asarray(rng.integers(0, V, (3, 5)))
    X[0, :3] = 4  # a repeated token: its embedding gradient accumulates
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GradcheckPrecisionWarning)
        return check_net(model, X, xp.asarray(rng.integers(0, V, (3, 5))), **options)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("tie", [True, False], ids=["tied", "untied"])
@pytest.mark.parametrize("dropout,reg", [(0.0, 0.0), (0.3, 0.2)])
def test_gradients(xp, dtype, tie, dropout, reg):
    """Directional derivatives along random directions: every param, every combination
    (a wrong component shows in every direction that touches it)."""
    _check(xp, _lm(dtype, tie_weights=tie, dropout=dropout, reg=reg), fast=True)


@pytest.mark.parametrize("tie", [True, False], ids=["tied", "untied"])
def test_gradients_elementwise(xp, tie):
    """Element by element, a sample of each param (float64, dropout and L2 on)."""
    _check(xp, _lm(tie_weights=tie, dropout=0.3, reg=0.2), num_checks=6)


def test_param_names_and_shapes_are_api_md():
    m = TransformerLM(11, max_len=9, embed_dim=8, num_heads=2, num_layers=2, ff_dim=20,
                      tie_weights=False)
    E, F = 8, 20
    want = {"W_tok": (11, E), "W_pos": (9, E), "lnf_gamma": (E,), "lnf_beta": (E,),
            "W_out": (E, 11), "b_out": (11,)}
    for layer in (1, 2):
        for k in BLOCK_KEYS:
            want[f"blk{layer}.{k}"] = {"W_ff1": (E, F), "b_ff1": (F,), "W_ff2": (F, E)}.get(
                k, (E, E) if k[0] == "W" else (E,))
    assert {k: tuple(a.shape) for k, a in m.params.items()} == want
    assert all(a.dtype == np.float32 for a in m.params.values())
    tied = TransformerLM(11, max_len=9, embed_dim=8, num_heads=2, num_layers=2)
    assert set(tied.params) == set(want) - {"W_out", "b_out"}
    assert tied.params["blk1.W_ff1"].shape == (8, 32)  # ff_dim defaults to 4 E


@pytest.mark.parametrize("scale", [0.02, 0.1])
def test_weight_scale_is_the_init_std(scale):
    """GPT-2's init at any scale: weights N(0, scale), the residual-ending projections
    N(0, scale / sqrt(2 L)), biases 0, gammas 1 (std measured on ~10^5 draws)."""
    L = 2
    m = TransformerLM(50, max_len=40, embed_dim=64, num_heads=4, num_layers=L,
                      tie_weights=False, seed=0, weight_scale=scale)
    for k, a in m.params.items():
        key = k.split(".")[-1]
        if key.startswith("W"):
            want = scale / math.sqrt(2 * L) if key in ("Wo", "W_ff2") else scale
            assert float(np.std(a)) == pytest.approx(want, rel=0.05), k
        else:
            assert np.all(a == (1.0 if key.endswith("gamma") else 0.0)), k
    with pytest.raises(ValueError, match="TransformerLM: weight_scale is the std of the "
                                         "initial weights and must be a finite number > 0; "
                                         "got 0"):
        TransformerLM(5, weight_scale=0)


def test_tied_gradient_is_the_sum_of_both_uses():
    """Untie a tied model by copying W_tok into W_out = W_tok.T: the same function, and
    the tied W_tok gradient is the untied W_tok gradient plus W_out's, transposed."""
    tied = _lm(tie_weights=True)
    untied = _lm(tie_weights=False)
    untied.params.update({k: a.copy() for k, a in tied.params.items()})
    untied.params["W_out"] = tied.params["W_tok"].T.copy()
    untied.params["b_out"] = np.zeros(V)
    rng = np.random.default_rng(3)
    X, y = rng.integers(0, V, (2, 6)), rng.integers(0, V, (2, 6))
    loss_t, g_t = tied.loss(X, y)
    loss_u, g_u = untied.loss(X, y)
    assert float(loss_t) == pytest.approx(float(loss_u), rel=1e-14)
    np.testing.assert_allclose(g_t["W_tok"], g_u["W_tok"] + g_u["W_out"].T, rtol=1e-12,
                               atol=1e-15)


def test_l2_covers_every_weight_matrix_and_nothing_else():
    rng = np.random.default_rng(8)
    X, y = rng.integers(0, V, (2, 4)), rng.integers(0, V, (2, 4))
    for tie in (True, False):
        plain, reg = _lm(tie_weights=tie), _lm(tie_weights=tie, reg=0.3)
        weights = [k for k in plain.params if k in ("W_tok", "W_pos", "W_out")
                   or (k.startswith("blk") and k.split(".")[1][0] == "W")]
        assert len(weights) == 2 + (not tie) + 2 * 6  # Wq Wk Wv Wo W_ff1 W_ff2 per block
        want = 0.15 * sum((plain.params[k] ** 2).sum() for k in weights)
        assert float(reg.loss(X, y)[0] - plain.loss(X, y)[0]) == pytest.approx(want, rel=1e-12)


def test_position_t_sees_only_tokens_up_to_t():
    m = _lm(scale=5.0)
    rng = np.random.default_rng(4)
    X = rng.integers(0, V, (2, 6))
    scores = m.loss(X)
    assert scores.shape == (2, 6, V)
    for t in range(5):
        X2 = X.copy()
        X2[:, t + 1:] = (X2[:, t + 1:] + 1) % V
        s2 = m.loss(X2)
        np.testing.assert_allclose(s2[:, :t + 1], scores[:, :t + 1], rtol=1e-12, atol=1e-14)
        assert not np.allclose(s2[:, t + 1:], scores[:, t + 1:])


def test_initial_loss_is_about_log_v_and_a_batch_can_be_learned():
    rng = np.random.default_rng(5)
    m = TransformerLM(V, max_len=8, embed_dim=16, num_heads=2, num_layers=1, seed=0,
                      dtype=np.float64)
    X = rng.integers(0, V, (4, 8))
    y = np.roll(X, -1, axis=1)
    loss, _ = m.loss(X, y)
    assert float(loss) == pytest.approx(math.log(V), abs=0.05)
    for _ in range(150):  # plain gradient descent on one batch
        loss, grads = m.loss(X, y)
        for k in m.params:
            m.params[k] = m.params[k] - 0.5 * grads[k]
    assert float(loss) < 0.3


def test_fused_softmax_cross_entropy_against_log_softmax():
    rng = np.random.default_rng(6)
    z, y = rng.standard_normal((5, 4)) * 3, rng.integers(0, 4, 5)
    logp = z - z.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    want_loss = -logp[np.arange(5), y].mean()
    want_grad = np.exp(logp)
    want_grad[np.arange(5), y] -= 1
    buf = z.copy()
    loss, grad = softmax_cross_entropy_inplace(buf, y)
    assert grad is buf
    assert float(loss) == pytest.approx(want_loss, rel=1e-14)
    np.testing.assert_allclose(grad, want_grad / 5, rtol=1e-13, atol=1e-16)


@pytest.mark.parametrize("tie", [True, False])
def test_float32_loss_keeps_one_logits_array_and_no_float64(tie):
    """V large and E small: the (N T, V) logits dominate memory. The loss must peak at
    one such float32 array plus small change: a second (N T, V) array, or any float64
    one, would add at least as much again."""
    N, T, big_v = 4, 32, 4000
    m = TransformerLM(big_v, max_len=T, embed_dim=8, num_heads=2, num_layers=1, ff_dim=8,
                      tie_weights=tie, seed=0)
    rng = np.random.default_rng(7)
    X, y = rng.integers(0, big_v, (N, T)), rng.integers(0, big_v, (N, T))
    m.loss(X, y)  # warm-up
    tracemalloc.start()
    try:
        loss, grads = m.loss(X, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    logits_bytes = N * T * big_v * 4
    assert peak < 1.5 * logits_bytes, f"peak {peak / 1e6:.1f} MB, logits {logits_bytes / 1e6} MB"
    assert loss.dtype == np.float32 and all(g.dtype == np.float32 for g in grads.values())


def test_sample():
    m = _lm(scale=5.0)
    out = m.sample([1, 2], 10, seed=0)
    assert out[:2] == [1, 2] and len(out) == 12 and all(0 <= i < V for i in out)
    assert m.sample([1, 2], 10, seed=0) == out  # seeded: reproducible
    greedy = m.sample([3], 8, temperature=0)
    assert m.sample([3], 8, top_k=1, seed=9) == greedy  # top-1 sampling is greedy
    rng = np.random.default_rng(10)
    for length in (1, 3, 6, 9, 6, 9, 7, 9, 8, 9, 12, 9):  # the model sees the last 6 ids
        prefix = [int(i) for i in rng.integers(0, V, length)]
        want = int(np.argmax(m.loss(np.array([prefix[-6:]]))[0, -1]))
        assert m.sample(prefix, 1, temperature=0) == prefix + [want]
    top2 = [m.sample([0], 1, top_k=2, seed=s)[-1] for s in range(30)]
    best2 = set(np.argsort(m.loss(np.array([[0]]))[0, -1])[-2:])
    assert set(top2) <= best2 and len(set(top2)) == 2
    assert len(m.sample(np.array([1] * 20), 3, seed=0)) == 23  # longer than max_len: window


def test_bad_input():
    m = _lm()
    with pytest.raises(ValueError, match="TransformerLM.loss: X has T = 7 positions; the "
                                         "model has max_len = 6"):
        m.loss(np.zeros((1, 7), dtype=int))
    with pytest.raises(ValueError, match=r"TransformerLM.loss: X has value 7; values must "
                                         r"be in \[0, vocab_size = 7\)"):
        m.loss(np.full((1, 3), 7))
    with pytest.raises(ValueError, match=r"TransformerLM.loss: y must have shape \(1, 3\)"):
        m.loss(np.zeros((1, 3), dtype=int), np.zeros((1, 2), dtype=int))
    with pytest.raises(ValueError, match="TransformerLM: num_heads must divide embed_dim"):
        TransformerLM(5, embed_dim=6, num_heads=4)
    with pytest.raises(ValueError, match=r"dropout is a drop probability and must be in "
                                         r"\[0, 1\); got 1.0"):
        TransformerLM(5, dropout=1.0)
    with pytest.raises(ValueError, match="TransformerLM.sample: prefix_ids must hold at "
                                         "least one id"):
        m.sample([], 3)
    with pytest.raises(ValueError, match="TransformerLM.sample: top_k must be an int >= 1"):
        m.sample([1], 3, top_k=0)
