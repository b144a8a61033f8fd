"""Gated recurrent unit (GRU): one step and a whole sequence, same conventions as the RNN/LSTM.

Gates in the order r (reset), z (update), n (candidate), in the columns of Wx (D, 3H),
Wh (H, 3H) and b (3H,). The reset gate is applied *after* the recurrent product (the
cuDNN / PyTorch form), so that h_prev @ Wh is one GEMM for all three gates:

    [a_r, a_z, a_n] = x Wx + b,   [u_r, u_z, u_n] = h_prev Wh
    r = sigmoid(a_r + u_r),   z = sigmoid(a_z + u_z),   n = tanh(a_n + r * u_n)
    h = (1 - z) * n + z * h_prev

There is one bias (in the input projection); PyTorch's separate b_hn inside r * (...) is
left out. As in the LSTM, the two sigmoids are one tanh call through
sigmoid(s) = 0.5 * (1 + tanh(s / 2)), with the halving folded into the r, z weight columns.
"""

from __future__ import annotations

from ._cache import backward_of, forward_layer
from .backend import get_xp
from .recurrent import check_cell_inputs, half_gates, hidden_grad, input_grads, shifted

__all__ = ["gru_step_forward", "gru_step_backward", "gru_forward", "gru_backward"]


def _sigmoid_half(s):
    """In place on s, holding pre-activations already halved: s <- sigmoid(2 s)."""
    xp = get_xp(s)
    xp.tanh(s, out=s)
    s *= 0.5
    s += 0.5
    return s


@forward_layer
def gru_step_forward(x, prev_h, Wx, Wh, b):
    """One GRU step (gate order r, z, n; see the module doc for the equations).

    Inputs:
    - x: (N, D) input at this step
    - prev_h: (N, H) previous hidden state
    - Wx: (D, 3H) input-to-hidden weights
    - Wh: (H, 3H) hidden-to-hidden weights
    - b: (3H,) bias

    Returns a tuple of:
    - next_h: (N, H)
    - cache: what gru_step_backward needs
    """
    (_, _, _, H), (prev_h, Wx, Wh, b, _) = check_cell_inputs("gru_step_forward", 3, x, prev_h,
                                                             Wx, Wh, b, seq=False)
    xp = get_xp(x)
    a = x @ Wx  # (N, 3H), our own temporary
    a += b
    u = prev_h @ Wh  # (N, 3H)
    s = a[:, : 2 * H]
    s += u[:, : 2 * H]
    s *= 0.5
    rz = _sigmoid_half(s)
    r, z = rz[:, :H], rz[:, H:]
    un = u[:, 2 * H:]
    n = xp.tanh(a[:, 2 * H:] + r * un)
    next_h = n + z * (prev_h - n)
    return next_h, (x, prev_h, Wx, Wh, r, z, n, un)


@backward_of("gru_step_forward")
def gru_step_backward(dnext_h, cache):
    """Backward pass of one GRU step.

    Inputs:
    - dnext_h: (N, H) gradient with respect to next_h
    - cache: from gru_step_forward

    Returns a tuple of:
    - dx: (N, D)
    - dprev_h: (N, H)
    - dWx: (D, 3H), dWh: (H, 3H), db: (3H,)
    """
    x, prev_h, Wx, Wh, r, z, n, un = cache
    xp = get_xp(dnext_h, n)
    dan = dnext_h * (1 - z) * (1 - n * n)  # (N, H) gradient of n's pre-activation
    dar = dan * un * r * (1 - r)
    daz = dnext_h * (prev_h - n) * z * (1 - z)
    dxw = xp.concatenate([dar, daz, dan], axis=1)  # (N, 3H) gradient of x Wx + b
    dhw = xp.concatenate([dar, daz, dan * r], axis=1)  # (N, 3H) gradient of h_prev Wh
    dprev_h = dnext_h * z + dhw @ Wh.T
    return dxw @ Wx.T, dprev_h, x.T @ dxw, prev_h.T @ dhw, dxw.sum(axis=0)


@forward_layer
def gru_forward(x, h0, Wx, Wh, b):
    """A GRU over a whole sequence (loop over time only).

    Inputs:
    - x: (N, T, D) inputs, T >= 1
    - h0: (N, H) initial hidden state
    - Wx: (D, 3H), Wh: (H, 3H), b: (3H,), gate columns in the order r, z, n

    Returns a tuple of:
    - h: (N, T, H) hidden states of every step
    - cache: what gru_backward needs
    """
    (N, T, D, H), (h0, Wx, Wh, b, _) = check_cell_inputs("gru_forward", 3, x, h0, Wx, Wh, b,
                                                         seq=True, h_name="h0")
    xp = get_xp(x)
    # Input projections of every step (r, z columns halved); the loop turns G[:, t] into
    # the gate values [r, z, n] in place.
    G = (x.reshape(N * T, D) @ half_gates(Wx, 2 * H)).reshape(N, T, 3 * H)
    G += half_gates(b, 2 * H)
    Wh_half = half_gates(Wh, 2 * H)
    U = xp.empty((N, T, H), dtype=x.dtype)  # u_n = h_prev Wh_n of every step
    h = xp.empty((N, T, H), dtype=x.dtype)
    u = xp.empty((N, 3 * H), dtype=x.dtype)
    prev = h0
    for t in range(T):
        a = G[:, t]  # (N, 3H) view
        xp.matmul(prev, Wh_half, out=u)
        s = a[:, : 2 * H]
        s += u[:, : 2 * H]
        _sigmoid_half(s)
        r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
        un = U[:, t]
        un[...] = u[:, 2 * H:]
        n += r * un
        xp.tanh(n, out=n)
        ht = h[:, t]
        xp.subtract(prev, n, out=ht)
        ht *= z
        ht += n
        prev = ht
    return h, (x, h0, Wx, Wh, G, U, h)


@backward_of("gru_forward")
def gru_backward(dh, cache):
    """Backward pass of gru_forward.

    Inputs:
    - dh: (N, T, H) upstream gradient of every hidden state
    - cache: from gru_forward

    Returns a tuple of:
    - dx: (N, T, D)
    - dh0: (N, H)
    - dWx: (D, 3H), dWh: (H, 3H), db: (3H,)
    """
    x, h0, Wx, Wh, G, U, h = cache
    xp = get_xp(dh, h)
    N, T, H = h.shape
    r, z, n = G[..., :H], G[..., H:2 * H], G[..., 2 * H:]
    hprev = shifted(h0, h)
    # Factors that do not depend on the recursion, for all steps at once: the gradient of
    # h_t reaches a_n through Qn, a_z through Qz, and u_n's pre-activation r-branch via Qr.
    Qn = (1 - z) * (1 - n * n)  # (N, T, H)
    Qz = (hprev - n) * z * (1 - z)
    Qr = U * r * (1 - r)
    dHW = xp.empty_like(G)  # (N, T, 3H) gradients of h_prev Wh: [da_r, da_z, r da_n]
    dAN = xp.empty((N, T, H), dtype=h.dtype)  # gradients of a_n
    dprev = None
    for t in range(T - 1, -1, -1):
        dht = dh[:, t] if dprev is None else xp.add(dh[:, t], dprev)
        dan = xp.multiply(dht, Qn[:, t], out=dAN[:, t])
        xp.multiply(dan, Qr[:, t], out=dHW[:, t, :H])
        xp.multiply(dht, Qz[:, t], out=dHW[:, t, H:2 * H])
        xp.multiply(dan, r[:, t], out=dHW[:, t, 2 * H:])
        dprev = dHW[:, t] @ Wh.T
        dprev += dht * z[:, t]
    dXW = xp.concatenate([dHW[..., : 2 * H], dAN], axis=-1)  # (N, T, 3H)
    dx, dWx, db = input_grads(x, dXW, Wx)
    return dx, dprev, dWx, hidden_grad(h0, h, dHW), db
