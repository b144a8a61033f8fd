"""TwoLayerNet and FullyConnectedNet: gradient checks of the whole net, the model
contract (params by reference, reg at call time, seeds, dtypes, test mode), and a real
training run on scikit-learn's digits."""

import numpy as np
import pytest
from scipy.special import logsumexp

from gradcheck import NondeterminismError, check_net
from layers import dropout_forward
from layers.backend import get_xp, to_numpy
from nets import FullyConnectedNet, Model, TwoLayerNet
from tests.helpers import host

NORMS = [None, "batchnorm", "layernorm"]


def _tiny_data(xp, N=3, D=5, C=3, seed=0):
    rng = np.random.default_rng(seed)
    X = xp.asarray(rng.standard_normal((N, D)))
    y = xp.asarray(rng.permutation(C)[:N] if N <= C else rng.integers(0, C, N))
    return X, y


def _tiny_net(xp, normalization=None, keep=1.0, reg=0.0, seed=1, **kw):
    # weight_scale 0.5: activations of order one, so every param has a visible gradient
    return FullyConnectedNet([4, 3], input_dim=5, num_classes=3, dropout_keep_ratio=keep,
                             normalization=normalization, reg=reg, weight_scale=0.5,
                             seed=seed, **kw)


def _lively_masks(net, N):
    """Give a dropout net the first seed (from its own on) whose masks keep at least one
    unit in every row of every hidden layer for a batch of N: a row with every unit
    dropped has no gradient (a vacuous check) or, under layernorm, a zero variance (a
    numerical gradient off the scale). Which seeds do depends on the backend's
    generator (a device draws its masks itself), so it is found, not hard-coded."""
    xp = get_xp(net.params["W1"])
    seed = net.dropout_param["seed"]
    while not all((host(dropout_forward(xp.ones((N, w.shape[1])), net._dropout_param(i,
                   "train"))[0]) != 0).sum(axis=1).min() >= 1
                  for i, w in ((i, net.params[f"W{i}"]) for i in range(1, net.num_layers))):
        seed += 1
        net.dropout_param["seed"] = seed
    return net


@pytest.mark.filterwarnings("ignore::gradcheck.GradcheckPrecisionWarning")
@pytest.mark.parametrize("reg", [0.0, 0.7])
@pytest.mark.parametrize("keep", [1.0, 0.5])
@pytest.mark.parametrize("normalization", NORMS)
def test_fully_connected_net_gradients(xp, normalization, keep, reg):
    X, y = _tiny_data(xp)
    net = _tiny_net(xp, normalization, keep, reg)
    if keep < 1:
        _lively_masks(net, len(X))
    report = check_net(net, X, y)
    assert set(report.inputs) == set(net.params)
    assert net.params["W1"].dtype == np.float32  # check_net restored the float32 params


@pytest.mark.filterwarnings("ignore::gradcheck.GradcheckPrecisionWarning")
@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_two_layer_net_gradients(xp, reg):
    X, y = _tiny_data(xp, N=4, D=6, C=3)
    net = TwoLayerNet(input_dim=6, hidden_dim=5, num_classes=3, weight_scale=0.5, reg=reg,
                      seed=0)
    check_net(net, X, y)


@pytest.mark.filterwarnings("ignore::gradcheck.GradcheckPrecisionWarning")
def test_deeper_net_gradients_in_float64(xp):
    X, y = _tiny_data(xp, N=6, D=4, C=5, seed=2)
    net = FullyConnectedNet([5, 4, 6, 3], input_dim=4, num_classes=5, weight_scale=0.7,
                            normalization="batchnorm", dropout_keep_ratio=0.8, reg=0.1,
                            dtype=np.float64, seed=3)
    check_net(net, X, y)


@pytest.mark.filterwarnings("ignore::gradcheck.GradcheckPrecisionWarning")
def test_unseeded_dropout_net_cannot_be_checked(xp):
    """Fresh masks at every call: the checker sees two losses for one input. (Big
    enough that two masks cannot give the same loss by chance, as a tiny net can when
    both calls drop every live unit.)"""
    X, y = _tiny_data(xp, N=10, D=5, C=3)
    net = FullyConnectedNet([20, 20], input_dim=5, num_classes=3, dropout_keep_ratio=0.5,
                            weight_scale=0.5)
    with pytest.raises(NondeterminismError):
        check_net(net, X, y)


def _reference_two_layer(X, p, y, reg):
    """An independent numpy forward of affine-relu-affine-softmax, in float64."""
    X, p = np.asarray(X, np.float64), {k: np.asarray(v, np.float64) for k, v in p.items()}
    scores = np.maximum(X.reshape(len(X), -1) @ p["W1"] + p["b1"], 0) @ p["W2"] + p["b2"]
    loss = np.mean(logsumexp(scores, axis=1) - scores[np.arange(len(y)), y])
    return scores, loss + 0.5 * reg * ((p["W1"] ** 2).sum() + (p["W2"] ** 2).sum())


def test_two_layer_net_as_in_the_cs231n_notebook(xp):
    """The notebook's scenario: float64 params assigned after construction, float64 X."""
    N, D, H, C = 3, 5, 50, 7
    net = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, weight_scale=1e-3, seed=0)
    W1 = host(net.params["W1"])
    assert abs(W1.std() - 1e-3) < 1e-4 and np.all(host(net.params["b1"]) == 0)
    net.params["W1"] = xp.asarray(np.linspace(-0.7, 0.3, num=D * H).reshape(D, H))
    net.params["b1"] = xp.asarray(np.linspace(-0.1, 0.9, num=H))
    net.params["W2"] = xp.asarray(np.linspace(-0.3, 0.4, num=H * C).reshape(H, C))
    net.params["b2"] = xp.asarray(np.linspace(-0.9, 0.1, num=C))
    X = xp.asarray(np.linspace(-5.5, 4.5, num=N * D).reshape(D, N).T)
    y = xp.asarray([0, 5, 1])
    p = to_numpy(net.params)
    scores = net.loss(X)
    ref_scores, ref_loss = _reference_two_layer(host(X), p, host(y), 0.0)
    np.testing.assert_allclose(host(scores), ref_scores, rtol=1e-12)
    np.testing.assert_allclose(float(net.loss(X, y)[0]), ref_loss, rtol=1e-12)
    net.reg = 1.0  # read at call time
    np.testing.assert_allclose(float(net.loss(X, y)[0]),
                               _reference_two_layer(host(X), p, host(y), 1.0)[1], rtol=1e-12)


@pytest.mark.parametrize("normalization", NORMS)
def test_reg_is_read_at_call_time_and_covers_weights_only(xp, normalization):
    X, y = _tiny_data(xp, N=5)
    net = _tiny_net(xp, normalization, keep=0.6)
    loss0, grads0 = net.loss(X, y)
    net.reg = 0.3
    loss1, grads1 = net.loss(X, y)
    weights = {k: host(v).astype(np.float64) for k, v in net.params.items() if k[0] == "W"}
    np.testing.assert_allclose(float(loss1) - float(loss0),
                               0.15 * sum((w ** 2).sum() for w in weights.values()),
                               rtol=1e-4)
    for k in net.params:
        extra = 0.3 * weights[k] if k in weights else 0.0
        np.testing.assert_allclose(host(grads1[k]), host(grads0[k]) + extra, rtol=1e-5,
                                   atol=1e-6)


@pytest.mark.parametrize("normalization", NORMS)
def test_params_are_read_by_reference_never_replaced_or_written(xp, normalization):
    X, y = _tiny_data(xp, N=4)
    net = _tiny_net(xp, normalization, keep=0.5, reg=0.5)
    params = net.params
    arrays = dict(params)
    saved = {k: host(v).copy() for k, v in params.items()}
    net.loss(X, y)
    net.loss(X)
    assert net.params is params
    assert all(params[k] is arrays[k] for k in arrays)
    assert all(np.array_equal(host(params[k]), saved[k]) for k in saved)
    # a change made in place is seen by the next call
    s0 = host(net.loss(X)).copy()
    params["b3"][...] += 1.0
    np.testing.assert_allclose(host(net.loss(X)), s0 + 1.0, rtol=1e-6)


def test_param_keys_and_shapes(xp):
    net = FullyConnectedNet([7, 6], input_dim=5, num_classes=4, normalization="layernorm")
    shapes = {k: tuple(v.shape) for k, v in net.params.items()}
    assert shapes == {"W1": (5, 7), "b1": (7,), "gamma1": (7,), "beta1": (7,),
                      "W2": (7, 6), "b2": (6,), "gamma2": (6,), "beta2": (6,),
                      "W3": (6, 4), "b3": (4,)}
    plain = FullyConnectedNet([3], input_dim=2, num_classes=2)
    assert sorted(plain.params) == ["W1", "W2", "b1", "b2"]
    assert isinstance(plain, Model) and isinstance(TwoLayerNet(), Model)


def test_same_seed_same_weights_and_masks(xp):
    X, y = _tiny_data(xp, N=6)
    a, b = _tiny_net(xp, keep=0.5, seed=7), _tiny_net(xp, keep=0.5, seed=7)
    c = _tiny_net(xp, keep=0.5, seed=8)
    for k in a.params:
        np.testing.assert_array_equal(host(a.params[k]), host(b.params[k]))
    assert not np.array_equal(host(a.params["W1"]), host(c.params["W1"]))
    la, lb = float(a.loss(X, y)[0]), float(b.loss(X, y)[0])
    assert la == lb == float(a.loss(X, y)[0])  # the same masks at every call
    t1, t2 = TwoLayerNet(seed=3), TwoLayerNet(seed=3)
    np.testing.assert_array_equal(host(t1.params["W2"]), host(t2.params["W2"]))


def test_each_dropout_layer_gets_its_own_mask(xp):
    net = FullyConnectedNet([30, 30], input_dim=4, num_classes=2, dropout_keep_ratio=0.5,
                            seed=0)
    m1, m2 = (net._dropout_param(i, "train") for i in (1, 2))
    assert m1["seed"] != m2["seed"]
    from layers import dropout_forward
    ones = xp.ones((10, 30))
    d1, d2 = (host(dropout_forward(ones, m)[0]) for m in (m1, m2))
    assert not np.array_equal(d1 != 0, d2 != 0)


def test_generator_seed_gives_fresh_reproducible_masks(xp):
    X, y = _tiny_data(xp, N=6)
    losses = []
    for _ in range(2):
        # 16 units a layer: two masks that differ all but surely give two losses
        net = FullyConnectedNet([16, 16], input_dim=5, num_classes=3, dropout_keep_ratio=0.5,
                                weight_scale=0.5, seed=7)
        net.dropout_param["seed"] = np.random.default_rng(11)
        losses.append([float(net.loss(X, y)[0]) for _ in range(3)])
    assert losses[0] == losses[1]  # reproducible
    assert len(set(losses[0])) == 3  # but a new mask at every call


@pytest.mark.parametrize("normalization", NORMS)
def test_scores_are_test_mode(xp, normalization):
    """No labels: no dropout, and batchnorm uses running statistics, so each example's
    scores do not depend on the rest of the batch and repeat exactly."""
    X, y = _tiny_data(xp, N=6, seed=4)
    net = _tiny_net(xp, normalization, keep=0.5, seed=None)
    for _ in range(3):
        net.loss(X, y)  # train steps move the running statistics away from 0 / 1
    s = host(net.loss(X))
    np.testing.assert_array_equal(s, host(net.loss(X)))
    for i in range(len(s)):
        np.testing.assert_allclose(host(net.loss(X[i:i + 1]))[0], s[i], rtol=1e-5, atol=1e-6)
    if normalization == "batchnorm":
        assert all(bp["mode"] == "test" for bp in net.bn_params)
        assert not np.allclose(host(net.bn_params[0]["running_mean"]), 0)


def test_batchnorm_net_test_mode_by_hand(xp):
    net = FullyConnectedNet([4], input_dim=3, num_classes=2, normalization="batchnorm",
                            dtype=np.float64, weight_scale=0.5, seed=0)
    rm, rv = xp.asarray([0.1, -0.2, 0.3, 0.0]), xp.asarray([1.5, 0.5, 2.0, 1.0])
    net.bn_params[0].update(running_mean=rm, running_var=rv)
    X = xp.asarray(np.random.default_rng(1).standard_normal((5, 3)))
    p = {k: host(v) for k, v in net.params.items()}
    a = host(X) @ p["W1"] + p["b1"]
    h = np.maximum(p["gamma1"] * (a - host(rm)) / np.sqrt(host(rv) + 1e-5) + p["beta1"], 0)
    np.testing.assert_allclose(host(net.loss(X)), h @ p["W2"] + p["b2"], rtol=1e-12)


@pytest.mark.parametrize("normalization", NORMS)
def test_float32_net_stays_float32(xp, normalization):
    X, y = _tiny_data(xp, N=4)  # float64 data: cast to the params' dtype
    net = _lively_masks(_tiny_net(xp, normalization, keep=0.5, reg=0.1), len(X))
    loss, grads = net.loss(X, y)
    assert loss.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())
    assert net.loss(X).dtype == np.float32
    with pytest.warns(Warning):
        check_net(net, X, y)  # float64 copies for the check...
    assert net.dtype is np.float32 and net.loss(X).dtype == np.float32  # ...then restored
    if normalization == "batchnorm":
        net.loss(X, y)
        assert net.bn_params[0]["running_mean"].dtype == np.float32
    net64 = _tiny_net(xp, normalization, dtype=np.float64)
    assert net64.params["W1"].dtype == np.float64 and net64.loss(X).dtype == np.float64


def test_to_moves_params_and_state_in_place(xp):
    net = _tiny_net(xp, "batchnorm")
    X, y = _tiny_data(xp)
    net.loss(X, y)
    params = net.params
    assert net.to("numpy") is net and net.params is params
    assert all(isinstance(v, np.ndarray) for v in params.values())
    assert isinstance(net.bn_params[0]["running_mean"], np.ndarray)


@pytest.mark.gpu
def test_to_cupy_and_back():
    import cupy
    net = _tiny_net(np, "batchnorm", keep=0.5)
    X, y = _tiny_data(np)
    net.loss(X, y)
    s_host = net.loss(X)
    net.to("cupy")
    assert all(isinstance(v, cupy.ndarray) for v in net.params.values())
    assert isinstance(net.bn_params[0]["running_mean"], cupy.ndarray)
    s_dev = net.loss(cupy.asarray(X))
    np.testing.assert_allclose(cupy.asnumpy(s_dev), s_host, rtol=1e-5, atol=1e-6)
    loss_dev = float(net.loss(cupy.asarray(X), cupy.asarray(y))[0])
    net.to("numpy")
    np.testing.assert_allclose(float(net.loss(X, y)[0]), loss_dev, rtol=1e-5)


@pytest.mark.parametrize("kwargs, match", [
    ({"dropout_keep_ratio": 0}, r"dropout_keep_ratio .* \(0, 1\]; got 0"),
    ({"dropout_keep_ratio": 1.5}, r"dropout_keep_ratio .* \(0, 1\]; got 1.5"),
    ({"normalization": "groupnorm"}, r"normalization must be one of .*'groupnorm'"),
    ({"hidden_dims": [4, 0]}, r"hidden_dims\[1\] must be a positive integer; got 0"),
    ({"input_dim": 0}, r"input_dim must be a positive integer"),
])
def test_bad_constructor_arguments(kwargs, match):
    args = {"hidden_dims": [4], "input_dim": 3, "num_classes": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        FullyConnectedNet(**args)


def test_bad_labels_and_inputs_are_named(xp):
    net = _tiny_net(xp)
    X, _ = _tiny_data(xp)
    with pytest.raises(ValueError, match=r"y has value 3; values must be in \[0, C = 3\)"):
        net.loss(X, xp.asarray([0, 1, 3]))
    with pytest.raises(ValueError, match=r"w must have shape \(D, M\) with D = 4"):
        net.loss(X[:, :4], xp.asarray([0, 1, 2]))
    with pytest.raises(TypeError, match=r"FullyConnectedNet.loss: X must be a numpy or cupy"):
        net.loss(host(X).tolist())


# --- training on real data -------------------------------------------------------------


def _digits(seed):
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)  # 1797 8x8 images, pixel values 0..16
    X = (X / 16.0).astype(np.float32)
    perm = np.random.default_rng(seed).permutation(len(X))
    val, train = perm[:360], perm[360:]
    return X[train], y[train], X[val], y[val]


def _train_adam(net, X, y, rng, epochs=40, batch=64, lr=2e-3, decay=0.93):
    """A plain minibatch Adam loop (beta1 0.9, beta2 0.999), lr decayed every epoch."""
    m = {k: np.zeros_like(v) for k, v in net.params.items()}
    v = {k: np.zeros_like(p) for k, p in net.params.items()}
    t = 0
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for s in range(0, len(X), batch):
            idx = order[s:s + batch]
            _, grads = net.loss(X[idx], y[idx])
            t += 1
            for k, p in net.params.items():
                g = grads[k]
                m[k] = 0.9 * m[k] + 0.1 * g
                v[k] = 0.999 * v[k] + 0.001 * g * g
                step = (m[k] / (1 - 0.9 ** t)) / (np.sqrt(v[k] / (1 - 0.999 ** t)) + 1e-8)
                p -= lr * step  # in place: the net reads params by reference
        lr *= decay


@pytest.mark.parametrize("normalization, keep", [(None, 0.7), ("batchnorm", 0.6),
                                                 ("layernorm", 0.6)])
def test_trains_on_digits_to_97_percent(normalization, keep):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    Xt, yt, Xv, yv = _digits(seed=0)
    net = FullyConnectedNet([256, 256], input_dim=64, num_classes=10,
                            dropout_keep_ratio=keep, normalization=normalization,
                            weight_scale=np.sqrt(2 / 64), seed=0)
    net.dropout_param["seed"] = np.random.default_rng(1)  # fresh masks, reproducibly
    # one BLAS thread: these GEMMs are small, and a second thread only spins on a
    # shared machine
    with threadpoolctl.threadpool_limits(1, "blas"):
        before = np.mean(net.loss(Xv).argmax(axis=1) == yv)
        _train_adam(net, Xt, yt, np.random.default_rng(2))
        acc = np.mean(net.loss(Xv).argmax(axis=1) == yv)
    assert before < 0.3
    assert acc >= 0.97, f"validation accuracy {acc:.4f}"


def test_cs231n_dropout_keyword_is_the_keep_ratio(xp):
    # CS231n 2018-2020: FullyConnectedNet(..., dropout=keep probability); on unless 1
    X, y = _tiny_data(xp, N=6)
    for keep in (0.5, 1):
        a = FullyConnectedNet([4, 3], input_dim=5, num_classes=3, dropout=keep, seed=4)
        b = FullyConnectedNet([4, 3], input_dim=5, num_classes=3, dropout_keep_ratio=keep,
                              seed=4)
        assert a.use_dropout == b.use_dropout == (keep != 1)
        assert a.dropout_param == b.dropout_param
        assert float(a.loss(X, y)[0]) == float(b.loss(X, y)[0])
    with pytest.raises(ValueError, match="dropout is another name for dropout_keep_ratio"):
        FullyConnectedNet([4], input_dim=5, dropout=0.5, dropout_keep_ratio=0.8)
    with pytest.raises(ValueError, match="FullyConnectedNet: dropout is a keep probability"):
        FullyConnectedNet([4], input_dim=5, dropout=0)


def test_unseeded_nets_draw_from_numpys_global_state_in_cs231n_order():
    # CS231n: np.random.seed(231) then W1 = weight_scale * np.random.randn(D, H), W2, ...
    np.random.seed(231)
    net = TwoLayerNet(input_dim=4, hidden_dim=3, num_classes=2, weight_scale=0.1)
    np.random.seed(231)
    W1, W2 = 0.1 * np.random.randn(4, 3), 0.1 * np.random.randn(3, 2)
    assert net.params["W1"].dtype == np.float64  # TwoLayerNet computes in float64
    np.testing.assert_array_equal(host(net.params["W1"]), W1)
    np.testing.assert_array_equal(host(net.params["W2"]), W2)
    np.random.seed(231)
    fc = FullyConnectedNet([3], input_dim=4, num_classes=2, weight_scale=0.1)
    np.testing.assert_array_equal(host(fc.params["W2"]), W2.astype(np.float32))
    seeded = FullyConnectedNet([3], input_dim=4, num_classes=2, weight_scale=0.1, seed=0)
    assert not np.array_equal(host(seeded.params["W1"]), W1.astype(np.float32))
