"""Finite float32 inputs give a finite, right normalisation even where the variance
overflows float32 (values beyond ~1e19 square to inf): layernorm, groupnorm and the two
batchnorms (train mode) against the float64 result of the same call. On numpy and on the
CuPy stand-in, where the same guard runs with no host read-back."""

import sys

import numpy as np
import pytest

from layers.backend import get_xp, to_numpy
from tests import fake_cupy

from layers import (batchnorm_backward, batchnorm_backward_alt, batchnorm_forward,
                    layernorm_backward, layernorm_forward, spatial_batchnorm_backward,
                    spatial_batchnorm_forward, spatial_groupnorm_backward,
                    spatial_groupnorm_forward)


def _layernorm(x):
    xp, D = get_xp(x), x.shape[1]
    return layernorm_forward(x, xp.ones(D, x.dtype), xp.zeros(D, x.dtype), {})


def _groupnorm(x):
    xp, C = get_xp(x), x.shape[1]
    g = xp.ones((1, C, 1, 1), x.dtype)
    return spatial_groupnorm_forward(x, g, 0 * g, 2, {})


def _batchnorm(x):
    xp, D = get_xp(x), x.shape[1]
    return batchnorm_forward(x, xp.ones(D, x.dtype), xp.zeros(D, x.dtype), {"mode": "train"})


def _spatial_batchnorm(x):
    xp, C = get_xp(x), x.shape[1]
    return spatial_batchnorm_forward(x, xp.ones(C, x.dtype), xp.zeros(C, x.dtype),
                                     {"mode": "train"})


_LAYERS = [(_layernorm, (5, 7), layernorm_backward),
           (_groupnorm, (3, 4, 3, 3), spatial_groupnorm_backward),
           (_batchnorm, (6, 5), batchnorm_backward),
           (_batchnorm, (6, 5), batchnorm_backward_alt),
           (_spatial_batchnorm, (3, 4, 3, 3), spatial_batchnorm_backward)]
CASES = [(*lay, scale) for lay in _LAYERS for scale in (1e30, 3e36, 1e-30, 1.0)]


@pytest.mark.parametrize("device", [False, True], ids=["numpy", "stand-in"])
@pytest.mark.parametrize("layer, shape, backward, scale", CASES)
def test_float32_extremes_normalise_like_float64(monkeypatch, layer, shape, backward, scale,
                                                 device):
    rng = np.random.default_rng(0)
    x64 = rng.standard_normal(shape) * scale
    x32 = x64.astype(np.float32)
    dout = rng.standard_normal(shape).astype(np.float32)
    if device:  # the same call on device arrays: the guard must not read anything back
        monkeypatch.setitem(sys.modules, "cupy", fake_cupy)
        x32, dout = fake_cupy.asarray(x32), fake_cupy.asarray(dout)
        fake_cupy.reset_counts()
    out32, cache = layer(x32)
    grads = backward(dout, cache)
    if device:
        assert fake_cupy.syncs() == 0
    out32, grads = to_numpy(out32), to_numpy(grads)
    out64, _ = layer(x64.astype(np.float32).astype(np.float64))  # no overflow in float64
    assert out32.dtype == np.float32 and np.isfinite(out32).all()
    if scale >= 1.0:  # (at 1e-30 eps dominates the variance in both: out ~ 0)
        assert np.abs(out64).max() > 0.5  # a real normalisation, not beta
    np.testing.assert_allclose(out32, out64, atol=1e-4)
    assert all(g.dtype == np.float32 and np.isfinite(g).all() for g in grads)
