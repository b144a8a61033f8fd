"""Character-level language models: an MLP over a fixed context (Bengio et al. 2003) and a
recurrent one (RNN, LSTM or GRU cell).

Both share one interface, so a trainer can treat them alike:
- ``params``, ``dtype`` (read at call time), ``reg`` (L2 on the weight matrices ``W*``)
- ``loss(X, y=None)``: X integer token ids; without y the scores, with y
  ``(loss, grads)``; the loss is the mean cross-entropy per predicted character, in nats
- ``sample(prefix, n, temperature=1.0, seed=None) -> str``: the prefix followed by n
  sampled characters

The vocabulary is given as its characters in id order (a str or a sequence of
one-character strings); ``layerkit.text`` builds it from a corpus.
"""

from __future__ import annotations

import math

import numpy as np

from layers import (RECURRENT_CELLS, affine_backward, affine_forward, softmax_loss,
                    temporal_affine_backward, temporal_affine_forward, temporal_softmax_loss,
                    word_embedding_backward, word_embedding_forward)
from layers import validate as v
from layers.backend import default_rng, get_backend, get_xp, random_normal, to_numpy

from .base import Model

__all__ = ["CharMLPLM", "CharRNNLM", "PAD_CHAR"]

PAD_CHAR = "\n"  # fills a context shorter than the MLP's window (text restarts after it)


class _CharModel(Model):
    """Vocabulary handling and sampling shared by the two language models."""

    def _set_vocab(self, chars, name: str):
        chars = list(chars)
        if not chars or any(not isinstance(c, str) or len(c) != 1 for c in chars) \
                or len(set(chars)) != len(chars):
            raise ValueError(f"{name}: chars must be distinct one-character strings in id "
                             f"order; got {chars[:10]!r}...")
        self.chars = "".join(chars)
        self.stoi = {c: i for i, c in enumerate(chars)}

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``; ValueError naming the first character not in the vocabulary."""
        for k, ch in enumerate(text):
            if ch not in self.stoi:
                raise ValueError(f"{type(self).__name__}: character {ch!r} at position {k} of "
                                 f"the prefix is not in the vocabulary")
        return [self.stoi[ch] for ch in text]

    @staticmethod
    def _pick(scores, temperature: float, rng: np.random.Generator) -> int:
        """One token from softmax(scores / temperature) by the Gumbel-max trick (exact, and
        no renormalising of float32 probabilities); temperature 0 is the argmax."""
        s = np.asarray(to_numpy(scores), dtype=np.float64).reshape(-1)
        if temperature == 0:
            return int(s.argmax())
        return int((s / temperature + rng.gumbel(size=s.shape)).argmax())

    def _check_sample_args(self, prefix, n, temperature):
        fn = f"{type(self).__name__}.sample"
        if not isinstance(prefix, str):
            raise TypeError(f"{fn}: prefix must be a str; got {type(prefix).__name__}")
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"{fn}: n must be an integer >= 0; got {n!r}")
        if not temperature >= 0:
            raise ValueError(f"{fn}: temperature must be >= 0; got {temperature!r}")
        return self.encode(prefix)


class CharMLPLM(_CharModel):
    """Bengio et al. (2003): embed the last ``context`` characters, concatenate, one tanh
    hidden layer, softmax over the next character. (The paper's optional direct
    embedding-to-output connections are left out.)

    Params (V characters, E = embed_dim, K = context, H = hidden_dim):
    W_embed (V, E), W1 (K E, H), b1 (H,), W2 (H, V), b2 (V,).
    """

    def __init__(self, chars, context=8, embed_dim=16, hidden_dim=256, reg=0.0,
                 dtype=np.float32, seed=None):
        super().__init__(dtype)
        self._set_vocab(chars, "CharMLPLM")
        self.context, self.reg, dtype = int(context), reg, self.dtype
        V, E, K, H = self.vocab_size, embed_dim, self.context, hidden_dim
        rng, xp = default_rng(seed), get_backend()
        self.params = {
            "W_embed": random_normal(rng, (V, E), dtype, xp, scale=1.0),
            "W1": random_normal(rng, (K * E, H), dtype, xp, scale=1 / math.sqrt(K * E)),
            "b1": xp.zeros(H, dtype=dtype),
            "W2": random_normal(rng, (H, V), dtype, xp, scale=0.1 / math.sqrt(H)),
            "b2": xp.zeros(V, dtype=dtype),
        }

    def loss(self, X, y=None):
        """
        Inputs:
        - X: (N, K) integer ids of the K characters before each target
        - y: (N,) integer ids of the targets, or None

        Returns scores (N, V) when y is None, else a tuple of:
        - loss: mean cross-entropy per character, in nats (plus the L2 term)
        - grads: dict keyed like self.params
        """
        p = self.params
        v.integer_array("CharMLPLM.loss", "X", X, high=self.vocab_size, high_name="V",
                        what=f"(N, {self.context}) token ids")
        v.shape("CharMLPLM.loss", "X", X, (None, self.context),
                f"(N, K) with K = context = {self.context}")
        xp = get_xp(X, p["W1"])
        emb, c_emb = word_embedding_forward(X, p["W_embed"])  # (N, K, E)
        a, c1 = affine_forward(emb, p["W1"], p["b1"])  # (N, H); affine reads (N, K E)
        hid = xp.tanh(a, out=a)  # a is our own temporary
        scores, c2 = affine_forward(hid, p["W2"], p["b2"])  # (N, V)
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        grads = {}
        dhid, grads["W2"], grads["b2"] = affine_backward(dscores, c2)
        da = dhid * (1 - hid * hid)  # tanh'
        demb, grads["W1"], grads["b1"] = affine_backward(da, c1)
        grads["W_embed"] = word_embedding_backward(demb, c_emb)
        return self.regularize(loss, grads), grads

    def sample(self, prefix="", n=200, temperature=1.0, seed=None) -> str:
        """The prefix followed by n characters, each drawn from the model given the last
        ``context`` characters (left-padded with PAD_CHAR, or id 0 if that is not in the
        vocabulary). temperature 0 is greedy; seed feeds one numpy Generator."""
        ids = self._check_sample_args(prefix, n, temperature)
        rng = default_rng(seed)
        pad = self.stoi.get(PAD_CHAR, 0)
        window = ([pad] * self.context + ids)[-self.context:]
        xp = get_xp(self.params["W1"])
        out = []
        for _ in range(n):
            scores = self.loss(xp.asarray(np.asarray([window], dtype=np.int64)))
            nxt = self._pick(scores, temperature, rng)
            out.append(self.chars[nxt])
            window = window[1:] + [nxt]
        return prefix + "".join(out)


class CharRNNLM(_CharModel):
    """Embed each character, run a recurrent cell from a zero state, score the next
    character at every step.

    Params (V characters, W = wordvec_dim, H = hidden_dim, k = 1 rnn / 3 gru / 4 lstm):
    W_embed (V, W), Wx (W, kH), Wh (H, kH), b (kH,), W_vocab (H, V), b_vocab (V,).
    The LSTM's forget-gate bias starts at 1 (a common choice that helps early training).
    """

    def __init__(self, chars, wordvec_dim=32, hidden_dim=128, cell_type="lstm", reg=0.0,
                 dtype=np.float32, seed=None):
        super().__init__(dtype)
        self._set_vocab(chars, "CharRNNLM")
        v.choice("CharRNNLM", "cell_type", cell_type, tuple(RECURRENT_CELLS))
        self.cell_type, self.reg, dtype = cell_type, reg, self.dtype
        V, W, H, k = self.vocab_size, wordvec_dim, hidden_dim, RECURRENT_CELLS[cell_type].gates
        rng, xp = default_rng(seed), get_backend()
        b = np.zeros(k * H)
        if cell_type == "lstm":
            b[H:2 * H] = 1.0
        self.params = {
            "W_embed": random_normal(rng, (V, W), dtype, xp, scale=1.0),
            "Wx": random_normal(rng, (W, k * H), dtype, xp, scale=1 / math.sqrt(W)),
            "Wh": random_normal(rng, (H, k * H), dtype, xp, scale=1 / math.sqrt(H)),
            "b": xp.asarray(b.astype(dtype)),
            "W_vocab": random_normal(rng, (H, V), dtype, xp, scale=0.1 / math.sqrt(H)),
            "b_vocab": xp.zeros(V, dtype=dtype),
        }

    def loss(self, X, y=None):
        """
        Inputs:
        - X: (N, T) integer ids of the input characters
        - y: (N, T) integer ids of the targets (X shifted by one in the text), or None

        Returns scores (N, T, V) when y is None, else a tuple of:
        - loss: mean cross-entropy per character, in nats (plus the L2 term)
        - grads: dict keyed like self.params
        """
        fn = "CharRNNLM.loss"
        p = self.params
        v.integer_array(fn, "X", X, high=self.vocab_size, high_name="V", what="(N, T) ids")
        v.shape(fn, "X", X, (None, None), "(N, T) token ids")
        cell = RECURRENT_CELLS[self.cell_type]
        xp = get_xp(X, p["Wx"])
        N, T = X.shape
        emb, c_emb = word_embedding_forward(X, p["W_embed"])  # (N, T, W)
        h0 = xp.zeros((N, p["Wh"].shape[0]), dtype=self.dtype)
        h, c_cell = cell.forward(emb, h0, p["Wx"], p["Wh"], p["b"])  # (N, T, H)
        scores, c_vocab = temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
        if y is None:
            return scores
        v.shape(fn, "y", y, (N, T), "(N, T), like X")
        loss, dscores = temporal_softmax_loss(scores, y, xp.ones((N, T), dtype=bool))
        # temporal_softmax_loss sums over time and divides by N: make it a mean per character
        # (a Python float keeps the dtype of the arrays under NEP 50)
        loss = loss * (1.0 / T)
        dscores *= 1.0 / T
        grads = {}
        dh, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(dscores, c_vocab)
        demb, _, grads["Wx"], grads["Wh"], grads["b"] = cell.backward(dh, c_cell)
        grads["W_embed"] = word_embedding_backward(demb, c_emb)
        return self.regularize(loss, grads), grads

    def sample(self, prefix="", n=200, temperature=1.0, seed=None) -> str:
        """The prefix followed by n characters. The state starts at zero and reads PAD_CHAR
        (the corpus' separator; id 0 if absent) and then the prefix, one step at a time.
        temperature 0 is greedy; seed feeds one numpy Generator."""
        ids = self._check_sample_args(prefix, n, temperature)
        rng = default_rng(seed)
        p = self.params
        step = RECURRENT_CELLS[self.cell_type].step_forward
        xp = get_xp(p["Wx"])
        h = xp.zeros((1, p["Wh"].shape[0]), dtype=self.dtype)
        c = xp.zeros_like(h)
        out = []
        feed = [self.stoi.get(PAD_CHAR, 0)] + ids
        for k in range(len(feed) + n - 1):
            x = p["W_embed"][feed[k]][None] if k < len(feed) else p["W_embed"][out[-1]][None]
            if self.cell_type == "lstm":
                h, c, _ = step(x, h, c, p["Wx"], p["Wh"], p["b"])
            else:
                h, _ = step(x, h, p["Wx"], p["Wh"], p["b"])
            if k >= len(feed) - 1:
                out.append(self._pick(h @ p["W_vocab"] + p["b_vocab"], temperature, rng))
        return prefix + "".join(self.chars[i] for i in out)
