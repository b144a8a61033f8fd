"""Text for the character-level language models, shipped with Python itself (no download).

The corpus is the text of the documentation topics in the standard library's
``pydoc_data.topics`` (what ``help('if')`` prints): about 465 000 characters of English
prose and Python code on Python 3.11. The topics are joined in sorted order of their keys,
separated by a blank line, so the corpus is the same on every run of one Python version
(it differs a little between Python versions).

    data, vocab = char_lm_data("rnn", seq_len=64)   # X_train, y_train, X_val, y_val
    data, vocab = char_lm_data("mlp", context=8)

The validation set is the last 10 % of the text (a split by position, never shuffled:
neighbouring windows overlap, so a random split would leak training text into it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["load_corpus", "Vocab", "split_by_position", "context_windows",
           "sequence_windows", "char_lm_data", "TOPIC_SEPARATOR"]

TOPIC_SEPARATOR = "\n\n"


def load_corpus(max_chars: int | None = None) -> str:
    """The pydoc topics joined in sorted key order; the first ``max_chars`` characters if given."""
    from pydoc_data.topics import topics

    text = TOPIC_SEPARATOR.join(topics[k] for k in sorted(topics))
    return text if max_chars is None else text[:max_chars]


@dataclass
class Vocab:
    """A character vocabulary: ``chars[i]`` is the character of id i (sorted by code point)."""

    chars: str
    stoi: dict = field(init=False, repr=False)

    def __post_init__(self):
        self.stoi = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> "Vocab":
        return cls("".join(sorted(set(text))))

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """(len(text),) int64 ids; ValueError naming the first unknown character."""
        try:
            return np.fromiter((self.stoi[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError as e:
            raise ValueError(f"Vocab.encode: character {e.args[0]!r} is not in the "
                             f"vocabulary of {len(self)} characters") from None

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in np.asarray(ids).reshape(-1))


def split_by_position(ids: np.ndarray, val_fraction: float = 0.1):
    """(train, val): the first (1 - val_fraction) of the ids and the rest, in order."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"split_by_position: val_fraction must be in (0, 1); got {val_fraction}")
    cut = int(round(len(ids) * (1 - val_fraction)))
    return ids[:cut], ids[cut:]


def context_windows(ids: np.ndarray, context: int):
    """Every (context, next character) pair of a stream, for the MLP model.

    Inputs:
    - ids: (L,) int ids
    - context: K, the number of characters the model sees

    Returns a tuple of:
    - X: (L - K, K) read-only view; X[j] = ids[j : j + K]
    - y: (L - K,) the character after each window: y[j] = ids[j + K]
    """
    if context < 1 or len(ids) <= context:
        raise ValueError(f"context_windows: need 1 <= context < len(ids); got context "
                         f"{context} for {len(ids)} ids")
    X = np.lib.stride_tricks.sliding_window_view(ids[:-1], context)  # no copy
    return X, ids[context:]


def sequence_windows(ids: np.ndarray, seq_len: int, stride: int | None = None):
    """Input/target sequences of a stream, for the recurrent model.

    Inputs:
    - ids: (L,) int ids
    - seq_len: T
    - stride: start of one window to the next (default T: windows do not overlap)

    Returns a tuple of:
    - X: (M, T) int64, X[j] = ids[s : s + T] with s = j * stride
    - y: (M, T) int64, the same shifted by one: y[j] = ids[s + 1 : s + T + 1]
    """
    stride = seq_len if stride is None else stride
    if seq_len < 1 or stride < 1 or len(ids) < seq_len + 1:
        raise ValueError(f"sequence_windows: need seq_len, stride >= 1 and more than seq_len "
                         f"ids; got seq_len {seq_len}, stride {stride}, {len(ids)} ids")
    starts = np.arange(0, len(ids) - seq_len, stride)  # every window has its T+1-th char
    offsets = np.arange(seq_len)
    X = ids[starts[:, None] + offsets]
    y = ids[starts[:, None] + offsets + 1]
    return X, y


def char_lm_data(kind: str = "rnn", *, context: int = 8, seq_len: int = 64,
                 val_seq_len: int | None = None, val_fraction: float = 0.1,
                 max_chars: int | None = None, text: str | None = None):
    """Training and validation data for a character language model.

    Inputs:
    - kind: 'mlp' (fixed context -> next character) or 'rnn' (sequences, for 'rnn-lm',
      'lstm-lm' and the GRU alike)
    - context: K for 'mlp'
    - seq_len: T for 'rnn'
    - val_seq_len: T of the validation windows for 'rnn' (default seq_len). Each window
      starts from a zero state, so longer ones cost the model fewer cold starts
    - val_fraction: the last part of the text held out for validation
    - max_chars: use only the start of the corpus (tests, quick runs)
    - text: a text to use instead of the pydoc corpus

    Returns a tuple of:
    - data: dict with X_train, y_train, X_val, y_val (int64); for 'mlp' X (M, K) and
      y (M,), for 'rnn' X and y (M, T)
    - vocab: the Vocab of the whole text (train and validation)
    """
    if kind not in ("mlp", "rnn"):
        raise ValueError(f"char_lm_data: kind must be 'mlp' or 'rnn'; got {kind!r}")
    text = load_corpus(max_chars) if text is None else text[:max_chars]
    vocab = Vocab.from_text(text)
    train, val = split_by_position(vocab.encode(text), val_fraction)
    if kind == "mlp":
        (Xt, yt), (Xv, yv) = context_windows(train, context), context_windows(val, context)
    else:
        (Xt, yt) = sequence_windows(train, seq_len)
        (Xv, yv) = sequence_windows(val, val_seq_len or seq_len)
    return {"X_train": Xt, "y_train": yt, "X_val": Xv, "y_val": yv}, vocab
