"""Finite float32 inputs give a finite, right normalisation even where the variance
overflows float32 (values beyond ~1e19 square to inf): layernorm, groupnorm and the two
batchnorms (train mode) against the float64 result of the same call, on the backend under
test; on a device without a single host sync (the rescaling is picked on the device)."""

import sys

import numpy as np
import pytest

from layers.backend import get_xp
from tests.helpers import host

from layers import (batchnorm_backward, batchnorm_backward_alt, batchnorm_forward,
                    layernorm_backward, layernorm_forward, spatial_batchnorm_backward,
                    spatial_batchnorm_forward, spatial_groupnorm_backward,
                    spatial_groupnorm_forward)


def _layernorm(x):
    D, xp = x.shape[1], get_xp(x)
    return layernorm_forward(x, xp.ones(D, x.dtype), xp.zeros(D, x.dtype), {})


def _groupnorm(x):
    C, xp = x.shape[1], get_xp(x)
    g = xp.ones((1, C, 1, 1), x.dtype)
    return spatial_groupnorm_forward(x, g, 0 * g, 2, {})


def _batchnorm(x):
    D, xp = x.shape[1], get_xp(x)
    return batchnorm_forward(x, xp.ones(D, x.dtype), xp.zeros(D, x.dtype), {"mode": "train"})


def _spatial_batchnorm(x):
    C, xp = x.shape[1], get_xp(x)
    return spatial_batchnorm_forward(x, xp.ones(C, x.dtype), xp.zeros(C, x.dtype),
                                     {"mode": "train"})


_LAYERS = [(_layernorm, (5, 7), layernorm_backward),
           (_groupnorm, (3, 4, 3, 3), spatial_groupnorm_backward),
           (_batchnorm, (6, 5), batchnorm_backward),
           (_batchnorm, (6, 5), batchnorm_backward_alt),
           (_spatial_batchnorm, (3, 4, 3, 3), spatial_batchnorm_backward)]
CASES = [(*lay, scale) for lay in _LAYERS for scale in (1e30, 3e36, 1e-30, 1.0)]


@pytest.mark.parametrize("layer, shape, backward, scale", CASES)
def test_float32_extremes_normalise_like_float64(layer, shape, backward, scale, xp):
    rng = np.random.default_rng(0)
    x64 = rng.standard_normal(shape) * scale
    x32 = xp.asarray(x64.astype(np.float32))
    out32, cache = layer(x32)
    out64, _ = layer(x32.astype(np.float64))  # the same values, no overflow in float64
    out32, out64 = host(out32), host(out64)
    assert out32.dtype == np.float32 and np.isfinite(out32).all()
    if scale >= 1.0:  # (at 1e-30 eps dominates the variance in both: out ~ 0)
        assert np.abs(out64).max() > 0.5  # a real normalisation, not beta
    np.testing.assert_allclose(out32, out64, atol=1e-4)
    grads = backward(xp.asarray(rng.standard_normal(shape).astype(np.float32)), cache)
    assert all(g.dtype == np.float32 and np.isfinite(host(g)).all() for g in grads)


@pytest.mark.parametrize("layer, shape, backward", _LAYERS)
def test_no_host_sync_on_a_device(monkeypatch, layer, shape, backward):
    """A normalisation on a device reads nothing back, overflow or not: a check of the
    variance before rescaling would be a host sync per layer per step (the CuPy stand-in
    counts them)."""
    from tests import fake_cupy as cp

    monkeypatch.setitem(sys.modules, "cupy", cp)
    rng = np.random.default_rng(1)
    for scale in (1.0, 1e30):
        x = cp.asarray((rng.standard_normal(shape) * scale).astype(np.float32))
        cp.reset_counts()
        out, cache = layer(x)
        backward(cp.ones_like(out), cache)
        assert cp.syncs() == 0, (scale, cp.syncs())


@pytest.mark.parametrize("forward, shape", [(batchnorm_forward, (6, 5)),
                                            (spatial_batchnorm_forward, (3, 5, 2, 2))])
def test_running_stats_cost_no_sync_in_training_and_are_checked_where_used(
        monkeypatch, forward, shape):
    """On a device a training step's running variance (written by the step before) is not
    read back to check its sign: train mode only blends it. Test mode, which divides by
    it, still refuses a negative one."""
    from tests import fake_cupy as cp

    monkeypatch.setitem(sys.modules, "cupy", cp)
    x = cp.asarray(np.random.default_rng(2).standard_normal(shape))
    g, b = cp.ones(shape[1]), cp.zeros(shape[1])
    bn_param = {"mode": "train"}
    forward(x, g, b, bn_param)  # writes running_mean and running_var
    cp.reset_counts()
    forward(x, g, b, bn_param)
    assert cp.syncs() == 0
    bn_param.update(mode="test", running_var=-bn_param["running_var"] - 1)
    with pytest.raises(ValueError, match=r"bn_param\['running_var'\] must be >= 0 "
                                         r"everywhere \(a variance\); it holds -"):
        forward(x, g, b, bn_param)
