"""A student net trained on a teacher's softened scores as well as the labels (Hinton et
al. 2015, "Distilling the Knowledge in a Neural Network").

    student = DistilledNet([32], input_dim=64, num_classes=10, teacher=teacher, T=4.0)

It is a ``FullyConnectedNet`` (same params, same initial weights for the same seed), so
the student trained alone and the distilled one differ only in the loss:

    loss = alpha * softmax_loss(s, y) + (1 - alpha) * distillation_loss(s, t, T)

with s the student's scores and t = teacher.loss(X) the teacher's (test mode, a constant).
"""

from __future__ import annotations

from numbers import Real

import numpy as np

from layers import (affine_backward, affine_forward, affine_relu_backward,
                    affine_relu_forward, distillation_loss, softmax_loss)

from .fc import FullyConnectedNet

__all__ = ["DistilledNet"]


class DistilledNet(FullyConnectedNet):
    """{affine - relu} x (L - 1) - affine, trained on labels and a teacher's scores.

    Inputs (besides FullyConnectedNet's hidden_dims, input_dim, num_classes, reg,
    weight_scale, dtype, seed; no normalization or dropout: a small student needs neither):
    - teacher: any net with ``loss(X) -> (N, C) scores``; None trains on labels alone
    - T: distillation temperature (> 0)
    - alpha: weight of the hard-label loss in [0, 1]; 1 - alpha weighs the soft term
    """

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, teacher=None,
                 T=4.0, alpha=0.5, reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=None,
                 **fc_options):
        name = type(self).__name__
        if fc_options:
            raise TypeError(f"{name}: unexpected arguments {sorted(fc_options)} (a student "
                            "has no normalization or dropout)")
        if isinstance(alpha, bool) or not isinstance(alpha, Real) or not 0 <= alpha <= 1:
            raise ValueError(f"{name}: alpha must be a number in [0, 1]; got {alpha!r}")
        if teacher is not None and not callable(getattr(teacher, "loss", None)):
            raise TypeError(f"{name}: teacher must be a net with loss(X) -> scores; "
                            f"got {type(teacher).__name__}")
        super().__init__(hidden_dims, input_dim=input_dim, num_classes=num_classes, reg=reg,
                         weight_scale=weight_scale, dtype=dtype, seed=seed)
        self.teacher, self.T, self.alpha = teacher, T, float(alpha)

    def loss(self, X, y=None):
        """Scores for X, or the combined loss and its gradients.

        Inputs:
        - X: (N, d_1, ..., d_k) with d_1 * ... * d_k = input_dim
        - y: (N,) integer labels in [0, C), or None

        Returns:
        - y None: scores (N, C)
        - else (loss, grads): alpha * softmax loss + (1 - alpha) * distillation loss
          (the latter only with a teacher) + 0.5 * reg * sum(W ** 2); grads keyed like params
        """
        if y is None:
            return super().loss(X)
        p, L = self.params, self.num_layers
        h = self._input(X)
        caches = []
        for i in range(1, L):
            h, cache = affine_relu_forward(h, p[f"W{i}"], p[f"b{i}"])  # (N, H_i)
            caches.append(cache)
        scores, last_cache = affine_forward(h, p[f"W{L}"], p[f"b{L}"])  # (N, C)

        loss, dscores = softmax_loss(scores, y)
        if self.teacher is not None:
            dt = scores.dtype.type
            # the teacher computes in its own dtype; its scores are a constant here
            teacher_scores = self.teacher.loss(X).astype(scores.dtype, copy=False)
            soft, dsoft = distillation_loss(scores, teacher_scores, self.T)
            loss = dt(self.alpha) * loss + dt(1 - self.alpha) * soft
            dscores = dt(self.alpha) * dscores + dt(1 - self.alpha) * dsoft

        grads = {}
        dh, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dscores, last_cache)
        for i in range(L - 1, 0, -1):
            dh, grads[f"W{i}"], grads[f"b{i}"] = affine_relu_backward(dh, caches[i - 1])
        return self.regularize(loss, grads), grads
