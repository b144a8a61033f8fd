"""Unlabelled English text about Python, offline: the docstrings of the standard library's
own sources, read with ``ast`` (nothing is imported), for masked-LM pretraining.

    texts = docstring_snippets(max_chars=400_000, exclude=task.val_texts + task.test_texts)

The ``.py`` files under ``sysconfig.get_paths()["stdlib"]`` are read in sorted path order
(test suites, ``site-packages`` and ``pydoc_data`` left out: the topic task's labels come
from ``pydoc_data``), and the docstrings of each module, class and function in the order
``ast.walk`` meets them. The text (docstrings joined by a blank line) is cut into
consecutive ``snippet_len``-character snippets, as the topic task cuts its topics, until
``max_chars`` characters are taken. A snippet that shares any ``overlap``-character
substring with a text of ``exclude`` (the validation and test snippets) is dropped, so no
held-out passage reaches the pretraining text even across a snippet boundary.
"""

from __future__ import annotations

import ast
import sysconfig
from pathlib import Path

__all__ = ["stdlib_docstrings", "docstring_snippets", "shares_substring"]

_SKIP_DIRS = {"test", "tests", "site-packages", "pydoc_data", "idle_test"}


def stdlib_docstrings(root: str | None = None):
    """Yield the docstrings of the ``.py`` files under ``root`` (default: the standard
    library), files in sorted path order, nodes in ``ast.walk`` order; a file that does
    not parse (a template, another Python's syntax) is skipped."""
    base = Path(root if root is not None else sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in base.rglob("*.py")
                   if not _SKIP_DIRS & set(p.relative_to(base).parts[:-1]))
    for path in files:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                 ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc and doc.strip():
                    yield doc.strip()


def _substrings(texts, n: int) -> set:
    return {t[i:i + n] for t in texts for i in range(len(t) - n + 1)}


def shares_substring(text: str, grams: set, n: int) -> bool:
    """Whether some ``n``-character substring of ``text`` is in ``grams``."""
    return any(text[i:i + n] in grams for i in range(len(text) - n + 1))


def docstring_snippets(max_chars: int, exclude=(), *, snippet_len: int = 128,
                       overlap: int = 32, root: str | None = None) -> list[str]:
    """Up to ``max_chars`` characters of docstring text cut into ``snippet_len``-character
    snippets, less those that share an ``overlap``-character substring with a text of
    ``exclude`` (see the module doc). Deterministic for one Python installation."""
    for name, value, low in (("max_chars", max_chars, 0), ("snippet_len", snippet_len, 1),
                             ("overlap", overlap, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"docstring_snippets: {name} must be an int >= {low}; "
                             f"got {value!r}")
    grams = _substrings(exclude, overlap)
    out, buf, taken = [], "", 0
    for doc in stdlib_docstrings(root):
        buf += doc + "\n\n"
        while len(buf) >= snippet_len and taken < max_chars:
            snippet, buf = buf[:snippet_len], buf[snippet_len:]
            taken += snippet_len
            if not shares_substring(snippet, grams, overlap):
                out.append(snippet)
        if taken >= max_chars:
            break
    return out
