"""Character language models (nets.char_lm) and their data (layerkit.text)."""

import math

import numpy as np
import pytest

from gradcheck import check_net
from layerkit.text import (Vocab, char_lm_data, context_windows, load_corpus,
                           sequence_windows, split_by_position)
from layers.backend import to_xp
from nets import CharMLPLM, CharRNNLM

CHARS = "\nabcde"


def _mlp(seed=0, dtype=np.float64, **kw):
    return CharMLPLM(CHARS, context=3, embed_dim=2, hidden_dim=4, dtype=dtype, seed=seed, **kw)


def _rnn(cell, seed=0, dtype=np.float64, **kw):
    return CharRNNLM(CHARS, wordvec_dim=3, hidden_dim=4, cell_type=cell, dtype=dtype,
                     seed=seed, **kw)


# --- gradients ------------------------------------------------------------------------


@pytest.mark.parametrize("reg", [0.0, 0.3])
@pytest.mark.parametrize("seed", [0, 1])
def test_mlp_gradients(xp, seed, reg):
    model = _mlp(seed, reg=reg)
    model.params = to_xp(model.params, xp)
    rng = np.random.default_rng(seed)
    X = xp.asarray(rng.integers(0, len(CHARS), (4, 3)))
    X[0] = X[0, 0]  # a context with one character repeated: the embedding accumulates
    check_net(model, X, xp.asarray(rng.integers(0, len(CHARS), 4)))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("seed,reg", [(0, 0.0), (1, 0.2)])
def test_rnn_lm_gradients(xp, cell, seed, reg):
    model = _rnn(cell, seed, reg=reg)
    model.params = to_xp(model.params, xp)
    rng = np.random.default_rng(seed)
    X = xp.asarray(rng.integers(0, len(CHARS), (2, 4)))
    check_net(model, X, xp.asarray(rng.integers(0, len(CHARS), (2, 4))))


# --- the loss and its interface --------------------------------------------------------


def test_initial_loss_is_about_log_v_per_character():
    """Small output weights at init: a near-uniform prediction, log V nats per character,
    whatever the batch and sequence length (a mean over characters, not a sum over time)."""
    rng = np.random.default_rng(0)
    for model, X, y in [
        (CharMLPLM(CHARS, context=3, seed=0), rng.integers(0, 6, (50, 3)),
         rng.integers(0, 6, 50)),
        (CharRNNLM(CHARS, cell_type="lstm", seed=0), rng.integers(0, 6, (5, 40)),
         rng.integers(0, 6, (5, 40))),
    ]:
        loss, _ = model.loss(X, y)
        assert loss.dtype == np.float32
        assert float(loss) == pytest.approx(math.log(6), abs=0.05)


def test_scores_without_targets():
    X = np.zeros((2, 5), dtype=np.int64)
    assert _rnn("lstm").loss(X).shape == (2, 5, 6)
    assert _mlp().loss(X[:, :3]).shape == (2, 6)


def test_rnn_lm_loss_is_the_mean_over_time_of_per_step_losses():
    """Independent check of the normalisation: log-softmax by hand from the scores."""
    model = _rnn("gru", seed=4)
    rng = np.random.default_rng(4)
    X, y = rng.integers(0, 6, (3, 5)), rng.integers(0, 6, (3, 5))
    s = model.loss(X)
    logp = s - np.log(np.exp(s).sum(axis=-1, keepdims=True))
    nll = -np.take_along_axis(logp, y[..., None], axis=-1).mean()
    assert float(model.loss(X, y)[0]) == pytest.approx(nll, rel=1e-12)


def _fit(model, X, y, steps, lr):
    m = {k: np.zeros_like(p) for k, p in model.params.items()}
    v = {k: np.zeros_like(p) for k, p in model.params.items()}
    for t in range(1, steps + 1):
        loss, grads = model.loss(X, y)
        for k, p in model.params.items():
            m[k] = 0.9 * m[k] + 0.1 * grads[k]
            v[k] = 0.999 * v[k] + 0.001 * grads[k] ** 2
            p -= lr * (m[k] / (1 - 0.9 ** t)) / (np.sqrt(v[k] / (1 - 0.999 ** t)) + 1e-8)
    return float(loss)


@pytest.mark.parametrize("kind", ["mlp", "lstm"])
def test_learns_a_periodic_text_and_samples_it(kind):
    text = "abcde\n" * 40
    vocab = Vocab.from_text(text)
    if kind == "mlp":
        model = CharMLPLM(vocab.chars, context=3, embed_dim=4, hidden_dim=16, seed=0)
        X, y = context_windows(vocab.encode(text), 3)
    else:
        model = CharRNNLM(vocab.chars, wordvec_dim=4, hidden_dim=16, seed=0)
        X, y = sequence_windows(vocab.encode(text), 12)
    assert _fit(model, np.ascontiguousarray(X), y, steps=120, lr=0.05) < 0.05
    out = model.sample("cd", 14, temperature=0.0)
    assert out == "cde\nabcde\nabcde\n"
    warm = model.sample("cd", 14, temperature=0.5, seed=1)  # peaked: still the pattern
    assert warm == out


# --- sampling -----------------------------------------------------------------------------


@pytest.mark.parametrize("make", [_mlp, lambda **kw: _rnn("lstm", **kw),
                                  lambda **kw: _rnn("rnn", **kw)])
def test_sample_contract(make):
    model = make(dtype=np.float32)
    s = model.sample("ab", 30, temperature=1.0, seed=3)
    assert isinstance(s, str) and len(s) == 32 and s.startswith("ab")
    assert set(s) <= set(CHARS)
    assert model.sample("ab", 30, temperature=1.0, seed=3) == s  # same seed, same text
    assert model.sample("", 5, seed=0).__len__() == 5
    assert model.sample("abc", 0) == "abc"
    with pytest.raises(ValueError, match=r"character 'z' at position 1 of the prefix"):
        model.sample("az", 3)
    with pytest.raises(ValueError, match="n must be an integer >= 0"):
        model.sample("a", -1)
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        model.sample("a", 2, temperature=-0.5)


def test_temperature_sharpens_the_distribution():
    """High temperature: about uniform draws; near 0: always the argmax."""
    model = _mlp(seed=2)
    greedy = model.sample("abc", 1, temperature=0.0)[-1]
    cold = [model.sample("abc", 1, temperature=1e-3, seed=s)[-1] for s in range(20)]
    assert set(cold) == {greedy}
    hot = [model.sample("abc", 1, temperature=1e3, seed=s)[-1] for s in range(300)]
    counts = np.array([hot.count(c) for c in CHARS])
    assert counts.min() > 20  # each of the 6 characters about 50 times


# --- bad input ------------------------------------------------------------------------------


def test_bad_input():
    with pytest.raises(ValueError, match=r"X has value 6; values must be in \[0, V = 6\)"):
        _mlp().loss(np.array([[0, 1, 6]]), np.array([0]))
    with pytest.raises(ValueError, match=r"X must have shape \(\*, 3\)"):
        _mlp().loss(np.array([[0, 1]]), np.array([0]))
    with pytest.raises(ValueError, match=r"y must have shape \(1, 2\)"):
        _rnn("lstm").loss(np.array([[0, 1]]), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"y has value 9"):
        _rnn("lstm").loss(np.array([[0, 1]]), np.array([[0, 9]]))
    with pytest.raises(ValueError, match="cell_type must be one of"):
        CharRNNLM(CHARS, cell_type="transformer")
    with pytest.raises(ValueError, match="distinct one-character strings"):
        CharMLPLM("aab")


# --- the text data ----------------------------------------------------------------------------


def test_corpus_is_deterministic_and_ships_with_python():
    text = load_corpus()
    assert len(text) > 100_000 and text == load_corpus()
    assert load_corpus(1000) == text[:1000]


def test_vocab_round_trip_and_errors():
    v = Vocab.from_text("hello world")
    assert v.chars == " dehlorw" and len(v) == 8
    ids = v.encode("low")
    assert ids.dtype == np.int64 and v.decode(ids) == "low"
    with pytest.raises(ValueError, match="character '!' is not in the vocabulary"):
        v.encode("world!")


def test_split_and_windows():
    ids = np.arange(100)
    train, val = split_by_position(ids, 0.1)
    np.testing.assert_array_equal(train, np.arange(90))
    np.testing.assert_array_equal(val, np.arange(90, 100))
    X, y = context_windows(train, 4)
    assert X.shape == (86, 4) and y.shape == (86,)
    np.testing.assert_array_equal(X[5], [5, 6, 7, 8])
    assert y[5] == 9
    X, y = sequence_windows(train, 8)
    assert X.shape == (11, 8)  # 11 windows of 8 inputs, each with its 9th character
    np.testing.assert_array_equal(X[2], np.arange(16, 24))
    np.testing.assert_array_equal(y[2], np.arange(17, 25))
    X, y = sequence_windows(train, 8, stride=4)
    np.testing.assert_array_equal(X[1], np.arange(4, 12))
    with pytest.raises(ValueError, match="context_windows: need 1 <= context"):
        context_windows(np.arange(3), 3)


@pytest.mark.parametrize("kind", ["mlp", "rnn"])
def test_char_lm_data(kind):
    text = "".join(chr(97 + (i * 7) % 26) for i in range(2000))
    data, vocab = char_lm_data(kind, context=5, seq_len=16, val_seq_len=32, text=text)
    assert set(data) == {"X_train", "y_train", "X_val", "y_val"}
    assert len(vocab) == 26
    if kind == "mlp":
        assert data["X_train"].shape == (1795, 5) and data["y_train"].shape == (1795,)
        assert data["X_val"].shape == (195, 5)
    else:
        assert data["X_train"].shape == (112, 16) and data["X_val"].shape == (6, 32)
    # the validation data is the tail of the text: its first target is character 1800 + k
    first = 1800 + (5 if kind == "mlp" else 1)
    assert vocab.decode(data["y_val"].reshape(-1)[:1]) == text[first]


def test_experiment_script_runs_end_to_end(tmp_path):
    """examples/char_lm_experiment.py on a tiny budget: it trains both models, prints the
    table and a sample, and writes the plot, the JSON and the samples."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "examples" / "char_lm_experiment.py"
    res = subprocess.run(
        [sys.executable, str(script), "--epochs", "2", "--batch", "4",
         "--seq-len", "16", "--val-seq-len", "32", "--hidden", "8", "--mlp-hidden", "8",
         "--embed", "4", "--max-chars", "20000", "--sample-len", "30", "--out",
         str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "val bpc" in res.stdout and "=== LSTM" in res.stdout
    results = json.loads((tmp_path / "char_lm_results.json").read_text())["results"]
    assert set(results) == {"mlp", "lstm"}
    for r in results.values():
        assert [p["epoch"] for p in r["curve"]] == [1, 2]  # one validation per epoch
        assert r["curve"][1]["step"] == 2 * r["curve"][0]["step"] > 0
        assert r["val_bpc"] == pytest.approx(r["val_nats"] / math.log(2))
    assert (tmp_path / "char_lm_curves.png").stat().st_size > 1000
    assert (tmp_path / "samples.txt").read_text().count("The ") >= 2
