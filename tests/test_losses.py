"""softmax_loss and svm_loss: gradients, values by hand, stability, contract."""

import numpy as np
import pytest
from hypothesis import given

from gradcheck import check_loss
from gradcheck import strategies as S
from layers import softmax_loss, svm_loss
from tests.helpers import host, on


@given(S.softmax_loss_inputs())
def test_softmax_gradients(xp, case):
    (x, y), _ = on(xp, case)
    check_loss(softmax_loss, x, y)


@given(S.svm_loss_inputs())
def test_svm_gradients(xp, case):
    (x, y), _ = on(xp, case)
    check_loss(svm_loss, x, y)


def test_softmax_value_by_hand(xp):
    x = xp.asarray([[0.0, np.log(3.0)]])  # probabilities 1/4, 3/4
    loss, dx = softmax_loss(x, xp.asarray([0]))
    assert float(loss) == pytest.approx(np.log(4.0))
    np.testing.assert_allclose(host(dx), [[0.25 - 1, 0.75]])


def test_svm_value_by_hand(xp):
    x = xp.asarray([[1.0, 2.5, 0.0], [0.0, 0.0, 3.0]])
    y = xp.asarray([0, 2])
    loss, dx = svm_loss(x, y)
    # row 0: max(0, 2.5-1+1) + max(0, 0-1+1) = 2.5 ; row 1: max(0, -2) * 2 = 0
    assert float(loss) == pytest.approx(2.5 / 2)
    np.testing.assert_allclose(host(dx), [[-0.5, 0.5, 0.0], [0.0, 0.0, 0.0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_logits_stay_finite(xp, dtype):
    x = xp.asarray(np.array([[1e4, -1e4, 0.0], [5e3, 5e3, -1e4]], dtype))
    y = xp.asarray([1, 2])
    for fn in (softmax_loss, svm_loss):
        loss, dx = fn(x, y)
        assert np.isfinite(float(loss)) and np.isfinite(host(dx)).all()
        assert dx.dtype == dtype and np.asarray(host(loss)).dtype == dtype
    loss, _ = softmax_loss(x, y)
    assert float(loss) == pytest.approx((2e4 + (5e3 + np.log(2) + 1e4)) / 2, rel=1e-5)


def test_inputs_are_not_modified(xp):
    x = xp.asarray(np.random.default_rng(0).standard_normal((3, 4)))
    before = host(x).copy()
    softmax_loss(x, xp.asarray([0, 1, 2]))
    svm_loss(x, xp.asarray([0, 1, 2]))
    assert np.array_equal(host(x), before)


@pytest.mark.parametrize("fn", [softmax_loss, svm_loss])
def test_bad_labels_and_shapes(xp, fn):
    x = xp.zeros((3, 4))
    with pytest.raises(ValueError, match=r"y has value 4; values must be in \[0, C = 4\)"):
        fn(x, xp.asarray([0, 1, 4]))
    with pytest.raises(ValueError, match=r"y has value -1"):
        fn(x, xp.asarray([0, -1, 2]))
    with pytest.raises(ValueError, match=r"y must have shape \(3,\).*got \(2,\)"):
        fn(x, xp.asarray([0, 1]))
    with pytest.raises(TypeError, match="y must be an integer array"):
        fn(x, xp.asarray([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"x must be 2-D \(N, C\) scores; got shape \(3, 4, 1\)"):
        fn(xp.zeros((3, 4, 1)), xp.asarray([0, 1, 2]))


def test_softmax_split_over_threads_matches_the_formula(xp):
    # set_threads(2) splits the rows over two threads at any size (large batches do by
    # default); loss = mean(logsumexp(x) - x[y]), dx = (softmax(x) - onehot(y)) / N
    from scipy.special import logsumexp, softmax

    from layers import get_threads, set_threads
    rng = np.random.default_rng(5)
    x, y = 4 * rng.standard_normal((9, 7)), rng.integers(0, 7, 9)
    set_threads(2)
    try:
        if get_threads() < 2:
            pytest.skip("threadpoolctl is not installed: no split")
        loss, dx = softmax_loss(xp.asarray(x), xp.asarray(y))
    finally:
        set_threads(None)
    onehot = np.eye(7)[y]
    assert float(loss) == pytest.approx(np.mean(logsumexp(x, axis=1) - x[np.arange(9), y]),
                                        rel=1e-12)
    np.testing.assert_allclose(host(dx), (softmax(x, axis=1) - onehot) / 9, rtol=1e-10,
                               atol=1e-14)
