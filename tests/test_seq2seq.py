"""nets.Seq2SeqTransformer: whole-net gradient checks (fixed and property-based), the
causal and padding properties, decoding, learning a small task, bad input; and the task
generators of layerkit.seqdata."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck import GradcheckPrecisionWarning, check_net
from layerkit.seqdata import (detok, exact_match, number_words, sort_task, words_task)
from layers.backend import to_xp
from nets import Seq2SeqTransformer
from nets.seq2seq import BOS, EOS, PAD

VS, VT = 9, 7


def _net(dtype=np.float64, scale=8.0, **kw):
    """A tiny net with weights scaled up from the 0.02 init, so attention patterns,
    layernorms and GELU all carry gradients worth checking."""
    kw = {"max_src_len": 6, "max_tgt_len": 5, "embed_dim": 8, "num_heads": 2,
          "num_enc_layers": 2, "num_dec_layers": 2, "ff_dim": 12, "seed": 1, **kw}
    m = Seq2SeqTransformer(kw.pop("src_vocab_size", VS), kw.pop("tgt_vocab_size", VT),
                           dtype=dtype, **kw)
    for k, W in m.params.items():
        if k.split(".")[-1].startswith("W"):
            m.params[k] = (W * scale).astype(dtype)
    return m


def _batch(rng, N, S, T, Vs=VS, Vt=VT):
    """Sources with PAD after a random length >= 1; targets [tokens, EOS, PAD ...]."""
    X = rng.integers(3, Vs, (N, S))
    y = rng.integers(3, Vt, (N, T))
    for n in range(N):
        X[n, rng.integers(1, S + 1):] = PAD
        end = rng.integers(0, T)
        y[n, end] = EOS
        y[n, end + 1:] = PAD
    return X, y


def _check(xp, model, X, y, **options):
    model.params = to_xp(model.params, xp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GradcheckPrecisionWarning)
        return check_net(model, xp.asarray(X), xp.asarray(y), **options)


@pytest.mark.parametrize("dtype,reg", [(np.float64, 0.2), (np.float32, 0.0)],
                         ids=["float64-l2", "float32"])
def test_gradients(xp, dtype, reg):
    """Directional derivatives along random directions, every param (two decoder layers:
    the memory's gradient is the sum over both cross-attentions)."""
    X, y = _batch(np.random.default_rng(0), 3, 6, 5)
    X[0, :3] = 4  # a repeated token: its embedding gradient accumulates
    _check(xp, _net(dtype, reg=reg, num_enc_layers=1), X, y, fast=True)


def test_gradients_elementwise(xp):
    """Element by element, a sample of each param (float64, L2 on)."""
    X, y = _batch(np.random.default_rng(1), 3, 6, 5)
    _check(xp, _net(reg=0.1, num_enc_layers=1), X, y, num_checks=3)


@settings(max_examples=4, deadline=None)
@given(N=st.integers(1, 3), S=st.integers(1, 5), T=st.integers(1, 4),
       E_heads=st.sampled_from([(4, 1), (4, 2), (6, 3), (8, 4)]),
       layers=st.tuples(st.integers(1, 2), st.integers(1, 2)), seed=st.integers(0, 2**16))
def test_gradients_property_based(xp, N, S, T, E_heads, layers, seed):
    """Any batch shape, padding pattern, head count dividing E and depth."""
    E, h = E_heads
    rng = np.random.default_rng(seed)
    X, y = _batch(rng, N, S, T)
    m = _net(max_src_len=S, max_tgt_len=T, embed_dim=E, num_heads=h, ff_dim=5,
             num_enc_layers=layers[0], num_dec_layers=layers[1], seed=seed)
    _check(xp, m, X, y, fast=True)


def test_param_names_shapes_and_l2():
    m = Seq2SeqTransformer(11, 5, max_src_len=7, max_tgt_len=4, embed_dim=8, num_heads=2,
                           num_enc_layers=1, num_dec_layers=2, ff_dim=20)
    p = m.params
    assert p["W_src"].shape == (11, 8) and p["W_tgt"].shape == (5, 8)
    assert p["W_pos_src"].shape == (7, 8) and p["W_pos_tgt"].shape == (4, 8)
    assert p["W_out"].shape == (8, 5) and p["b_out"].shape == (5,)
    assert p["enc1.W_ff1"].shape == (8, 20) and "enc2.Wq" not in p
    assert p["dec2.cross.Wk"].shape == (8, 8) and p["dec2.cross.ln_gamma"].shape == (8,)
    assert all(a.dtype == np.float32 for a in p.values())
    weights = sorted(k for k in p if m.is_weight(k))
    assert "dec1.cross.Wq" in weights and "dec1.cross.bq" not in weights
    X, y = np.array([[3, 4, 0]]), np.array([[3, EOS]])
    loss, grads = m.loss(X, y)  # float32 throughout: no float64 on the way
    assert loss.dtype == np.float32 and m.loss(X).dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())
    m.reg = 0.3
    with_l2 = float(m.loss(X, y)[0])
    m.reg = 0.0
    want = 0.15 * sum(float((p[k].astype(np.float64) ** 2).sum()) for k in weights)
    assert with_l2 - float(m.loss(X, y)[0]) == pytest.approx(want, rel=1e-4)


def _teacher_forced_scores(m, X, y):
    """Scores of the teacher-forced decoder (what loss(X, y) differentiates)."""
    memory, keys, _ = m.encode(X)
    dec_in = np.concatenate([np.full((len(y), 1), BOS), y[:, :-1]], axis=1)
    return m.decode_scores(dec_in, memory, keys)[0]


def test_decoder_position_t_sees_only_targets_before_t():
    m = _net()
    X, y = _batch(np.random.default_rng(2), 2, 6, 5)
    y[:] = np.random.default_rng(3).integers(3, VT, y.shape)  # no padding here
    scores = _teacher_forced_scores(m, X, y)
    for t in range(4):
        y2 = y.copy()
        y2[:, t:] = (y2[:, t:] - 2) % (VT - 3) + 3  # change y_t..: inputs t+1.. change
        s2 = _teacher_forced_scores(m, X, y2)
        np.testing.assert_allclose(s2[:, :t + 1], scores[:, :t + 1], rtol=1e-12, atol=1e-13)
        assert not np.allclose(s2[:, t + 1:], scores[:, t + 1:])


def test_source_padding_is_ignored():
    """More PAD columns, or other positions' embeddings at PAD places, change nothing;
    a real source token does change the output."""
    m = _net()
    X, y = _batch(np.random.default_rng(4), 3, 4, 5)
    X[:, -1] = PAD
    loss = float(m.loss(X, y)[0])
    X_more = np.concatenate([X, np.zeros((3, 2), dtype=X.dtype)], axis=1)
    assert float(m.loss(X_more, y)[0]) == pytest.approx(loss, rel=1e-12)
    X_real = X.copy()
    X_real[:, -1] = 5
    assert float(m.loss(X_real, y)[0]) != pytest.approx(loss, rel=1e-6)
    # and the gradient reaches the PAD embedding row nowhere but through the keys' mask:
    _, grads = m.loss(X, y)
    assert np.abs(grads["W_src"][PAD]).max() < 1e-14


def test_greedy_decoding_is_the_argmax_of_its_scores_and_pads_after_eos():
    m = _net(scale=3.0)
    X, _ = _batch(np.random.default_rng(5), 6, 6, 5)
    s = m.loss(X)  # shift EOS's score so that it wins at about half the steps
    m.params["b_out"][EOS] += np.median(np.delete(s, EOS, -1).max(-1) - s[..., EOS])
    ids = m.decode(X)
    scores = m.loss(X)
    assert ids.shape == (6, 5) and scores.shape == (6, 5, VT)
    assert (ids[:, :-1] == EOS).any(), "no early EOS: the padding after it is untested"
    np.testing.assert_array_equal(np.argmax(scores, axis=-1), ids)
    for n in range(6):
        ends = np.flatnonzero(ids[n] == EOS)
        stop = ends[0] + 1 if ends.size else 5
        assert (ids[n, stop:] == PAD).all()
        # up to EOS, the scores are those of teacher forcing with the greedy ids
        np.testing.assert_allclose(_teacher_forced_scores(m, X[n:n + 1], ids[n:n + 1])[0, :stop],
                                   scores[n, :stop], rtol=1e-10, atol=1e-12)


def test_sampled_decoding():
    m = _net(scale=3.0)
    X, _ = _batch(np.random.default_rng(6), 20, 6, 5)
    a = m.decode(X, temperature=1.0, seed=7)
    assert np.array_equal(a, m.decode(X, temperature=1.0, seed=7))  # a seed fixes it
    assert not np.array_equal(a, m.decode(X))  # 20 x 5 draws, not all the argmax
    assert np.array_equal(m.decode(X, temperature=1.0, top_k=1, seed=8), m.decode(X))
    assert m.decode(X, max_len=2).shape == (20, 2)


def test_learns_to_reverse_a_batch():
    """End to end: Adam on 48 reversals of 3 symbols; greedy decoding reproduces them."""
    from optim import adam

    rng = np.random.default_rng(0)
    src = rng.integers(3, 7, (48, 3))
    y = np.concatenate([src[:, ::-1], np.full((48, 1), EOS)], axis=1)
    m = Seq2SeqTransformer(7, 7, max_src_len=3, max_tgt_len=4, embed_dim=16, num_heads=2,
                           num_enc_layers=1, num_dec_layers=1, seed=0)
    configs = {k: {"learning_rate": 1e-2} for k in m.params}
    for _ in range(120):
        loss, grads = m.loss(src, y)
        for k in m.params:
            m.params[k], configs[k] = adam(m.params[k], grads[k], configs[k])
    assert exact_match(m.decode(src), y) == 1.0


def test_bad_input():
    m = _net()
    X, y = _batch(np.random.default_rng(7), 2, 6, 5)
    with pytest.raises(ValueError, match=r"Seq2SeqTransformer.loss: X has S = 7 positions; "
                                         r"the model has max_src_len = 6"):
        m.loss(np.full((2, 7), 3), y)
    with pytest.raises(ValueError, match=r"a row of X is all padding"):
        m.loss(np.array([[3, 4], [0, 0]]), y)
    with pytest.raises(ValueError, match=r"X has value 9; values must be in \[0, src_vocab"):
        m.loss(np.full((2, 3), VS), y)
    with pytest.raises(TypeError, match=r"X must be an integer array"):
        m.loss(X.astype(float), y)
    with pytest.raises(ValueError, match=r"y must have 1 <= T <= max_tgt_len = 5"):
        m.loss(X, np.full((2, 6), 3))
    with pytest.raises(ValueError, match=r"y must have shape \(2, \*\)"):
        m.loss(X, y[:1])
    with pytest.raises(ValueError, match=r"num_heads must divide embed_dim = 8; got 3"):
        Seq2SeqTransformer(5, 5, embed_dim=8, num_heads=3)
    with pytest.raises(ValueError, match=r"tgt_vocab_size must be > 2"):
        Seq2SeqTransformer(5, 2)
    with pytest.raises(ValueError, match=r"decode: max_len must be an int in \[1, "):
        m.decode(X, max_len=6)
    with pytest.raises(ValueError, match=r"decode: temperature must be >= 0"):
        m.decode(X, temperature=-1.0)


# --- the tasks ---------------------------------------------------------------------------


@pytest.mark.parametrize("n,words", [
    (0, "zero"), (13, "thirteen"), (40, "forty"), (305, "three hundred five"),
    (42007, "forty two thousand seven"), (110000, "one hundred ten thousand"),
    (999999, "nine hundred ninety nine thousand nine hundred ninety nine")])
def test_number_words(n, words):
    assert " ".join(number_words(n)) == words


def test_words_task_splits_are_distinct_and_decode_back():
    d = words_task(num_train=300, num_val=50, num_test=50, seed=1)
    src, tgt = d["src_vocab"], d["tgt_vocab"]
    seen = {}
    for split in ("train", "val", "test"):
        X, y = d[f"X_{split}"], d[f"y_{split}"]
        assert X.dtype == np.int64 and y.dtype == np.int64 and (y == EOS).sum(1).min() == 1
        for xs, ys in zip(X, y):
            n = int(detok(ys, tgt, sep=""))
            assert detok(xs, src) == " ".join(number_words(n))
            assert seen.setdefault(n, split) == split  # no number in two splits


def test_sort_task():
    d = sort_task(num_train=200, num_val=20, num_test=20, seed=2)
    srcs = {detok(x, d["src_vocab"]) for x in d["X_train"]}
    for x, y in zip(d["X_test"], d["y_test"]):
        s = detok(x, d["src_vocab"])
        assert s not in srcs and detok(y, d["tgt_vocab"]) == " ".join(sorted(s.split()))


def test_exact_match():
    y = np.array([[5, 6, EOS, PAD], [4, EOS, PAD, PAD]])
    assert exact_match(y, y) == 1.0
    assert exact_match(np.array([[5, 6, EOS, PAD], [4, 4, EOS, PAD]]), y) == 0.5
    assert exact_match(y[:, :3], y) == 1.0  # shorter, padded with PAD


def test_example_runs(capsys):
    from examples.seq2seq import main
    from layerkit.train import blas_threads

    with blas_threads(1):
        acc = main(["--epochs", "1", "--num-train", "300", "--embed", "16"])
    assert "exact match on 1000 held-out sequences (words)" in capsys.readouterr().out
    assert 0.0 <= acc <= 1.0


@pytest.mark.slow
def test_example_reaches_95_percent_exact_match():
    from examples.seq2seq import main
    from layerkit.train import blas_threads

    with blas_threads(1):
        assert main([]) >= 0.95
