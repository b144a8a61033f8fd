"""Convolution: fast vs naive, gradients, im2col/col2im adjointness, references, contract."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import correlate2d

from gradcheck import check_layer
from gradcheck import strategies as S
from layers import (col2im, conv_backward, conv_backward_fast, conv_backward_naive,
                    conv_forward, conv_forward_fast, conv_forward_naive, conv_output_shape,
                    im2col)
from tests.helpers import host, on


def scipy_conv(x, w, b, stride, pad):
    """An independent reference: per (n, f), the sum over channels of scipy's 2-D
    cross-correlation of the padded image with the filter, subsampled by stride."""
    xpad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    N, F = x.shape[0], w.shape[0]
    out = []
    for n in range(N):
        maps = []
        for f in range(F):
            full = sum(correlate2d(xpad[n, c], w[f, c], mode="valid") for c in range(x.shape[1]))
            maps.append(full[::stride, ::stride] + b[f])
        out.append(maps)
    return np.array(out)


# --- property-based -------------------------------------------------------------------


@given(S.conv_inputs(all_padding_windows=True))
def test_fast_equals_naive_forward_and_every_gradient(xp, case):
    (x, w, b, conv_param), dout = on(xp, case)
    out_n, cache_n = conv_forward_naive(x, w, b, conv_param)
    out_f, cache_f = conv_forward_fast(x, w, b, conv_param)
    np.testing.assert_allclose(host(out_f), host(out_n), rtol=1e-10, atol=1e-12)
    for name, g_f, g_n in zip(("dx", "dw", "db"), conv_backward_fast(dout, cache_f),
                              conv_backward_naive(dout, cache_n), strict=True):
        np.testing.assert_allclose(host(g_f), host(g_n), rtol=1e-10, atol=1e-12, err_msg=name)


@given(S.conv_inputs(all_padding_windows=True))
def test_fast_forward_matches_scipy_reference(xp, case):
    (x, w, b, conv_param), _ = on(xp, case)
    out, _ = conv_forward_fast(x, w, b, conv_param)
    ref = scipy_conv(*case.inputs[:3], conv_param["stride"], conv_param["pad"])
    np.testing.assert_allclose(host(out), ref, rtol=1e-10, atol=1e-12)


@given(S.conv_inputs())
def test_fast_gradients(xp, case):
    inputs, dout = on(xp, case)
    check_layer(conv_forward_fast, conv_backward_fast, *inputs, dout=dout)


@settings(max_examples=15)  # one Python iteration per output element: slow by design
@given(S.conv_inputs(max_n=1, max_f=2, max_side=5))
def test_naive_gradients(xp, case):
    inputs, dout = on(xp, case)
    check_layer(conv_forward_naive, conv_backward_naive, *inputs, dout=dout)


@given(S.conv_geometry(all_padding_windows=True), st.integers(1, 2), st.integers(1, 3), S.seeds)
def test_col2im_is_the_adjoint_of_im2col(xp, geometry, N, C, seed):
    # <im2col(x), y> == <x, col2im(y)>: exact up to rounding, no finite differences
    H, W, HH, WW, stride, pad = geometry
    rng = np.random.default_rng(seed)
    x = xp.asarray(rng.standard_normal((N, C, H, W)))
    cols = im2col(x, HH, WW, stride, pad)
    OH, OW = conv_output_shape(H, W, HH, WW, stride, pad)
    assert cols.shape == (N, C, HH, WW, OH, OW)
    y = xp.asarray(rng.standard_normal(cols.shape))
    lhs = float((cols * y).sum())
    rhs = float((x * col2im(y, x.shape, stride, pad)).sum())
    assert lhs == pytest.approx(rhs, rel=1e-12, abs=1e-12)


@given(S.conv_inputs())
def test_linear_adjoint_identity(xp, case):
    # with b = 0 the conv is linear in x: <conv(x), dout> == <x, dx> (and likewise in w)
    (x, w, b, conv_param), dout = on(xp, case)
    out, cache = conv_forward_fast(x, w, xp.zeros_like(b), conv_param)
    dx, dw, _ = conv_backward_fast(dout, cache)
    lhs = float((out * dout).sum())
    assert float((x * dx).sum()) == pytest.approx(lhs, rel=1e-10, abs=1e-12)
    assert float((w * dw).sum()) == pytest.approx(lhs, rel=1e-10, abs=1e-12)


# --- explicit geometries ------------------------------------------------------------


GEOMETRIES = [  # N, C, H, W, F, HH, WW, stride, pad
    (2, 3, 7, 7, 4, 3, 3, 2, 0),
    (2, 3, 7, 7, 4, 3, 3, 2, 1),
    (2, 3, 7, 7, 4, 3, 3, 2, 2),
    (2, 2, 6, 9, 3, 2, 4, 1, 1),  # non-square kernel and input
    (1, 3, 5, 5, 2, 3, 3, 1, 1),  # a single example
    (3, 1, 6, 6, 2, 3, 3, 1, 1),  # a single channel
    (2, 2, 4, 4, 3, 1, 1, 1, 0),  # 1x1 conv
    (1, 2, 3, 3, 2, 5, 5, 1, 1),  # kernel larger than the input, pad makes it fit
    # wide enough rows for the stride-1 flat-window path (8 * (WW - 1) <= OW)
    (2, 2, 5, 16, 3, 3, 3, 1, 1),
    (2, 3, 4, 20, 4, 3, 3, 1, 2),
    (1, 2, 6, 17, 2, 2, 2, 1, 0),  # even kernel, no pad
]


@pytest.mark.parametrize("N, C, H, W, F, HH, WW, stride, pad", GEOMETRIES)
def test_explicit_geometries_fast_naive_and_scipy_agree(xp, N, C, H, W, F, HH, WW, stride, pad):
    rng = np.random.default_rng(0)
    xh, wh, bh = rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, HH, WW)), \
        rng.standard_normal(F)
    x, w, b = xp.asarray(xh), xp.asarray(wh), xp.asarray(bh)
    cp = {"stride": stride, "pad": pad}
    out_f, cache_f = conv_forward_fast(x, w, b, cp)
    out_n, cache_n = conv_forward_naive(x, w, b, cp)
    np.testing.assert_allclose(host(out_f), scipy_conv(xh, wh, bh, stride, pad), rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(host(out_n), host(out_f), rtol=1e-12, atol=1e-12)
    dout = xp.asarray(rng.standard_normal(out_f.shape))
    for g_f, g_n in zip(conv_backward_fast(dout, cache_f), conv_backward_naive(dout, cache_n),
                        strict=True):
        np.testing.assert_allclose(host(g_f), host(g_n), rtol=1e-12, atol=1e-12)
    check_layer(conv_forward_fast, conv_backward_fast, x, w, b, cp, dout=dout)


def test_values_by_hand(xp):
    # a 3x3 image 0..8 and one 2x2 filter of ones: each output is the sum of a 2x2 block
    x = xp.asarray(np.arange(9.0).reshape(1, 1, 3, 3))
    w = xp.ones((1, 1, 2, 2))
    b = xp.asarray([0.5])
    out, cache = conv_forward_fast(x, w, b, {"stride": 1, "pad": 0})
    np.testing.assert_allclose(host(out), [[[[8.5, 12.5], [20.5, 24.5]]]])
    dx, dw, db = conv_backward_fast(xp.ones((1, 1, 2, 2)), cache)
    # the centre pixel is in all four windows, corners in one, edges in two
    np.testing.assert_allclose(host(dx), [[[[1, 2, 1], [2, 4, 2], [1, 2, 1]]]])
    np.testing.assert_allclose(host(dw), [[[[8, 12], [20, 24]]]])
    np.testing.assert_allclose(host(db), [4.0])
    # a 3x3 filter of ones, stride 2, pad 1: windows over image rows/cols -1..1 and 1..3,
    # so each output is the sum of the 2x2 image block its window overlaps
    out, _ = conv_forward_fast(x, xp.ones((1, 1, 3, 3)), b, {"stride": 2, "pad": 1})
    np.testing.assert_allclose(host(out), [[[[8.5, 12.5], [20.5, 24.5]]]])
    # a 1x1 filter of 2, stride 2: every other pixel, doubled
    out, _ = conv_forward_fast(x, 2 * xp.ones((1, 1, 1, 1)), b, {"stride": 2, "pad": 0})
    np.testing.assert_allclose(host(out), [[[[0.5, 4.5], [12.5, 16.5]]]])


def test_cs231n_shape_fast_equals_naive(xp):
    # CS231n's test layer (x (100, 3, 31, 31), w (25, 3, 3, 3), stride 2, pad 1) with a
    # smaller batch so the naive loops stay quick
    rng = np.random.default_rng(231)
    x = xp.asarray(rng.standard_normal((4, 3, 31, 31)))
    w = xp.asarray(rng.standard_normal((25, 3, 3, 3)))
    b = xp.asarray(rng.standard_normal(25))
    cp = {"stride": 2, "pad": 1}
    out_f, cache_f = conv_forward(x, w, b, cp)
    out_n, cache_n = conv_forward_naive(x, w, b, cp)
    assert out_f.shape == (4, 25, 16, 16)
    np.testing.assert_allclose(host(out_f), host(out_n), rtol=1e-10, atol=1e-12)
    dout = xp.asarray(rng.standard_normal(out_f.shape))
    for g_f, g_n in zip(conv_backward(dout, cache_f), conv_backward_naive(dout, cache_n),
                        strict=True):
        np.testing.assert_allclose(host(g_f), host(g_n), rtol=1e-10, atol=1e-10)


def test_aliases():
    assert conv_forward is conv_forward_fast and conv_backward is conv_backward_fast


# --- the contract ---------------------------------------------------------------------


@pytest.mark.parametrize("forward, backward", [(conv_forward_fast, conv_backward_fast),
                                               (conv_forward_naive, conv_backward_naive)])
def test_float32_stays_float32_and_agrees_with_float64(xp, forward, backward):
    rng = np.random.default_rng(3)
    x, w, b = (xp.asarray(rng.standard_normal(s).astype(np.float32))
               for s in [(2, 3, 6, 5), (4, 3, 3, 2), (4,)])
    cp = {"stride": 1, "pad": 1}
    out, cache = forward(x, w, b, cp)
    assert out.dtype == np.float32
    grads = backward(xp.ones_like(out), cache)
    assert all(g.dtype == np.float32 for g in grads)
    from gradcheck import GradcheckPrecisionWarning
    with pytest.warns(GradcheckPrecisionWarning):  # and the float32 path agrees
        check_layer(forward, backward, x, w, b, cp)


def test_non_contiguous_inputs_give_the_same_result(xp):
    rng = np.random.default_rng(4)
    x = xp.asarray(rng.standard_normal((2, 5, 3, 6)).transpose(0, 2, 1, 3))  # (2, 3, 5, 6)
    w = xp.asarray(rng.standard_normal((3, 3, 4, 2))[..., ::2, :])  # (3, 3, 2, 2)
    b = xp.asarray(rng.standard_normal(3))
    cp = {"stride": 1, "pad": 0}
    out, cache = conv_forward_fast(x, w, b, cp)
    out_c, cache_c = conv_forward_fast(xp.ascontiguousarray(x), xp.ascontiguousarray(w), b, cp)
    np.testing.assert_array_equal(host(out), host(out_c))
    dout = xp.asarray(rng.standard_normal(out.shape)).transpose(0, 1, 3, 2).copy()
    dout = dout.transpose(0, 1, 3, 2)  # non-contiguous, same values
    for g, g_c in zip(conv_backward_fast(dout, cache),
                      conv_backward_fast(xp.ascontiguousarray(dout), cache_c), strict=True):
        np.testing.assert_allclose(host(g), host(g_c), rtol=1e-14, atol=1e-14)


def test_conv_output_shape():
    assert conv_output_shape(32, 32, 3, 3, 1, 1) == (32, 32)
    assert conv_output_shape(31, 31, 3, 3, 2, 1) == (16, 16)
    assert conv_output_shape(7, 9, 3, 1, 2, 0) == (3, 5)
    with pytest.raises(ValueError, match=r"does not tile along W: W \+ 2\*pad - WW = "
                                         r"6 is not a multiple of stride 4"):
        conv_output_shape(5, 7, 3, 3, 4, 1)
    with pytest.raises(ValueError, match=r"larger than the input along H"):
        conv_output_shape(2, 5, 3, 3)


@pytest.mark.parametrize("forward", [conv_forward_fast, conv_forward_naive])
def test_bad_input_names_the_problem(xp, forward):
    fn = forward.__name__
    x, w, b = xp.ones((2, 3, 5, 5)), xp.ones((4, 3, 3, 3)), xp.ones(4)
    cp = {"stride": 1, "pad": 1}
    with pytest.raises(ValueError, match=fn + r": x has C = 2 channels.*but w has C = 3"):
        forward(xp.ones((2, 2, 5, 5)), w, b, cp)
    with pytest.raises(ValueError, match=fn + r": geometry does not tile along H: "
                                              r"H \+ 2\*pad - HH = 4 is not a multiple of "
                                              r"stride 3"):
        forward(x, w, b, {"stride": 3, "pad": 1})
    with pytest.raises(ValueError, match=fn + r": x must be 4-D \(N, C, H, W\); "
                                              r"got shape \(3, 5, 5\)"):
        forward(xp.ones((3, 5, 5)), w, b, cp)
    with pytest.raises(ValueError, match=r"conv_param is missing key\(s\) \['pad'\]"):
        forward(x, w, b, {"stride": 1})
    with pytest.raises(ValueError, match=r"conv_param\['stride'\] must be an integer >= 1"):
        forward(x, w, b, {"stride": 0, "pad": 1})
    with pytest.raises(ValueError, match=r"b must have shape \(4,\)"):
        forward(x, w, xp.ones(3), cp)
    with pytest.raises(TypeError, match="share one floating dtype"):
        forward(x.astype(xp.float32), w, b, cp)


def test_backward_checks_dout_shape(xp):
    out, cache = conv_forward_fast(xp.ones((2, 3, 5, 5)), xp.ones((4, 3, 3, 3)), xp.ones(4),
                                   {"stride": 1, "pad": 1})
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 4, 5, 5\).*"
                                         r"got \(2, 4, 5, 4\)"):
        conv_backward_fast(xp.ones((2, 4, 5, 4)), cache)


# --- the opt-in batch split over Python threads ---------------------------------------


@pytest.fixture
def two_threads():
    from layers import set_threads
    set_threads(2)
    yield
    set_threads(None)


def test_batch_parts_split():
    from layers import _threads
    assert _threads.batch_parts(10, np.ones(1)) == [slice(0, 10)]  # off by default
    _threads.set_threads(3)
    try:
        if _threads.get_threads() == 1:
            pytest.skip("threadpoolctl is not installed: the option stays off")
        assert _threads.batch_parts(12, np.ones(1)) == [slice(0, 4), slice(4, 8),
                                                        slice(8, 12)]
        assert _threads.batch_parts(7, np.ones(1)) == [slice(0, 7)]  # too small to split
        assert _threads.batch_parts(9, np.ones(1)) == [slice(0, 4), slice(4, 9)]
    finally:
        _threads.set_threads(None)
    with pytest.raises(ValueError, match="positive int"):
        _threads.set_threads(0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_threaded_conv_equals_one_part(xp, two_threads, dtype):
    from layers import get_threads, set_threads
    rng = np.random.default_rng(8)
    x = xp.asarray(rng.standard_normal((10, 3, 9, 8)).astype(dtype))
    w = xp.asarray(rng.standard_normal((5, 3, 3, 2)).astype(dtype))
    b = xp.asarray(rng.standard_normal(5).astype(dtype))
    cp = {"stride": 1, "pad": 2}
    out2, cache2 = conv_forward_fast(x, w, b, cp)
    dout = xp.asarray(rng.standard_normal(out2.shape).astype(dtype))
    grads2 = conv_backward_fast(dout, cache2)
    threads = get_threads()
    set_threads(1)
    out1, cache1 = conv_forward_fast(x, w, b, cp)
    grads1 = conv_backward_fast(dout, cache1)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for a, c in zip((out2,) + grads2, (out1,) + grads1, strict=True):
        assert a.dtype == dtype
        np.testing.assert_allclose(host(a), host(c), rtol=tol, atol=tol)
    if threads == 2:  # a gradient check through the split path too
        set_threads(2)
        check_layer(conv_forward_fast, conv_backward_fast, x.astype(xp.float64),
                    w.astype(xp.float64), b.astype(xp.float64), cp, num_checks=30)


@settings(max_examples=25)
@given(S.conv_inputs(all_padding_windows=True))
def test_threaded_fast_equals_naive(xp, case):
    # the drawn batch repeated 8 times, so the split path really splits it
    from layers import _threads
    (x, w, b, conv_param), dout = on(xp, case)
    x, dout = xp.concatenate([x] * 8), xp.concatenate([dout] * 8)
    _threads.set_threads(2)
    try:
        if len(_threads.batch_parts(x.shape[0], x)) < 2:
            pytest.skip("threadpoolctl is not installed: the option stays off")
        out_f, cache_f = conv_forward_fast(x, w, b, conv_param)
        grads_f = conv_backward_fast(dout, cache_f)
    finally:
        _threads.set_threads(None)
    out_n, cache_n = conv_forward_naive(x, w, b, conv_param)
    np.testing.assert_allclose(host(out_f), host(out_n), rtol=1e-10, atol=1e-12)
    for g_f, g_n in zip(grads_f, conv_backward_naive(dout, cache_n), strict=True):
        np.testing.assert_allclose(host(g_f), host(g_n), rtol=1e-10, atol=1e-11)


@pytest.mark.parametrize("H, W, HH, WW, stride, pad", [
    (5, 16, 3, 3, 1, 1),  # flat windows
    (7, 7, 3, 3, 2, 1),  # 2-D windows, stride 2
    (6, 6, 3, 3, 1, 1),  # 2-D windows, stride 1 (rows too short for flat ones)
])
@pytest.mark.parametrize("threads", [1, 2])
def test_chunked_batch_equals_naive(xp, monkeypatch, H, W, HH, WW, stride, pad, threads):
    # the fast conv runs the batch a few examples at a time; with a tiny chunk size every
    # example is its own chunk (and with 2 threads, within two parts)
    import layers.conv as conv
    from layers import set_threads
    monkeypatch.setattr(conv, "_CHUNK_BYTES", 1)
    rng = np.random.default_rng(9)
    x = xp.asarray(rng.standard_normal((9, 2, H, W)))
    w, b = xp.asarray(rng.standard_normal((3, 2, HH, WW))), xp.asarray(rng.standard_normal(3))
    cp = {"stride": stride, "pad": pad}
    set_threads(threads)
    try:
        out_f, cache_f = conv_forward_fast(x, w, b, cp)
        dout = xp.asarray(rng.standard_normal(out_f.shape))
        grads_f = conv_backward_fast(dout, cache_f)
    finally:
        set_threads(None)
    out_n, cache_n = conv_forward_naive(x, w, b, cp)
    np.testing.assert_allclose(host(out_f), host(out_n), rtol=1e-10, atol=1e-12)
    for g_f, g_n in zip(grads_f, conv_backward_naive(dout, cache_n), strict=True):
        np.testing.assert_allclose(host(g_f), host(g_n), rtol=1e-10, atol=1e-11)
