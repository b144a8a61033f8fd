"""nets.Model owns L2, the dtype rule, backends and checkpoint state: a new net writes only
its params and its layers' forward/backward, and gets the rest."""

import numpy as np
import pytest

from gradcheck import GradcheckPrecisionWarning, check_net
from layers import affine_backward, affine_forward, relu_backward, relu_forward
from nets import Model
from optim import Solver


class TwoLayer(Model):
    """All a new net writes: its params and the composition of its layers."""

    def __init__(self, D=4, H=5, C=3, reg=0.0, dtype=np.float32, seed=0):
        super().__init__(dtype, reg)
        r = np.random.default_rng(seed)
        self.params = {"W1": r.standard_normal((D, H)).astype(dtype),
                       "b1": r.standard_normal(H).astype(dtype),
                       "W2": r.standard_normal((H, C)).astype(dtype),
                       "b2": r.standard_normal(C).astype(dtype)}

    def forward(self, X, train):
        p = self.params
        h, c1 = affine_forward(X, p["W1"], p["b1"])
        a, c2 = relu_forward(h)
        scores, c3 = affine_forward(a, p["W2"], p["b2"])
        return scores, (c1, c2, c3)

    def backward(self, dscores, cache):
        c1, c2, c3 = cache
        g = {}
        da, g["W2"], g["b2"] = affine_backward(dscores, c3)
        _, g["W1"], g["b1"] = affine_backward(relu_backward(da, c2), c1)
        return g


def _data(n=6, D=4, C=3, seed=1):
    r = np.random.default_rng(seed)
    return r.standard_normal((n, D)), r.integers(0, C, n)


def test_l2_covers_weight_matrices_only_and_reg_is_read_at_call_time():
    X, y = _data()
    net = TwoLayer(dtype=np.float64)
    loss0, g0 = net.loss(X, y)
    net.reg = 0.7  # after construction: takes effect
    loss1, g1 = net.loss(X, y)
    W1, W2 = net.params["W1"], net.params["W2"]
    assert loss1 == pytest.approx(loss0 + 0.35 * ((W1 ** 2).sum() + (W2 ** 2).sum()), rel=1e-12)
    np.testing.assert_allclose(g1["W1"], g0["W1"] + 0.7 * W1, rtol=1e-12)
    np.testing.assert_array_equal(g1["b1"], g0["b1"])  # biases: no L2
    check_net(net, X, y)


def test_is_weight_is_one_rule_for_every_name():
    net = TwoLayer()
    assert [k for k in ["W1", "b1", "W_embed", "blk2.Wq", "blk2.bq", "gamma1", "blk1.ln1_beta"]
            if net.is_weight(k)] == ["W1", "W_embed", "blk2.Wq"]


def test_dtype_follows_the_params_and_the_input_is_cast_once():
    X, y = _data()  # float64 data
    net = TwoLayer(dtype=np.float32)
    assert net.dtype is np.float32
    scores = net.loss(X)
    assert scores.dtype == np.float32
    loss, grads = net.loss(X, y)
    assert all(g.dtype == np.float32 for g in grads.values())
    with pytest.raises(AttributeError):
        net.dtype = np.float64  # nobody rewrites it: it is the params' dtype
    with pytest.warns(GradcheckPrecisionWarning):
        rep = check_net(net, X, y)  # float64 copies of the params make a float64 check
    assert rep.ok and net.dtype is np.float32


def test_a_new_net_trains_checkpoints_and_resumes_exactly(tmp_path):
    r = np.random.default_rng(2)
    X = r.standard_normal((60, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0)
    data = {"X_train": X[:40], "y_train": y[:40], "X_val": X[40:], "y_val": y[40:]}
    kw = dict(update_rule="adam", batch_size=10, seed=0, verbose=False)
    straight = TwoLayer(reg=0.01)
    Solver(straight, data, num_epochs=4, **kw).train()
    half = TwoLayer(reg=0.01)
    Solver(half, data, num_epochs=2, checkpoint_name=str(tmp_path / "t"), **kw).train()
    resumed = TwoLayer(reg=0.01)
    solver = Solver.resume(tmp_path / "t_epoch_2.npz", resumed, data, num_epochs=4)
    solver.train()
    for k in straight.params:
        np.testing.assert_array_equal(resumed.params[k], straight.params[k])


def test_a_net_with_neither_loss_nor_forward_says_so():
    with pytest.raises(NotImplementedError, match="neither loss nor forward"):
        Model().loss(np.zeros((1, 2)), np.zeros(1, np.int64))
