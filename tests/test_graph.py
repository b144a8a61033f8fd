"""Graph convolution: normalize_adjacency by hand, graph_conv gradients (property-based)
and against PyTorch's autograd, the GCN net (check_net, masked loss, karate club)."""

import numpy as np
import pytest
from hypothesis import given

from gradcheck import check_layer, check_net
from gradcheck import strategies as S
from layers import (graph_conv_backward, graph_conv_forward, normalize_adjacency,
                    softmax_loss)
from nets import GCN
from tests.helpers import host, on

PATH3 = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], np.float64)  # 0 - 1 - 2


def test_normalize_adjacency_by_hand(xp):
    # A + I of the path 0-1-2 has degrees 2, 3, 2; entry (i, j) is 1 / sqrt(d_i d_j)
    got = host(normalize_adjacency(xp.asarray(PATH3)))
    s6 = 1 / np.sqrt(6)
    np.testing.assert_allclose(got, [[1 / 2, s6, 0], [s6, 1 / 3, s6], [0, s6, 1 / 2]])


def test_normalize_adjacency_properties(xp):
    rng = np.random.default_rng(0)
    a = np.triu((rng.random((12, 12)) < 0.3).astype(np.float32), 1)
    A = xp.asarray(a + a.T)
    before = host(A).copy()
    An = host(normalize_adjacency(A))
    assert An.dtype == np.float32 and np.array_equal(host(A), before)  # no write
    np.testing.assert_allclose(An, An.T)
    ev = np.linalg.eigvalsh(An.astype(np.float64))
    assert ev.max() == pytest.approx(1.0, abs=1e-5) and ev.min() > -1  # spectrum (-1, 1]
    # a 2-regular graph (a ring): every row of D^-1/2 (A+I) D^-1/2 sums to 1
    ring = np.roll(np.eye(5), 1, axis=1)
    np.testing.assert_allclose(host(normalize_adjacency(xp.asarray(ring + ring.T))).sum(1), 1)


def test_normalize_adjacency_isolated_node_without_self_loops(xp):
    A = np.zeros((3, 3))
    A[0, 1] = A[1, 0] = 1
    An = host(normalize_adjacency(xp.asarray(A), add_self_loops=False))
    assert np.isfinite(An).all() and not An[2].any() and An[0, 1] == pytest.approx(1.0)


def test_normalize_adjacency_errors(xp):
    with pytest.raises(ValueError, match=r"normalize_adjacency: adj must have shape"):
        normalize_adjacency(xp.zeros((3, 4)))
    with pytest.raises(ValueError, match="non-negative"):
        normalize_adjacency(xp.asarray(-PATH3))
    with pytest.raises(TypeError, match="adj must be a floating-point array"):
        normalize_adjacency(xp.asarray(PATH3.astype(int)))


@given(S.graph_conv_inputs())
def test_graph_conv_gradients(xp, case):
    inputs, dout = on(xp, case)
    check_layer(graph_conv_forward, graph_conv_backward, *inputs, dout=dout)


def test_graph_conv_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((5, 4)), rng.standard_normal((4, 3)), rng.standard_normal(3)
    adj = normalize_adjacency(PATH3.repeat(2, 0).repeat(2, 1)[:5, :5])
    dout = rng.standard_normal((5, 3))
    out, cache = graph_conv_forward(x, adj, w, b)
    grads = graph_conv_backward(dout, cache)
    t = [torch.tensor(a, requires_grad=True) for a in (x, adj, w, b)]
    ref = t[1] @ t[0] @ t[2] + t[3]
    ref.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, ref.detach().numpy(), rtol=1e-12)
    for g, tt in zip(grads, t):
        np.testing.assert_allclose(g, tt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_graph_conv_errors(xp):
    x, A = xp.zeros((4, 3)), xp.zeros((4, 4))
    w, b = xp.zeros((3, 2)), xp.zeros(2)
    with pytest.raises(ValueError, match=r"graph_conv_forward: adj_norm must have shape "
                                         r"\(4, 4\).*got \(5, 5\)"):
        graph_conv_forward(x, xp.zeros((5, 5)), w, b)
    with pytest.raises(ValueError, match=r"w must have shape \(3, \*\).*got \(2, 2\)"):
        graph_conv_forward(x, A, xp.zeros((2, 2)), b)
    with pytest.raises(ValueError, match=r"b must have shape \(2,\)"):
        graph_conv_forward(x, A, w, xp.zeros(3))
    with pytest.raises(TypeError, match="inputs must share one floating dtype"):
        graph_conv_forward(x.astype(xp.float32), A, w, b)
    _, cache = graph_conv_forward(x, A, w, b)
    with pytest.raises(ValueError, match=r"graph_conv_backward: dout must have shape \(4, 2\)"):
        graph_conv_backward(xp.zeros((4, 3)), cache)


# --- the GCN net ------------------------------------------------------------------------


def _ring_graph(n=7):
    ring = np.roll(np.eye(n), 1, axis=1)
    ring[0, 3] = ring[3, 0] = 1  # a chord, so nodes differ
    return normalize_adjacency(ring + ring.T)


def test_gcn_check_net():
    rng = np.random.default_rng(2)
    model = GCN(_ring_graph(), input_dim=3, hidden_dim=4, num_classes=3, reg=0.1, seed=2,
                dtype=np.float64)
    X = rng.standard_normal((7, 3))
    y = np.array([0, -1, 2, -1, 1, 1, -1])
    check_net(model, X, y)


def test_gcn_loss_covers_the_labelled_nodes_only():
    rng = np.random.default_rng(3)
    model = GCN(_ring_graph(), input_dim=3, hidden_dim=5, num_classes=2, seed=3,
                dtype=np.float64)
    X = rng.standard_normal((7, 3))
    y = np.array([1, -1, -1, 0, -1, -1, 1])
    scores = model.loss(X)
    loss, _ = model.loss(X, y)
    want, _ = softmax_loss(scores[[0, 3, 6]], y[[0, 3, 6]])
    assert float(loss) == pytest.approx(float(want), rel=1e-12)


def test_gcn_errors():
    model = GCN(_ring_graph(), input_dim=3, hidden_dim=4)
    X = np.zeros((7, 3), np.float32)
    with pytest.raises(ValueError, match=r"GCN.loss: X must be \(N, D\) features of the "
                                         r"N = 7 nodes"):
        model.loss(np.zeros((6, 3), np.float32))
    with pytest.raises(ValueError, match="labels no node"):
        model.loss(X, -np.ones(7, np.int64))
    with pytest.raises(ValueError, match=r"y must be \(N,\) = \(7,\) integer labels"):
        model.loss(X, np.zeros(6, np.int64))
    with pytest.raises(ValueError, match="adj_norm must be a square"):
        GCN(np.zeros((3, 4)), input_dim=3)
