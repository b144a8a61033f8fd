"""Sandwich layers: gradient checks, and each sandwich equals its parts in sequence."""

import numpy as np
import pytest
from hypothesis import given

from gradcheck import check_layer
from gradcheck import strategies as S
from layers import (affine_bn_relu_backward, affine_bn_relu_forward, affine_forward,
                    affine_ln_relu_backward, affine_ln_relu_forward, affine_relu_backward,
                    affine_relu_forward, batchnorm_forward, layernorm_forward, relu_forward)
from tests.helpers import host, on


@given(S.affine_relu_inputs())
def test_affine_relu_gradients(xp, case):
    inputs, dout = on(xp, case)
    check_layer(affine_relu_forward, affine_relu_backward, *inputs, dout=dout)


# batchnorm subtracts the batch mean, which cancels the affine bias: db is 0 in exact
# arithmetic (and sometimes in floating point too, which the checker flags as vacuous)
@pytest.mark.filterwarnings("ignore:the gradient of b is identically zero")
@given(S.affine_bn_relu_inputs())
def test_affine_bn_relu_gradients(xp, case):
    inputs, dout = on(xp, case)
    check_layer(affine_bn_relu_forward, affine_bn_relu_backward, *inputs, dout=dout)


@given(S.affine_ln_relu_inputs())
def test_affine_ln_relu_gradients(xp, case):
    inputs, dout = on(xp, case)
    check_layer(affine_ln_relu_forward, affine_ln_relu_backward, *inputs, dout=dout)


def _arrays(xp, dtype, *shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [xp.asarray(rng.standard_normal(s).astype(dtype)) for s in shapes]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sandwiches_equal_their_parts(xp, dtype):
    x, w, b, gamma, beta = _arrays(xp, dtype, (5, 2, 3), (6, 4), (4,), (4,), (4,))
    a, _ = affine_forward(x, w, b)

    out, cache = affine_relu_forward(x, w, b)
    assert out.dtype == dtype and len(cache) == 2
    np.testing.assert_array_equal(host(out), host(relu_forward(a)[0]))

    p1, p2 = {"mode": "train"}, {"mode": "train"}
    out, cache = affine_bn_relu_forward(x, w, b, gamma, beta, p1)
    assert out.dtype == dtype and len(cache) == 4 and cache[3] is True  # + train-mode flag
    ref = relu_forward(batchnorm_forward(a, gamma, beta, p2)[0])[0]
    np.testing.assert_array_equal(host(out), host(ref))
    np.testing.assert_array_equal(host(p1["running_mean"]), host(p2["running_mean"]))

    out, cache = affine_ln_relu_forward(x, w, b, gamma, beta, {})
    assert out.dtype == dtype and len(cache) == 3
    ref = relu_forward(layernorm_forward(a, gamma, beta, {})[0])[0]
    np.testing.assert_array_equal(host(out), host(ref))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sandwich_gradients_have_input_shapes_and_dtype(xp, dtype):
    x, w, b, gamma, beta, dout = _arrays(xp, dtype, (5, 2, 3), (6, 4), (4,), (4,), (4,),
                                         (5, 4))
    cases = [(affine_relu_forward, affine_relu_backward, (x, w, b)),
             (affine_bn_relu_forward, affine_bn_relu_backward,
              (x, w, b, gamma, beta, {"mode": "train"})),
             (affine_ln_relu_forward, affine_ln_relu_backward, (x, w, b, gamma, beta, {}))]
    for fwd, bwd, inputs in cases:
        _, cache = fwd(*inputs)
        grads = bwd(dout, cache)
        arrays = [a for a in inputs if not isinstance(a, dict)]
        assert [g.shape for g in grads] == [a.shape for a in arrays]
        assert all(g.dtype == dtype for g in grads)


def test_bn_sandwich_test_mode_uses_running_statistics(xp):
    x, w, b, gamma, beta = _arrays(xp, np.float64, (6, 3), (3, 2), (2,), (2,), (2,))
    param = {"mode": "test", "running_mean": xp.asarray([0.5, -0.5]),
             "running_var": xp.asarray([2.0, 0.5])}
    out, _ = affine_bn_relu_forward(x, w, b, gamma, beta, param)
    a = host(x) @ host(w) + host(b)
    ref = np.maximum(host(gamma) * (a - [0.5, -0.5]) / np.sqrt(np.array([2.0, 0.5]) + 1e-5)
                     + host(beta), 0)
    np.testing.assert_allclose(host(out), ref, rtol=1e-12)
