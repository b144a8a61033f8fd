"""Masked-language-model data with BERT's recipe, and the baselines to judge an MLM by.

The recipe (google-research/bert, ``create_pretraining_data.py``): in each sequence choose
``max(1, round(0.15 * n))`` of its n candidate positions (never a special token: [CLS],
[SEP], [PAD] ...), an exact count drawn without replacement; replace each chosen token by
[MASK] with probability 0.8, by a random token with probability 0.1 (drawn uniformly from
the non-special tokens), and keep it with probability 0.1. The target is the original
token at the chosen positions and ``IGNORE`` (-1) everywhere else, so a loss over targets
``>= 0`` is the loss over the chosen positions only.

    X, y = mask_tokens(ids, tok.special_ids, tok.mask_id, tok.vocab_size, rng)
    data = mlm_data(tok, texts, copies=4, seed=0)    # X (copies * N, T), y like X

Several ``copies`` of the text with different masks (BERT's ``dupe_factor``) give the
Solver a fixed training set whose masks still vary.

Next-sentence prediction (BERT's other pretraining task, ``nets.BertPretraining``): each
text is cut in two at the whitespace nearest its middle, A and B; half the pairs keep
their own B ("is next"), the other half take the B of another text drawn at random
("not next"). A pair is encoded [CLS] A [SEP] B [SEP] and masked as above; its label
rides in y[:, 0], the [CLS] position no mask ever chooses.

    data = nsp_data(tok, texts, copies=4, seed=0, max_len=64)   # X, y as mlm_data's
"""

from __future__ import annotations

import math

import numpy as np

from nets.bert import IGNORE, IS_NEXT, NOT_NEXT

__all__ = ["IGNORE", "IS_NEXT", "NOT_NEXT", "mask_tokens", "mlm_data", "nsp_data",
           "split_in_two", "unigram_baseline"]


def mask_tokens(ids, special_ids, mask_id: int, vocab_size: int, rng, *, frac: float = 0.15,
                mask_prob: float = 0.8, random_prob: float = 0.1):
    """BERT's masking of a batch of token sequences (see the module doc).

    Inputs:
    - ids: (N, T) int token ids
    - special_ids: ids never chosen (and never drawn as random replacements)
    - mask_id: the id of [MASK]; vocab_size: V
    - rng: a numpy Generator (or a seed)
    - frac: the fraction of candidate positions chosen per sequence
    - mask_prob, random_prob: how a chosen token is replaced (the rest is kept)

    Returns a tuple of:
    - X: (N, T) int64, the corrupted input (a new array)
    - y: (N, T) int64, the original id at the chosen positions, IGNORE elsewhere
    """
    ids = np.asarray(ids)
    if ids.ndim != 2 or ids.dtype.kind not in "iu":
        raise ValueError(f"mask_tokens: ids must be an (N, T) integer array; got "
                         f"{ids.dtype} of shape {ids.shape}")
    if not (0 < frac <= 1 and 0 <= mask_prob and 0 <= random_prob
            and mask_prob + random_prob <= 1):
        raise ValueError(f"mask_tokens: need 0 < frac <= 1 and mask_prob + random_prob <= 1; "
                         f"got {frac}, {mask_prob}, {random_prob}")
    rng = np.random.default_rng(rng)
    specials = np.asarray(sorted(special_ids), dtype=np.int64)
    normal = np.setdiff1d(np.arange(vocab_size), specials)
    X = ids.astype(np.int64, copy=True)
    y = np.full(X.shape, IGNORE, dtype=np.int64)
    candidate = ~np.isin(X, specials)
    for n in range(X.shape[0]):
        pos = np.flatnonzero(candidate[n])
        if pos.size == 0:
            continue
        k = max(1, int(round(frac * pos.size)))
        chosen = rng.choice(pos, k, replace=False)
        y[n, chosen] = X[n, chosen]
        u = rng.random(k)
        X[n, chosen[u < mask_prob]] = mask_id
        rand = chosen[(u >= mask_prob) & (u < mask_prob + random_prob)]
        X[n, rand] = rng.choice(normal, rand.size)
    return X, y


def mlm_data(tok, texts, *, copies: int = 1, seed=0, max_len: int | None = None,
             frac: float = 0.15):
    """``{'X': (copies N, T), 'y': (copies N, T)}``: ``texts`` encoded by the tokenizer
    ``tok`` ([CLS] ... [SEP] [PAD]), repeated ``copies`` times with independent masks
    (``frac`` of each sequence's candidate positions chosen: BERT's 0.15 by default)."""
    ids = tok.encode_batch(texts, max_len)
    rng = np.random.default_rng(seed)
    parts = [mask_tokens(ids, tok.special_ids, tok.mask_id, tok.vocab_size, rng, frac=frac)
             for _ in range(copies)]
    return {"X": np.concatenate([p[0] for p in parts]), "y": np.concatenate([p[1] for p in parts])}


def split_in_two(text: str) -> tuple[str, str]:
    """``text`` cut at the whitespace nearest its middle (A ends before it, B starts with
    it; ties go to the earlier one), or at the middle when it has none: A + B == text.
    A cut between words keeps "B continues A" from being read off a split word."""
    mid = len(text) // 2
    spaces = [i for i, c in enumerate(text) if c.isspace() and 0 < i < len(text)]
    cut = min(spaces, key=lambda i: abs(i - mid)) if spaces else mid
    return text[:cut], text[cut:]


def nsp_data(tok, texts, *, copies: int = 1, seed=0, max_len: int = 64,
             frac: float = 0.15):
    """``{'X': (copies N, T), 'y': (copies N, T)}`` for ``nets.BertPretraining``: each
    text as a pair [CLS] A [SEP] B [SEP] (see the module doc; each copy draws its own
    partners and masks), padded to ``max_len`` (a pair longer than that loses tokens from
    the end of its longer segment, as BERT's ``truncate_seq_pair``), masked as
    ``mask_tokens`` (``frac`` of the non-special positions), y[:, 0] the pair's label,
    IS_NEXT or NOT_NEXT, each with probability 1/2."""
    texts = list(texts)
    if len(texts) < 2:
        raise ValueError(f"nsp_data: texts must hold at least 2 texts (a pair that is not "
                         f"next takes another text's second half); got {len(texts)}")
    if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 5:
        raise ValueError(f"nsp_data: max_len must be an int >= 5 ([CLS] A [SEP] B [SEP] "
                         f"with one token each); got {max_len!r}")
    halves = [split_in_two(t) for t in texts]
    first = [tok.encode(a) for a, _ in halves]
    second = [tok.encode(b) for _, b in halves]
    rng = np.random.default_rng(seed)
    N, X, codes = len(texts), [], []
    for _ in range(copies):
        is_next = rng.random(N) < 0.5
        other = (np.arange(N) + rng.integers(1, N, N)) % N  # uniform over the other texts
        ids = np.full((N, max_len), tok.pad_id, dtype=np.int64)
        for n in range(N):
            a, b = list(first[n]), list(second[n if is_next[n] else other[n]])
            while len(a) + len(b) > max_len - 3:  # pop from the longer segment's end
                (a if len(a) > len(b) else b).pop()
            row = [tok.cls_id, *a, tok.sep_id, *b, tok.sep_id]
            ids[n, :len(row)] = row
        X.append(ids)
        codes.append(np.where(is_next, IS_NEXT, NOT_NEXT))
    Xm, y = mask_tokens(np.concatenate(X), tok.special_ids, tok.mask_id, tok.vocab_size,
                        rng, frac=frac)
    y[:, 0] = np.concatenate(codes)
    return {"X": Xm, "y": y}


def unigram_baseline(train_ids, targets, vocab_size: int, special_ids=()):
    """What a model that ignores the context achieves on ``targets``: it predicts every
    masked token from the training unigram distribution (add-one smoothed over the
    non-special tokens).

    Inputs:
    - train_ids: int array of training token ids (specials are not counted)
    - targets: int array of target ids; IGNORE entries are skipped

    Returns a dict: ``nats`` (mean cross-entropy per target), ``bits`` (the same in bits)
    and ``accuracy`` (of always predicting the most frequent token).
    """
    train_ids = np.asarray(train_ids).reshape(-1)
    train_ids = train_ids[~np.isin(train_ids, list(special_ids))]
    counts = np.bincount(train_ids, minlength=vocab_size).astype(np.float64) + 1.0
    counts[list(special_ids)] = 0.0
    p = counts / counts.sum()
    t = np.asarray(targets).reshape(-1)
    t = t[t != IGNORE]
    nats = float(-np.log(p[t]).mean())
    return {"nats": nats, "bits": nats / math.log(2), "accuracy": float((t == p.argmax()).mean())}
