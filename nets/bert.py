"""A BERT-style bidirectional encoder (every backward by hand) with its heads: masked
language modelling (and BERT's next-sentence prediction beside it) for pretraining, and a
classifier for fine-tuning.

    h = W_tok[X] + W_pos[:T]                                       (N, T, E)
    h = block_L(... block_1(h, padding mask) ...)                  no causal mask
    h = layernorm(h; lnf)
    BertMLM:        logits = h[chosen] @ W_tok.T                   (M, V), tied head
                    loss = mean over the M chosen positions (targets >= 0) of CE
    BertClassifier: z = h[:, 0] ([CLS]) or the mean of h over non-[PAD] positions
                    scores = z @ W_cls + b_cls                     (N, C)
    BertPretraining: BertMLM's loss + the CE of z @ W_nsp + b_nsp  (N, 2), next sentence

The encoder's params are TransformerLM's (tied) names and init: W_tok (V, E), W_pos
(max_len, E), blk{l}.<BLOCK_KEYS>, lnf_gamma, lnf_beta; the classifier adds W_cls (E, C)
and b_cls (C,). So ``BertClassifier`` takes a pretrained ``BertMLM``'s params by name.

Frozen params (``model.frozen``, a set of names): the backward stops below the lowest
block (or embedding) that has a trainable param, and the grads of what it did not reach
are left out (the Solver does not update frozen params).
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

from layers import BLOCK_KEYS, affine_backward, affine_forward
from layers import validate as v
from layers.backend import default_rng, get_backend, get_xp, random_normal, to_numpy

from .base import Model
from .transformer import TransformerLM, softmax_cross_entropy_inplace

__all__ = ["BertMLM", "BertPretraining", "BertClassifier", "IGNORE", "NOT_NEXT",
           "IS_NEXT"]

IGNORE = -1  # an MLM target that is not a chosen position
# BertPretraining's next-sentence label, in y[:, 0] (the [CLS] position, never a masked
# one): negative, so an accuracy over targets >= 0 stays the masked-token accuracy, and
# below IGNORE, so a plain BertMLM refuses such targets instead of reading them as ids
NOT_NEXT, IS_NEXT = -2, -3


class _BertEncoder(Model):
    """The encoder shared by both heads. Params, init, dropout and argument checks are
    TransformerLM's (tied): one definition of the GPT-2 layout for the kit."""

    _dropout = TransformerLM._dropout  # dropout dict of layer i (0 = embeddings)

    def __init__(self, vocab_size, max_len=128, embed_dim=64, num_heads=4, num_layers=2,
                 ff_dim=None, dropout=0.0, pad_id=0, reg=0.0, dtype=np.float32, seed=None):
        super().__init__(dtype, reg)
        lm = TransformerLM(vocab_size, max_len, embed_dim, num_heads, num_layers, ff_dim,
                           dropout, tie_weights=True, reg=reg, dtype=dtype, seed=seed)
        for k in ("vocab_size", "max_len", "embed_dim", "num_heads", "num_layers", "ff_dim",
                  "params", "dropout_param"):
            setattr(self, k, getattr(lm, k))
        if isinstance(pad_id, bool) or not isinstance(pad_id, Integral) \
                or not 0 <= pad_id < self.vocab_size:
            raise ValueError(f"{type(self).__name__}: pad_id must be an id in [0, "
                             f"{self.vocab_size}); got {pad_id!r}")
        self.pad_id = int(pad_id)
        # plain facts saved with every checkpoint (Solver: state_dicts); a training
        # command adds the tokenizer's tree here so a checkpoint is self-contained
        self.info: dict = {"num_heads": self.num_heads, "pad_id": self.pad_id}

    def state_dicts(self) -> list[dict]:
        return [self.info]

    # the trunk below the output layer is TransformerLM's, under another mask
    _trunk_forward = TransformerLM._trunk_forward
    _trunk_backward = TransformerLM._trunk_backward

    def _encode(self, X, train):
        """Final hidden states (N, T, E) of token ids X (N, T) and the cache: no causal
        mask; a [PAD] key is masked out (positions attend to every non-[PAD] token)."""
        keep = X != self.pad_id  # (N, T): keys a position may attend to
        # (on a device the mask always: skipping an all-true one would be a host read)
        skip = get_xp(X) is np and bool(keep.all())
        mask = None if skip else keep[:, None, None, :]  # (N, 1, 1, T)
        hf, cache = self._trunk_forward(X, train, mask)
        N, T = X.shape
        return hf.reshape(N, T, self.embed_dim), cache

    def _lowest_needed(self) -> int:
        """The lowest layer the backward must reach: 0 when an embedding is trainable,
        l when block l is the lowest with a trainable param, L + 1 when none is."""
        if not {"W_tok", "W_pos"} <= self.frozen:
            return 0
        for layer in range(1, self.num_layers + 1):
            if any(f"blk{layer}.{k}" not in self.frozen for k in BLOCK_KEYS):
                return layer
        return self.num_layers + 1

    def _pool(self, h, X, pooling):
        """The sequence summary z (N, E) of final states h (N, T, E): position 0 ([CLS])
        for 'cls', the mean over the non-[PAD] positions of X for 'mean'; and the cache
        of ``_pool_backward``."""
        if pooling == "cls":
            return h[:, 0], (h.shape, None)
        keep = (X != self.pad_id).astype(h.dtype)  # (N, T)
        weights = keep / keep.sum(axis=1, keepdims=True)
        return (h * weights[:, :, None]).sum(axis=1), (h.shape, weights)

    @staticmethod
    def _pool_backward(dz, cache):
        """dh (N, T, E) from dz (N, E)."""
        shape, weights = cache
        if weights is None:
            dh = get_xp(dz).zeros(shape, dtype=dz.dtype)
            dh[:, 0] = dz
            return dh
        return dz[:, None, :] * weights[:, :, None]

    def _encode_backward(self, dh, cache) -> dict:
        """Grads of the encoder's params from dh (N, T, E), down to ``_lowest_needed``."""
        N, T, E = dh.shape
        return self._trunk_backward(dh.reshape(N * T, E), cache, self._lowest_needed())


class BertMLM(_BertEncoder):
    """The encoder with the masked-LM head tied to the token embedding (no extra params).
    Arguments: vocab_size, max_len=128, embed_dim=64, num_heads=4, num_layers=2,
    ff_dim=None (4 embed_dim), dropout=0.0 (drop probability), pad_id=0, reg=0.0,
    dtype=np.float32, seed=None.

    ``loss(X, y)``: X (N, T) the masked token ids, y (N, T) the original ids at the chosen
    positions and IGNORE (-1) elsewhere; the loss is the mean cross-entropy (nats) over the
    chosen positions only, and logits are computed only there. ``loss(X)``: scores
    (N, T, V) at every position, without dropout.
    """

    def loss(self, X, y=None):
        """Scores (N, T, V) for X, or (loss, grads): see the class doc."""
        X = self._input(X)
        h, cache = self._encode(X, train=y is not None)
        if y is None:
            return h @ self.params["W_tok"].T
        self._check_targets(y, h.shape[:2], IGNORE)
        loss, dh, dW = self._mlm_loss(h, y)
        grads = self._encode_backward(dh, cache)
        if "W_tok" in grads:  # the tied head: the sum of both uses (absent: frozen)
            grads["W_tok"] += dW
        return self.regularize(loss, grads), grads

    def _check_targets(self, y, shape, low):
        """y must be an (N, T) integer array with values in [low, vocab_size)."""
        name = type(self).__name__
        v.integer_array(f"{name}.loss", "y", y, shape=shape,
                        what="(N, T) targets, IGNORE (-1) where not chosen")
        lo, hi = v.value_range(y, low, self.vocab_size)  # no read when vouched for
        if lo < low or hi >= self.vocab_size:
            raise ValueError(f"{name}.loss: y has values in [{lo}, {hi}]; targets must be "
                             f"in [0, vocab_size = {self.vocab_size}) or IGNORE ({IGNORE})"
                             + ("" if low == IGNORE else
                                f", and y[:, 0] the next-sentence code ({IS_NEXT} or "
                                f"{NOT_NEXT})"))

    def _mlm_loss(self, h, y):
        """The masked-LM loss of final states h (N, T, E) against targets y (N, T): the
        loss, dh (N, T, E) and the tied head's share of dW_tok (V, E)."""
        W = self.params["W_tok"]
        N, T, E = h.shape
        xp = get_xp(h)
        flat = h.reshape(N * T, E)
        chosen = xp.flatnonzero(y.reshape(-1) >= 0)  # (M,)
        if chosen.size == 0:
            raise ValueError(f"{type(self).__name__}.loss: y chooses no position (every "
                             "target is IGNORE)")
        hs = flat[chosen]  # (M, E)
        loss, dlogits = softmax_cross_entropy_inplace(hs @ W.T, y.reshape(-1)[chosen])
        dh = xp.zeros_like(flat)
        dh[chosen] = dlogits @ W
        return loss, dh.reshape(N, T, E), dlogits.T @ hs


class BertPretraining(BertMLM):
    """BERT's two pretraining objectives on one encoder: BertMLM's masked LM, and
    next-sentence prediction (NSP): does the second segment of [CLS] A [SEP] B [SEP]
    continue the first, or come from elsewhere (Devlin et al. 2019, section 3.1)?
    Arguments: BertMLM's, and pooling='mean' (the NSP head reads the mean of the final
    states over non-[PAD] positions, the summary BertClassifier fine-tunes by default;
    'cls': position 0, as BERT). No segment embeddings: [SEP] marks the boundary, and a
    fine-tuned classifier sees one segment.

    Params: BertMLM's (so BertClassifier takes them by name) and the NSP head W_nsp
    (E, 2), b_nsp (2,); class 1 is "B continues A".

    ``loss(X, y)``: X (N, T) masked pairs; y (N, T) the MLM targets (IGNORE where not
    chosen) with the pair's label in y[:, 0], the [CLS] position: IS_NEXT (-3) or
    NOT_NEXT (-2) (``layerkit.mlm.nsp_data`` builds both). The loss is the sum of the two
    mean cross-entropies, as BERT's. ``loss(X)``: the MLM scores (N, T, V);
    ``nsp_scores(X)``: the NSP scores (N, 2).
    """

    def __init__(self, vocab_size, max_len=128, embed_dim=64, num_heads=4, num_layers=2,
                 ff_dim=None, dropout=0.0, pooling="mean", pad_id=0, reg=0.0,
                 dtype=np.float32, seed=None):
        super().__init__(vocab_size, max_len, embed_dim, num_heads, num_layers, ff_dim,
                         dropout, pad_id, reg, dtype, seed)
        self.pooling = v.choice("BertPretraining", "pooling", pooling, ("cls", "mean"))
        rng = default_rng(None if seed is None else seed + 2)
        xp = get_backend()
        self.params["W_nsp"] = random_normal(rng, (self.embed_dim, 2), self.dtype, xp,
                                             scale=0.02)
        self.params["b_nsp"] = xp.zeros(2, dtype=self.dtype)

    def nsp_scores(self, X):
        """Next-sentence scores (N, 2) of token-id pairs X (N, T), without dropout."""
        X = self._input(X)
        h, _ = self._encode(X, train=False)
        z, _ = self._pool(h, X, self.pooling)
        return affine_forward(z, self.params["W_nsp"], self.params["b_nsp"])[0]

    def loss(self, X, y=None):
        """MLM scores (N, T, V) for X, or (loss, grads): see the class doc."""
        if y is None:
            return super().loss(X)
        X = self._input(X)
        h, cache = self._encode(X, train=True)
        self._check_targets(y, h.shape[:2], IS_NEXT)
        xp = get_xp(h)
        code, rest = y[:, 0], y[:, 1:]
        lo, hi, rest_lo = (int(m) for m in to_numpy(xp.stack([code.min(), code.max(),
                                                                rest.min()])))  # one read
        if lo < IS_NEXT or hi > NOT_NEXT or rest_lo < IGNORE:
            raise ValueError(f"BertPretraining.loss: y[:, 0] must hold the next-sentence "
                             f"codes IS_NEXT ({IS_NEXT}) or NOT_NEXT ({NOT_NEXT}) and y[:, 1:] "
                             f"MLM targets >= IGNORE ({IGNORE}); got y[:, 0] in [{lo}, {hi}] "
                             f"and y[:, 1:] >= {rest_lo}")
        loss, dh, dW = self._mlm_loss(h, y)  # y[:, 0] < 0: never a chosen position
        z, pool = self._pool(h, X, self.pooling)
        scores, c_nsp = affine_forward(z, self.params["W_nsp"], self.params["b_nsp"])
        is_next = (code == IS_NEXT).astype(xp.int64)  # (N,) class 1: B continues A
        nsp_loss, dscores = softmax_cross_entropy_inplace(scores, is_next)
        dz, dW_nsp, db_nsp = affine_backward(dscores, c_nsp)
        dh += self._pool_backward(dz, pool)
        grads = self._encode_backward(dh, cache)
        if "W_tok" in grads:
            grads["W_tok"] += dW
        grads["W_nsp"], grads["b_nsp"] = dW_nsp, db_nsp
        return self.regularize(loss + nsp_loss, grads), grads


class BertClassifier(_BertEncoder):
    """The encoder with a classification head on a summary of the sequence.

    pooling 'cls': the final state of position 0 ([CLS]); 'mean': the mean of the final
    states over the positions that are not [PAD]. ``loss(X, y)``: y (N,) labels in
    [0, num_classes), the mean softmax cross-entropy; ``loss(X)``: scores (N, C).
    """

    def __init__(self, vocab_size, num_classes, max_len=128, embed_dim=64, num_heads=4,
                 num_layers=2, ff_dim=None, dropout=0.0, pooling="mean", pad_id=0, reg=0.0,
                 dtype=np.float32, seed=None):
        super().__init__(vocab_size, max_len, embed_dim, num_heads, num_layers, ff_dim,
                         dropout, pad_id, reg, dtype, seed)
        if isinstance(num_classes, bool) or not isinstance(num_classes, Integral) \
                or num_classes < 2:
            raise ValueError(f"BertClassifier: num_classes must be an int >= 2; got "
                             f"{num_classes!r}")
        self.pooling = v.choice("BertClassifier", "pooling", pooling, ("cls", "mean"))
        self.num_classes = int(num_classes)
        rng = default_rng(None if seed is None else seed + 1)
        xp = get_backend()
        self.params["W_cls"] = random_normal(rng, (self.embed_dim, self.num_classes),
                                             self.dtype, xp, scale=0.02)
        self.params["b_cls"] = xp.zeros(self.num_classes, dtype=self.dtype)

    def forward(self, X, train):
        """Scores (N, C) for token ids X (N, T), and the cache for backward."""
        h, enc = self._encode(X, train)
        z, pool = self._pool(h, X, self.pooling)
        scores, c_cls = affine_forward(z, self.params["W_cls"], self.params["b_cls"])
        return scores, (pool, enc, c_cls)

    def backward(self, dscores, cache):
        """Grads keyed like params (less the frozen ones the backward did not reach)."""
        pool, enc, c_cls = cache
        dz, dW, db = affine_backward(dscores, c_cls)
        grads = self._encode_backward(self._pool_backward(dz, pool), enc)
        grads["W_cls"], grads["b_cls"] = dW, db
        return grads
