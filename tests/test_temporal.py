"""Word embedding, temporal affine and temporal softmax loss."""

import math

import numpy as np
import pytest
from hypothesis import given

from gradcheck import check_layer, check_loss
from gradcheck import strategies as S
from layers import (temporal_affine_backward, temporal_affine_forward, temporal_softmax_loss,
                    word_embedding_backward, word_embedding_forward)
from tests.helpers import host, on


@given(S.word_embedding_inputs())
def test_word_embedding_gradients(xp, case):
    inputs, dout = on(xp, case)
    check_layer(word_embedding_forward, word_embedding_backward, *inputs, dout=dout)


@given(S.temporal_affine_inputs())
def test_temporal_affine_gradients(xp, case):
    inputs, dout = on(xp, case)
    check_layer(temporal_affine_forward, temporal_affine_backward, *inputs, dout=dout)


@given(S.temporal_softmax_loss_inputs())
def test_temporal_softmax_loss_gradients(xp, case):
    (x, y, mask), _ = on(xp, case)
    check_loss(temporal_softmax_loss, x, y, mask)  # the bool mask passes through


# --- values ---------------------------------------------------------------------------


def test_embedding_repeated_indices_accumulate(xp):
    W = xp.asarray(np.arange(8.0).reshape(4, 2))
    x = xp.asarray(np.array([[1, 1, 3], [1, 0, 3]]))
    out, cache = word_embedding_forward(x, W)
    np.testing.assert_array_equal(host(out)[0], [[2, 3], [2, 3], [6, 7]])
    dout = xp.asarray(np.arange(12.0).reshape(2, 3, 2))
    dW = host(word_embedding_backward(dout, cache))
    # token 1 at (0,0), (0,1), (1,0): rows [0,1] + [2,3] + [6,7]; token 2 never occurs
    np.testing.assert_array_equal(dW, [[8, 9], [8, 11], [0, 0], [14, 16]])


def test_temporal_affine_is_affine_at_every_step(xp):
    rng = np.random.default_rng(0)
    x, w, b = (xp.asarray(rng.standard_normal(s)) for s in [(2, 3, 4), (4, 5), (5,)])
    out, _ = temporal_affine_forward(x, w, b)
    for t in range(3):
        np.testing.assert_allclose(host(out)[:, t], host(x)[:, t] @ host(w) + host(b),
                                   rtol=1e-13)


def test_temporal_softmax_loss_values(xp):
    """Equal scores: each counted step costs log V. Summed over time, divided by N."""
    N, T, V = 2, 3, 5
    x = xp.zeros((N, T, V))
    y = xp.asarray(np.zeros((N, T), dtype=np.int64))
    mask = xp.asarray(np.array([[True, True, False], [True, False, False]]))
    loss, dx = temporal_softmax_loss(x, y, mask)
    assert float(loss) == pytest.approx(3 * math.log(V) / N, rel=1e-14)
    dxh = host(dx)
    np.testing.assert_allclose(dxh[0, 0], (np.full(V, 1 / V) - np.eye(V)[0]) / N)
    assert not dxh[0, 2].any() and not dxh[1, 1:].any()  # masked steps get no gradient
    loss0, dx0 = temporal_softmax_loss(x, y, xp.zeros((N, T), dtype=bool))
    assert float(loss0) == 0.0 and not host(dx0).any()


@pytest.mark.parametrize("N,T,p,expected", [(100, 1, 1.0, 2.3), (100, 10, 1.0, 23.0),
                                            (5000, 10, 0.1, 2.3)])
def test_temporal_softmax_loss_cs231n_sanity(xp, N, T, p, expected):
    """The CS231n notebook's check: small random scores over V = 10 give about log 10 per
    counted step."""
    rng = np.random.default_rng(0)
    x = xp.asarray(0.001 * rng.standard_normal((N, T, 10)))
    y = xp.asarray(rng.integers(0, 10, (N, T)))
    mask = xp.asarray(rng.random((N, T)) <= p)
    loss, _ = temporal_softmax_loss(x, y, mask)
    assert float(loss) == pytest.approx(expected, rel=0.02)


def test_temporal_softmax_loss_is_stable(xp):
    x = xp.asarray(np.array([[[1e4, 0.0, -1e4]]], dtype=np.float32))
    loss, dx = temporal_softmax_loss(x, xp.asarray(np.array([[1]])),
                                     xp.asarray(np.array([[True]])))
    assert float(loss) == pytest.approx(1e4) and np.isfinite(host(dx)).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(xp, dtype):
    rng = np.random.default_rng(1)
    W = xp.asarray(rng.standard_normal((6, 3)).astype(dtype))
    ids = xp.asarray(rng.integers(0, 6, (2, 4)))
    e, ec = word_embedding_forward(ids, W)
    assert e.dtype == dtype and word_embedding_backward(e, ec).dtype == dtype
    w, b = W[:3, :], W[0]
    out, cache = temporal_affine_forward(e, w, b)
    assert out.dtype == dtype and all(g.dtype == dtype for g in
                                      temporal_affine_backward(out, cache))
    loss, dx = temporal_softmax_loss(out, ids % 3, xp.ones((2, 4), dtype=bool))
    assert loss.dtype == dtype and dx.dtype == dtype


# --- bad input ------------------------------------------------------------------------


def test_index_out_of_vocabulary_is_refused(xp):
    W = xp.ones((5, 2))
    with pytest.raises(ValueError, match=r"word_embedding_forward: x has value 5; values "
                                         r"must be in \[0, V = 5\)"):
        word_embedding_forward(xp.asarray(np.array([[0, 5]])), W)
    with pytest.raises(ValueError, match=r"x has value -1"):
        word_embedding_forward(xp.asarray(np.array([[-1, 2]])), W)
    with pytest.raises(TypeError, match="x must be an integer array"):
        word_embedding_forward(xp.asarray(np.array([[0.0, 1.0]])), W)
    with pytest.raises(ValueError, match=r"x must have shape \(\*, \*\) \(N, T\)"):
        word_embedding_forward(xp.asarray(np.array([0, 1])), W)
    with pytest.raises(ValueError, match=r"temporal_softmax_loss: y has value 3; values "
                                         r"must be in \[0, V = 3\)"):
        temporal_softmax_loss(xp.zeros((1, 2, 3)), xp.asarray(np.array([[0, 3]])),
                              xp.ones((1, 2), dtype=bool))


def test_bad_shapes_name_the_argument(xp):
    x, y = xp.zeros((2, 3, 4)), xp.asarray(np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(ValueError, match=r"mask must have shape \(2, 3\) \(N, T\), like y; "
                                         r"got \(3, 2\)"):
        temporal_softmax_loss(x, y, xp.ones((3, 2), dtype=bool))
    with pytest.raises(ValueError, match=r"mask must have shape \(2, 3\).*got \(2, 3, 1\)"):
        temporal_softmax_loss(x, y, xp.ones((2, 3, 1), dtype=bool))
    with pytest.raises(ValueError, match=r"y must have shape \(2, 3\)"):
        temporal_softmax_loss(x, y[:, :2], xp.ones((2, 3), dtype=bool))
    with pytest.raises(ValueError, match=r"x must be 3-D \(N, T, V\) scores"):
        temporal_softmax_loss(x[0], y, xp.ones((2, 3), dtype=bool))
    with pytest.raises(ValueError, match=r"w must have shape \(4, \*\).*got \(3, 5\)"):
        temporal_affine_forward(x, xp.ones((3, 5)), xp.ones(5))
    _, cache = word_embedding_forward(y, xp.ones((1, 4)))
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 3, 4\)"):
        word_embedding_backward(xp.ones((2, 3, 5)), cache)
