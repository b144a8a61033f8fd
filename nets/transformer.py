"""A GPT-style language model (GPT-2's layout, every backward by hand): token and learned
position embeddings, pre-norm transformer blocks under a causal mask, a final layernorm,
and an output layer that is (by default) the token embedding itself.

    h = W_tok[X] + W_pos[:T]                                       (N, T, E)
    h = block_L(... block_1(h, causal mask) ...)
    logits = layernorm(h; lnf) @ W_tok.T       (tied)   or  @ W_out + b_out
    loss = mean over the N T positions of -log softmax(logits)[y]

The loss never builds a second (N, T, V) array: the logits buffer becomes the softmax and
then the gradient in place (llm.c's fused classifier, on a buffer the net owns).
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

from layers import (BLOCK_KEYS, causal_mask, dropout_backward, dropout_forward,
                    layernorm_backward, layernorm_forward,
                    positional_embedding_backward, positional_embedding_forward,
                    transformer_block_backward, transformer_block_forward,
                    word_embedding_backward, word_embedding_forward)
from layers import validate as v
from layers.backend import default_rng, get_backend, get_xp, random_normal, to_numpy

from .base import Model
from .char_lm import _CharModel

__all__ = ["TransformerLM"]

_LN = {"eps": 1e-5}


def softmax_cross_entropy_inplace(logits, y):
    """Mean cross-entropy of (M, V) logits against y (M,), and its gradient written into
    ``logits`` itself (which the caller owns and no longer needs): softmax(logits) minus
    the one-hot of y, over M. One pass of exp, no second (M, V) array, no float64.

    Returns a tuple of:
    - loss: 0-d array of logits' dtype
    - dlogits: ``logits``, overwritten
    """
    xp = get_xp(logits, y)
    M = logits.shape[0]
    rows = xp.arange(M)
    logits -= logits.max(axis=1, keepdims=True)  # <= 0, row max 0
    target = logits[rows, y]  # (M,) a copy, taken before the exp
    xp.exp(logits, out=logits)
    sums = logits.sum(axis=1, keepdims=True)  # (M, 1) >= 1
    loss = (xp.log(sums[:, 0]) - target).mean()
    logits *= 1.0 / sums * (1.0 / M)  # softmax / M; (M, 1) factor, cheap
    logits[rows, y] -= 1.0 / M
    return loss, logits


class TransformerLM(Model):
    """A decoder-only transformer language model over token ids.

    Params (V = vocab_size, E = embed_dim, F = ff_dim, L = num_layers), names as API.md:
    W_tok (V, E), W_pos (max_len, E); blk{l}.<key> for l = 1..L and every key of
    layers.BLOCK_KEYS; lnf_gamma, lnf_beta (E,); W_out (E, V) and b_out (V,) only when
    tie_weights is False.

    Init as GPT-2: weights N(0, weight_scale) with weight_scale 0.02 (Hugging Face's
    ``initializer_range``), the two projections that end a residual branch (Wo, W_ff2)
    scaled by 1/sqrt(2 L), biases 0, layernorm gammas 1. 0.02 is about 0.55/sqrt(E) at
    GPT-2's E = 768; a narrow model (E = 64) learns much faster from a larger scale
    (``layerkit-train --net gpt-lm`` uses 0.1: see layerkit/net_table.py).

    Dropout (``dropout`` is the drop probability) acts in ``loss(X, y)`` with labels, on
    the embedding sum, the attention weights and both residual branches; ``loss(X)`` and
    ``sample`` run without it. With a ``seed``, each call draws the same masks (block l
    uses ``dropout_param['seed'] + l``; the embedding uses the seed itself), so the net is
    gradient-checkable; set ``dropout_param['seed']`` to a numpy Generator (or delete it)
    for fresh masks while training.
    """

    def __init__(self, vocab_size, max_len=128, embed_dim=128, num_heads=4, num_layers=4,
                 ff_dim=None, dropout=0.0, tie_weights=True, reg=0.0, dtype=np.float32,
                 seed=None, weight_scale=0.02):
        super().__init__(dtype, reg)
        name = "TransformerLM"
        for arg, val in (("vocab_size", vocab_size), ("max_len", max_len),
                         ("embed_dim", embed_dim), ("num_heads", num_heads),
                         ("num_layers", num_layers)):
            if isinstance(val, bool) or not isinstance(val, Integral) or val < 1:
                raise ValueError(f"{name}: {arg} must be an int >= 1; got {val!r}")
        if embed_dim % num_heads:
            raise ValueError(f"{name}: num_heads must divide embed_dim = {embed_dim}; "
                             f"got {num_heads}")
        ff_dim = 4 * embed_dim if ff_dim is None else ff_dim
        if isinstance(ff_dim, bool) or not isinstance(ff_dim, Integral) or ff_dim < 1:
            raise ValueError(f"{name}: ff_dim must be an int >= 1 or None; got {ff_dim!r}")
        if isinstance(weight_scale, bool) or not isinstance(weight_scale, Real) or \
                not 0 < weight_scale < math.inf:
            raise ValueError(f"{name}: weight_scale is the std of the initial weights and "
                             f"must be a finite number > 0; got {weight_scale!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, Real) or not 0 <= dropout < 1:
            raise ValueError(f"{name}: dropout is a drop probability and must be in [0, 1); "
                             f"got {dropout!r}")
        self.vocab_size, self.max_len, self.embed_dim = int(vocab_size), int(max_len), \
            int(embed_dim)
        self.num_heads, self.num_layers, self.ff_dim = int(num_heads), int(num_layers), \
            int(ff_dim)
        self.tie_weights = bool(tie_weights)
        V, E, F, L, dt = self.vocab_size, self.embed_dim, self.ff_dim, self.num_layers, \
            self.dtype
        rng, xp = default_rng(seed), get_backend()

        def normal(shape, std):
            return random_normal(rng, shape, dt, xp, scale=std)

        std = float(weight_scale)
        p = {"W_tok": normal((V, E), std), "W_pos": normal((self.max_len, E), std)}
        for layer in range(1, L + 1):
            shapes = {"W_ff1": (E, F), "b_ff1": (F,), "W_ff2": (F, E)}
            for k in BLOCK_KEYS:
                shape = shapes.get(k, (E, E) if k[0] == "W" else (E,))
                if k.startswith("W"):
                    residual_end = k in ("Wo", "W_ff2")
                    p[f"blk{layer}.{k}"] = normal(shape, std / math.sqrt(2 * L) if
                                                  residual_end else std)
                else:
                    fill = xp.ones if k.endswith("gamma") else xp.zeros
                    p[f"blk{layer}.{k}"] = fill(shape, dtype=dt)
        p["lnf_gamma"], p["lnf_beta"] = xp.ones(E, dtype=dt), xp.zeros(E, dtype=dt)
        if not self.tie_weights:
            p["W_out"], p["b_out"] = normal((E, V), std), xp.zeros(V, dtype=dt)
        self.params = p
        self.dropout_param: dict = {}
        if dropout > 0:
            self.dropout_param = {"mode": "train", "p": 1.0 - float(dropout)}
            if seed is not None:  # fixed masks, derived from the weights' seed
                self.dropout_param["seed"] = int(rng.integers(2**32))

    def _dropout(self, i: int, train: bool):
        """Dropout dict of layer i (0 = embeddings, l = block l), or None."""
        if not train or not self.dropout_param:
            return None
        param = dict(self.dropout_param)
        seed = param.get("seed")
        if isinstance(seed, Integral) and not isinstance(seed, bool):
            param["seed"] = int(seed) + i
        return param

    def loss(self, X, y=None):
        """Scores for X, or the mean cross-entropy and its gradients (Model.loss composes
        forward, data_loss, backward and the L2 term).

        Inputs:
        - X: (N, T) integer token ids in [0, V), T <= max_len
        - y: (N, T) integer targets (X shifted by one in the text), or None

        Returns:
        - y None: scores (N, T, V), without dropout
        - else a tuple (loss, grads): the mean cross-entropy over the N T positions, in
          nats (plus 0.5 * reg * sum W^2 over the weight matrices W_*, blk*.W*), and
          grads keyed like params
        """
        return super().loss(X, y)

    def forward(self, X, train):
        """Scores (N, T, V) for token ids X (N, T), and the cache for backward."""
        p, V = self.params, self.vocab_size
        hf, trunk = self._trunk_forward(X, train, causal_mask(X.shape[-1], get_xp(X)))
        if self.tie_weights:
            logits = hf @ p["W_tok"].T  # (N T, V)
        else:
            logits = hf @ p["W_out"]
            logits += p["b_out"]
        N, T = X.shape
        return logits.reshape(N, T, V), (trunk, hf)

    def _trunk_forward(self, X, train, mask):
        """Everything below the output layer (BertMLM/BertClassifier share it): the final
        states ``layernorm(h; lnf)`` (N T, E) of token ids X (N, T) under the attention
        ``mask`` (broadcastable to (N, h, T, T); None: attend everywhere), and the cache."""
        fn = f"{type(self).__name__}.loss"
        p, E, V = self.params, self.embed_dim, self.vocab_size
        v.integer_array(fn, "X", X, high=V, high_name="vocab_size", what="(N, T) token ids")
        v.shape(fn, "X", X, (None, None), "(N, T) token ids")
        N, T = X.shape
        if T > self.max_len:
            raise ValueError(f"{fn}: X has T = {T} positions; the model has max_len = "
                             f"{self.max_len}")
        emb, c_tok = word_embedding_forward(X, p["W_tok"])  # (N, T, E)
        h, c_pos = positional_embedding_forward(emb, p["W_pos"])
        drop0, c_drop = self._dropout(0, train), None
        if drop0 is not None:
            h, c_drop = dropout_forward(h, drop0)
        blocks = []
        for layer in range(1, self.num_layers + 1):
            bp = {k: p[f"blk{layer}.{k}"] for k in BLOCK_KEYS}
            h, cache = transformer_block_forward(h, bp, self.num_heads, mask,
                                                 self._dropout(layer, train))
            blocks.append(cache)
        hf, c_lnf = layernorm_forward(h.reshape(N * T, E), p["lnf_gamma"], p["lnf_beta"], _LN)
        return hf, ((N, T), c_tok, c_pos, c_drop, blocks, c_lnf)

    def _trunk_backward(self, dhf, cache, lowest=0) -> dict:
        """Grads of the trunk's params from dhf (N T, E), down to block ``lowest`` (0: the
        embeddings too; a net whose lower params are frozen stops early and leaves their
        grads out)."""
        (N, T), c_tok, c_pos, c_drop, blocks, c_lnf = cache
        grads = {}
        dh, grads["lnf_gamma"], grads["lnf_beta"] = layernorm_backward(dhf, c_lnf)
        dh = dh.reshape(N, T, self.embed_dim)
        for layer in range(self.num_layers, max(lowest, 1) - 1, -1):
            dh, dbp = transformer_block_backward(dh, blocks[layer - 1])
            grads.update({f"blk{layer}.{k}": g for k, g in dbp.items()})
        if lowest == 0:
            if c_drop is not None:
                dh = dropout_backward(dh, c_drop)
            demb, grads["W_pos"] = positional_embedding_backward(dh, c_pos)
            grads["W_tok"] = word_embedding_backward(demb, c_tok)
        return grads

    def data_loss(self, scores, y):
        """The fused softmax cross-entropy, in place on ``scores`` (forward's own buffer):
        ``(loss, dlogits (N T, V))``."""
        N, T, V = scores.shape
        v.integer_array("TransformerLM.loss", "y", y, shape=(N, T), high=V,
                        high_name="vocab_size", what="(N, T) targets, like X")
        return softmax_cross_entropy_inplace(scores.reshape(N * T, V), y.reshape(-1))

    def backward(self, dlogits, cache):
        """Grads keyed like params, from dlogits (N T, V)."""
        trunk, hf = cache
        p = self.params
        if self.tie_weights:
            grads = self._trunk_backward(dlogits @ p["W_tok"], trunk)  # dhf (N T, E)
            grads["W_tok"] += dlogits.T @ hf  # (V, E): the sum of both uses
        else:
            grads = self._trunk_backward(dlogits @ p["W_out"].T, trunk)
            grads["W_out"], grads["b_out"] = hf.T @ dlogits, dlogits.sum(axis=0)
        return {k: grads[k] for k in p}

    def sample(self, prefix_ids, n, temperature=1.0, top_k=None, seed=None) -> list[int]:
        """The prefix followed by n token ids, each drawn from softmax(scores / temperature)
        at the last position, restricted to the top_k highest scores when top_k is set;
        the model sees the last max_len ids. temperature 0 is greedy; seed feeds one
        numpy Generator.

        Inputs:
        - prefix_ids: a non-empty sequence of ints in [0, V) (a 1-D int array works too)
        - n: how many ids to add (int >= 0)

        Returns:
        - ids: list of len(prefix_ids) + n ints
        """
        fn = "TransformerLM.sample"
        ids = [int(i) for i in np.asarray(to_numpy(prefix_ids)).reshape(-1)] \
            if not isinstance(prefix_ids, (list, tuple)) else list(prefix_ids)
        if not ids:
            raise ValueError(f"{fn}: prefix_ids must hold at least one id (a start token)")
        if any(isinstance(i, bool) or not isinstance(i, Integral) or not 0 <= i < self.vocab_size
               for i in ids):
            raise ValueError(f"{fn}: prefix_ids must be ints in [0, vocab_size = "
                             f"{self.vocab_size}); got {ids[:10]!r}")
        if isinstance(n, bool) or not isinstance(n, Integral) or n < 0:
            raise ValueError(f"{fn}: n must be an int >= 0; got {n!r}")
        if not temperature >= 0:
            raise ValueError(f"{fn}: temperature must be >= 0; got {temperature!r}")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, Integral)
                                  or top_k < 1):
            raise ValueError(f"{fn}: top_k must be an int >= 1 or None; got {top_k!r}")
        rng = default_rng(seed)
        xp = get_xp(self.params["W_tok"])
        ids = [int(i) for i in ids]
        for _ in range(n):
            window = xp.asarray(np.asarray([ids[-self.max_len:]], dtype=np.int64))
            scores = np.asarray(to_numpy(self.loss(window)[0, -1]), dtype=np.float64)
            ids.append(_pick(scores, temperature, top_k, rng))
        return ids


def _pick(scores, temperature, top_k, rng) -> int:
    """One id from softmax(scores / temperature) over the top_k highest scores (all when
    None); temperature 0 is the argmax."""
    if top_k is not None and top_k < scores.size:
        cut = np.partition(scores, -top_k)[-top_k]
        scores = np.where(scores >= cut, scores, -np.inf)
    return _CharModel._pick(scores, temperature, rng)
