"""Max pooling (fast vs naive, ties, overlap, gradients, contract) and global average pool."""

import numpy as np
import pytest
from hypothesis import given, settings

from gradcheck import check_layer
from gradcheck import strategies as S
from layers import (global_avg_pool_backward, global_avg_pool_forward, max_pool_backward,
                    max_pool_backward_fast, max_pool_backward_naive, max_pool_forward,
                    max_pool_forward_fast, max_pool_forward_naive)
from tests.helpers import host, on


def pool(ph, pw, s):
    return {"pool_height": ph, "pool_width": pw, "stride": s}


@given(S.pool_inputs())
def test_fast_equals_naive(xp, case):
    (x, pool_param), dout = on(xp, case)
    out_f, cache_f = max_pool_forward_fast(x, pool_param)
    out_n, cache_n = max_pool_forward_naive(x, pool_param)
    np.testing.assert_array_equal(host(out_f), host(out_n))  # a max is exact
    np.testing.assert_allclose(host(max_pool_backward_fast(dout, cache_f)),
                               host(max_pool_backward_naive(dout, cache_n)),
                               rtol=1e-12, atol=1e-14)


@given(S.pool_inputs(), S.seeds)
def test_fast_equals_naive_with_ties(xp, case, seed):
    # values from {0, 1, 2}: most windows hold ties; both must route each window's
    # gradient to the same single element
    (x, pool_param), dout = on(xp, case)
    x = xp.asarray(np.random.default_rng(seed).integers(0, 3, x.shape).astype(np.float64))
    out_f, cache_f = max_pool_forward_fast(x, pool_param)
    out_n, cache_n = max_pool_forward_naive(x, pool_param)
    np.testing.assert_array_equal(host(out_f), host(out_n))
    dx_f = max_pool_backward_fast(dout, cache_f)
    np.testing.assert_allclose(host(dx_f), host(max_pool_backward_naive(dout, cache_n)),
                               rtol=1e-12, atol=1e-14)
    # gradient is conserved: every window passes its whole dout on, once
    assert float(dx_f.sum()) == pytest.approx(float(dout.sum()), rel=1e-12, abs=1e-12)


@given(S.pool_inputs())
def test_fast_gradients(xp, case):
    inputs, dout = on(xp, case)
    check_layer(max_pool_forward_fast, max_pool_backward_fast, *inputs, dout=dout)


@settings(max_examples=30)
@given(S.pool_inputs())
def test_naive_gradients(xp, case):
    inputs, dout = on(xp, case)
    check_layer(max_pool_forward_naive, max_pool_backward_naive, *inputs, dout=dout)


@pytest.mark.parametrize("forward, backward", [
    (max_pool_forward_fast, max_pool_backward_fast),
    (max_pool_forward_naive, max_pool_backward_naive)])
def test_ties_go_to_the_first_maximum_by_hand(xp, forward, backward):
    x = xp.asarray([[[[1.0, 1.0, 0.0, 3.0],
                      [1.0, 0.0, 3.0, 3.0],
                      [2.0, 5.0, 4.0, 4.0],
                      [5.0, 5.0, 4.0, 4.0]]]])
    out, cache = forward(x, pool(2, 2, 2))
    np.testing.assert_array_equal(host(out), [[[[1.0, 3.0], [5.0, 4.0]]]])
    dx = backward(xp.asarray([[[[10.0, 20.0], [30.0, 40.0]]]]), cache)
    np.testing.assert_array_equal(host(dx), [[[[10, 0, 0, 20],
                                                [0, 0, 0, 0],
                                                [0, 30, 40, 0],
                                                [0, 0, 0, 0]]]])


@pytest.mark.parametrize("forward, backward", [
    (max_pool_forward_fast, max_pool_backward_fast),
    (max_pool_forward_naive, max_pool_backward_naive)])
def test_overlapping_windows_by_hand(xp, forward, backward):
    # 3x3 windows, stride 2, on a 5x5 image: row 2 and column 2 are shared
    x = xp.asarray(np.array([[0, 1, 2, 3, 4],
                             [5, 6, 7, 8, 9],
                             [10, 24, 11, 13, 14],
                             [15, 16, 17, 18, 19],
                             [20, 21, 22, 23, 12]], dtype=float)[None, None])
    out, cache = forward(x, pool(3, 3, 2))
    np.testing.assert_array_equal(host(out), [[[[24, 14], [24, 23]]]])
    dx = backward(xp.asarray([[[[1.0, 2.0], [4.0, 8.0]]]]), cache)
    want = np.zeros((5, 5))
    want[2, 1] = 1 + 4  # the shared maximum collects both windows' gradients
    want[2, 4] = 2
    want[4, 3] = 8
    np.testing.assert_array_equal(host(dx)[0, 0], want)


def test_against_torch(xp):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    for ph, pw, s, shape in [(2, 2, 2, (2, 3, 8, 6)), (3, 3, 2, (2, 2, 7, 9)),
                             (2, 3, 1, (1, 2, 5, 6)), (1, 2, 3, (2, 1, 7, 8))]:
        x = rng.standard_normal(shape)
        out, cache = max_pool_forward(xp.asarray(x), pool(ph, pw, s))
        xt = torch.tensor(x, requires_grad=True)
        ot = torch.nn.functional.max_pool2d(xt, (ph, pw), stride=s)
        dout = rng.standard_normal(ot.shape)
        ot.backward(torch.tensor(dout))
        np.testing.assert_array_equal(host(out), ot.detach().numpy())
        np.testing.assert_allclose(host(max_pool_backward(xp.asarray(dout), cache)),
                                   xt.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_aliases():
    assert max_pool_forward is max_pool_forward_fast
    assert max_pool_backward is max_pool_backward_fast


@pytest.mark.parametrize("forward, backward", [
    (max_pool_forward_fast, max_pool_backward_fast),
    (max_pool_forward_naive, max_pool_backward_naive)])
def test_float32_stays_float32(xp, forward, backward):
    x = xp.asarray(np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32))
    out, cache = forward(x, pool(2, 2, 2))
    assert out.dtype == np.float32
    assert backward(xp.ones_like(out), cache).dtype == np.float32


def test_non_contiguous_input(xp):
    x = xp.asarray(np.random.default_rng(1).standard_normal((2, 6, 3, 4)))
    xt = x.transpose(0, 2, 3, 1)  # (2, 3, 4, 6), not contiguous
    out, cache = max_pool_forward_fast(xt, pool(2, 2, 2))
    out_c, cache_c = max_pool_forward_fast(xp.ascontiguousarray(xt), pool(2, 2, 2))
    np.testing.assert_array_equal(host(out), host(out_c))
    dout = xp.ones_like(out)
    np.testing.assert_array_equal(host(max_pool_backward_fast(dout, cache)),
                                  host(max_pool_backward_fast(dout, cache_c)))


@pytest.mark.parametrize("forward", [max_pool_forward_fast, max_pool_forward_naive])
def test_bad_input_names_the_problem(xp, forward):
    fn = forward.__name__
    x = xp.ones((2, 3, 6, 6))
    with pytest.raises(ValueError, match=fn + r": pool_param is missing key\(s\) "
                                              r"\['pool_width'\]"):
        forward(x, {"pool_height": 2, "stride": 2})
    with pytest.raises(ValueError, match=fn + r": x must be 4-D \(N, C, H, W\); "
                                              r"got shape \(3, 6, 6\)"):
        forward(xp.ones((3, 6, 6)), pool(2, 2, 2))
    with pytest.raises(ValueError, match=fn + r": geometry does not tile along W: "
                                              r"W - pool_width = 3 is not a multiple of "
                                              r"stride 2"):
        forward(xp.ones((2, 3, 6, 5)), pool(2, 2, 2))
    with pytest.raises(ValueError, match=r"larger than the input along H"):
        forward(xp.ones((2, 3, 1, 6)), pool(2, 2, 2))
    with pytest.raises(TypeError, match="x must be a floating-point array"):
        forward(xp.ones((2, 3, 6, 6), dtype=xp.int64), pool(2, 2, 2))


def test_backward_checks_dout_shape(xp):
    out, cache = max_pool_forward_fast(xp.ones((2, 3, 6, 6)), pool(2, 2, 2))
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 3, 3, 3\)"):
        max_pool_backward_fast(xp.ones((2, 3, 3, 2)), cache)


# --- global average pooling -----------------------------------------------------------


@given(S.pool_inputs())
def test_global_avg_pool_gradients(xp, case):
    (x, _), _ = on(xp, case)
    check_layer(global_avg_pool_forward, global_avg_pool_backward, x)


def test_global_avg_pool_values(xp):
    x = xp.asarray(np.arange(8.0).reshape(1, 2, 2, 2))
    out, cache = global_avg_pool_forward(x)
    np.testing.assert_allclose(host(out), [[1.5, 5.5]])
    dx = global_avg_pool_backward(xp.asarray([[4.0, 8.0]]), cache)
    np.testing.assert_allclose(host(dx), [[[[1, 1], [1, 1]], [[2, 2], [2, 2]]]])
