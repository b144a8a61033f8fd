"""Losses (``loss, dx = f(x, y)``), classification and regression: strategies and registry
entries."""

from __future__ import annotations


import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

import layers as L

from ._base import LayerCase, LayerSpec, dims, generic_arrays, normal, register

__all__ = ["softmax_loss_inputs", "svm_loss_inputs", "l1_loss_inputs", "l2_loss_inputs"]


@st.composite
def _scores_labels(draw, dtype, spread: float):
    N = draw(dims(1, 6))
    C = draw(dims(2, 6))
    x = draw(generic_arrays((N, C), low=0.0, high=spread, dtype=dtype, salt=1))
    y = np.asarray(draw(st.lists(st.integers(0, C - 1), min_size=N, max_size=N)),
                   dtype=np.int64)
    return x, y


@st.composite
def softmax_loss_inputs(draw, dtype=np.float64):
    """Scores (N, C) and labels (N,) in [0, C). The loss is smooth: no gap needed."""
    x, y = draw(_scores_labels(dtype, spread=3.0))
    return LayerCase((x, y))


@st.composite
def svm_loss_inputs(draw, dtype=np.float64):
    """Scores (N, C) and labels, with every margin x_j - x_y + 1 at least 1e-2 from the
    hinge (so a numerical step never crosses it); both active and inactive margins occur."""
    x, y = draw(_scores_labels(dtype, spread=2.0))
    margins = x - x[np.arange(len(y)), y][:, None] + 1
    margins[np.arange(len(y)), y] = 1.0
    assume(np.min(np.abs(margins)) > 1e-2)
    margins[np.arange(len(y)), y] = -1.0
    assume((margins > 0).any())  # at least one active hinge, else the gradient is all 0
    return LayerCase((x, y))


def _scores_make(rng, dtype):
    return LayerCase((normal(rng, (256, 40), dtype), rng.integers(0, 40, 256)))


register(LayerSpec("softmax_loss", L.softmax_loss, None,
                   lambda dt: softmax_loss_inputs(dtype=dt), _scores_make, kind="loss",
                   layout="x:N,C y:N", empty_batch="error"))
register(LayerSpec("svm_loss", L.svm_loss, None,
                   lambda dt: svm_loss_inputs(dtype=dt), _scores_make, kind="loss",
                   layout="x:N,C y:N", empty_batch="error"))


# --- regression losses (l1, l2: float targets, dx on the predictions only) ---------------


@st.composite
def _prediction_target(draw, dtype, gap: float):
    """x and y of one shape (rank 1..3); every |x - y| in [gap, 1 + gap] (|x - y| is l1's
    kink), the signs of x - y mixed."""
    shape = tuple(draw(st.lists(dims(1, 4), min_size=1, max_size=3)))
    x = draw(generic_arrays(shape, dtype=np.float64, salt=1))
    d = draw(generic_arrays(shape, low=gap, high=1.0 + gap, dtype=np.float64, salt=2))
    return x.astype(dtype), (x + d).astype(dtype)


@st.composite
def l1_loss_inputs(draw, dtype=np.float64):
    """Predictions x and targets y, every |x - y| >= 0.1: a step never crosses the kink."""
    return LayerCase(draw(_prediction_target(dtype, gap=0.1)))


@st.composite
def l2_loss_inputs(draw, dtype=np.float64):
    """Predictions x and targets y (the loss is smooth: no gap needed)."""
    return LayerCase(draw(_prediction_target(dtype, gap=0.0)))


def _regression_make(rng, dtype):
    return LayerCase((normal(rng, (256, 3, 40), dtype), normal(rng, (256, 3, 40), dtype)))


register(LayerSpec("l1_loss", L.l1_loss, None,
                   lambda dt: l1_loss_inputs(dtype=dt), _regression_make, kind="loss",
                   layout="x:N,* y:N,*", empty_batch="error"))
register(LayerSpec("l2_loss", L.l2_loss, None,
                   lambda dt: l2_loss_inputs(dtype=dt), _regression_make, kind="loss",
                   layout="x:N,* y:N,*", empty_batch="error"))
