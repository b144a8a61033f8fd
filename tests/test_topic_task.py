"""layerkit.topic_task: a fixed split, balanced labelled sets, and no leak of a validation
or test snippet into the pretraining text."""

import numpy as np
import pytest

from layerkit.topic_task import TOPIC_GROUPS, topic_task

TASK = topic_task()


def test_no_labelled_snippet_leaks_into_pretraining():
    pretrain = "\n".join(TASK.pretrain_texts)
    for text in TASK.test_texts + TASK.val_texts:
        assert text not in pretrain
    held_out = set(TASK.test_texts) | set(TASK.val_texts)
    assert not held_out & set(TASK.pretrain_texts)
    assert not set(TASK.test_texts) & set(TASK.val_texts)


def test_splits_shape_and_balance():
    assert TASK.classes == list(TOPIC_GROUPS) and len(TASK.classes) == 8
    assert all(len(t) == 128 for t in TASK.train_texts + TASK.test_texts)
    assert (np.bincount(TASK.test_labels) == 60).all()
    assert (np.bincount(TASK.val_labels) == 40).all()
    assert np.bincount(TASK.train_labels).min() >= 100  # room for 100 labels per class


def test_the_split_is_fixed():
    again = topic_task()
    assert again.test_texts == TASK.test_texts and again.train_texts == TASK.train_texts


@pytest.mark.parametrize("k", [5, 20, 100])
def test_labelled_sets(k):
    idx = TASK.labelled(k, seed=0)
    assert (np.bincount(TASK.train_labels[idx], minlength=8) == k).all()
    assert len(set(idx.tolist())) == idx.size
    assert np.array_equal(idx, TASK.labelled(k, seed=0))
    assert set(TASK.labelled(5, seed=0)) != set(TASK.labelled(5, seed=1))
    with pytest.raises(ValueError, match="TopicTask.labelled"):
        TASK.labelled(10_000)


def test_not_solved_by_the_topic_name():
    """Most snippets do not contain their topic's name as a word."""
    from pydoc_data.topics import topics  # noqa: F401  (the source of the text)

    names = list(TOPIC_GROUPS.values())
    hits = sum(any(f" {n} " in t for n in names[c])
               for t, c in zip(TASK.test_texts, TASK.test_labels))
    assert hits < 0.3 * len(TASK.test_texts)
