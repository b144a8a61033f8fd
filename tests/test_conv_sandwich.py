"""Conv sandwiches: gradient checks and agreement with the layers composed by hand."""

import numpy as np
import pytest
from hypothesis import assume, given

from gradcheck import check_layer
from gradcheck import strategies as S
from layers import (conv_bn_relu_backward, conv_bn_relu_forward, conv_bn_relu_pool_backward,
                    conv_bn_relu_pool_forward, conv_forward_naive, conv_relu_backward,
                    conv_relu_forward, conv_relu_pool_backward, conv_relu_pool_forward,
                    max_pool_forward_naive, spatial_batchnorm_forward)
from tests.helpers import host, on


def live(forward, inputs):
    """True if some output unit is not cut by the relu: with every unit dead all the
    gradients are identically zero and a check could not fail."""
    return bool((forward(*inputs)[0] > 0).any())


# batchnorm removes any per-channel constant, so the conv bias has an identically zero
# gradient before it (checked exactly below); that part of the check is vacuous by design
vacuous_bias = pytest.mark.filterwarnings("ignore:the gradient of b is identically zero")


@given(S.conv_sandwich_inputs())
def test_conv_relu_gradients(xp, case):
    inputs, dout = on(xp, case)
    assume(live(conv_relu_forward, inputs))
    check_layer(conv_relu_forward, conv_relu_backward, *inputs, dout=dout)


@given(S.conv_sandwich_inputs(pool=True))
def test_conv_relu_pool_gradients(xp, case):
    inputs, dout = on(xp, case)
    assume(live(conv_relu_pool_forward, inputs))
    check_layer(conv_relu_pool_forward, conv_relu_pool_backward, *inputs, dout=dout)


@vacuous_bias
@given(S.conv_sandwich_inputs(batchnorm=True))
def test_conv_bn_relu_gradients(xp, case):
    inputs, dout = on(xp, case)
    assume(live(conv_bn_relu_forward, inputs))
    check_layer(conv_bn_relu_forward, conv_bn_relu_backward, *inputs, dout=dout)
    _, cache = conv_bn_relu_forward(*inputs)
    db = conv_bn_relu_backward(dout, cache)[2]
    assert float(abs(db).max()) <= 1e-12 * max(1.0, float(abs(dout).sum()))


@vacuous_bias
@given(S.conv_sandwich_inputs(pool=True, batchnorm=True))
def test_conv_bn_relu_pool_gradients(xp, case):
    inputs, dout = on(xp, case)
    assume(live(conv_bn_relu_pool_forward, inputs))
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
