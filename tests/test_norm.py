"""batchnorm (both backwards) and layernorm: gradient checks, statistics, running
averages, test mode, dtypes and bad input."""

import numpy as np
import pytest
from hypothesis import given

from gradcheck import check_layer
from gradcheck import strategies as S
from layers import (batchnorm_backward, batchnorm_backward_alt, batchnorm_forward,
                    layernorm_backward, layernorm_forward)
from tests.helpers import host, on


@given(S.batchnorm_inputs())
def test_batchnorm_gradients(xp, case):
    inputs, dout = on(xp, case)
    check_layer(batchnorm_forward, batchnorm_backward, *inputs, dout=dout)


@given(S.batchnorm_inputs())
def test_batchnorm_alt_gradients(xp, case):
    inputs, dout = on(xp, case)
    check_layer(batchnorm_forward, batchnorm_backward_alt, *inputs, dout=dout)


@given(S.layernorm_inputs())
def test_layernorm_gradients(xp, case):
    inputs, dout = on(xp, case)
    check_layer(layernorm_forward, layernorm_backward, *inputs, dout=dout)


def _data(xp, shape, dtype=np.float64, seed=0, loc=0.0, scale=1.0):
    rng = np.random.default_rng(seed)
    return xp.asarray((loc + scale * rng.standard_normal(shape)).astype(dtype))


@pytest.mark.parametrize("mode", ["train", "test"])
def test_both_batchnorm_backwards_agree(xp, mode):
    x = _data(xp, (64, 10), loc=3.0, scale=2.0)
    gamma, beta = _data(xp, (10,), seed=1), _data(xp, (10,), seed=2)
    param = {"mode": mode, "running_mean": _data(xp, (10,), seed=4),
             "running_var": xp.asarray(np.linspace(0.5, 2.0, 10))}
    _, cache = batchnorm_forward(x, gamma, beta, param)
    dout = _data(xp, (64, 10), seed=3)
    grads, grads_alt = batchnorm_backward(dout, cache), batchnorm_backward_alt(dout, cache)
    for g, g_alt in zip(grads, grads_alt, strict=True):
        np.testing.assert_allclose(host(g_alt), host(g), rtol=1e-10, atol=1e-12)


def test_batchnorm_train_output_has_mean_beta_and_std_gamma(xp):
    x = _data(xp, (200, 5), loc=-4.0, scale=3.0)
    gamma = xp.asarray([1.0, 2.0, 3.0, 0.5, -1.0])
    beta = xp.asarray([0.0, -1.0, 5.0, 2.0, 0.25])
    out, _ = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    out = host(out)
    np.testing.assert_allclose(out.mean(axis=0), host(beta), atol=1e-10)
    # biased std of gamma * xhat is |gamma| * sqrt(var / (var + eps))
    var = host(x).var(axis=0)
    np.testing.assert_allclose(out.std(axis=0), np.abs(host(gamma)) * np.sqrt(var / (var + 1e-5)),
                               rtol=1e-10)


def test_batchnorm_values_by_hand(xp):
    x = xp.asarray([[1.0, 10.0], [3.0, 10.0], [5.0, 10.0]])  # column 1 is constant
    gamma, beta = xp.asarray([2.0, 3.0]), xp.asarray([0.5, -0.5])
    param = {"mode": "train", "eps": 1e-2, "momentum": 0.75}
    out, cache = batchnorm_forward(x, gamma, beta, param)
    # column 0: mean 3, biased var 8/3, xhat = (-2, 0, 2) / sqrt(8/3 + 0.01)
    s = np.sqrt(8 / 3 + 1e-2)
    np.testing.assert_allclose(host(out)[:, 0], [0.5 - 4 / s, 0.5, 0.5 + 4 / s])
    np.testing.assert_allclose(host(out)[:, 1], [-0.5, -0.5, -0.5])  # constant: beta
    # running stats from zeros (as CS231n): 0.75 * old + 0.25 * batch
    np.testing.assert_allclose(host(param["running_mean"]), [0.75, 2.5])
    np.testing.assert_allclose(host(param["running_var"]), [2 / 3, 0.0])


@pytest.mark.parametrize("backward", [batchnorm_backward, batchnorm_backward_alt])
def test_zero_variance_feature_stays_finite(xp, backward):
    x = xp.asarray(np.c_[np.linspace(-1, 1, 6), np.full(6, 7.0)])  # column 1 constant
    gamma, beta = xp.asarray([1.5, 2.0]), xp.asarray([0.1, 0.2])
    out, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    dout = _data(xp, (6, 2), seed=5)
    dx, dgamma, dbeta = backward(dout, cache)
    for a in (out, dx, dgamma, dbeta):
        assert np.all(np.isfinite(host(a)))
    # the constant column maps to beta; xhat = (x - mean) / sqrt(eps) there, so dx is
    # gamma / sqrt(eps) times dout minus its mean (big, but finite), and dgamma is 0
    d = host(dout)[:, 1]
    np.testing.assert_allclose(host(out)[:, 1], 0.2)
    np.testing.assert_allclose(host(dx)[:, 1], 2.0 / np.sqrt(1e-5) * (d - d.mean()),
                               rtol=1e-10)
    np.testing.assert_allclose(host(dgamma)[1], 0.0, atol=1e-12)


def test_running_statistics_converge_and_test_mode_uses_them(xp):
    rng = np.random.default_rng(0)
    mu = np.array([5.0, -2.0, 0.0, 10.0])
    sigma = np.array([0.5, 2.0, 1.0, 3.0])
    data = mu + sigma * rng.standard_normal((20000, 4))  # the population
    gamma, beta = xp.ones(4), xp.zeros(4)
    param = {"mode": "train"}
    N = 200
    for _ in range(300):
        batch = data[rng.choice(len(data), size=N, replace=False)]
        batchnorm_forward(xp.asarray(batch), gamma, beta, param)
    rm, rv = host(param["running_mean"]), host(param["running_var"])
    # momentum 0.9 averages ~19 batches: the error of the mean is about
    # sigma / sqrt(19 N); the biased batch variance has expectation (N - 1) / N * var
    np.testing.assert_allclose(rm, data.mean(axis=0), atol=float(5 * sigma.max() / np.sqrt(19 * N)))
    np.testing.assert_allclose(rv, data.var(axis=0) * (N - 1) / N, rtol=0.05)

    x = xp.asarray(data[:7])
    param["mode"] = "test"
    before = (param["running_mean"], param["running_var"])
    out, _ = batchnorm_forward(x, xp.full(4, 2.0), xp.full(4, 1.0), param)
    expected = 2.0 * (data[:7] - rm) / np.sqrt(rv + 1e-5) + 1.0
    np.testing.assert_allclose(host(out), expected, rtol=1e-12)
    assert param["running_mean"] is before[0] and param["running_var"] is before[1]


def test_running_statistics_are_new_arrays(xp):
    x = _data(xp, (8, 3))
    rm, rv = xp.zeros(3), xp.ones(3)
    param = {"mode": "train", "running_mean": rm, "running_var": rv}
    batchnorm_forward(x, xp.ones(3), xp.zeros(3), param)
    assert param["running_mean"] is not rm and param["running_var"] is not rv
    np.testing.assert_array_equal(host(rm), 0.0)  # the old arrays are untouched
    np.testing.assert_array_equal(host(rv), 1.0)
    np.testing.assert_allclose(host(param["running_mean"]), 0.1 * host(x).mean(axis=0))


def test_layernorm_rows_are_normalised(xp):
    x = _data(xp, (6, 50), loc=2.0, scale=4.0)
    out, _ = layernorm_forward(x, xp.ones(50), xp.zeros(50), {})
    out = host(out)
    np.testing.assert_allclose(out.mean(axis=1), 0.0, atol=1e-12)
    var = host(x).var(axis=1)
    np.testing.assert_allclose(out.var(axis=1), var / (var + 1e-5), rtol=1e-10)
    # layernorm of x equals batchnorm of x's transpose (gamma = 1, beta = 0)
    bn, _ = batchnorm_forward(x.T.copy(), xp.ones(6), xp.zeros(6), {"mode": "train"})
    np.testing.assert_allclose(out, host(bn).T, rtol=1e-10, atol=1e-12)


def test_layernorm_ignores_mode_and_has_no_state(xp):
    x = _data(xp, (4, 5))
    param = {"mode": "test"}
    a, _ = layernorm_forward(x, xp.ones(5), xp.zeros(5), param)
    b, _ = layernorm_forward(x, xp.ones(5), xp.zeros(5), {"mode": "train"})
    np.testing.assert_array_equal(host(a), host(b))
    assert param == {"mode": "test"}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(xp, dtype):
    x = _data(xp, (8, 4), dtype)
    g, b = xp.ones(4, dtype=dtype), xp.zeros(4, dtype=dtype)
    param = {"mode": "train"}
    out, cache = batchnorm_forward(x, g, b, param)
    assert out.dtype == dtype
    assert param["running_mean"].dtype == dtype and param["running_var"].dtype == dtype
    for bw in (batchnorm_backward, batchnorm_backward_alt):
        assert all(a.dtype == dtype for a in bw(out, cache))
    param["mode"] = "test"
    assert batchnorm_forward(x, g, b, param)[0].dtype == dtype
    out, cache = layernorm_forward(x, g, b, {})
    assert out.dtype == dtype
    assert all(a.dtype == dtype for a in layernorm_backward(out, cache))


def test_float64_running_stats_do_not_leak_into_float32_outputs(xp):
    param = {"mode": "train"}
    batchnorm_forward(_data(xp, (5, 3)), xp.ones(3), xp.zeros(3), param)  # float64 stats
    x32 = _data(xp, (5, 3), np.float32)
    g32, b32 = xp.ones(3, dtype=np.float32), xp.zeros(3, dtype=np.float32)
    for mode in ("test", "train"):
        param["mode"] = mode
        assert batchnorm_forward(x32, g32, b32, param)[0].dtype == np.float32
    assert param["running_mean"].dtype == np.float32


def test_missing_mode_names_bn_param_and_the_key(xp):
    x = _data(xp, (4, 3))
    with pytest.raises(ValueError, match=r"batchnorm_forward: bn_param is missing key\(s\) "
                                         r"\['mode'\]"):
        batchnorm_forward(x, xp.ones(3), xp.zeros(3), {})
    with pytest.raises(ValueError, match=r"bn_param\['mode'\] must be one of"):
        batchnorm_forward(x, xp.ones(3), xp.zeros(3), {"mode": "eval"})


@pytest.mark.parametrize("forward, param", [(batchnorm_forward, {"mode": "train"}),
                                            (layernorm_forward, {})])
def test_wrong_gamma_or_beta_shape_is_named(xp, forward, param):
    x = _data(xp, (4, 3))
    name = forward.__name__
    with pytest.raises(ValueError, match=rf"{name}: gamma must have shape \(3,\).*got \(4,\)"):
        forward(x, xp.ones(4), xp.zeros(3), param)
    with pytest.raises(ValueError, match=rf"{name}: beta must have shape \(3,\).*got \(2,\)"):
        forward(x, xp.ones(3), xp.zeros(2), param)
    with pytest.raises(ValueError, match=r"gamma must be 1-D \(D,\); got shape \(1, 3\)"):
        forward(x, xp.ones((1, 3)), xp.zeros(3), param)
    with pytest.raises(ValueError, match=r"x must be 2-D \(N, D\); got shape \(4, 3, 1\)"):
        forward(x[:, :, None], xp.ones(3), xp.zeros(3), param)
    with pytest.raises(TypeError, match="share one floating dtype"):
        forward(x.astype(np.float32), xp.ones(3), xp.zeros(3), param)
    with pytest.raises(ValueError, match=r"\['eps'\] must be a number > 0"):
        forward(x, xp.ones(3), xp.zeros(3), {**param, "eps": 0.0})


def test_wrong_running_stat_shape_is_named(xp):
    x = _data(xp, (4, 3))
    param = {"mode": "test", "running_mean": xp.zeros(2), "running_var": xp.ones(3)}
    with pytest.raises(ValueError, match=r"bn_param\['running_mean'\] must have shape \(3,\)"):
        batchnorm_forward(x, xp.ones(3), xp.zeros(3), param)


def test_backward_checks_dout_shape(xp):
    x = _data(xp, (4, 3))
    _, bn_cache = batchnorm_forward(x, xp.ones(3), xp.zeros(3), {"mode": "train"})
    _, ln_cache = layernorm_forward(x, xp.ones(3), xp.zeros(3), {})
    for bw, cache in ((batchnorm_backward, bn_cache), (batchnorm_backward_alt, bn_cache),
                      (layernorm_backward, ln_cache)):
        with pytest.raises(ValueError, match=r"dout must have shape \(4, 3\)"):
            bw(xp.ones((3, 4)), cache)


@pytest.mark.parametrize("mode", ["train", "test"])
def test_wide_row_path_equals_plain_broadcasting(xp, mode):
    """A C-contiguous (64, 256) batch runs its per-column arithmetic on (2, 8192) views;
    a Fortran-ordered copy of the same batch takes the plain (N, D) path."""
    from layers.norm import _rows_joined
    x = _data(xp, (64, 256), loc=1.0, scale=2.0)
    xf = xp.asfortranarray(x)
    assert _rows_joined(64, 256, x) == 32 and _rows_joined(64, 256, xf) == 1
    gamma, beta = _data(xp, (256,), seed=1), _data(xp, (256,), seed=2)
    dout = _data(xp, (64, 256), seed=3)
    stats = {"running_mean": _data(xp, (256,), seed=4), "running_var": xp.ones(256)}
    p1, p2 = {"mode": mode, **stats}, {"mode": mode, **stats}
    out, cache = batchnorm_forward(x, gamma, beta, p1)
    out_f, cache_f = batchnorm_forward(xf, gamma, beta, p2)
    assert out.shape == (64, 256) and out.flags.c_contiguous
    np.testing.assert_allclose(host(out), host(out_f), rtol=1e-12, atol=1e-12)
    for g, g_ref in zip(batchnorm_backward_alt(dout, cache),
                        batchnorm_backward(xp.asfortranarray(dout), cache_f)):
        np.testing.assert_allclose(host(g), host(g_ref), rtol=1e-9, atol=1e-11)


def test_rows_joined_picks_a_divisor_or_one(xp):
    from layers.norm import _rows_joined
    a = xp.ones((1, 1))
    assert _rows_joined(256, 1024, a) == 8  # 8 * 1024 = 8192 elements per joined row
    assert _rows_joined(256, 3000, a) == 4  # 3 does not divide 256
    assert _rows_joined(255, 1024, a) == 15  # the least divisor >= 8
    assert _rows_joined(257, 1024, a) == 1  # prime: no divisor in [8, 32]
    assert _rows_joined(64, 16384, a) == 1  # rows already wide
