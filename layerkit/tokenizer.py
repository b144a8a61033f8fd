"""A tokenizer for the offline text: characters, plus a byte-pair subword vocabulary learned
from training text (Sennrich et al. 2016, the merges written out by hand as the courses
teach them), and the special tokens of BERT.

    tok = Tokenizer.train(text, num_merges=400)      # chars of text + 400 merged tokens
    ids = tok.encode("def f(x):")                      # list of ints
    tok.decode(ids) == "def f(x):"
    X = tok.encode_batch(["a snippet", ...])           # (N, T) [CLS] ... [SEP] [PAD] ...
    tree = tok.to_tree(); Tokenizer.from_tree(tree)    # JSON/arrays: save with a checkpoint

Ids: the special tokens first (``SPECIALS``: [PAD] is 0), then the characters in code-point
order, then one token per merge in the order the merges were learned. ``num_merges=0`` is
a character tokenizer.

Byte-pair learning: the text is cut into pieces (a word with the space before it, a run of
punctuation with the space before it, or whitespace, as GPT-2's pattern), each distinct
piece is a sequence of tokens with its count, and each round merges the most frequent
adjacent pair (ties: the pair seen first in the text) into one new token. Merges never
cross a piece boundary. Encoding applies the learned merges to each piece in the order
they were learned (lowest rank first), so the same text always gives the same ids, and
``decode(encode(text)) == text`` for any text of the vocabulary's characters. A character
the vocabulary lacks becomes [UNK] (decoded as the string "[UNK]").
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from layers.backend import to_numpy

__all__ = ["Tokenizer", "SPECIALS", "PAD", "UNK", "CLS", "SEP", "MASK"]

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIALS = (PAD, UNK, CLS, SEP, MASK)
FORMAT = "layerkit-tokenizer-1"

# a word or a punctuation run with the space before it, or whitespace (the last space of a
# run is left to the word after it); every character of any text falls in one piece
_PIECE = re.compile(r" ?\w+| ?[^\w\s]+|\s+(?!\S)|\s+")


def _pieces(text: str) -> list[str]:
    return _PIECE.findall(text)


def _merge_pair(seq: tuple, a: int, b: int, new: int) -> tuple:
    """``seq`` with every non-overlapping (a, b), left to right, replaced by ``new``."""
    out, i, n = [], 0, len(seq)
    while i < n:
        if i + 1 < n and seq[i] == a and seq[i + 1] == b:
            out.append(new)
            i += 2
        else:
            out.append(seq[i])
            i += 1
    return tuple(out)


class Tokenizer:
    """Characters and byte-pair merges over them, with BERT's special tokens.

    Attributes:
    - tokens: list of str, ``tokens[i]`` is the text of id i (the specials' names first)
    - chars: the characters of the vocabulary, in id order
    - merges: list of (a, b) id pairs; merge r makes id ``len(SPECIALS) + len(chars) + r``
    - pad_id, unk_id, cls_id, sep_id, mask_id; special_ids (a frozenset)
    """

    def __init__(self, chars: str, merges=()):
        if not isinstance(chars, str) or len(set(chars)) != len(chars):
            raise ValueError(f"Tokenizer: chars must be a str of distinct characters; "
                             f"got {chars!r:.60}")
        self.chars = chars
        self.tokens = list(SPECIALS) + list(chars)
        self.merges: list[tuple[int, int]] = []
        for a, b in merges:
            a, b = int(a), int(b)
            n = len(self.tokens)
            if not (len(SPECIALS) <= a < n and len(SPECIALS) <= b < n):
                raise ValueError(f"Tokenizer: merge {len(self.merges)} joins ids ({a}, {b}); "
                                 f"each must be a non-special id below {n}")
            self.merges.append((a, b))
            self.tokens.append(self.tokens[a] + self.tokens[b])
        self.rank = {pair: r for r, pair in enumerate(self.merges)}
        self.char_id = {c: len(SPECIALS) + i for i, c in enumerate(chars)}
        self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = range(len(SPECIALS))
        self.special_ids = frozenset(range(len(SPECIALS)))
        self._cache: dict[str, tuple] = {}

    # --- learning ------------------------------------------------------------------------

    @classmethod
    def train(cls, text: str, num_merges: int = 0, min_count: int = 2) -> "Tokenizer":
        """The characters of ``text`` and up to ``num_merges`` byte-pair merges learned
        from it (fewer when no pair occurs ``min_count`` times)."""
        if isinstance(num_merges, bool) or not isinstance(num_merges, int) or num_merges < 0:
            raise ValueError(f"Tokenizer.train: num_merges must be an int >= 0; got "
                             f"{num_merges!r}")
        tok = cls("".join(sorted(set(text))))
        counts = Counter(_pieces(text))  # insertion order = first occurrence
        words = [tuple(tok.char_id[c] for c in w) for w in counts]
        freq = list(counts.values())
        merges = []
        for _ in range(num_merges):
            pairs: Counter = Counter()
            for w, f in zip(words, freq):
                for pair in zip(w, w[1:]):
                    pairs[pair] += f
            if not pairs:
                break
            best, count = max(pairs.items(), key=lambda kv: kv[1])  # first seen wins ties
            if count < min_count:
                break
            new = len(tok.tokens) + len(merges)
            merges.append(best)
            words = [_merge_pair(w, *best, new) if len(w) > 1 else w for w in words]
        return cls(tok.chars, merges)

    # --- encoding ------------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def _encode_piece(self, piece: str) -> tuple:
        ids = self._cache.get(piece)
        if ids is not None:
            return ids
        seq = tuple(self.char_id.get(c, self.unk_id) for c in piece)
        while len(seq) > 1:  # apply the lowest-ranked merge present, as learned
            ranks = [self.rank.get(p) for p in zip(seq, seq[1:])]
            known = [r for r in ranks if r is not None]
            if not known:
                break
            r = min(known)
            seq = _merge_pair(seq, *self.merges[r], len(SPECIALS) + len(self.chars) + r)
        self._cache[piece] = seq
        return seq

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (no special tokens added)."""
        if not isinstance(text, str):
            raise TypeError(f"Tokenizer.encode: text must be a str; got {type(text).__name__}")
        return [i for piece in _pieces(text) for i in self._encode_piece(piece)]

    def decode(self, ids, skip_special: bool = False) -> str:
        """The text of ``ids`` (any iterable of ints); special tokens are written by their
        names ("[MASK]"), or left out with ``skip_special``."""
        out = []
        for i in np.asarray(ids, dtype=np.int64).reshape(-1):
            if not 0 <= i < len(self.tokens):
                raise ValueError(f"Tokenizer.decode: id {int(i)} is outside the vocabulary "
                                 f"of {len(self.tokens)} tokens")
            if not (skip_special and i in self.special_ids):
                out.append(self.tokens[i])
        return "".join(out)

    def encode_batch(self, texts, max_len: int | None = None) -> np.ndarray:
        """(N, T) int64: each text as [CLS] ids [SEP], then [PAD] up to T, the longest
        (or ``max_len``; longer texts are cut to fit, keeping [SEP] last)."""
        rows = [self.encode(t) for t in texts]
        T = max(len(r) for r in rows) + 2 if max_len is None else int(max_len)
        if T < 3:
            raise ValueError(f"Tokenizer.encode_batch: max_len must be >= 3; got {T}")
        X = np.full((len(rows), T), self.pad_id, dtype=np.int64)
        for n, r in enumerate(rows):
            r = [self.cls_id, *r[:T - 2], self.sep_id]
            X[n, :len(r)] = r
        return X

    # --- saving --------------------------------------------------------------------------

    def to_tree(self) -> dict:
        """A flat dict of strings and one array (``optim.save_checkpoint`` saves it as is,
        and so does a Solver checkpoint as a net's state dict): format, specials (their
        names joined by spaces), chars, merges ((M, 2) int64)."""
        merges = np.asarray(self.merges, dtype=np.int64).reshape(-1, 2)
        return {"format": FORMAT, "specials": " ".join(SPECIALS), "chars": self.chars,
                "merges": merges}

    @classmethod
    def from_tree(cls, tree: dict) -> "Tokenizer":
        if not isinstance(tree, dict) or tree.get("format") != FORMAT:
            raise ValueError(f"Tokenizer.from_tree: not a tokenizer tree of format {FORMAT!r}")
        if tree.get("specials") != " ".join(SPECIALS):
            raise ValueError(f"Tokenizer.from_tree: special tokens {tree.get('specials')!r} "
                             f"differ from this version's {' '.join(SPECIALS)!r}")
        merges = np.asarray(to_numpy(tree["merges"]), dtype=np.int64).reshape(-1, 2)
        return cls(tree["chars"], merges.tolist())
