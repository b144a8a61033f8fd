"""Sequence-to-sequence tasks whose answers are exactly judgeable, generated in code (no
download): numbers written in English words to their digits, and sorting token sequences.

Token ids follow ``nets.seq2seq``: 0 PAD, 1 BOS, 2 EOS, then the task's own tokens. A
task is a dict like ``layerkit.data.get_data``'s (``X_train``, ``y_train``, ``X_val``,
``y_val``, ``X_test``, ``y_test``: sources (N, S) and targets (N, T), int64, PAD after the
end; each target ends with EOS) plus ``src_vocab`` and ``tgt_vocab`` (id -> token). The
three splits hold distinct sources, so the test accuracy is on sequences never seen.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SPECIALS", "number_words", "words_task", "sort_task", "exact_match", "detok"]

SPECIALS = ("<pad>", "<bos>", "<eos>")
PAD, BOS, EOS = 0, 1, 2

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_words(n: int) -> list[str]:
    """English words for 0 <= n < 10**6, without "and": 305 -> three hundred five."""
    if not 0 <= n < 10**6:
        raise ValueError(f"number_words: n must be in [0, 10**6); got {n}")
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10]] + ([_ONES[n % 10]] if n % 10 else [])
    if n < 1000:
        return [_ONES[n // 100], "hundred"] + (number_words(n % 100) if n % 100 else [])
    return number_words(n // 1000) + ["thousand"] + (number_words(n % 1000) if n % 1000 else [])


def _pack(seqs, vocab, end: bool):
    """Token lists -> (N, L) int64 ids, PAD after the end (and EOS first when ``end``)."""
    index = {t: i for i, t in enumerate(vocab)}
    L = max(len(s) for s in seqs) + end
    out = np.full((len(seqs), L), PAD, dtype=np.int64)
    for i, s in enumerate(seqs):
        ids = [index[t] for t in s] + ([EOS] if end else [])
        out[i, :len(ids)] = ids
    return out


def _splits(items, sizes, src_of, tgt_of, src_vocab, tgt_vocab):
    names = ("train", "val", "test")
    data = {"src_vocab": list(src_vocab), "tgt_vocab": list(tgt_vocab)}
    start = 0
    srcs = [src_of(x) for x in items]
    tgts = [tgt_of(x) for x in items]
    S, T = max(map(len, srcs)), max(map(len, tgts)) + 1
    for name, n in zip(names, sizes):
        part = slice(start, start + n)
        X, y = _pack(srcs[part], src_vocab, False), _pack(tgts[part], tgt_vocab, True)
        data[f"X_{name}"] = np.pad(X, ((0, 0), (0, S - X.shape[1])))  # one width per task
        data[f"y_{name}"] = np.pad(y, ((0, 0), (0, T - y.shape[1])))
        start += n
    return data


def words_task(num_train=20000, num_val=500, num_test=1000, high=10**6, seed=0) -> dict:
    """Numbers in words -> digits: "forty two thousand seven" -> 4 2 0 0 7 <eos>.

    Draws num_train + num_val + num_test distinct numbers in [0, high) (sources up to 10
    words, targets up to 6 digits + EOS).
    """
    total = num_train + num_val + num_test
    if total > high:
        raise ValueError(f"words_task: {total} distinct numbers asked from [0, {high})")
    numbers = np.random.default_rng(seed).choice(high, size=total, replace=False)
    words = sorted(set(_ONES) | set(_TENS[2:]) | {"hundred", "thousand"})
    return _splits([int(n) for n in numbers], (num_train, num_val, num_test),
                   number_words, lambda n: list(str(n)),
                   (*SPECIALS, *words), (*SPECIALS, *"0123456789"))


def sort_task(num_train=20000, num_val=500, num_test=1000, num_symbols=10, min_len=2,
              max_len=10, seed=0) -> dict:
    """Sort a sequence of min_len..max_len symbols (repeats allowed): "c a b a" -> a a b c.

    The splits hold distinct source sequences.
    """
    rng = np.random.default_rng(seed)
    total = num_train + num_val + num_test
    symbols = [chr(ord("a") + i) for i in range(num_symbols)]
    seen, items = set(), []
    while len(items) < total:
        s = tuple(rng.choice(symbols, size=rng.integers(min_len, max_len + 1)))
        if s not in seen:
            seen.add(s)
            items.append(s)
    vocab = (*SPECIALS, *symbols)
    return _splits(items, (num_train, num_val, num_test), list, sorted, vocab, vocab)


def exact_match(pred, y) -> float:
    """Fraction of rows of pred (N, L) equal to y (N, T) up to and including y's EOS
    (``nets.Seq2SeqTransformer.decode`` pads after EOS, so whole rows compare)."""
    pred, y = np.asarray(pred), np.asarray(y)
    L = max(pred.shape[1], y.shape[1])
    pred = np.pad(pred, ((0, 0), (0, L - pred.shape[1])))
    y = np.pad(y, ((0, 0), (0, L - y.shape[1])))
    return float((pred == y).all(axis=1).mean())


def detok(ids, vocab, sep=" ") -> str:
    """Ids up to the first EOS (PAD dropped) as text."""
    out = []
    for i in np.asarray(ids).tolist():
        if i == EOS:
            break
        if i != PAD:
            out.append(vocab[i])
    return sep.join(out)
