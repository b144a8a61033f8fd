"""An encoder-decoder transformer (Vaswani et al. 2017, with pre-norm blocks), every
backward by hand, composed from the kit's layers.

    m = W_src[X] + W_pos_src[:S]                                   (N, S, E)
    m = layernorm(enc_L(... enc_1(m, pad mask) ...); lne)           the memory
    h = W_tgt[[BOS, y_1 ... y_{T-1}]] + W_pos_tgt[:T]              (N, T, E)
    h = dec_L(... dec_1(h, m) ...)
    scores = layernorm(h; lnf) @ W_out + b_out                      (N, T, V_tgt)

An encoder block is ``transformer_block_forward`` with the source's padding mask. A
decoder block has three pre-norm residual sublayers:

    x = x + MHA(a, a, a; causal mask)           a = layernorm(x; ln1)     self-attention
    x = x + MHA(c, m, m; pad mask)              c = layernorm(x; cross.ln) cross-attention
    x = x + gelu(b @ W_ff1 + b_ff1) @ W_ff2 + b_ff2     b = layernorm(x; ln2)

Token ids: 0 is padding (PAD), 1 starts the decoder's input (BOS), 2 ends a target (EOS);
targets are ``[y_1 ... y_k, EOS, PAD ...]`` and the loss skips the PAD positions.
"""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np

from layers import (BLOCK_KEYS, MHA_KEYS, causal_mask, gelu_backward, gelu_forward,
                    multihead_attention_backward, multihead_attention_forward,
                    positional_embedding_backward, positional_embedding_forward,
                    temporal_affine_backward, temporal_affine_forward, temporal_softmax_loss,
                    transformer_block_backward, transformer_block_forward,
                    word_embedding_backward, word_embedding_forward)
from layers import validate as v
from layers.backend import default_rng, get_backend, get_xp, random_normal, to_numpy
from layers.transformer import layernorm_seq, layernorm_seq_backward  # (N, T, E) layernorm

from .base import Model
from .transformer import _pick

__all__ = ["Seq2SeqTransformer", "PAD", "BOS", "EOS"]

PAD, BOS, EOS = 0, 1, 2
CROSS_KEYS = ("ln_gamma", "ln_beta", *MHA_KEYS)  # a decoder block's cross-attention, "cross."


def decoder_block_forward(x, memory, params, num_heads, self_mask, memory_mask):
    """A pre-norm decoder block: causal self-attention, cross-attention to the encoder's
    memory, feed-forward with GELU; each a residual branch (see the module doc).

    Inputs:
    - x: (N, T, E) decoder stream
    - memory: (N, S, E) the encoder's output
    - params: BLOCK_KEYS (ln1, self-attention, ln2, feed-forward, as
      transformer_block_forward) and "cross.<k>" for k in CROSS_KEYS
    - num_heads: h, dividing E
    - self_mask: bool, broadcastable to (N, h, T, T) (the causal mask)
    - memory_mask: bool, broadcastable to (N, h, T, S) (False at the source's padding)

    Returns a tuple of:
    - out: (N, T, E)
    - cache: what decoder_block_backward needs
    """
    p = params
    a, ln1 = layernorm_seq(x, p["ln1_gamma"], p["ln1_beta"])
    att, sa = multihead_attention_forward(a, a, a, {k: p[k] for k in MHA_KEYS}, num_heads,
                                          self_mask)
    x1 = x + att  # (N, T, E)
    c, lnx = layernorm_seq(x1, p["cross.ln_gamma"], p["cross.ln_beta"])
    crs, ca = multihead_attention_forward(c, memory, memory,
                                          {k: p["cross." + k] for k in MHA_KEYS}, num_heads,
                                          memory_mask)
    x2 = x1 + crs
    b, ln2 = layernorm_seq(x2, p["ln2_gamma"], p["ln2_beta"])
    h, ff1 = temporal_affine_forward(b, p["W_ff1"], p["b_ff1"])  # (N, T, F)
    g, gel = gelu_forward(h)
    f, ff2 = temporal_affine_forward(g, p["W_ff2"], p["b_ff2"])  # (N, T, E)
    return x2 + f, (ln1, sa, lnx, ca, ln2, ff1, gel, ff2)


def decoder_block_backward(dout, cache):
    """Backward pass of decoder_block_forward.

    Inputs:
    - dout: (N, T, E) upstream gradient
    - cache: from decoder_block_forward

    Returns a tuple of:
    - dx: (N, T, E)
    - dmemory: (N, S, E), through the cross-attention's keys and values
    - dparams: dict keyed like params
    """
    ln1, sa, lnx, ca, ln2, ff1, gel, ff2 = cache
    grads = {}
    dg, grads["W_ff2"], grads["b_ff2"] = temporal_affine_backward(dout, ff2)
    dh = gelu_backward(dg, gel)
    db, grads["W_ff1"], grads["b_ff1"] = temporal_affine_backward(dh, ff1)
    dx2, grads["ln2_gamma"], grads["ln2_beta"] = layernorm_seq_backward(db, ln2)
    dx2 += dout  # residual; dx2 is the backward's own array
    dc, dk, dv, dcross = multihead_attention_backward(dx2, ca)
    dmemory = dk
    dmemory += dv  # keys and values are both the memory
    dx1, grads["cross.ln_gamma"], grads["cross.ln_beta"] = layernorm_seq_backward(dc, lnx)
    dx1 += dx2
    dq, dk, dv, dself = multihead_attention_backward(dx1, sa)
    dq += dk  # queries, keys and values are all a
    dq += dv
    dx, grads["ln1_gamma"], grads["ln1_beta"] = layernorm_seq_backward(dq, ln1)
    dx += dx1
    grads.update(dself)
    grads.update({"cross." + k: g for k, g in dcross.items()})
    return dx, dmemory, grads


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"Seq2SeqTransformer: {name} must be an int >= 1; got {value!r}")
    return int(value)


class Seq2SeqTransformer(Model):
    """An encoder-decoder transformer over token ids (see the module doc).

    Params (E = embed_dim, F = ff_dim, V_s / V_t the vocabulary sizes, PAD/BOS/EOS
    included):
    W_src (V_s, E), W_pos_src (max_src_len, E), enc{l}.<k> for k in layers.BLOCK_KEYS,
    lne_gamma, lne_beta; W_tgt (V_t, E), W_pos_tgt (max_tgt_len, E), dec{l}.<k> for k in
    BLOCK_KEYS plus dec{l}.cross.<k> for k in CROSS_KEYS, lnf_gamma, lnf_beta; W_out (E, V_t),
    b_out (V_t,). Init as GPT-2: weights N(0, 0.02), residual-ending projections (Wo,
    W_ff2) scaled by 1/sqrt(2 L), biases 0, gammas 1.

    ``loss(X, y)``: X (N, S) source ids (PAD after the end), y (N, T) targets
    ``[y_1 ... y_k, EOS, PAD ...]``, T <= max_tgt_len; the decoder reads
    ``[BOS, y_1 ... y_{T-1}]`` (teacher forcing). Returns the cross-entropy summed over the
    non-PAD target positions and divided by N (``temporal_softmax_loss``), and the grads.
    ``loss(X)`` returns the scores (N, max_tgt_len, V_t) of greedy decoding, so
    ``argmax(scores) == decode(X)`` and the Solver's accuracy is that of greedy decoding
    per target position (PAD after EOS included).
    """

    def __init__(self, src_vocab_size, tgt_vocab_size, max_src_len=16, max_tgt_len=16,
                 embed_dim=64, num_heads=4, num_enc_layers=2, num_dec_layers=2, ff_dim=None,
                 reg=0.0, dtype=np.float32, seed=None):
        super().__init__(dtype, reg)
        Vs = _positive_int("src_vocab_size", src_vocab_size)
        Vt = _positive_int("tgt_vocab_size", tgt_vocab_size)
        if Vt <= EOS:
            raise ValueError(f"Seq2SeqTransformer: tgt_vocab_size must be > {EOS} (PAD, BOS "
                             f"and EOS are ids 0, 1, 2); got {Vt}")
        S_max = self.max_src_len = _positive_int("max_src_len", max_src_len)
        T_max = self.max_tgt_len = _positive_int("max_tgt_len", max_tgt_len)
        E = self.embed_dim = _positive_int("embed_dim", embed_dim)
        self.num_heads = _positive_int("num_heads", num_heads)
        if E % self.num_heads:
            raise ValueError(f"Seq2SeqTransformer: num_heads must divide embed_dim = {E}; "
                             f"got {num_heads}")
        self.num_enc_layers = _positive_int("num_enc_layers", num_enc_layers)
        self.num_dec_layers = _positive_int("num_dec_layers", num_dec_layers)
        F = self.ff_dim = _positive_int("ff_dim", 4 * E if ff_dim is None else ff_dim)
        self.src_vocab_size, self.tgt_vocab_size = Vs, Vt
        rng, xp, dt = default_rng(seed), get_backend(), self.dtype

        # GPT-2's init; a residual stream with B branches scales their last projections
        # (Wo, W_ff2) by 1/sqrt(B): 2 per encoder block, 3 per decoder block
        shapes = {"W_ff1": (E, F), "b_ff1": (F,), "W_ff2": (F, E)}
        branches = {"enc": 2 * self.num_enc_layers, "dec": 3 * self.num_dec_layers}

        def init(name, shape=(E,)):
            base = name.rsplit(".", 1)[-1]
            if not base.startswith("W"):
                return (xp.ones if base.endswith("gamma") else xp.zeros)(shape, dtype=dt)
            std = 0.02 / math.sqrt(branches[name[:3]]) if base in ("Wo", "W_ff2") else 0.02
            return random_normal(rng, shape, dt, xp, scale=std)

        def block(prefix, keys):
            for k in keys:
                base = k.rsplit(".", 1)[-1]
                p[f"{prefix}.{k}"] = init(f"{prefix}.{k}", shapes.get(
                    base, (E, E) if base.startswith("W") else (E,)))

        p = {"W_src": init("W_src", (Vs, E)), "W_pos_src": init("W_pos_src", (S_max, E))}
        for layer in range(1, self.num_enc_layers + 1):
            block(f"enc{layer}", BLOCK_KEYS)
        p["lne_gamma"], p["lne_beta"] = init("lne_gamma"), init("lne_beta")
        p["W_tgt"], p["W_pos_tgt"] = init("W_tgt", (Vt, E)), init("W_pos_tgt", (T_max, E))
        for layer in range(1, self.num_dec_layers + 1):
            block(f"dec{layer}", (*BLOCK_KEYS, *("cross." + k for k in CROSS_KEYS)))
        p["lnf_gamma"], p["lnf_beta"] = init("lnf_gamma"), init("lnf_beta")
        p["W_out"], p["b_out"] = init("W_out", (E, Vt)), init("b_out", (Vt,))
        self.params = p

    # --- the two halves ---------------------------------------------------------------------

    def _check_src(self, X):
        fn = f"{type(self).__name__}.loss"
        v.integer_array(fn, "X", X, high=self.src_vocab_size, high_name="src_vocab_size",
                        what="(N, S) source token ids")
        v.shape(fn, "X", X, (None, None), "(N, S) source token ids")
        if X.shape[1] > self.max_src_len:
            raise ValueError(f"{fn}: X has S = {X.shape[1]} positions; the model has "
                             f"max_src_len = {self.max_src_len}")
        if not v.inputs_were_checked(X):  # (a host read on a device: once per dataset)
            self.check_inputs(X, fn)

    def check_inputs(self, X, fn=None):
        """Every source row of X (N, S) holds a non-PAD token (an all-PAD source leaves
        the decoder's cross-attention nothing to attend to). See ``Model.check_inputs``."""
        if X.shape[0] and not bool((X != PAD).any(axis=1).all()):
            raise ValueError(f"{fn or type(self).__name__ + '.check_inputs'}: every source "
                             f"needs at least one non-PAD token (PAD = {PAD}); a row of X "
                             f"is all padding")

    def encode(self, X):
        """The memory (N, S, E) for source ids X (N, S), its key mask (N, 1, 1, S), and the
        cache for encode_backward."""
        p = self.params
        keys = (X != PAD)[:, None, None, :]  # (N, 1, 1, S): attend to real tokens only
        emb, c_tok = word_embedding_forward(X, p["W_src"])
        h, c_pos = positional_embedding_forward(emb, p["W_pos_src"])
        blocks = []
        for layer in range(1, self.num_enc_layers + 1):
            h, c = transformer_block_forward(h, {k: p[f"enc{layer}.{k}"] for k in BLOCK_KEYS},
                                             self.num_heads, keys)
            blocks.append(c)
        memory, c_ln = layernorm_seq(h, p["lne_gamma"], p["lne_beta"])
        return memory, keys, (c_tok, c_pos, blocks, c_ln)

    def encode_backward(self, dmemory, cache, grads):
        """Adds the encoder's param gradients into ``grads``."""
        c_tok, c_pos, blocks, c_ln = cache
        dh, grads["lne_gamma"], grads["lne_beta"] = layernorm_seq_backward(dmemory, c_ln)
        for layer in range(self.num_enc_layers, 0, -1):
            dh, dbp = transformer_block_backward(dh, blocks[layer - 1])
            grads.update({f"enc{layer}.{k}": g for k, g in dbp.items()})
        demb, grads["W_pos_src"] = positional_embedding_backward(dh, c_pos)
        grads["W_src"] = word_embedding_backward(demb, c_tok)

    def decode_scores(self, dec_in, memory, keys):
        """Scores (N, T, V_t) for decoder input ids dec_in (N, T), and the cache."""
        p = self.params
        N, T = dec_in.shape
        xp = get_xp(memory)
        emb, c_tok = word_embedding_forward(dec_in, p["W_tgt"])
        h, c_pos = positional_embedding_forward(emb, p["W_pos_tgt"])
        causal = causal_mask(T, xp)
        blocks = []
        for layer in range(1, self.num_dec_layers + 1):
            bp = {k[len(f"dec{layer}."):]: a for k, a in p.items() if k.startswith(f"dec{layer}.")}
            h, c = decoder_block_forward(h, memory, bp, self.num_heads, causal, keys)
            blocks.append(c)
        hf, c_lnf = layernorm_seq(h, p["lnf_gamma"], p["lnf_beta"])
        scores, c_out = temporal_affine_forward(hf, p["W_out"], p["b_out"])
        return scores, (c_tok, c_pos, blocks, c_lnf, c_out)

    def decode_backward(self, dscores, cache, grads):
        """Adds the decoder's param gradients into ``grads``; returns dmemory (N, S, E)."""
        c_tok, c_pos, blocks, c_lnf, c_out = cache
        dhf, grads["W_out"], grads["b_out"] = temporal_affine_backward(dscores, c_out)
        dh, grads["lnf_gamma"], grads["lnf_beta"] = layernorm_seq_backward(dhf, c_lnf)
        dmemory = None
        for layer in range(self.num_dec_layers, 0, -1):
            dh, dm, dbp = decoder_block_backward(dh, blocks[layer - 1])
            dmemory = dm if dmemory is None else dmemory + dm
            grads.update({f"dec{layer}.{k}": g for k, g in dbp.items()})
        demb, grads["W_pos_tgt"] = positional_embedding_backward(dh, c_pos)
        grads["W_tgt"] = word_embedding_backward(demb, c_tok)
        return dmemory

    # --- the model contract ---------------------------------------------------------------

    def loss(self, X, y=None):
        """Greedy-decoding scores for X, or the teacher-forced loss and its gradients.

        Inputs:
        - X: (N, S) integer source ids, S <= max_src_len, PAD (0) after each source's end
        - y: (N, T) integer targets [y_1 ... y_k, EOS, PAD ...], T <= max_tgt_len; or None

        Returns:
        - y None: scores (N, max_tgt_len, V_t), step t's scores given the greedy ids before
          (after a row's EOS, scores whose argmax is PAD, as decode's ids)
        - else (loss, grads): the cross-entropy summed over non-PAD targets / N, plus
          0.5 * reg * sum W^2 over the weight matrices; grads keyed like params
        """
        self._check_src(X)
        if y is None:
            return self._greedy(X)[1]
        fn = f"{type(self).__name__}.loss"
        v.integer_array(fn, "y", y, high=self.tgt_vocab_size, high_name="tgt_vocab_size",
                        what="(N, T) target ids")
        v.shape(fn, "y", y, (X.shape[0], None), "(N, T) target ids, N as X")
        if not 1 <= y.shape[1] <= self.max_tgt_len:
            raise ValueError(f"{fn}: y must have 1 <= T <= max_tgt_len = {self.max_tgt_len} "
                             f"positions; got {y.shape[1]}")
        xp = get_xp(X, y)
        dec_in = xp.concatenate([xp.full((y.shape[0], 1), BOS, dtype=y.dtype), y[:, :-1]], 1)
        memory, keys, enc_cache = self.encode(X)
        lo, hi = v.value_range(y, 0, self.tgt_vocab_size)  # no read when y's is vouched for
        with v.range_known(dec_in, min(lo, BOS), max(hi, BOS)):  # dec_in: BOS and y's ids
            scores, dec_cache = self.decode_scores(dec_in, memory, keys)
        loss, dscores = temporal_softmax_loss(scores, y, y != PAD)
        grads = {}
        dmemory = self.decode_backward(dscores, dec_cache, grads)
        self.encode_backward(dmemory, enc_cache, grads)
        grads = {k: grads[k] for k in self.params}
        return self.regularize(loss, grads), grads

    # --- decoding ----------------------------------------------------------------------------

    def _greedy(self, X, max_len=None, temperature=0.0, top_k=None, rng=None):
        """Ids (N, L) and the scores (N, L, V_t) they were picked from, one step at a time
        (each step reruns the decoder on the ids so far; sequences are short)."""
        L = self.max_tgt_len if max_len is None else max_len
        memory, keys, _ = self.encode(X)
        xp = get_xp(memory)
        N = X.shape[0]
        ids = xp.full((N, 1), BOS, dtype=np.int64)
        done = xp.zeros(N, dtype=bool)
        steps = []
        for _ in range(L):
            s = self.decode_scores(ids, memory, keys)[0][:, -1]  # (N, V_t)
            if temperature == 0:
                nxt = xp.argmax(s, axis=1)
            else:
                host = np.asarray(to_numpy(s), dtype=np.float64)
                nxt = xp.asarray(np.array([_pick(r, temperature, top_k, rng) for r in host]))
            nxt = xp.where(done, PAD, nxt)  # after EOS: padding
            if bool(done.any()):  # and scores that say so: argmax(scores) == ids throughout
                s = s.copy()
                s[done, PAD] = s[done].max(axis=1) + 1
            done = done | (nxt == EOS)
            steps.append(s)
            ids = xp.concatenate([ids, nxt[:, None].astype(np.int64)], axis=1)
        return ids[:, 1:], xp.stack(steps, axis=1)

    def decode(self, X, max_len=None, temperature=0.0, top_k=None, seed=None):
        """Output ids for source ids X: greedy (temperature 0, the default) or sampled
        from softmax(scores / temperature), restricted to the top_k scores when set.

        Inputs:
        - X: (N, S) source ids, as loss
        - max_len: steps to decode (default max_tgt_len)
        - seed: feeds one numpy Generator (sampling only)

        Returns:
        - ids: (N, max_len) int64, [y_1 ... y_k, EOS, PAD ...] (no EOS if it never came)
        """
        fn = f"{type(self).__name__}.decode"
        self._check_src(X)
        if max_len is not None and (isinstance(max_len, bool) or not isinstance(
                max_len, Integral) or not 1 <= max_len <= self.max_tgt_len):
            raise ValueError(f"{fn}: max_len must be an int in [1, max_tgt_len = "
                             f"{self.max_tgt_len}]; got {max_len!r}")
        if not temperature >= 0:
            raise ValueError(f"{fn}: temperature must be >= 0; got {temperature!r}")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, Integral)
                                  or top_k < 1):
            raise ValueError(f"{fn}: top_k must be an int >= 1 or None; got {top_k!r}")
        return self._greedy(X, max_len, temperature, top_k, default_rng(seed))[0]
