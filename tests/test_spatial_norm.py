"""Spatial batchnorm and spatial groupnorm: gradients, references, state, contract."""

import numpy as np
import pytest
from hypothesis import given

from gradcheck import check_layer
from gradcheck import strategies as S
from layers import (spatial_batchnorm_backward, spatial_batchnorm_forward,
                    spatial_groupnorm_backward, spatial_groupnorm_forward)
from tests.helpers import host, on


@given(S.spatial_batchnorm_inputs(mode="train"))
def test_spatial_batchnorm_train_gradients(xp, case):
    inputs, dout = on(xp, case)
    check_layer(spatial_batchnorm_forward, spatial_batchnorm_backward, *inputs, dout=dout)


@given(S.spatial_batchnorm_inputs(mode="test"))
def test_spatial_batchnorm_test_gradients(xp, case):
    inputs, dout = on(xp, case)
    check_layer(spatial_batchnorm_forward, spatial_batchnorm_backward, *inputs, dout=dout)


@given(S.spatial_groupnorm_inputs())
def test_spatial_groupnorm_gradients(xp, case):
    inputs, dout = on(xp, case)
    check_layer(spatial_groupnorm_forward, spatial_groupnorm_backward, *inputs, dout=dout)


def reference_batchnorm(x, gamma, beta, eps):
    """Per channel over (N, H, W), written the plain way: one channel at a time."""
    out = np.empty_like(x)
    for c in range(x.shape[1]):
        v = x[:, c]
        out[:, c] = gamma[c] * (v - v.mean()) / np.sqrt(v.var() + eps) + beta[c]
    return out


def test_spatial_batchnorm_train_forward_and_running_stats(xp):
    rng = np.random.default_rng(0)
    xh = 3 + 2 * rng.standard_normal((4, 3, 5, 6))
    gamma, beta = np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 3.0])
    rm, rv = np.array([0.1, 0.2, 0.3]), np.array([1.0, 2.0, 3.0])
    bn_param = {"mode": "train", "momentum": 0.8, "running_mean": xp.asarray(rm),
                "running_var": xp.asarray(rv)}
    old_mean = bn_param["running_mean"]
    out, _ = spatial_batchnorm_forward(xp.asarray(xh), xp.asarray(gamma), xp.asarray(beta),
                                       bn_param)
    np.testing.assert_allclose(host(out), reference_batchnorm(xh, gamma, beta, 1e-5),
                               rtol=1e-12, atol=1e-12)
    mean, var = xh.mean(axis=(0, 2, 3)), xh.var(axis=(0, 2, 3))
    np.testing.assert_allclose(host(bn_param["running_mean"]), 0.8 * rm + 0.2 * mean)
    np.testing.assert_allclose(host(bn_param["running_var"]), 0.8 * rv + 0.2 * var)
    assert bn_param["running_mean"] is not old_mean  # a new array...
    np.testing.assert_array_equal(host(old_mean), rm)  # ...and the old one untouched


def test_spatial_batchnorm_test_mode_uses_running_stats(xp):
    rng = np.random.default_rng(1)
    xh = rng.standard_normal((2, 2, 3, 3))
    rm, rv = np.array([0.5, -1.0]), np.array([4.0, 0.25])
    bn_param = {"mode": "test", "eps": 1e-3, "running_mean": xp.asarray(rm),
                "running_var": xp.asarray(rv)}
    out, _ = spatial_batchnorm_forward(xp.asarray(xh), xp.ones(2), xp.zeros(2), bn_param)
    want = (xh - rm[None, :, None, None]) / np.sqrt(rv + 1e-3)[None, :, None, None]
    np.testing.assert_allclose(host(out), want, rtol=1e-12)
    np.testing.assert_array_equal(host(bn_param["running_mean"]), rm)  # unchanged in test


def test_spatial_batchnorm_float32_with_float64_running_stats(xp):
    # stats left in float64 (by a float64 gradient check, say) must not promote float32
    x = xp.asarray(np.random.default_rng(2).standard_normal((2, 3, 4, 4)).astype(np.float32))
    g, b = xp.ones(3, dtype=xp.float32), xp.zeros(3, dtype=xp.float32)
    for mode in ("train", "test"):
        bn_param = {"mode": mode, "running_mean": xp.zeros(3), "running_var": xp.ones(3),
                    "eps": np.float64(1e-5), "momentum": np.float64(0.9)}
        out, cache = spatial_batchnorm_forward(x, g, b, bn_param)
        assert out.dtype == np.float32
        assert all(t.dtype == np.float32 for t in spatial_batchnorm_backward(out, cache))
        if mode == "train":  # the new stats follow x
            assert bn_param["running_mean"].dtype == np.float32
            assert bn_param["running_var"].dtype == np.float32


def reference_groupnorm(x, gamma, beta, G, eps):
    N, C, H, W = x.shape
    out = np.empty_like(x)
    per = C // G
    for n in range(N):
        for g in range(G):
            v = x[n, g * per:(g + 1) * per]
            out[n, g * per:(g + 1) * per] = (v - v.mean()) / np.sqrt(v.var() + eps)
    return out * gamma + beta


@pytest.mark.parametrize("G", [1, 2, 6])  # layer norm, groups, instance norm
def test_spatial_groupnorm_forward_reference(xp, G):
    rng = np.random.default_rng(3)
    xh = 2 + 3 * rng.standard_normal((3, 6, 4, 5))
    gamma = rng.standard_normal((1, 6, 1, 1))
    beta = rng.standard_normal((1, 6, 1, 1))
    out, _ = spatial_groupnorm_forward(xp.asarray(xh), xp.asarray(gamma), xp.asarray(beta), G,
                                       {"eps": 1e-5})
    np.testing.assert_allclose(host(out), reference_groupnorm(xh, gamma, beta, G, 1e-5),
                               rtol=1e-12, atol=1e-12)


def test_spatial_groupnorm_float32(xp):
    x = xp.asarray(np.random.default_rng(4).standard_normal((2, 4, 3, 3)).astype(np.float32))
    g = xp.ones((1, 4, 1, 1), dtype=xp.float32)
    out, cache = spatial_groupnorm_forward(x, g, 0 * g, 2, {"eps": np.float64(1e-5)})
    assert out.dtype == np.float32
    assert all(t.dtype == np.float32 for t in spatial_groupnorm_backward(out, cache))


def test_bad_input_names_the_problem(xp):
    x = xp.ones((2, 4, 3, 3))
    with pytest.raises(ValueError, match=r"gamma must have shape \(4,\).*got \(3,\)"):
        spatial_batchnorm_forward(x, xp.ones(3), xp.zeros(4), {"mode": "train"})
    with pytest.raises(ValueError, match=r"bn_param is missing key\(s\) \['mode'\]"):
        spatial_batchnorm_forward(x, xp.ones(4), xp.zeros(4), {})
    with pytest.raises(ValueError, match=r"bn_param\['mode'\] must be one of"):
        spatial_batchnorm_forward(x, xp.ones(4), xp.zeros(4), {"mode": "eval"})
    with pytest.raises(ValueError, match=r"x must be 4-D \(N, C, H, W\); got shape \(4, 3, 3\)"):
        spatial_batchnorm_forward(xp.ones((4, 3, 3)), xp.ones(4), xp.zeros(4), {"mode": "train"})
    with pytest.raises(ValueError, match=r"running_mean'\] must have shape \(4,\)"):
        spatial_batchnorm_forward(x, xp.ones(4), xp.zeros(4),
                                  {"mode": "test", "running_mean": xp.zeros(3)})
    with pytest.raises(ValueError, match=r"N\*H\*W >= 2"):
        spatial_batchnorm_forward(xp.ones((1, 4, 1, 1)), xp.ones(4), xp.zeros(4),
                                  {"mode": "train"})
    g = xp.ones((1, 4, 1, 1))
    with pytest.raises(ValueError, match=r"G must be a positive divisor of C = 4.*got 3"):
        spatial_groupnorm_forward(x, g, g, 3, {})
    with pytest.raises(ValueError, match=r"gamma must be 4-D \(1, C, 1, 1\); got shape \(4,\)"):
        spatial_groupnorm_forward(x, xp.ones(4), g, 2, {})


@pytest.mark.parametrize("mode", ["train", "test"])
def test_spatial_batchnorm_split_over_threads(xp, mode):
    # set_threads(2) splits the channels over two threads at any size (large inputs do
    # by default): the same values as the plain reference, and gradients that check
    from layers import get_threads, set_threads
    rng = np.random.default_rng(4)
    x = xp.asarray(rng.standard_normal((6, 5, 4, 3)) * 3 + 1)
    gamma, beta = xp.asarray(rng.standard_normal(5)), xp.asarray(rng.standard_normal(5))
    stats = {"running_mean": xp.asarray(rng.standard_normal(5)),
             "running_var": xp.asarray(rng.random(5) + 0.5)}
    set_threads(2)
    try:
        if get_threads() < 2:
            pytest.skip("threadpoolctl is not installed: no split")
        out, _ = spatial_batchnorm_forward(x, gamma, beta, {"mode": mode, **stats})
        check_layer(spatial_batchnorm_forward, spatial_batchnorm_backward, x, gamma, beta,
                    {"mode": mode, **stats})
    finally:
        set_threads(None)
    if mode == "train":
        expected = reference_batchnorm(host(x), host(gamma), host(beta), 1e-5)
    else:
        g, bt = host(gamma)[:, None, None], host(beta)[:, None, None]
        mu = host(stats["running_mean"])[:, None, None]
        var = host(stats["running_var"])[:, None, None]
        expected = g * (host(x) - mu) / np.sqrt(var + 1e-5) + bt
    np.testing.assert_allclose(host(out), expected, rtol=1e-10, atol=1e-12)
