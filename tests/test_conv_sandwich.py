"""Conv sandwiches: gradient checks and agreement with the layers composed by hand."""

import numpy as np
import pytest
from hypothesis import given

from gradcheck import check_layer
from gradcheck import strategies as S
from layers import (conv_bn_relu_backward, conv_bn_relu_forward, conv_bn_relu_pool_backward,
                    conv_bn_relu_pool_forward, conv_forward_naive, conv_relu_backward,
                    conv_relu_forward, conv_relu_pool_backward, conv_relu_pool_forward,
                    max_pool_forward_naive, spatial_batchnorm_forward)
from tests.helpers import host, on


# The strategy keeps a channel alive, so no gradient is identically zero by accident; but
# batchnorm removes any per-channel constant, so the conv bias before it has an identically
# zero gradient in train mode: that part of the check is vacuous by design.
vacuous_bias = pytest.mark.filterwarnings("ignore:the gradient of b is identically zero")


@given(S.conv_sandwich_inputs())
def test_conv_relu_gradients(xp, case):
    inputs, dout = on(xp, case)
    check_layer(conv_relu_forward, conv_relu_backward, *inputs, dout=dout)


@given(S.conv_sandwich_inputs(pool=True))
def test_conv_relu_pool_gradients(xp, case):
    inputs, dout = on(xp, case)
    check_layer(conv_relu_pool_forward, conv_relu_pool_backward, *inputs, dout=dout)


@vacuous_bias
@given(S.conv_sandwich_inputs(batchnorm=True))
def test_conv_bn_relu_gradients(xp, case):
    inputs, dout = on(xp, case)
    check_layer(conv_bn_relu_forward, conv_bn_relu_backward, *inputs, dout=dout)
    # the numerical gradient of b is ~0 (checked above); the analytic one is exactly 0
    _, cache = conv_bn_relu_forward(*inputs)
    assert not conv_bn_relu_backward(dout, cache)[2].any()


@vacuous_bias
@given(S.conv_sandwich_inputs(pool=True, batchnorm=True))
def test_conv_bn_relu_pool_gradients(xp, case):
    inputs, dout = on(xp, case)
    check_layer(conv_bn_relu_pool_forward, conv_bn_relu_pool_backward, *inputs, dout=dout)


@pytest.mark.parametrize("batchnorm", [False, True])
def test_forward_is_the_composition_of_the_reference_layers(xp, batchnorm):
    rng = np.random.default_rng(0)
    x = xp.asarray(rng.standard_normal((2, 3, 6, 6)))
    w = xp.asarray(rng.standard_normal((4, 3, 3, 3)))
    b = xp.asarray(rng.standard_normal(4))
    gamma, beta = xp.asarray(rng.standard_normal(4)), xp.asarray(rng.standard_normal(4))
    cp, pp = {"stride": 1, "pad": 1}, {"pool_height": 2, "pool_width": 2, "stride": 2}
    a, _ = conv_forward_naive(x, w, b, cp)
    if batchnorm:
        a, _ = spatial_batchnorm_forward(a, gamma, beta, {"mode": "train"})
        out, _ = conv_bn_relu_pool_forward(x, w, b, gamma, beta, cp, {"mode": "train"}, pp)
        no_pool, _ = conv_bn_relu_forward(x, w, b, gamma, beta, cp, {"mode": "train"})
    else:
        out, _ = conv_relu_pool_forward(x, w, b, cp, pp)
        no_pool, _ = conv_relu_forward(x, w, b, cp)
    relu = xp.maximum(a, 0)
    np.testing.assert_allclose(host(no_pool), host(relu), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(out), host(max_pool_forward_naive(relu, pp)[0]),
                               rtol=1e-12, atol=1e-12)
    assert out.shape == (2, 4, 3, 3)


def test_conv_bn_relu_bias_gradient_in_test_mode(xp):
    # in test mode batchnorm uses running statistics, the bias no longer cancels
    rng = np.random.default_rng(1)
    x = xp.asarray(rng.standard_normal((2, 2, 5, 5)))
    w, b = xp.asarray(rng.standard_normal((3, 2, 3, 3))), xp.asarray(rng.standard_normal(3))
    bn_param = {"mode": "test", "running_mean": xp.asarray(rng.standard_normal(3)),
                "running_var": xp.asarray(1 + rng.random(3))}
    check_layer(conv_bn_relu_forward, conv_bn_relu_backward, x, w, b, xp.ones(3),
                xp.asarray([0.5, 0.2, 0.1]), {"stride": 1, "pad": 1}, bn_param,
                dout=xp.asarray(rng.standard_normal((2, 3, 5, 5))))
