"""Classification losses. Each returns the loss and its gradient on the scores in one call."""

from __future__ import annotations

from . import _validate as v
from .backend import get_xp


def _check_scores_labels(fn, x, y):
    v.array(fn, "x", x, ndim=2, what="(N, C) scores")
    v.nonempty(fn, "x", x, "the loss is a mean over the N examples")
    N, C = x.shape
    v.integer_array(fn, "y", y, shape=(N,), high=C, high_name="C",
                    what=f"(N,) labels in [0, C), N and C from x of shape {(N, C)}")
    return N, C


def softmax_loss(x, y):
    """Softmax (cross-entropy) loss and its gradient, averaged over the batch.

    Stable for any finite scores: the max is subtracted before exp, so logits of 1e4 give
    a finite loss.

    Inputs:
    - x: (N, C) scores; x[i, j] is the score of class j for example i
    - y: (N,) integer labels, 0 <= y[i] < C

    Returns a tuple of:
    - loss: scalar (0-d array of x's dtype)
    - dx: (N, C) gradient of the loss with respect to x
    """
    N, _ = _check_scores_labels("softmax_loss", x, y)
    xp = get_xp(x, y)
    rows = xp.arange(N)
    shifted = x - x.max(axis=1, keepdims=True)  # (N, C), <= 0
    probs = xp.exp(shifted)  # the only exp; reused as dx below
    sums = probs.sum(axis=1, keepdims=True)  # (N, 1), >= 1
    log_sums = xp.log(sums)
    loss = (log_sums[:, 0] - shifted[rows, y]).sum() / x.dtype.type(N)
    probs /= sums  # softmax probabilities, in place on our own temporary
    probs[rows, y] -= 1
    probs /= x.dtype.type(N)
    return loss, probs


def svm_loss(x, y):
    """Multiclass SVM (hinge) loss with margin 1 and its gradient, averaged over the batch.

    loss = (1/N) sum_i sum_{j != y_i} max(0, x[i, j] - x[i, y_i] + 1)

    Inputs:
    - x: (N, C) scores
    - y: (N,) integer labels, 0 <= y[i] < C

    Returns a tuple of:
    - loss: scalar (0-d array of x's dtype)
    - dx: (N, C) gradient (a subgradient at the hinge's kink, where it counts as inactive)
    """
    N, _ = _check_scores_labels("svm_loss", x, y)
    xp = get_xp(x, y)
    rows = xp.arange(N)
    correct = x[rows, y][:, None]  # (N, 1)
    margins = xp.maximum(x - correct + 1, 0)  # (N, C)
    margins[rows, y] = 0
    loss = margins.sum() / x.dtype.type(N)
    dx = (margins > 0).astype(x.dtype)  # (N, C): 1 where the hinge is active
    dx[rows, y] = -dx.sum(axis=1)
    dx /= x.dtype.type(N)
    return loss, dx
