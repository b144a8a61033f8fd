"""A recurrent sequence classifier with CharRNNLM's body, so a pretrained character LM's
params carry over by name: embed each character, run the cell from a zero state, classify
from the final hidden state or from the mean of all hidden states.

    h = cell(W_embed[X]; Wx, Wh, b)                    (N, T, H)
    z = h[:, -1] (pooling 'last') or h.mean(axis=1) (pooling 'mean')     (N, H)
    scores = z @ W_cls + b_cls                         (N, C)

'mean' lets the gradient reach every step directly: a character LM's final state holds
the last few characters, not the topic of a 128-character snippet.
"""

from __future__ import annotations

import math

import numpy as np

from layers import (RECURRENT_CELLS, affine_backward, affine_forward, word_embedding_backward,
                    word_embedding_forward)
from layers import validate as v
from layers.backend import default_rng, get_backend, get_xp, random_normal

from .char_lm import CharRNNLM

__all__ = ["CharRNNClassifier"]

_BODY = ("W_embed", "Wx", "Wh", "b")


class CharRNNClassifier(CharRNNLM):
    """CharRNNLM's params W_embed, Wx, Wh, b (same names, shapes and init) and a head
    W_cls (H, C), b_cls (C,) in place of the LM's output layer.

    ``loss(X, y)``: X (N, T) character ids, y (N,) labels; the mean softmax cross-entropy.
    ``loss(X)``: scores (N, C). Params named in ``frozen`` get no update from the Solver;
    when the whole body is frozen the backward stops at the head.
    """

    def __init__(self, chars, num_classes, wordvec_dim=32, hidden_dim=128, cell_type="lstm",
                 reg=0.0, dtype=np.float32, seed=None, pooling="last"):
        super().__init__(chars, wordvec_dim, hidden_dim, cell_type, reg, dtype, seed)
        self.pooling = v.choice("CharRNNClassifier", "pooling", pooling, ("last", "mean"))
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"CharRNNClassifier: num_classes must be an int >= 2; got "
                             f"{num_classes!r}")
        self.num_classes = num_classes
        del self.params["W_vocab"], self.params["b_vocab"]
        H, rng = hidden_dim, default_rng(None if seed is None else seed + 1)
        self.params["W_cls"] = random_normal(rng, (H, num_classes), self.dtype, get_backend(),
                                             scale=1 / math.sqrt(H))
        self.params["b_cls"] = get_backend().zeros(num_classes, dtype=self.dtype)

    def forward(self, X, train):
        fn = "CharRNNClassifier.loss"
        p = self.params
        v.integer_array(fn, "X", X, high=self.vocab_size, high_name="V", what="(N, T) ids")
        v.shape(fn, "X", X, (None, None), "(N, T) character ids")
        cell = RECURRENT_CELLS[self.cell_type]
        emb, c_emb = word_embedding_forward(X, p["W_embed"])  # (N, T, W)
        h0 = get_xp(X, p["Wx"]).zeros((X.shape[0], p["Wh"].shape[0]), dtype=self.dtype)
        h, c_cell = cell.forward(emb, h0, p["Wx"], p["Wh"], p["b"])  # (N, T, H)
        z = h[:, -1] if self.pooling == "last" else h.mean(axis=1)  # (N, H)
        scores, c_cls = affine_forward(z, p["W_cls"], p["b_cls"])
        return scores, (h.shape, c_emb, c_cell, c_cls)

    def backward(self, dscores, cache):
        shape, c_emb, c_cell, c_cls = cache
        grads = {}
        dz, grads["W_cls"], grads["b_cls"] = affine_backward(dscores, c_cls)
        if set(_BODY) <= self.frozen:  # nothing below the head trains
            return grads
        if self.pooling == "last":
            dh = get_xp(dz).zeros(shape, dtype=dz.dtype)
            dh[:, -1] = dz
        else:  # each step's share of the mean
            dh = get_xp(dz).broadcast_to(dz[:, None, :] / shape[1], shape)
        demb, _, grads["Wx"], grads["Wh"], grads["b"] = \
            RECURRENT_CELLS[self.cell_type].backward(dh, c_cell)
        grads["W_embed"] = word_embedding_backward(demb, c_emb)
        return grads

    def loss(self, X, y=None):
        """Scores (N, C) for X, or (loss, grads) as Model.loss composes them."""
        return super(CharRNNLM, self).loss(X, y)
