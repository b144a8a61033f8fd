"""CaptioningRNN: gradient checks, the CS231n notebook values, sampling, bad input."""

import numpy as np
import pytest

from gradcheck import check_net
from layers.backend import to_xp
from nets import CaptioningRNN
from tests.helpers import host

WORDS = {"<NULL>": 0, "<START>": 1, "<END>": 2, "a": 3, "cat": 4, "dog": 5}


def _tiny(cell, seed=0, dtype=np.float32):
    return CaptioningRNN(WORDS, input_dim=3, wordvec_dim=4, hidden_dim=3, cell_type=cell,
                         dtype=dtype, seed=seed)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradients(xp, cell, seed):
    model = _tiny(cell, seed, dtype=np.float64)
    model.params = to_xp(model.params, xp)
    rng = np.random.default_rng(seed)
    features = xp.asarray(rng.standard_normal((2, 3)))
    captions = rng.integers(0, len(WORDS), (2, 5))
    captions[:, 0] = WORDS["<START>"]
    captions[0, 3:] = WORDS["<NULL>"]  # a padded caption: masked steps get no gradient
    check_net(model, features, xp.asarray(captions))


@pytest.mark.parametrize("cell,feature_range,expected", [
    ("rnn", (-1.5, 0.3), 9.83235591003),
    ("lstm", (-0.5, 1.7), 9.82445935443),
])
def test_cs231n_notebook_loss(xp, cell, feature_range, expected):
    """The check in CS231n's assignment-3 notebooks: every param a linspace, a fixed input."""
    N, D, W, H, T = 10, 20, 30, 40, 13
    word_to_idx = {"<NULL>": 0, "cat": 2, "dog": 3}
    model = CaptioningRNN(word_to_idx, input_dim=D, wordvec_dim=W, hidden_dim=H,
                          cell_type=cell, dtype=np.float64)
    for k, v in model.params.items():
        model.params[k] = xp.asarray(np.linspace(-1.4, 1.3, num=v.size).reshape(*v.shape))
    features = xp.asarray(np.linspace(*feature_range, num=N * D).reshape(N, D))
    captions = xp.asarray((np.arange(N * T) % len(word_to_idx)).reshape(N, T))
    loss, grads = model.loss(features, captions)
    assert float(loss) == pytest.approx(expected, abs=1e-10)
    assert set(grads) == set(model.params)


def test_param_names_and_shapes():
    for cell, k in [("rnn", 1), ("lstm", 4)]:
        m = CaptioningRNN(WORDS, input_dim=7, wordvec_dim=5, hidden_dim=6, cell_type=cell)
        shapes = {n: tuple(p.shape) for n, p in m.params.items()}
        assert shapes == {"W_embed": (6, 5), "W_proj": (7, 6), "b_proj": (6,),
                          "Wx": (5, 6 * k), "Wh": (6, 6 * k), "b": (6 * k,),
                          "W_vocab": (6, 6), "b_vocab": (6,)}
        assert all(p.dtype == np.float32 for p in m.params.values())


def test_float32_and_seed(xp):
    a, b, c = _tiny("lstm", seed=5), _tiny("lstm", seed=5), _tiny("lstm", seed=6)
    assert all(np.array_equal(host(a.params[k]), host(b.params[k])) for k in a.params)
    assert not np.array_equal(host(a.params["Wx"]), host(c.params["Wx"]))
    a.params = to_xp(a.params, xp)
    feats = xp.asarray(np.ones((2, 3), dtype=np.float32))
    loss, grads = a.loss(feats, xp.asarray(np.array([[1, 3, 4, 2], [1, 5, 2, 0]])))
    assert loss.dtype == np.float32 and all(g.dtype == np.float32 for g in grads.values())


def _overfit(model, features, captions, steps, lr=0.05):
    """Plain Adam on one batch (the optimizer package is not used here)."""
    m = {k: np.zeros_like(p) for k, p in model.params.items()}
    v = {k: np.zeros_like(p) for k, p in model.params.items()}
    for t in range(1, steps + 1):
        loss, grads = model.loss(features, captions)
        for k, p in model.params.items():
            m[k] = 0.9 * m[k] + 0.1 * grads[k]
            v[k] = 0.999 * v[k] + 0.001 * grads[k] ** 2
            p -= lr * (m[k] / (1 - 0.9 ** t)) / (np.sqrt(v[k] / (1 - 0.999 ** t)) + 1e-8)
    return float(loss)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_overfit_then_sample_reproduces_the_captions(cell):
    """Two images, two captions: after fitting them, greedy sampling reads them back."""
    model = CaptioningRNN(WORDS, input_dim=4, wordvec_dim=8, hidden_dim=16, cell_type=cell,
                          dtype=np.float64, seed=0)
    features = np.random.default_rng(0).standard_normal((2, 4))
    captions = np.array([[1, 3, 4, 2, 0], [1, 5, 3, 5, 2]])  # <START> a cat <END> / dog a dog
    assert _overfit(model, features, captions, steps=150) < 0.05
    sampled = model.sample(features, max_length=6)
    assert sampled.shape == (2, 6) and np.issubdtype(sampled.dtype, np.integer)
    np.testing.assert_array_equal(sampled[0, :3], [3, 4, 2])
    np.testing.assert_array_equal(sampled[1, :4], [5, 3, 5, 2])


def test_sample_is_greedy_step_by_step():
    """The first sampled word is the argmax of the scores after <START> from h0."""
    model = _tiny("rnn", seed=3, dtype=np.float64)
    p = model.params
    feats = np.random.default_rng(1).standard_normal((4, 3))
    h0 = feats @ p["W_proj"] + p["b_proj"]
    h1 = np.tanh(p["W_embed"][WORDS["<START>"]] @ p["Wx"] + h0 @ p["Wh"] + p["b"])
    first = (h1 @ p["W_vocab"] + p["b_vocab"]).argmax(axis=1)
    np.testing.assert_array_equal(model.sample(feats, max_length=3)[:, 0], first)


def test_bad_input():
    with pytest.raises(ValueError, match="cell_type must be one of"):
        CaptioningRNN(WORDS, cell_type="gru2")
    with pytest.raises(ValueError, match=r"word_to_idx is missing key\(s\) \['<NULL>'\]"):
        CaptioningRNN({"a": 0, "b": 1})
    model = _tiny("lstm")
    feats = np.ones((2, 3), dtype=np.float32)
    with pytest.raises(ValueError, match=r"captions has value 6; values must be in \[0, V = 6\)"):
        model.loss(feats, np.array([[1, 6, 2], [1, 2, 0]]))
    with pytest.raises(ValueError, match=r"features must have shape \(2, 3\)"):
        model.loss(np.ones((2, 5), dtype=np.float32), np.array([[1, 3, 2], [1, 2, 0]]))
    with pytest.raises(ValueError, match=r"T >= 1; got \(2, 1\)"):
        model.loss(feats, np.array([[1], [1]]))
    with pytest.raises(ValueError, match=r"captions must have shape \(2, \*\)"):
        model.loss(feats, np.array([[1, 3, 2]]))
    no_start = CaptioningRNN({"<NULL>": 0, "x": 1}, input_dim=3, wordvec_dim=2, hidden_dim=2)
    with pytest.raises(ValueError, match="no '<START>'"):
        no_start.sample(feats)
