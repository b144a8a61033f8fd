"""Recurrent layers: vanilla RNN and LSTM, one step and a whole sequence (GRU: ``layers.gru``).

Shapes (CS231n): inputs x (N, D) for a step and (N, T, D) for a sequence, hidden states
(N, H), weights Wx (D, kH), Wh (H, kH), bias b (kH,), with k = 1 (RNN) or 4 (LSTM).

The sequence versions loop over time only. All the input projections ``x_t @ Wx + b`` are
one matrix product before the loop, and in the backward the weight gradients are one
product each after it: only ``h @ Wh`` (forward) and ``da @ Wh.T`` (backward) stay inside
the loop. Everything is kept batch-major, (N, T, ...), so x and dx are never transposed.

LSTM gates, in the order of the columns of Wx, Wh and b (as CS231n):
    a = x Wx + h_prev Wh + b                         (N, 4H), split as [a_i, a_f, a_o, a_g]
    i = sigmoid(a_i), f = sigmoid(a_f), o = sigmoid(a_o), g = tanh(a_g)
    c = f * c_prev + i * g,   h = o * tanh(c)
The three sigmoids and the tanh are ONE tanh call over the whole (N, 4H) block, through
sigmoid(z) = 0.5 * (1 + tanh(z / 2)): in the sequence version the halving is folded into a
scaled copy of the i, f, o columns of the weights (exact: 0.5 is a power of two), so each
step costs one GEMM, one tanh over 4H columns and one over H.
"""

from __future__ import annotations

from . import validate as v
from ._cache import backward_of, forward_layer
from .backend import get_xp

__all__ = [
    "rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
    "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward",
]

_GATES = {1: "H", 3: "3H", 4: "4H"}


def check_cell_inputs(fn: str, k: int, x, h, Wx, Wh, b, *, seq: bool, h_name: str = "prev_h",
                      c=None, with_c: bool = False):
    """Validate the inputs of a recurrent cell; return ((N, T, D, H), (h, Wx, Wh, b, c)),
    T None for a step, the arrays with integer ones cast to x's dtype (c None unless
    ``with_c``, the LSTM step's prev_c, which is then required).

    k is the number of gate blocks (1 RNN, 3 GRU, 4 LSTM): Wx (D, kH), Wh (H, kH), b (kH,).
    """
    v.array(fn, "x", x, ndim=3 if seq else 2, what="(N, T, D)" if seq else "(N, D)")
    h = v.float_param(fn, h_name, h, x, ndim=2, what="(N, H)")
    Wx = v.float_param(fn, "Wx", Wx, x, ndim=2, what=f"(D, {_GATES[k]})")
    Wh = v.float_param(fn, "Wh", Wh, x, ndim=2, what=f"(H, {_GATES[k]})")
    b = v.float_param(fn, "b", b, x, ndim=1, what=f"({_GATES[k]},)")
    if with_c:
        c = v.float_param(fn, "prev_c", c, x, ndim=2, what="(N, H)")
    get_xp(x, h, Wx, Wh, b, c)
    v.same_dtype(fn, x=x, **{h_name: h}, Wx=Wx, Wh=Wh, b=b, prev_c=c)
    N, D, H = x.shape[0], x.shape[-1], h.shape[1]
    T = x.shape[1] if seq else None
    if seq and T < 1:
        raise ValueError(f"{fn}: x must hold at least one time step (N, T, D) with T >= 1; "
                         f"got shape {tuple(x.shape)}")
    v.shape(fn, h_name, h, (N, None), f"(N, H) with N = {N} from x")
    if with_c:
        v.shape(fn, "prev_c", c, (N, H), f"(N, H), like {h_name}")
    gates = f"(D, {_GATES[k]}) with D = {D} from x, H = {H} from {h_name}"
    v.shape(fn, "Wx", Wx, (D, k * H), gates)
    v.shape(fn, "Wh", Wh, (H, k * H), f"(H, {_GATES[k]}) with H = {H} from {h_name}")
    v.shape(fn, "b", b, (k * H,), f"({_GATES[k]},) with H = {H} from {h_name}")
    return (N, T, D, H), (h, Wx, Wh, b, c)


def half_gates(W, cols: int):
    """A copy of W with its first ``cols`` columns (the sigmoid gates) halved."""
    Ws = W.copy()
    Ws[..., :cols] *= 0.5
    return Ws


def shifted(h0, h):
    """The previous hidden state of every step: (N, T, H) = [h0, h_0, ..., h_{T-2}]."""
    xp = get_xp(h0, h)
    return xp.concatenate([h0[:, None, :], h[:, :-1, :]], axis=1)


def input_grads(x, da, Wx):
    """dx, dWx, db of a sequence from the gradients da (N, T, kH) of x Wx + b: one GEMM
    each over all steps."""
    N, T, D = x.shape
    da2 = da.reshape(N * T, da.shape[-1])  # (NT, kH); explicit sizes: N may be 0
    dx = (da2 @ Wx.T).reshape(N, T, D)
    dWx = x.reshape(N * T, D).T @ da2  # (D, kH)
    return dx, dWx, da2.sum(axis=0)


def hidden_grad(h0, h, dhw):
    """dWh (H, kH) from the gradients dhw (N, T, kH) of h_prev Wh at every step."""
    N, T, H = h.shape
    return shifted(h0, h).reshape(N * T, H).T @ dhw.reshape(N * T, dhw.shape[-1])


# --- vanilla RNN ----------------------------------------------------------------------


@forward_layer
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """One step of a tanh RNN: next_h = tanh(x @ Wx + prev_h @ Wh + b).

    Inputs:
    - x: (N, D) input at this step
    - prev_h: (N, H) hidden state of the previous step
    - Wx: (D, H) input-to-hidden weights
    - Wh: (H, H) hidden-to-hidden weights
    - b: (H,) bias

    Returns a tuple of:
    - next_h: (N, H)
    - cache: what rnn_step_backward needs
    """
    _, (prev_h, Wx, Wh, b, _) = check_cell_inputs("rnn_step_forward", 1, x, prev_h, Wx, Wh,
                                                  b, seq=False)
    xp = get_xp(x)
    a = x @ Wx  # (N, H), our own temporary from here on
    a += prev_h @ Wh
    a += b
    next_h = xp.tanh(a, out=a)
    return next_h, (x, prev_h, Wx, Wh, next_h)


@backward_of("rnn_step_forward")
def rnn_step_backward(dnext_h, cache):
    """Backward pass of one RNN step.

    Inputs:
    - dnext_h: (N, H) gradient of the loss with respect to next_h
    - cache: from rnn_step_forward

    Returns a tuple of:
    - dx: (N, D)
    - dprev_h: (N, H)
    - dWx: (D, H)
    - dWh: (H, H)
    - db: (H,)
    """
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h * next_h)  # (N, H): tanh' = 1 - tanh^2
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


@forward_layer
def rnn_forward(x, h0, Wx, Wh, b):
    """A tanh RNN over a whole sequence (loop over time only).

    Inputs:
    - x: (N, T, D) inputs, T >= 1
    - h0: (N, H) initial hidden state
    - Wx: (D, H), Wh: (H, H), b: (H,)

    Returns a tuple of:
    - h: (N, T, H) hidden states of every step
    - cache: what rnn_backward needs
    """
    (N, T, D, H), (h0, Wx, Wh, b, _) = check_cell_inputs("rnn_forward", 1, x, h0, Wx, Wh, b,
                                                         seq=True, h_name="h0")
    xp = get_xp(x)
    h = (x.reshape(N * T, D) @ Wx).reshape(N, T, H)  # all input projections; becomes h
    h += b
    tmp = xp.empty((N, H), dtype=x.dtype)
    prev = h0
    for t in range(T):
        a = h[:, t]  # (N, H) view
        a += xp.matmul(prev, Wh, out=tmp)
        prev = xp.tanh(a, out=a)
    return h, (x, h0, Wx, Wh, h)


@backward_of("rnn_forward")
def rnn_backward(dh, cache):
    """Backward pass of rnn_forward.

    Inputs:
    - dh: (N, T, H) upstream gradient of every hidden state (not just the last)
    - cache: from rnn_forward

    Returns a tuple of:
    - dx: (N, T, D)
    - dh0: (N, H)
    - dWx: (D, H), dWh: (H, H), db: (H,)
    """
    x, h0, Wx, Wh, h = cache
    xp = get_xp(dh, h)
    T = h.shape[1]
    da = 1 - h * h  # (N, T, H) tanh' for every step at once; da[:, t] becomes dL/da_t
    dprev = None
    for t in range(T - 1, -1, -1):
        dat = da[:, t]
        dat *= dh[:, t] if dprev is None else xp.add(dh[:, t], dprev)
        dprev = dat @ Wh.T  # (N, H)
    dx, dWx, db = input_grads(x, da, Wx)
    return dx, dprev, dWx, hidden_grad(h0, h, da), db


# --- LSTM -----------------------------------------------------------------------------


def _activate(a, H: int):
    """In place on a (N, 4H) of [a_i/2, a_f/2, a_o/2, a_g]: [i, f, o, g] with one tanh."""
    xp = get_xp(a)
    xp.tanh(a, out=a)
    s = a[:, : 3 * H]
    s *= 0.5
    s += 0.5  # sigmoid(z) = 0.5 * (1 + tanh(z / 2))
    return a


@forward_layer
def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One LSTM step; gates in the order i, f, o, g (see the module doc for the equations).

    Inputs:
    - x: (N, D) input at this step
    - prev_h: (N, H) previous hidden state
    - prev_c: (N, H) previous cell state
    - Wx: (D, 4H) input-to-hidden weights
    - Wh: (H, 4H) hidden-to-hidden weights
    - b: (4H,) bias

    Returns a tuple of:
    - next_h: (N, H)
    - next_c: (N, H)
    - cache: what lstm_step_backward needs
    """
    (N, _, _, H), (prev_h, Wx, Wh, b, prev_c) = check_cell_inputs(
        "lstm_step_forward", 4, x, prev_h, Wx, Wh, b, seq=False, c=prev_c, with_c=True)
    xp = get_xp(x)
    a = x @ Wx  # (N, 4H), our own temporary
    a += prev_h @ Wh
    a += b
    a[:, : 3 * H] *= 0.5
    gates = _activate(a, H)
    i, f, o, g = (gates[:, k * H:(k + 1) * H] for k in range(4))
    next_c = f * prev_c
    next_c += i * g
    tc = xp.tanh(next_c)
    next_h = o * tc
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, gates, tc)


@backward_of("lstm_step_forward")
def lstm_step_backward(dnext_h, dnext_c, cache):
    """Backward pass of one LSTM step.

    Inputs:
    - dnext_h: (N, H) gradient with respect to next_h
    - dnext_c: (N, H) gradient with respect to next_c
    - cache: from lstm_step_forward

    Returns a tuple of:
    - dx: (N, D)
    - dprev_h: (N, H)
    - dprev_c: (N, H)
    - dWx: (D, 4H), dWh: (H, 4H), db: (4H,)
    """
    x, prev_h, prev_c, Wx, Wh, gates, tc = cache
    xp = get_xp(dnext_h, gates)
    H = tc.shape[1]
    i, f, o, g = (gates[:, k * H:(k + 1) * H] for k in range(4))
    dc = dnext_h * o * (1 - tc * tc) + dnext_c  # (N, H) total gradient of next_c
    da = xp.concatenate([dc * g, dc * prev_c, dnext_h * tc, dc * i], axis=1)  # d[i, f, o, g]
    sig = gates[:, : 3 * H]
    da[:, : 3 * H] *= sig * (1 - sig)
    da[:, 3 * H:] *= 1 - g * g
    return (da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(axis=0))


@forward_layer
def lstm_forward(x, h0, Wx, Wh, b):
    """An LSTM over a whole sequence, from h0 and a zero initial cell state.

    Inputs:
    - x: (N, T, D) inputs, T >= 1
    - h0: (N, H) initial hidden state
    - Wx: (D, 4H), Wh: (H, 4H), b: (4H,), gate columns in the order i, f, o, g

    Returns a tuple of:
    - h: (N, T, H) hidden states of every step
    - cache: what lstm_backward needs
    """
    (N, T, D, H), (h0, Wx, Wh, b, _) = check_cell_inputs("lstm_forward", 4, x, h0, Wx, Wh, b,
                                                         seq=True, h_name="h0")
    xp = get_xp(x)
    # Pre-activations of every step, with the i, f, o columns halved for the tanh-form
    # sigmoid; the loop turns G[:, t] into the gate values [i, f, o, g] in place.
    G = (x.reshape(N * T, D) @ half_gates(Wx, 3 * H)).reshape(N, T, 4 * H)
    G += half_gates(b, 3 * H)
    Wh_half = half_gates(Wh, 3 * H)
    C = xp.empty((N, T, H), dtype=x.dtype)  # cell states
    TC = xp.empty_like(C)  # tanh of the cell states
    h = xp.empty_like(C)
    tmp = xp.empty((N, 4 * H), dtype=x.dtype)
    ig = xp.empty((N, H), dtype=x.dtype)
    prev_h, prev_c = h0, None
    for t in range(T):
        a = G[:, t]  # (N, 4H) view
        a += xp.matmul(prev_h, Wh_half, out=tmp)
        _activate(a, H)
        i, f, o, g = (a[:, k * H:(k + 1) * H] for k in range(4))
        c = C[:, t]
        if prev_c is None:  # c0 = 0
            xp.multiply(i, g, out=c)
        else:
            xp.multiply(f, prev_c, out=c)
            c += xp.multiply(i, g, out=ig)
        xp.tanh(c, out=TC[:, t])
        prev_h = xp.multiply(o, TC[:, t], out=h[:, t])
        prev_c = c
    return h, (x, h0, Wx, Wh, G, C, TC, h)


@backward_of("lstm_forward")
def lstm_backward(dh, cache):
    """Backward pass of lstm_forward.

    Inputs:
    - dh: (N, T, H) upstream gradient of every hidden state
    - cache: from lstm_forward

    Returns a tuple of:
    - dx: (N, T, D)
    - dh0: (N, H)
    - dWx: (D, 4H), dWh: (H, 4H), db: (4H,)
    """
    x, h0, Wx, Wh, G, C, TC, h = cache
    xp = get_xp(dh, h)
    N, T, H = h.shape
    G4 = G.reshape(N, T, 4, H)
    i, f, o, g = G4[:, :, 0], G4[:, :, 1], G4[:, :, 2], G4[:, :, 3]
    # Everything that does not depend on the backward recursion is computed for all steps
    # at once. P holds, per gate, what multiplies the upstream gradient (dc, or dh for o)
    # on the way to that gate's pre-activation: [g, c_prev, tanh c, i] * gate derivative.
    # (Written in place, two passes per factor: these are the biggest arrays here.)
    P = xp.empty_like(G4)  # (N, T, 4, H)
    sig, Psig = G4[:, :, :3], P[:, :, :3]
    xp.subtract(1, sig, out=Psig)
    Psig *= sig  # sigmoid' = s (1 - s)
    P3 = P[:, :, 3]
    xp.multiply(g, g, out=P3)
    xp.subtract(1, P3, out=P3)  # tanh' = 1 - g^2
    P[:, :, 0] *= g
    P[:, 1:, 1] *= C[:, :-1]
    P[:, 0, 1] = 0  # c0 = 0: the forget gate of step 0 gets no gradient
    P[:, :, 2] *= TC
    P3 *= i
    dh_dc = TC * TC  # (N, T, H): d h_t / d c_t = o (1 - tanh^2 c), as h = o tanh(c)
    xp.subtract(1, dh_dc, out=dh_dc)
    dh_dc *= o
    dA = xp.empty_like(G4)  # (N, T, 4, H) gradients of the pre-activations
    dc = xp.empty((N, H), dtype=h.dtype)
    dprev_h = dc_next = None
    for t in range(T - 1, -1, -1):
        dht = dh[:, t] if dprev_h is None else xp.add(dh[:, t], dprev_h)
        xp.multiply(dht, dh_dc[:, t], out=dc)
        if dc_next is not None:
            dc += dc_next
        dAt = dA[:, t]  # (N, 4, H)
        xp.multiply(dc[:, None, :], P[:, t], out=dAt)
        xp.multiply(dht, P[:, t, 2], out=dAt[:, 2])  # the output gate sees dh, not dc
        dc_next = dc * f[:, t]
        dprev_h = dAt.reshape(N, 4 * H) @ Wh.T
    dA = dA.reshape(N, T, 4 * H)
    dx, dWx, db = input_grads(x, dA, Wx)
    return dx, dprev_h, dWx, hidden_grad(h0, h, dA), db
