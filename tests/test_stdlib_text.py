"""layerkit.stdlib_text: docstrings read with ast (never imported), in a fixed order, capped,
cut into snippets, and no snippet that shares 32 characters with a held-out text; and the
topic task's extra pretraining text keeps off the validation and test splits."""

import textwrap

import pytest

from layerkit.stdlib_text import docstring_snippets, shares_substring, stdlib_docstrings
from layerkit.topic_task import topic_task


@pytest.fixture
def tree(tmp_path):
    files = {
        "b.py": '"""Module b."""\nraise SystemExit("imported")\n',
        "a.py": '''
            """Module a."""
            class K:
                """Class K."""
                def f(self):
                    """Method f."""
            async def g():
                """Coroutine g."""
            def h():
                pass
            ''',
        "pkg/c.py": '"""Module c."""\n',
        "bad.py": '"""Never read."""\ndef (:\n',
        "test/t.py": '"""A test suite."""\n',
        "pydoc_data/topics.py": '"""The labels\' source."""\n',
    }
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return str(tmp_path)


def test_docstrings_in_path_order_without_importing(tree):
    # b.py raises on import and bad.py does not parse: ast reads the one, skips the other
    assert list(stdlib_docstrings(tree)) == ["Module a.", "Class K.", "Coroutine g.",
                                             "Method f.", "Module b.", "Module c."]


def test_snippets_cut_capped_and_filtered(tree):
    text = "Module a.\n\nClass K.\n\nCoroutine g.\n\nMethod f.\n\nModule b.\n\nModule c.\n\n"

    def cut(max_chars, held_out=(), overlap=32):
        return docstring_snippets(max_chars, held_out, snippet_len=7, overlap=overlap,
                                  root=tree)
    assert cut(10_000) == [text[i:i + 7] for i in range(0, len(text) - 6, 7)]
    assert cut(14) == [text[:7], text[7:14]]
    # a held-out text sharing 6 characters with the second snippet drops it at overlap
    # 5 or 6, not at 7
    held_out = ["zz.\n\nClazz"]
    assert cut(14, held_out, 5) == cut(14, held_out, 6) == [text[:7]]
    assert cut(14, held_out, 7) == [text[:7], text[7:14]]
    with pytest.raises(ValueError, match="docstring_snippets: overlap"):
        docstring_snippets(10, overlap=0)


def test_the_stdlib_gives_text():
    snippets = docstring_snippets(20 * 128)
    assert len(snippets) == 20 and all(len(s) == 128 for s in snippets)
    assert snippets == docstring_snippets(20 * 128)


def test_extra_pretraining_text_shares_no_32_characters_with_val_or_test():
    task = topic_task(extra_chars=60_000)
    assert len(task.extra_texts) > 400
    assert task.pretrain_texts == task.train_texts + task.extra_texts
    held_out = task.val_texts + task.test_texts
    grams = {t[i:i + 32] for t in held_out for i in range(len(t) - 31)}
    assert not any(shares_substring(s, grams, 32) for s in task.pretrain_texts[
        len(task.train_texts):])
    # the filter had something to drop: the unfiltered text overlaps the held-out splits
    assert any(shares_substring(s, grams, 32) for s in docstring_snippets(60_000))
