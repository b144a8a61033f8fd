"""affine and relu: property-based gradient checks and the call contract."""

import numpy as np
import pytest
from hypothesis import given

from gradcheck import check_layer
from gradcheck import strategies as S
from layers import affine_backward, affine_forward, relu_backward, relu_forward
from tests.helpers import host, on


@given(S.affine_inputs())
def test_affine_gradients(xp, case):
    inputs, dout = on(xp, case)
    check_layer(affine_forward, affine_backward, *inputs, dout=dout)


@given(S.relu_inputs())
def test_relu_gradients(xp, case):
    inputs, dout = on(xp, case)
    check_layer(relu_forward, relu_backward, *inputs, dout=dout)


def test_affine_values_by_hand(xp):
    x = xp.asarray([[[1.0, 2.0], [3.0, 4.0]]])  # (1, 2, 2): D = 4
    w = xp.asarray(np.arange(8.0).reshape(4, 2))
    b = xp.asarray([0.5, -0.5])
    out, _ = affine_forward(x, w, b)
    # row [1, 2, 3, 4] @ [[0,1],[2,3],[4,5],[6,7]] = [40, 50]
    np.testing.assert_allclose(host(out), [[40.5, 49.5]])


def test_relu_values_and_kink(xp):
    x = xp.asarray([-2.0, 0.0, 3.0])
    out, cache = relu_forward(x)
    np.testing.assert_array_equal(host(out), [0.0, 0.0, 3.0])
    dx = relu_backward(xp.asarray([1.0, 1.0, 1.0]), cache)
    np.testing.assert_array_equal(host(dx), [0.0, 0.0, 1.0])  # 0 at the kink, as CS231n


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(xp, dtype):
    rng = np.random.default_rng(0)
    x, w, b = (xp.asarray(rng.standard_normal(s).astype(dtype)) for s in [(3, 4), (4, 2), (2,)])
    out, cache = affine_forward(x, w, b)
    assert out.dtype == dtype
    assert all(g.dtype == dtype for g in affine_backward(out, cache))
    r, rc = relu_forward(x)
    assert r.dtype == dtype and relu_backward(r, rc).dtype == dtype


def test_affine_bad_shapes_name_the_argument(xp):
    x = xp.ones((2, 3, 4))
    with pytest.raises(ValueError, match=r"w must have shape \(D, M\) with D = 12.*got \(11, 5\)"):
        affine_forward(x, xp.ones((11, 5)), xp.ones(5))
    with pytest.raises(ValueError, match=r"b must have shape \(5,\).*got \(4,\)"):
        affine_forward(x, xp.ones((12, 5)), xp.ones(4))
    with pytest.raises(ValueError, match=r"w must be 2-D \(D, M\); got shape \(12,\)"):
        affine_forward(x, xp.ones(12), xp.ones(5))
    with pytest.raises(TypeError, match="x must be a numpy or cupy array"):
        affine_forward([[1.0]], xp.ones((1, 1)), xp.ones(1))
    with pytest.raises(TypeError, match="share one floating dtype"):
        affine_forward(x.astype(xp.float32), xp.ones((12, 5)), xp.ones(5))
    _, cache = affine_forward(x, xp.ones((12, 5)), xp.ones(5))
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 5\)"):
        affine_backward(xp.ones((2, 4)), cache)


def test_float32_inputs_are_checked_in_float64_with_one_warning(xp):
    from gradcheck import GradcheckPrecisionWarning
    rng = np.random.default_rng(1)
    x, w, b = (xp.asarray(rng.standard_normal(s).astype(np.float32))
               for s in [(3, 4), (4, 2), (2,)])
    with pytest.warns(GradcheckPrecisionWarning) as record:
        report = check_layer(affine_forward, affine_backward, x, w, b)
    assert len([r for r in record if r.category is GradcheckPrecisionWarning]) == 1
    assert report.ok and any("float32 path agrees" in n for n in report.notes)
    assert x.dtype == np.float32  # the caller's arrays are untouched
