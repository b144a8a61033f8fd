"""Classification losses. Each returns the loss and its gradient on the scores in one call."""

from __future__ import annotations

from . import validate as v
from ._threads import batch_parts, run_parts
from .backend import get_xp, logsumexp


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
    N, C = _check_scores_labels("softmax_loss", x, y)
    xp = get_xp(x, y)
    dx = xp.empty_like(x)  # also the work buffer: shifted scores, then exp, then dx

    # Memory-bound (exp costs about as much as one pass): per row, 5 passes over (N, C)
    # with no temporaries: max, subtract into dx, exp in place, row sums, one scaling.
    # Rows are independent, so large batches split over threads (layers._threads):
    # numpy releases the GIL in each of these passes. (Row sums as a BLAS matrix-vector
    # product were 0.4 ms faster on 4096 x 1000 but round differently, enough to push
    # the CS231n notebook's W2 gradient check of FullyConnectedNet, whose numerical
    # gradient sees the loss's last bits, over its bound.)
    def part(_, r):
        d, labels = dx[r], y[r]
        idx = xp.arange(d.shape[0])
        xp.subtract(x[r], x[r].max(axis=1, keepdims=True), out=d)  # <= 0: exp is stable
        correct = d[idx, labels]  # the shifted score of the right class (a copy)
        xp.exp(d, out=d)
        sums = d.sum(axis=1)  # (n,), >= 1
        d *= (1 / (N * sums))[:, None]  # softmax / N
        d[idx, labels] -= x.dtype.type(1 / N)
        return (xp.log(sums) - correct).sum()

    loss = sum(run_parts(part, batch_parts(N, x, work=x.size))) / x.dtype.type(N)
    return loss, dx


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
    """The validated (x, y): integer targets cast to x's dtype; a mean over no elements
    is refused."""
    v.array(fn, "x", x, min_ndim=1, what="(N, ...) predictions")
    v.nonempty(fn, "x", x, "the loss is a mean over its elements")
    y = v.float_param(fn, "y", y, x, what="(N, ...) targets, the shape of x")
    get_xp(x, y)
    v.same_dtype(fn, x=x, y=y)
    v.shape(fn, "y", y, tuple(x.shape), "(the shape of x)")
    return y


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
    y = _check_prediction_target("l1_loss", x, y)
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
    y = _check_prediction_target("l2_loss", x, y)
    diff = x - y  # the shape of x
    n = x.dtype.type(diff.size)
    loss = (diff * diff).sum() / n
    diff *= 2 / n  # our own temporary: it becomes dx
    return loss, diff


# --- distillation -------------------------------------------------------------------


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
    v.nonempty(fn, "student_scores", student_scores, "the loss is a mean over the batch")
    teacher_scores = v.float_param(fn, "teacher_scores", teacher_scores, student_scores,
                                   ndim=2, what="(N, C) scores")
    v.shape(fn, "teacher_scores", teacher_scores, tuple(student_scores.shape),
            "(the shape of student_scores, (N, C))")
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
