"""Inverted dropout: gradient checks, mask statistics, modes, seeds and bad input."""

import sys

import numpy as np
import pytest
from hypothesis import given

from gradcheck import check_layer
from gradcheck import strategies as S
from layers import dropout_backward, dropout_forward
from tests.helpers import host, on


@given(S.dropout_inputs())
def test_dropout_gradients(xp, case):
    inputs, dout = on(xp, case)
    check_layer(dropout_forward, dropout_backward, *inputs, dout=dout)


def _x(xp, shape, dtype=np.float64, seed=0):
    """Values away from 0, so out == 0 means "dropped"."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 1.5, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    return xp.asarray(a.astype(dtype))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_kept_fraction_is_p_and_kept_values_are_scaled(xp, p):
    x = _x(xp, (400, 250))  # n = 100000 draws
    out, _ = dropout_forward(x, {"p": p, "mode": "train", "seed": 1})
    out, x = host(out), host(x)
    kept = out != 0
    n = kept.size
    sigma = np.sqrt(p * (1 - p) / n)
    assert abs(kept.mean() - p) < 5 * sigma  # binomial sampling error, 5 sigma
    np.testing.assert_allclose(out[kept], x[kept] / p, rtol=1e-12)
    # inverted dropout keeps the expectation: mean(out / x) = 1 within sampling error
    ratio = out / x
    assert abs(ratio.mean() - 1) < 5 * np.sqrt((1 - p) / (p * n))


def test_test_mode_and_p_one_are_the_identity(xp):
    x = _x(xp, (6, 5))
    for param in ({"p": 0.3, "mode": "test", "seed": 0}, {"p": 0.3, "mode": "test"},
                  {"p": 1.0, "mode": "train", "seed": 0}, {"p": 1, "mode": "train"}):
        out, cache = dropout_forward(x, param)
        np.testing.assert_array_equal(host(out), host(x))
        dout = _x(xp, (6, 5), seed=3)
        np.testing.assert_array_equal(host(dropout_backward(dout, cache)), host(dout))


def test_backward_uses_the_forwards_mask(xp):
    x = _x(xp, (50, 40))
    p = 0.6
    out, cache = dropout_forward(x, {"p": p, "mode": "train"})  # unseeded: fresh mask
    dout = _x(xp, (50, 40), seed=7)
    dx = host(dropout_backward(dout, cache))
    out, x, dout = host(out), host(x), host(dout)
    mask = out / x  # 0 or 1/p, exactly the forward's mask
    assert set(np.unique(np.round(mask * p, 12))) == {0.0, 1.0}
    np.testing.assert_allclose(dx, dout * mask, rtol=1e-12)
    assert np.array_equal(dx == 0, out == 0)


def test_same_seed_same_mask_other_seed_other_mask(xp):
    x = _x(xp, (30, 20))
    a, _ = dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 42})
    b, _ = dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 42})
    c, _ = dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 43})
    d, _ = dropout_forward(x, {"p": 0.5, "mode": "train"})
    e, _ = dropout_forward(x, {"p": 0.5, "mode": "train", "seed": None})
    assert np.array_equal(host(a), host(b))
    assert not np.array_equal(host(a) != 0, host(c) != 0)
    assert not np.array_equal(host(d) != 0, host(e) != 0)  # fresh entropy each call


def test_a_generator_seed_advances(xp):
    x = _x(xp, (30, 20))
    param = {"p": 0.5, "mode": "train", "seed": np.random.default_rng(5)}
    a, _ = dropout_forward(x, param)
    b, _ = dropout_forward(x, param)
    assert not np.array_equal(host(a) != 0, host(b) != 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept_and_input_untouched(xp, dtype):
    x = _x(xp, (8, 7), dtype)
    saved = host(x).copy()
    out, cache = dropout_forward(x, {"p": 0.7, "mode": "train", "seed": 0})
    assert out.dtype == dtype and cache[0].dtype == dtype
    assert dropout_backward(out, cache).dtype == dtype
    np.testing.assert_array_equal(host(x), saved)


@pytest.mark.parametrize("p", [0, 0.0, -0.1, 1.5, float("nan")])
def test_p_outside_zero_one_is_rejected(xp, p):
    with pytest.raises(ValueError, match=r"dropout_param\['p'\].*\(0, 1\]"):
        dropout_forward(_x(xp, (2, 2)), {"p": p, "mode": "train"})


def test_bad_params_name_the_key(xp):
    x = _x(xp, (2, 2))
    with pytest.raises(ValueError, match=r"dropout_param is missing key\(s\) \['mode'\]"):
        dropout_forward(x, {"p": 0.5})
    with pytest.raises(ValueError, match=r"dropout_param is missing key\(s\) \['p'\]"):
        dropout_forward(x, {"mode": "train"})
    with pytest.raises(ValueError, match=r"dropout_param\['mode'\] must be one of"):
        dropout_forward(x, {"p": 0.5, "mode": "eval"})
    with pytest.raises(TypeError, match=r"dropout_param\['p'\] must be a number"):
        dropout_forward(x, {"p": "0.5", "mode": "train"})
    with pytest.raises(TypeError, match="dropout_param must be a dict"):
        dropout_forward(x, 0.5)
    _, cache = dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 0})
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 2\)"):
        dropout_backward(xp.ones((2, 3)), cache)


@pytest.fixture
def cp(monkeypatch):
    """The CuPy stand-in as ``cupy`` for one test, its counts at zero."""
    from tests import fake_cupy

    monkeypatch.setitem(sys.modules, "cupy", fake_cupy)
    fake_cupy.reset_counts()
    return fake_cupy


@pytest.mark.parametrize("seed", [3, "generator", None])
def test_a_device_mask_is_drawn_on_the_device(cp, seed):
    """No mask (nor any draw) is sent from the host and nothing is read back: the device's
    generator draws it. An int seed gives the same mask at every call; a Generator a new
    one each call, the same sequence again from a Generator of the same seed."""
    x = cp.asarray(_x(np, (40, 30), np.float32))
    make = (lambda: np.random.default_rng(11)) if seed == "generator" else (lambda: seed)
    param = {"p": 0.5, "mode": "train", "seed": make()}
    cp.reset_counts()
    (a, cache), (b, _) = dropout_forward(x, param), dropout_forward(x, param)
    dropout_backward(a, cache)
    assert (cp.to_device(), cp.syncs(), cp.device_draws()) == (0, 0, 2)
    assert isinstance(a, cp.ndarray) and a.dtype == np.float32
    kept = host(a) != 0
    assert 0.4 < kept.mean() < 0.6
    assert np.array_equal(kept, host(b) != 0) == (seed == 3)
    if seed == "generator":
        again, _ = dropout_forward(x, {**param, "seed": make()})
        np.testing.assert_array_equal(host(again), host(a))


def test_the_mask_does_not_depend_on_the_dtype(xp):
    """One seed, one mask for float32 and float64 inputs, on every backend: a float32
    layer and its float64 gradient check must drop the same elements."""
    param = {"p": 0.5, "mode": "train", "seed": 5}
    m32 = host(dropout_forward(_x(xp, (20, 30), np.float32), param)[0]) != 0
    m64 = host(dropout_forward(_x(xp, (20, 30), np.float64), param)[0]) != 0
    np.testing.assert_array_equal(m32, m64)
