"""Finite float32 inputs give a finite, right normalisation even where the variance
overflows float32 (values beyond ~1e19 square to inf): layernorm, groupnorm and the two
batchnorms (train mode) against the float64 result of the same call."""

import numpy as np
import pytest

from layers import (batchnorm_backward, batchnorm_backward_alt, batchnorm_forward,
                    layernorm_backward, layernorm_forward, spatial_batchnorm_backward,
                    spatial_batchnorm_forward, spatial_groupnorm_backward,
                    spatial_groupnorm_forward)


def _layernorm(x):
    D = x.shape[1]
    return layernorm_forward(x, np.ones(D, x.dtype), np.zeros(D, x.dtype), {})


def _groupnorm(x):
    C = x.shape[1]
    g = np.ones((1, C, 1, 1), x.dtype)
    return spatial_groupnorm_forward(x, g, 0 * g, 2, {})


def _batchnorm(x):
    D = x.shape[1]
    return batchnorm_forward(x, np.ones(D, x.dtype), np.zeros(D, x.dtype), {"mode": "train"})


def _spatial_batchnorm(x):
    C = x.shape[1]
    return spatial_batchnorm_forward(x, np.ones(C, x.dtype), np.zeros(C, x.dtype),
                                     {"mode": "train"})


_LAYERS = [(_layernorm, (5, 7), layernorm_backward),
           (_groupnorm, (3, 4, 3, 3), spatial_groupnorm_backward),
           (_batchnorm, (6, 5), batchnorm_backward),
           (_batchnorm, (6, 5), batchnorm_backward_alt),
           (_spatial_batchnorm, (3, 4, 3, 3), spatial_batchnorm_backward)]
CASES = [(*lay, scale) for lay in _LAYERS for scale in (1e30, 3e36, 1e-30, 1.0)]


@pytest.mark.parametrize("layer, shape, backward, scale", CASES)
def test_float32_extremes_normalise_like_float64(layer, shape, backward, scale):
    rng = np.random.default_rng(0)
    x64 = rng.standard_normal(shape) * scale
    x32 = x64.astype(np.float32)
    out32, cache = layer(x32)
    out64, _ = layer(x32.astype(np.float64))  # the same values, no overflow in float64
    assert out32.dtype == np.float32 and np.isfinite(out32).all()
    if scale >= 1.0:  # (at 1e-30 eps dominates the variance in both: out ~ 0)
        assert np.abs(out64).max() > 0.5  # a real normalisation, not beta
    np.testing.assert_allclose(out32, out64, atol=1e-4)
    grads = backward(rng.standard_normal(shape).astype(np.float32), cache)
    assert all(g.dtype == np.float32 and np.isfinite(g).all() for g in grads)
