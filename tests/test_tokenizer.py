"""layerkit.tokenizer: byte-pair merges learned by hand, the round trip as a property, the
special tokens, encode_batch's layout, and saving with a checkpoint."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from layerkit.tokenizer import SPECIALS, Tokenizer
from optim import load_checkpoint, save_checkpoint

CORPUS = ("def f(x):\n    return x + 1\n\nThe function returns the value of x plus one. "
          "The value is returned; the function is defined with def. ") * 3
TOK = Tokenizer.train(CORPUS, num_merges=40)


@given(st.text(alphabet=TOK.chars, max_size=200))
def test_round_trip_over_the_vocabulary(text):
    """decode(encode(text)) == text for any text of the vocabulary's characters."""
    assert TOK.decode(TOK.encode(text)) == text


@given(st.text(alphabet=st.sampled_from(sorted(set(CORPUS))), max_size=200))
def test_round_trip_character_tokenizer(text):
    tok = Tokenizer.train(CORPUS, 0)
    ids = tok.encode(text)
    assert len(ids) == len(text) and tok.decode(ids) == text


def test_merges_are_the_most_frequent_pairs():
    """Worked by hand: in 'aaab aab ab' the pair (a, b) occurs 3 times, (a, a) 3 times
    (2 in 'aaab', 1 in 'aab'), first seen (a, a); then 'aa' + ... ."""
    tok = Tokenizer.train("aaab aab ab", num_merges=2, min_count=1)
    assert [tok.tokens[len(SPECIALS) + len(tok.chars) + r] for r in range(2)] == ["aa", "ab"]
    # pieces: 'aaab', ' aab', ' ab'; after 'aa': 'aa','a','b' / ' ','aa','b' / ' ','a','b'
    # -> (a, b) twice, (aa, b) once, (aa, a) once: 'ab' second
    assert tok.decode(tok.encode("aaab")) == "aaab"
    assert len(tok.encode("aaab")) == 2  # 'aa' 'ab'


def test_merges_shorten_text_and_never_cross_pieces():
    ids = TOK.encode(CORPUS)
    assert len(ids) < 0.6 * len(CORPUS)
    assert all(not (t.strip() and " " in t.strip()) for t in TOK.tokens[len(SPECIALS):])


def test_specials_and_unknown():
    assert TOK.tokens[:5] == list(SPECIALS) and TOK.pad_id == 0
    assert {TOK.pad_id, TOK.unk_id, TOK.cls_id, TOK.sep_id, TOK.mask_id} == set(range(5))
    ids = TOK.encode("x§")
    assert ids[-1] == TOK.unk_id and TOK.decode(ids) == "x[UNK]"
    assert TOK.decode([TOK.cls_id, *TOK.encode("def"), TOK.sep_id], skip_special=True) == "def"


def test_encode_batch_layout():
    X = TOK.encode_batch(["def f", "x"])
    n0 = len(TOK.encode("def f"))
    assert X.shape == (2, n0 + 2) and X.dtype == np.int64
    assert X[0, 0] == TOK.cls_id and X[0, n0 + 1] == TOK.sep_id
    assert X[1, :3].tolist() == [TOK.cls_id, *TOK.encode("x"), TOK.sep_id]
    assert (X[1, 3:] == TOK.pad_id).all()
    cut = TOK.encode_batch(["def f(x): return"], max_len=4)
    assert cut.shape == (1, 4) and cut[0, -1] == TOK.sep_id


def test_saved_with_a_checkpoint(tmp_path):
    path = tmp_path / "ck.npz"
    save_checkpoint(path, {"params": {"W": np.ones(2)}, "tokenizer": TOK.to_tree()})
    back = Tokenizer.from_tree(load_checkpoint(path)["tokenizer"])
    assert back.tokens == TOK.tokens and back.merges == TOK.merges
    assert back.encode(CORPUS) == TOK.encode(CORPUS)


def test_bad_input():
    with pytest.raises(ValueError, match="num_merges"):
        Tokenizer.train("abc", -1)
    with pytest.raises(TypeError, match="Tokenizer.encode: text"):
        TOK.encode(b"bytes")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        TOK.decode([TOK.vocab_size])
    with pytest.raises(ValueError, match="format"):
        Tokenizer.from_tree({"format": "other"})
    with pytest.raises(ValueError, match="merge 0"):
        Tokenizer("ab", [(0, 5)])
