"""layerkit.mlm: BERT's masking recipe (exact 15 % per sequence, 80/10/10 over many draws,
never a special token, targets only at the chosen positions), next-sentence pairs (the cut,
the partners, the labels' proportion, truncation) and the unigram baseline."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from layerkit.mlm import (IGNORE, IS_NEXT, NOT_NEXT, mask_tokens, mlm_data, nsp_data,
                          split_in_two, unigram_baseline)
from layerkit.tokenizer import Tokenizer

SPECIAL = frozenset(range(5))
MASK, VOCAB = 4, 60


def _batch(rng, N=400, T=40):
    """Token ids 5..59 with [CLS] first, [SEP] after a random length, [PAD] after it."""
    ids = rng.integers(5, VOCAB, (N, T))
    lengths = rng.integers(5, T - 1, N)
    for n, L in enumerate(lengths):
        ids[n, 0], ids[n, L] = 2, 3
        ids[n, L + 1:] = 0
    return ids, lengths


def test_exact_count_per_sequence_and_never_specials():
    rng = np.random.default_rng(0)
    ids, lengths = _batch(rng)
    X, y = mask_tokens(ids, SPECIAL, MASK, VOCAB, rng)
    chosen = y != IGNORE
    candidates = lengths - 1  # the tokens between [CLS] and [SEP]
    expected = np.maximum(1, np.round(0.15 * candidates)).astype(int)
    assert (chosen.sum(axis=1) == expected).all()
    assert not np.isin(ids[chosen], list(SPECIAL)).any()
    assert (y[chosen] == ids[chosen]).all()  # the target is the original token
    assert (X[~chosen] == ids[~chosen]).all()  # nothing else is touched
    assert (ids == _batch(np.random.default_rng(0))[0]).all()  # input not written into


def test_replacement_proportions_over_many_draws():
    """80 % [MASK], 10 % a random non-special token, 10 % kept: within 4 standard
    errors over ~30k chosen positions. (A random draw may equal the original token, with
    probability 1/55 here; that shows as 'kept'.)"""
    rng = np.random.default_rng(1)
    ids, _ = _batch(rng, N=2000)
    masked = rand = kept = 0
    for _ in range(3):
        X, y = mask_tokens(ids, SPECIAL, MASK, VOCAB, rng)
        c = y != IGNORE
        masked += int((X[c] == MASK).sum())
        kept += int((X[c] == ids[c]).sum())
        rand += int(((X[c] != MASK) & (X[c] != ids[c])).sum())
        assert not np.isin(X[c & (X != MASK)], list(SPECIAL)).any()  # random: never special
    n = masked + rand + kept
    p_keep = 0.1 + 0.1 / (VOCAB - 5)
    for got, p in ((masked, 0.8), (rand, 0.1 - 0.1 / (VOCAB - 5)), (kept, p_keep)):
        assert abs(got / n - p) < 4 * math.sqrt(p * (1 - p) / n), (got / n, p)


def test_random_tokens_cover_the_vocabulary():
    rng = np.random.default_rng(2)
    ids, _ = _batch(rng, N=2000)
    X, y = mask_tokens(ids, SPECIAL, MASK, VOCAB, rng, mask_prob=0.0, random_prob=1.0)
    drawn = X[y != IGNORE]
    assert set(np.unique(drawn)) == set(range(5, VOCAB))


def test_mlm_data_copies_differ():
    tok = Tokenizer.train("the value of x is returned by the function " * 5, 10)
    d = mlm_data(tok, ["the value of x", "returned by the function"], copies=3, seed=0)
    assert d["X"].shape[0] == 6 and d["X"].shape == d["y"].shape
    assert not np.array_equal(d["y"][:2], d["y"][2:4]) or not np.array_equal(d["y"][:2],
                                                                              d["y"][4:])


def test_mlm_data_masks_the_fraction_it_is_given():
    text = "the value of x is returned by the function that was called with it"
    tok = Tokenizer.train(text * 3, 5)
    candidates = len(tok.encode(text))  # the tokens between [CLS] and [SEP]
    for frac in (0.15, 0.4):
        d = mlm_data(tok, [text], copies=50, seed=1, frac=frac)
        counts = (d["y"] != IGNORE).sum(axis=1)
        assert (counts == max(1, round(frac * candidates))).all(), (frac, counts[:3])


@given(st.text(alphabet="ab \n", max_size=30))
def test_split_in_two_cuts_at_the_whitespace_nearest_the_middle(text):
    a, b = split_in_two(text)
    assert a + b == text
    inner = [i for i, c in enumerate(text) if c.isspace() and i > 0]
    if inner:
        assert b[0].isspace()
        assert all(abs(len(a) - len(text) // 2) <= abs(i - len(text) // 2) for i in inner)
    else:
        assert len(a) == len(text) // 2


def _unmasked(d):
    """The pairs before masking: the original token wherever a target was chosen."""
    ids = d["X"].copy()
    chosen = d["y"] >= 0
    ids[chosen] = d["y"][chosen]
    return ids


def test_nsp_pairs_continue_their_text_or_take_another_ones_second_half():
    words = [f"w{i}" for i in range(40)]
    texts = [" ".join(words[4 * n:4 * n + 4]) for n in range(10)]  # 10 disjoint texts
    tok = Tokenizer.train(" ".join(texts), 0)  # characters: one id per character
    d = nsp_data(tok, texts, copies=60, seed=3, max_len=40)
    rows, codes = _unmasked(d), d["y"][:, 0]
    assert set(np.unique(codes)) == {IS_NEXT, NOT_NEXT}
    assert abs((codes == IS_NEXT).mean() - 0.5) < 0.07  # 600 pairs: 3.4 standard errors
    halves = [split_in_two(t) for t in texts]
    for r, (row, code) in enumerate(zip(rows, codes)):
        text = tok.decode(row, skip_special=False).replace("[PAD]", "")
        assert text.startswith("[CLS]") and text.endswith("[SEP]"), text
        a, b = text[len("[CLS]"):-len("[SEP]")].split("[SEP]")
        n = r % len(texts)
        assert a == halves[n][0]
        partner = [m for m, h in enumerate(halves) if h[1] == b]
        assert partner == ([n] if code == IS_NEXT else partner) and partner
        assert (code == IS_NEXT) == (partner[0] == n)
    assert not np.isin(d["X"][d["y"] >= 0], [tok.cls_id, tok.sep_id, tok.pad_id]).any()
    assert ((d["y"] >= 0).sum(axis=1) > 0).all()  # every pair has masked positions


def test_nsp_pairs_are_cut_to_max_len_from_the_longer_segment():
    tok = Tokenizer.train("abcdefgh xyz", 0)
    d = nsp_data(tok, ["abcdefgh xy", "abcdefgh xy"], copies=1, seed=0, max_len=9)
    row = tok.decode(_unmasked(d)[0], skip_special=False)
    assert row == "[CLS]abc[SEP] xy[SEP]"  # 6 ids left: A (8) lost its end, B (3) kept


def test_nsp_data_bad_input():
    tok = Tokenizer.train("abc", 0)
    with pytest.raises(ValueError, match="nsp_data: texts must hold at least 2 texts"):
        nsp_data(tok, ["abc"])
    with pytest.raises(ValueError, match="nsp_data: max_len must be an int >= 5"):
        nsp_data(tok, ["abc", "cab"], max_len=4)


def test_unigram_baseline_by_hand():
    """Counts of 5, 5, 6, 6, 6 over a vocabulary of 8 (specials 0..4): add-one gives
    counts 3, 4, 1, so p(5) = 3/8, p(6) = 4/8, p(7) = 1/8."""
    u = unigram_baseline([0, 5, 5, 6, 6, 6, 2], [6, IGNORE, 5], 8, range(5))
    expected = -(math.log(4 / 8) + math.log(3 / 8)) / 2
    assert abs(u["nats"] - expected) < 1e-12
    assert abs(u["bits"] - expected / math.log(2)) < 1e-12
    assert u["accuracy"] == 0.5


def test_bad_input():
    with pytest.raises(ValueError, match="mask_tokens: ids"):
        mask_tokens(np.ones(5, dtype=int), SPECIAL, MASK, VOCAB, 0)
    with pytest.raises(ValueError, match="mask_prob \\+ random_prob"):
        mask_tokens(np.ones((2, 5), dtype=int), SPECIAL, MASK, VOCAB, 0, mask_prob=0.95)
