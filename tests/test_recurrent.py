"""RNN, LSTM and GRU (steps and sequences): gradient checks, references, the contract."""

import math

import numpy as np
import pytest
from hypothesis import given

from gradcheck import check_layer
from gradcheck import strategies as S
from layers import (gru_backward, gru_forward, gru_step_backward, gru_step_forward,
                    lstm_backward, lstm_forward, lstm_step_backward, lstm_step_forward,
                    rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward)
from tests.helpers import host, on

STEPS = {"rnn": (rnn_step_forward, rnn_step_backward),
         "lstm": (lstm_step_forward, lstm_step_backward),
         "gru": (gru_step_forward, gru_step_backward)}
SEQS = {"rnn": (rnn_forward, rnn_backward),
        "lstm": (lstm_forward, lstm_backward),
        "gru": (gru_forward, gru_backward)}
K = {"rnn": 1, "gru": 3, "lstm": 4}


# --- property-based gradient checks (float64, random upstream) ------------------------


@given(S.recurrent_inputs("rnn", seq=False))
def test_rnn_step_gradients(xp, case):
    inputs, dout = on(xp, case)
    check_layer(rnn_step_forward, rnn_step_backward, *inputs, dout=dout)


@given(S.recurrent_inputs("rnn", seq=True))
def test_rnn_sequence_gradients(xp, case):
    inputs, dout = on(xp, case)
    check_layer(rnn_forward, rnn_backward, *inputs, dout=dout)


@given(S.recurrent_inputs("lstm", seq=False))
def test_lstm_step_gradients(xp, case):
    inputs, dout = on(xp, case)
    check_layer(lstm_step_forward, lstm_step_backward, *inputs, dout=dout)


@given(S.recurrent_inputs("lstm", seq=True))
def test_lstm_sequence_gradients(xp, case):
    inputs, dout = on(xp, case)
    check_layer(lstm_forward, lstm_backward, *inputs, dout=dout)


@given(S.recurrent_inputs("gru", seq=False))
def test_gru_step_gradients(xp, case):
    inputs, dout = on(xp, case)
    check_layer(gru_step_forward, gru_step_backward, *inputs, dout=dout)


@given(S.recurrent_inputs("gru", seq=True))
def test_gru_sequence_gradients(xp, case):
    inputs, dout = on(xp, case)
    check_layer(gru_forward, gru_backward, *inputs, dout=dout)


# --- the sequence versions against a loop of the step functions -----------------------


def _params(xp, cell, N, T, D, H, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    k = K[cell]
    shapes = [(N, T, D), (N, H), (D, k * H), (H, k * H), (k * H,)]
    scales = [1.0, 1.0, 0.4, 0.4, 0.4]
    return [xp.asarray((s * rng.standard_normal(sh)).astype(dtype))
            for sh, s in zip(shapes, scales, strict=True)]


def _step_loop(xp, cell, x, h0, Wx, Wh, b, dh):
    """Forward and backward of a sequence by composing the step functions."""
    step, step_back = STEPS[cell]
    N, T, _ = x.shape
    h, c, caches, hs = h0, xp.zeros_like(h0), [], []
    for t in range(T):
        if cell == "lstm":
            h, c, cache = step(x[:, t], h, c, Wx, Wh, b)
        else:
            h, cache = step(x[:, t], h, Wx, Wh, b)
        hs.append(h)
        caches.append(cache)
    dx = xp.zeros_like(x)
    dWx, dWh, db = xp.zeros_like(Wx), xp.zeros_like(Wh), xp.zeros_like(b)
    dnext, dc = xp.zeros_like(h0), xp.zeros_like(h0)
    for t in reversed(range(T)):
        if cell == "lstm":
            g = step_back(dh[:, t] + dnext, dc, caches[t])
            dxt, dnext, dc, gWx, gWh, gb = g
        else:
            dxt, dnext, gWx, gWh, gb = step_back(dh[:, t] + dnext, caches[t])
        dx[:, t] = dxt
        dWx, dWh, db = dWx + gWx, dWh + gWh, db + gb
    return xp.stack(hs, axis=1), (dx, dnext, dWx, dWh, db)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("N,T,D,H", [(1, 1, 1, 1), (3, 5, 4, 2), (2, 7, 3, 6)])
def test_sequence_matches_step_loop(xp, cell, N, T, D, H):
    inputs = _params(xp, cell, N, T, D, H)
    dh = xp.asarray(np.random.default_rng(9).standard_normal((N, T, H)))
    fwd, back = SEQS[cell]
    h, cache = fwd(*inputs)
    grads = back(dh, cache)
    h_ref, grads_ref = _step_loop(xp, cell, *inputs, dh)
    np.testing.assert_allclose(host(h), host(h_ref), rtol=1e-12, atol=1e-12)
    for name, g, r in zip(["dx", "dh0", "dWx", "dWh", "db"], grads, grads_ref, strict=True):
        np.testing.assert_allclose(host(g), host(r), rtol=1e-10, atol=1e-12, err_msg=name)


# --- values from first principles and from PyTorch ------------------------------------


def _sig(z):
    return 1 / (1 + math.exp(-z))


def test_scalar_cells_by_hand(xp):
    """N = D = H = 1: every gate written out with math on Python floats."""
    x, h, c = 0.7, -0.3, 0.5
    wx = [0.2, -0.4, 0.6, 0.3]  # i, f, o, g
    wh = [0.5, 0.1, -0.2, 0.8]
    bb = [0.1, 0.2, -0.1, 0.05]
    a = [wx[k] * x + wh[k] * h + bb[k] for k in range(4)]
    i, f, o, g = _sig(a[0]), _sig(a[1]), _sig(a[2]), math.tanh(a[3])
    c_ref = f * c + i * g
    h_ref = o * math.tanh(c_ref)
    arr = lambda vals: xp.asarray(np.array(vals, dtype=np.float64).reshape(1, -1))  # noqa
    nh, nc, _ = lstm_step_forward(arr([x]), arr([h]), arr([c]), arr(wx), arr(wh),
                                  xp.asarray(np.array(bb)))
    assert host(nh)[0, 0] == pytest.approx(h_ref, rel=1e-14)
    assert host(nc)[0, 0] == pytest.approx(c_ref, rel=1e-14)
    # GRU, gates r, z, n; reset applied to the recurrent product (see layers.gru)
    wx, wh, bb = wx[:3], wh[:3], bb[:3]
    r = _sig(wx[0] * x + wh[0] * h + bb[0])
    z = _sig(wx[1] * x + wh[1] * h + bb[1])
    n = math.tanh(wx[2] * x + bb[2] + r * (wh[2] * h))
    nh, _ = gru_step_forward(arr([x]), arr([h]), arr(wx), arr(wh), xp.asarray(np.array(bb)))
    assert host(nh)[0, 0] == pytest.approx((1 - z) * n + z * h, rel=1e-14)
    nh, _ = rnn_step_forward(arr([x]), arr([h]), arr([0.9]), arr([-1.1]),
                             xp.asarray(np.array([0.2])))
    assert host(nh)[0, 0] == pytest.approx(math.tanh(0.9 * x - 1.1 * h + 0.2), rel=1e-14)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_matches_torch(xp, cell):
    """Our LSTM (i, f, o, g) and GRU (r, z, n) against torch.nn.LSTM / GRU, forward and
    backward, with torch's gate order mapped to ours."""
    torch = pytest.importorskip("torch")
    N, T, D, H = 3, 5, 4, 6
    x, h0, Wx, Wh, b = _params(xp, cell, N, T, D, H, seed=3)
    dh = np.random.default_rng(4).standard_normal((N, T, H))
    fwd, back = SEQS[cell]
    h, cache = fwd(x, h0, Wx, Wh, b)
    dx, dh0, dWx, dWh, db = (host(g) for g in back(xp.asarray(dh), cache))

    order = [0, 1, 3, 2] if cell == "lstm" else [0, 1, 2]  # torch's blocks in our order
    k = len(order)

    def to_torch(W):  # (.., kH) ours -> (kH, ..) torch rows
        blocks = np.split(host(W), k, axis=-1)
        return torch.tensor(np.concatenate([blocks[j] for j in order], axis=-1).T.copy())

    mod = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(D, H, batch_first=True)
    mod = mod.double()
    with torch.no_grad():
        mod.weight_ih_l0.copy_(to_torch(Wx))
        mod.weight_hh_l0.copy_(to_torch(Wh))
        mod.bias_ih_l0.copy_(to_torch(b[None])[:, 0])
        mod.bias_hh_l0.zero_()
    tx = torch.tensor(host(x), requires_grad=True)
    th0 = torch.tensor(host(h0)[None], requires_grad=True)
    state = (th0, torch.zeros_like(th0)) if cell == "lstm" else th0
    out, _ = mod(tx, state)
    out.backward(torch.tensor(dh))
    np.testing.assert_allclose(host(h), out.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dh0, th0.grad.numpy()[0], rtol=1e-9, atol=1e-12)
    back_ours = lambda g: to_torch(g).numpy()  # noqa: E731  our gradient in torch layout
    np.testing.assert_allclose(back_ours(dWx), mod.weight_ih_l0.grad.numpy(), rtol=1e-9,
                               atol=1e-12)
    np.testing.assert_allclose(back_ours(dWh), mod.weight_hh_l0.grad.numpy(), rtol=1e-9,
                               atol=1e-12)
    np.testing.assert_allclose(back_ours(db[None])[:, 0], mod.bias_ih_l0.grad.numpy(),
                               rtol=1e-9, atol=1e-12)


# --- the contract: dtype, layout, bad input -------------------------------------------


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_float32_stays_float32(xp, cell):
    inputs = _params(xp, cell, 2, 3, 4, 5, dtype=np.float32)
    fwd, back = SEQS[cell]
    h, cache = fwd(*inputs)
    assert h.dtype == np.float32
    grads = back(xp.ones_like(h), cache)
    assert [g.dtype for g in grads] == [np.float32] * 5
    step, step_back = STEPS[cell]
    x, h0, Wx, Wh, b = inputs
    state = (h0, h0) if cell == "lstm" else (h0,)
    out = step(x[:, 0], *state, Wx, Wh, b)
    assert all(o.dtype == np.float32 for o in out[:-1])
    g = step_back(*[xp.ones_like(o) for o in out[:-1]], out[-1])
    assert all(a.dtype == np.float32 for a in g)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_non_contiguous_inputs_give_the_same_result(xp, cell):
    x, h0, Wx, Wh, b = _params(xp, cell, 3, 4, 2, 5)
    x_strided = xp.ascontiguousarray(x.transpose(1, 0, 2)).transpose(1, 0, 2)  # a view
    Wx_strided = xp.asfortranarray(Wx)
    assert not x_strided.flags.c_contiguous
    fwd, back = SEQS[cell]
    h1, c1 = fwd(x, h0, Wx, Wh, b)
    h2, c2 = fwd(x_strided, h0, Wx_strided, Wh, b)
    np.testing.assert_allclose(host(h1), host(h2), rtol=1e-13, atol=1e-15)
    for g1, g2 in zip(back(h1, c1), back(h2, c2), strict=True):
        np.testing.assert_allclose(host(g1), host(g2), rtol=1e-12, atol=1e-15)


def test_bad_weight_shapes_name_the_argument(xp):
    x, h0, Wx, Wh, b = _params(xp, "lstm", 2, 3, 4, 5)
    with pytest.raises(ValueError, match=r"lstm_forward: Wx must have shape \(4, 20\) "
                                         r"\(D, 4H\).*got \(4, 15\)"):
        lstm_forward(x, h0, Wx[:, :15], Wh, b)
    with pytest.raises(ValueError, match=r"lstm_forward: Wh must have shape \(5, 20\).*"
                                         r"got \(20, 5\)"):
        lstm_forward(x, h0, Wx, Wh.T, b)
    with pytest.raises(ValueError, match=r"lstm_forward: b must have shape \(20,\).*got \(5,\)"):
        lstm_forward(x, h0, Wx, Wh, b[:5])
    with pytest.raises(ValueError, match=r"h0 must have shape \(2, \*\).*got \(3, 5\)"):
        lstm_forward(x, xp.zeros((3, 5)), Wx, Wh, b)
    with pytest.raises(ValueError, match=r"x must be 3-D \(N, T, D\); got shape \(2, 4\)"):
        lstm_forward(x[:, 0], h0, Wx, Wh, b)
    with pytest.raises(ValueError, match=r"T >= 1; got shape \(2, 0, 4\)"):
        lstm_forward(x[:, :0], h0, Wx, Wh, b)
    with pytest.raises(ValueError, match=r"prev_c must have shape \(2, 5\).*got \(2, 4\)"):
        lstm_step_forward(x[:, 0], h0, h0[:, :4], Wx, Wh, b)
    with pytest.raises(TypeError, match="share one floating dtype"):
        lstm_forward(x.astype(np.float32), h0, Wx, Wh, b)
    with pytest.raises(ValueError, match=r"rnn_forward: Wx must have shape \(4, 5\) \(D, H\)"):
        rnn_forward(x, h0, Wx, Wh, b)
    with pytest.raises(ValueError, match=r"gru_step_forward: Wx must have shape \(4, 15\) "
                                         r"\(D, 3H\)"):
        gru_step_forward(x[:, 0], h0, Wx, Wh, b)
    _, cache = lstm_forward(x, h0, Wx, Wh, b)
    with pytest.raises(ValueError, match=r"lstm_backward: dh must have shape \(2, 3, 5\)"):
        lstm_backward(xp.ones((2, 2, 5)), cache)


def test_benchmark_peer_computes_the_same_lstm():
    """benchmarks/suite_rnn.py times a PyTorch cell loop against lstm_forward/backward: it
    must compute the same function (values and all five gradients), or the ratio means
    nothing."""
    pytest.importorskip("torch")
    from benchmarks import suite_rnn

    dims = (5, 3, 4, 6)  # T, N, D, H: small, the benchmark's are slow in float64
    x, h0, Wx, Wh, b, dout = suite_rnn._arrays("float64", dims)
    h, cache = lstm_forward(x, h0, Wx, Wh, b)
    grads = lstm_backward(dout, cache)
    for hoist in (True, False):
        forward, leaves, tdout = suite_rnn.torch_loop("float64", dims, hoist=hoist)
        out = forward()
        out.backward(tdout)
        np.testing.assert_allclose(h, out.detach().numpy(), rtol=1e-10, atol=1e-12)
        for ours, leaf in zip(grads, leaves, strict=True):
            np.testing.assert_allclose(ours, leaf.grad.numpy(), rtol=1e-9, atol=1e-10)
