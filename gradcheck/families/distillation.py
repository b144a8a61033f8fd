"""Distillation loss (``loss, dx = distillation_loss(student, teacher, T)``): strategy and
registry entry. The teacher's scores are a float input that gets no gradient:
``check_loss`` holds them constant."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import layers as L

from ._base import LayerCase, LayerSpec, dims, generic_arrays, normal, register

__all__ = ["distillation_loss_inputs"]


@st.composite
def distillation_loss_inputs(draw, dtype=np.float64):
    """Student and teacher scores (N, C) and a temperature T in {2, 4, 8} (distillation's
    range). The loss is smooth everywhere: no gap needed. The teacher's scores are spread
    wider (a confident teacher) than the student's, so the softened distributions differ.

    The softened scores span at most 8: past ~15 the softmax saturates, the loss (~1e-7)
    becomes a difference of O(10) terms, and its rounding is far above what the checker's
    error model assumes from the loss's own size. (T < 1 is covered by the PyTorch
    comparison in tests/test_distillation.py.)"""
    N, C = draw(dims(1, 6)), draw(dims(2, 6))
    s = draw(generic_arrays((N, C), low=0.0, high=3.0, dtype=dtype, salt=1))
    t = draw(generic_arrays((N, C), low=0.0, high=8.0, dtype=dtype, salt=2))
    T = draw(st.sampled_from([2.0, 4.0, 8.0]))
    return LayerCase((s, t, T))


def _make(rng, dtype):
    return LayerCase((normal(rng, (256, 40), dtype), 3 * normal(rng, (256, 40), dtype), 4.0))


register(LayerSpec("distillation_loss", L.distillation_loss, None,
                   lambda dt: distillation_loss_inputs(dtype=dt), _make, kind="loss",
                   layout="student_scores:N,C teacher_scores:N,C", empty_batch="error"))
