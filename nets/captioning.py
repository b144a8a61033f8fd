"""CaptioningRNN: image features in, a caption out (CS231n's assignment-3 model)."""

from __future__ import annotations

import math

import numpy as np

from layers import (RECURRENT_CELLS, affine_backward, affine_forward, lstm_step_forward,
                    rnn_step_forward, temporal_affine_backward, temporal_affine_forward,
                    temporal_softmax_loss, word_embedding_backward, word_embedding_forward)
from layers import validate as v
from layers.backend import get_backend, get_xp, random_normal, seeded_or_global_rng

from .base import Model

__all__ = ["CaptioningRNN"]

_CAPTION_CELLS = ("rnn", "lstm")  # CS231n's two; the table is layers.RECURRENT_CELLS


class CaptioningRNN(Model):
    """Image captioning with a recurrent net: features -> h0, then one word per step.

    h0 = features @ W_proj + b_proj; the caption's words (all but the last) are embedded
    and run through an RNN or LSTM; each hidden state is scored over the vocabulary, and
    the loss is the softmax loss of the next word (all but the first), summed over time,
    divided by N, skipping steps whose target is <NULL>. No regularisation (as CS231n).

    Params (V words, W = wordvec_dim, D = input_dim, H = hidden_dim, k = 1 rnn / 4 lstm):
    W_embed (V, W), W_proj (D, H), b_proj (H,), Wx (W, kH), Wh (H, kH), b (kH,),
    W_vocab (H, V), b_vocab (V,).
    """

    def __init__(self, word_to_idx, input_dim=512, wordvec_dim=128, hidden_dim=128,
                 cell_type="rnn", dtype=np.float32, seed=None):
        """
        Inputs:
        - word_to_idx: dict word -> index in [0, V), V = len(word_to_idx); it needs
          '<NULL>' (padding, masked out of the loss) and, for sample, '<START>'
        - input_dim: D, the size of an image feature vector
        - wordvec_dim: W, the size of a word vector
        - hidden_dim: H, the size of the recurrent state
        - cell_type: 'rnn' or 'lstm'
        - dtype: the dtype of the params and of the computation (read at call time)
        - seed: for the initial weights (numpy Generator); the same seed, the same weights.
          None: numpy's global random state, in CS231n's order (W_embed, W_proj, Wx, Wh,
          W_vocab), so np.random.seed fixes them as in the CS231n notebooks
        """
        super().__init__(dtype)
        v.choice("CaptioningRNN", "cell_type", cell_type, _CAPTION_CELLS)
        v.keys("CaptioningRNN", "word_to_idx", word_to_idx, ("<NULL>",))
        V = len(word_to_idx)  # as CS231n: the vocabulary is the dict's size
        self.cell_type = cell_type
        self.word_to_idx = dict(word_to_idx)
        self.idx_to_word = {int(i): w for w, i in word_to_idx.items()}
        self._null = int(word_to_idx["<NULL>"])
        self._start = word_to_idx.get("<START>")
        self._end = word_to_idx.get("<END>")
        k = RECURRENT_CELLS[cell_type].gates
        rng = seeded_or_global_rng(seed)
        xp = get_backend()
        D, W, H = input_dim, wordvec_dim, hidden_dim

        dtype = self.dtype

        def normal(shape, scale):
            return random_normal(rng, shape, dtype, xp, scale=scale)

        self.params = {
            "W_embed": normal((V, W), 0.01),
            "W_proj": normal((D, H), 1 / math.sqrt(D)),
            "b_proj": xp.zeros(H, dtype=dtype),
            "Wx": normal((W, k * H), 1 / math.sqrt(W)),
            "Wh": normal((H, k * H), 1 / math.sqrt(H)),
            "b": xp.zeros(k * H, dtype=dtype),
            "W_vocab": normal((H, V), 1 / math.sqrt(H)),
            "b_vocab": xp.zeros(V, dtype=dtype),
        }

    def loss(self, features, captions):
        """Training loss and gradients.

        Inputs:
        - features: (N, D) image features
        - captions: (N, T + 1) integer word indices, T >= 1; captions[:, :-1] are the
          inputs and captions[:, 1:] the targets

        Returns a tuple of:
        - loss: scalar
        - grads: dict keyed like self.params
        """
        fn = "CaptioningRNN.loss"
        p = self.params
        feats = v.array(fn, "features", features, ndim=2, what="(N, D)")
        N, D = feats.shape
        v.shape(fn, "features", feats, (N, p["W_proj"].shape[0]), "(N, D) with D = input_dim")
        v.integer_array(fn, "captions", captions, high=p["W_embed"].shape[0], high_name="V",
                        what="(N, T + 1)")
        v.shape(fn, "captions", captions, (N, None), "(N, T + 1) with N from features")
        if captions.shape[1] < 2:
            raise ValueError(f"{fn}: captions must have shape (N, T + 1) with T >= 1; "
                             f"got {tuple(captions.shape)}")
        cell = RECURRENT_CELLS[self.cell_type]
        feats = self._input(feats)
        cap_in, cap_out = captions[:, :-1], captions[:, 1:]
        mask = cap_out != self._null  # (N, T)

        h0, c_proj = affine_forward(feats, p["W_proj"], p["b_proj"])  # (N, H)
        x, c_embed = word_embedding_forward(cap_in, p["W_embed"])  # (N, T, W)
        h, c_cell = cell.forward(x, h0, p["Wx"], p["Wh"], p["b"])  # (N, T, H)
        scores, c_vocab = temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])  # (N, T, V)
        loss, dscores = temporal_softmax_loss(scores, cap_out, mask)

        grads = {}
        dh, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(dscores, c_vocab)
        dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = cell.backward(dh, c_cell)
        grads["W_embed"] = word_embedding_backward(dx, c_embed)
        _, grads["W_proj"], grads["b_proj"] = affine_backward(dh0, c_proj)
        return loss, grads

    def sample(self, features, max_length=30):
        """Greedy captions: at each step feed the previous word and take the argmax.

        The first input word is <START>; sampling does not stop at <END> (as CS231n: cut
        the caption there when decoding).

        Inputs:
        - features: (N, D) image features
        - max_length: T, the number of words to produce

        Returns:
        - captions: (N, T) integer word indices (int64, on the features' backend)
        """
        fn = "CaptioningRNN.sample"
        p = self.params
        if self._start is None:
            raise ValueError(f"{fn}: word_to_idx has no '<START>' word to begin a caption")
        feats = v.array(fn, "features", features, ndim=2, what="(N, D)")
        v.shape(fn, "features", feats, (None, p["W_proj"].shape[0]), "(N, D), D = input_dim")
        xp = get_xp(feats, p["W_proj"])
        N = feats.shape[0]
        feats = self._input(feats)
        h, _ = affine_forward(feats, p["W_proj"], p["b_proj"])
        c = xp.zeros_like(h)
        words = xp.full(N, int(self._start), dtype=xp.int64)
        captions = xp.full((N, max_length), self._null, dtype=xp.int64)
        for t in range(max_length):
            x = p["W_embed"][words]  # (N, W)
            if self.cell_type == "lstm":
                h, c, _ = lstm_step_forward(x, h, c, p["Wx"], p["Wh"], p["b"])
            else:
                h, _ = rnn_step_forward(x, h, p["Wx"], p["Wh"], p["b"])
            scores = h @ p["W_vocab"] + p["b_vocab"]  # (N, V)
            words = scores.argmax(axis=1)
            captions[:, t] = words
        return captions
