"""Classification losses. Each returns the loss and its gradient on the scores in one call."""

from __future__ import annotations

from . import _validate as v
from .backend import get_xp, logsumexp


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


def distillation_loss(student_scores, teacher_scores, T=4.0):
    """Knowledge-distillation loss (Hinton et al. 2015) and its gradient on the student.

    loss = T^2 * (1/N) sum_i KL(p_i || q_i),   p = softmax(teacher/T), q = softmax(student/T)

    The T^2 keeps the gradient's size independent of T (d/ds carries a 1/T from the
    softening), so the term mixes with a hard-label loss at any temperature. The teacher
    is a constant: only the student gets a gradient, dx = (T / N) * (q - p).

    Inputs:
    - student_scores: (N, C) scores of the net being trained
    - teacher_scores: (N, C) scores of the teacher, same dtype
    - T: temperature, a positive number (T = 1: plain softmax)

    Returns a tuple of:
    - loss: scalar (0-d array of the scores' dtype)
    - dx: (N, C) gradient of the loss with respect to student_scores
    """
    fn = "distillation_loss"
    v.array(fn, "student_scores", student_scores, ndim=2, what="(N, C) scores")
    v.array(fn, "teacher_scores", teacher_scores, ndim=2, what="(N, C) scores")
    v.shape(fn, "teacher_scores", teacher_scores, tuple(student_scores.shape),
            "(the student's (N, C))")
    v.same_dtype(fn, student_scores=student_scores, teacher_scores=teacher_scores)
    if isinstance(T, bool) or not isinstance(T, (int, float)) or not 0 < T < float("inf"):
        raise ValueError(f"{fn}: T must be a positive finite number (the temperature); "
                         f"got {T!r}")
    xp = get_xp(student_scores, teacher_scores)
    dt = student_scores.dtype.type
    N = student_scores.shape[0]
    inv_T = dt(1.0 / T)
    zs, zt = student_scores * inv_T, teacher_scores * inv_T  # (N, C) softened scores
    log_q = zs - logsumexp(zs, axis=1, keepdims=True)  # (N, C) log-probs, never -inf
    log_p = zt - logsumexp(zt, axis=1, keepdims=True)
    p = xp.exp(log_p)  # p = 0 where it underflows: 0 * finite log adds nothing
    loss = (p * (log_p - log_q)).sum() * dt(T * T / N)
    dx = xp.exp(log_q)
    dx -= p  # q - p, on our own temporary
    dx *= dt(T / N)
    return loss, dx
