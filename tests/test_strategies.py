"""The strategies draw what they promise: valid inputs in general position."""

import numpy as np
from hypothesis import given

from gradcheck import strategies as S
from layers import affine_forward, relu_forward, softmax_loss, svm_loss


@given(S.generic_arrays((5, 7), low=0.1, high=1.0))
def test_generic_arrays_are_tie_free_and_away_from_zero(x):
    flat = np.sort(x.ravel())
    assert np.min(np.abs(x)) >= 0.05  # low * the smallest scale (0.5)
    assert np.min(np.diff(flat)) > 1e-4  # far wider than the checker's step (~1e-5)
    assert np.unique(x).size == x.size


@given(S.affine_inputs())
def test_affine_inputs_are_consistent(case):
    out, _ = affine_forward(*case.inputs)
    assert out.shape == case.dout.shape


@given(S.relu_inputs())
def test_relu_inputs_avoid_the_kink_and_are_never_all_dead(case):
    (x,) = case.inputs
    assert np.min(np.abs(x)) >= 0.05 and (x > 0).any()
    assert relu_forward(x)[0].shape == case.dout.shape


@given(S.softmax_loss_inputs())
def test_softmax_inputs_have_labels_in_range(case):
    x, y = case.inputs
    assert y.dtype.kind == "i" and 0 <= y.min() and y.max() < x.shape[1]
    softmax_loss(x, y)


@given(S.svm_loss_inputs())
def test_svm_inputs_keep_margins_off_the_hinge(case):
    x, y = case.inputs
    rows = np.arange(len(y))
    m = x - x[rows, y][:, None] + 1
    m[rows, y] = np.nan
    assert np.nanmin(np.abs(m)) > 1e-2 and np.nanmax(m) > 0
    svm_loss(x, y)
