"""Classification losses. Each returns the loss and its gradient on the scores in one call."""

from __future__ import annotations

from . import _validate as v
from .backend import get_xp


def _check_scores_labels(fn, x, y):
    v.array(fn, "x", x, ndim=2, what="(N, C) scores")
    N, C = x.shape
    v.integer_array(fn, "y", y, shape=(N,), high=C, high_name="C",
                    what="(N,) labels in [0, C)")
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


# --- regression losses ------------------------------------------------------------------


def _check_prediction_target(fn, x, y):
    v.array(fn, "x", x, min_ndim=1, what="(N, ...) predictions")
    v.array(fn, "y", y, what="(N, ...) targets, the shape of x")
    get_xp(x, y)
    v.same_dtype(fn, x=x, y=y)
    v.shape(fn, "y", y, tuple(x.shape), "(the shape of x)")


def l1_loss(x, y):
    """Mean absolute error over all elements and its gradient on the predictions.

    loss = mean(|x - y|); the mean runs over every element (batch and features alike),
    so the loss of an image does not grow with its size.

    Inputs:
    - x: (N, d_1, ..., d_k) predictions
    - y: (N, d_1, ..., d_k) targets, x's shape and dtype (not differentiated)

    Returns a tuple of:
    - loss: scalar (0-d array of x's dtype)
    - dx: x's shape, sign(x - y) / x.size (0 where x == y: the subgradient at the kink)
    """
    _check_prediction_target("l1_loss", x, y)
    xp = get_xp(x, y)
    diff = x - y  # the shape of x
    n = x.dtype.type(diff.size)
    loss = xp.abs(diff).sum() / n
    dx = xp.sign(diff)  # a new array: divided in place below
    dx /= n
    return loss, dx


def l2_loss(x, y):
    """Mean squared error over all elements (no 1/2) and its gradient on the predictions.

    loss = mean((x - y) ** 2)

    Inputs:
    - x: (N, d_1, ..., d_k) predictions
    - y: (N, d_1, ..., d_k) targets, x's shape and dtype (not differentiated)

    Returns a tuple of:
    - loss: scalar (0-d array of x's dtype)
    - dx: x's shape, 2 (x - y) / x.size
    """
    _check_prediction_target("l2_loss", x, y)
    diff = x - y  # the shape of x
    n = x.dtype.type(diff.size)
    loss = (diff * diff).sum() / n
    diff *= 2 / n  # our own temporary: it becomes dx
    return loss, diff
