"""A labelled text task from the standard library's own documentation (no download): which
group of pydoc topics a 128-character snippet comes from.

The eight classes group the topics of ``pydoc_data.topics`` (what ``help('if')`` prints)
by the chapter of the language reference or library manual they come from. Many topics
repeat others word for word (``if`` is inside ``compound``, ``customization`` inside
``specialnames``), so each class lists only topics whose text no other listed topic
repeats, and the snippets are deduplicated: a snippet that occurs twice is dropped.

Each topic is cut into consecutive ``snippet_len``-character snippets (the tail shorter
than that is dropped), every snippet keeps its class, and a fixed seeded permutation per
class puts ``n_test`` snippets in the test split, ``n_val`` in the validation split and the
rest in the training split. Only training snippets are pretraining text; a validation or
test snippet that occurs anywhere in the pretraining text (an overlap across a snippet
boundary, or a repeated passage) is removed from its split, so the labelled splits cannot
leak into pretraining.

    task = topic_task()                       # TopicTask: texts and labels of each split
    idx = task.labelled(20, seed=0)           # 20 labelled training snippets per class
    task.pretrain_texts                       # every training snippet (labels unused)

A 128-character snippet rarely names its topic: the classes share vocabulary (expressions
appear in every chapter), so a keyword rule does not solve the task.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .stdlib_text import docstring_snippets

__all__ = ["TOPIC_GROUPS", "TopicTask", "topic_task"]

TOPIC_GROUPS: dict[str, tuple[str, ...]] = {
    "compound statements": ("compound",),
    "special method names": ("specialnames", "objects", "specialattrs"),
    "standard type hierarchy": ("types",),
    "built-in types": ("typesseq", "typesmapping", "string-methods", "typesfunctions",
                       "typesmethods", "typesmodules", "bltin-code-objects",
                       "bltin-ellipsis-object", "bltin-null-object", "bltin-type-objects",
                       "truth"),
    "expressions": ("comparisons", "binary", "operator-summary", "calls", "power", "unary",
                    "bitwise", "shifting", "booleans", "lambda", "exprlists",
                    "atom-identifiers", "atom-literals", "slicings", "subscriptions",
                    "attribute-references", "conversions", "await", "lists", "dict"),
    "simple statements": ("assignment", "assert", "del", "import", "raise", "return",
                          "global", "nonlocal", "pass", "break", "continue", "yield"),
    "lexical analysis": ("strings", "formatstrings", "identifiers", "integers", "floating",
                         "imaginary", "numbers"),
    "execution model and debugger": ("execmodel", "debugger"),
}


@dataclass
class TopicTask:
    """The splits of the topic task: ``<split>_texts`` (list of str) and ``<split>_labels``
    ((n,) int64) for split in train, val, test; ``classes`` (names, in label order)."""

    classes: list
    train_texts: list
    train_labels: np.ndarray
    val_texts: list
    val_labels: np.ndarray
    test_texts: list
    test_labels: np.ndarray
    extra_texts: list = field(default_factory=list)

    @property
    def pretrain_texts(self) -> list:
        """The unlabelled text for pretraining: every training snippet, then the extra
        (docstring) snippets; none of val or test."""
        return self.train_texts + self.extra_texts

    def labelled(self, per_class: int, seed: int = 0) -> np.ndarray:
        """Indices into the training split: ``per_class`` snippets of each class, drawn
        without replacement by a seeded generator (sorted)."""
        rng = np.random.default_rng(seed)
        out = []
        for c in range(len(self.classes)):
            pool = np.flatnonzero(self.train_labels == c)
            if per_class > pool.size:
                raise ValueError(f"TopicTask.labelled: class {self.classes[c]!r} has "
                                 f"{pool.size} training snippets; asked for {per_class}")
            out.append(rng.choice(pool, per_class, replace=False))
        return np.sort(np.concatenate(out))


def topic_task(snippet_len: int = 128, n_val: int = 40, n_test: int = 60,
               seed: int = 0, extra_chars: int = 0) -> TopicTask:
    """The topic task (see the module doc); the same splits for the same arguments on one
    Python version. ``extra_chars`` > 0 adds that many characters of the standard
    library's docstrings to the pretraining text (``extra_texts``, cut into snippets of
    ``snippet_len``), less every snippet that shares 32 characters with a validation or
    test snippet (``layerkit.stdlib_text``)."""
    from pydoc_data.topics import topics

    if snippet_len < 1:
        raise ValueError(f"topic_task: snippet_len must be >= 1; got {snippet_len}")
    snippets, labels = [], []
    for c, names in enumerate(TOPIC_GROUPS.values()):
        for name in names:
            text = topics[name]
            for s in range(0, len(text) - snippet_len + 1, snippet_len):
                snippets.append(text[s:s + snippet_len])
                labels.append(c)
    counts: dict = {}
    for s in snippets:
        counts[s] = counts.get(s, 0) + 1
    keep = [i for i, s in enumerate(snippets) if counts[s] == 1]  # drop repeated passages
    snippets = [snippets[i] for i in keep]
    labels = np.asarray([labels[i] for i in keep], dtype=np.int64)

    rng = np.random.default_rng(seed)
    split = np.zeros(len(snippets), dtype=np.int64)  # 0 train, 1 val, 2 test
    for c in range(len(TOPIC_GROUPS)):
        idx = rng.permutation(np.flatnonzero(labels == c))
        split[idx[:n_test]] = 2
        split[idx[n_test:n_test + n_val]] = 1
    train = np.flatnonzero(split == 0)
    pretrain = "\n".join(snippets[i] for i in train)

    def part(k):
        idx = [i for i in np.flatnonzero(split == k) if snippets[i] not in pretrain]
        return [snippets[i] for i in idx], labels[idx]

    val_texts, val_labels = part(1)
    test_texts, test_labels = part(2)
    extra = docstring_snippets(extra_chars, val_texts + test_texts,
                               snippet_len=snippet_len) if extra_chars else []
    return TopicTask(list(TOPIC_GROUPS), [snippets[i] for i in train], labels[train],
                     val_texts, val_labels, test_texts, test_labels, extra)
