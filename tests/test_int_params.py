"""The integer-parameter rule (API.md, CS231n compatibility details): integer gamma/beta
are cast to the floating dtype of the data input; bool, complex and object arrays stay a
TypeError naming the function and the argument. The shared helper is
``layers.validate.float_param``."""

import numpy as np
import pytest

from layers import (affine_bn_relu_forward, affine_ln_relu_forward, batchnorm_forward,
                    conv_bn_relu_forward, conv_bn_relu_pool_forward, layernorm_forward,
                    spatial_batchnorm_forward, spatial_groupnorm_forward)
from layers import validate as v

_rng = np.random.default_rng(7)
X2 = _rng.standard_normal((6, 3))
X4 = _rng.standard_normal((2, 3, 4, 4))
W_FC = _rng.standard_normal((3, 3))
W_CONV = _rng.standard_normal((3, 3, 3, 3))
B3 = _rng.standard_normal(3)
CONV = {"stride": 1, "pad": 1}
POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}


def _wb(w, x):
    return w.astype(x.dtype), B3.astype(x.dtype)


# name -> (call(x, gamma, beta), x, the gamma/beta shape); w and b follow x's dtype
CASES = {
    "batchnorm_forward": (lambda x, g, b: batchnorm_forward(x, g, b, {"mode": "train"}),
                          X2, (3,)),
    "layernorm_forward": (lambda x, g, b: layernorm_forward(x, g, b, {}), X2, (3,)),
    "spatial_batchnorm_forward": (
        lambda x, g, b: spatial_batchnorm_forward(x, g, b, {"mode": "train"}), X4, (3,)),
    "spatial_groupnorm_forward": (
        lambda x, g, b: spatial_groupnorm_forward(x, g, b, 3, {}), X4, (1, 3, 1, 1)),
    "affine_bn_relu_forward": (
        lambda x, g, b: affine_bn_relu_forward(x, *_wb(W_FC, x), g, b, {"mode": "train"}),
        X2, (3,)),
    "affine_ln_relu_forward": (
        lambda x, g, b: affine_ln_relu_forward(x, *_wb(W_FC, x), g, b, {}), X2, (3,)),
    "conv_bn_relu_forward": (
        lambda x, g, b: conv_bn_relu_forward(x, *_wb(W_CONV, x), g, b, CONV, {"mode": "train"}),
        X4, (3,)),
    "conv_bn_relu_pool_forward": (
        lambda x, g, b: conv_bn_relu_pool_forward(x, *_wb(W_CONV, x), g, b, CONV,
                                                  {"mode": "train"}, POOL), X4, (3,)),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("int_dtype", [np.int64, np.int32, np.uint8])
def test_integer_gamma_beta_equal_their_float_values(name, dtype, int_dtype):
    call, x, shape = CASES[name]
    x = x.astype(dtype)
    gi = (np.arange(3) + 3).reshape(shape).astype(int_dtype)  # [3, 4, 5], as the notebook
    bi = (np.arange(3) + 6).reshape(shape).astype(int_dtype)
    out_int, _ = call(x, gi, bi)
    out_float, _ = call(x, gi.astype(dtype), bi.astype(dtype))
    assert out_int.dtype == dtype
    np.testing.assert_array_equal(out_int, out_float)
    assert gi.dtype == int_dtype  # the caller's array is left alone


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("bad", ["bool", "complex", "object"])
@pytest.mark.parametrize("arg", ["gamma", "beta"])
def test_bool_complex_object_params_are_a_type_error(name, bad, arg):
    call, x, shape = CASES[name]
    good = np.ones(shape)
    wrong = {"bool": np.ones(shape, dtype=bool), "complex": np.ones(shape, dtype=complex),
             "object": np.ones(shape, dtype=object)}[bad]
    g, b = (wrong, good) if arg == "gamma" else (good, wrong)
    fn = name.replace("affine_bn_relu", "batchnorm").replace("affine_ln_relu", "layernorm")
    fn = fn.replace("conv_bn_relu_pool", "spatial_batchnorm")
    fn = fn.replace("conv_bn_relu", "spatial_batchnorm")
    with pytest.raises(TypeError, match=rf"{fn}: {arg} must be a floating-point .*{wrong.dtype}"):
        call(x, g, b)


def test_float_param_helper_contract():
    x = np.zeros((2, 3), dtype=np.float32)
    a = np.array([1, 2, 3])
    out = v.float_param("f", "w", a, x, ndim=1)
    assert out.dtype == np.float32 and out is not a
    f64 = np.ones(3)
    assert v.float_param("f", "w", f64, x) is f64  # floating: returned as it is
    with pytest.raises(ValueError, match="f: w must be 2-D"):
        v.float_param("f", "w", a, x, ndim=2)
    with pytest.raises(TypeError, match="f: w must be a numpy or cupy array"):
        v.float_param("f", "w", [1, 2, 3], x)
