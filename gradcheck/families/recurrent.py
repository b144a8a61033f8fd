"""Recurrent cells (rnn, lstm, gru; step and sequence): strategies and registry entries.

Tiny sizes (N <= 3, T <= 4, D, H <= 4) keep hypothesis's 100 CI examples fast.
Weights are drawn smaller than inputs (|w| <= 0.5) so the gates are not all saturated:
a saturated tanh has a near-zero derivative and the check would test little."""

from __future__ import annotations


import numpy as np
from hypothesis import strategies as st

import layers as L

from ._base import LayerCase, LayerSpec, dims, generic_arrays, normal, register, upstream

__all__ = ["recurrent_inputs"]


@st.composite
def recurrent_inputs(draw, cell: str = "lstm", seq: bool = True, dtype=np.float64,
                     max_side: int = 4):
    """Inputs of a recurrent step or sequence: ``cell`` in "rnn", "gru", "lstm".

    - seq=True: (x (N, T, D), h0 (N, H), Wx (D, kH), Wh (H, kH), b (kH,)), dout (N, T, H),
      T >= 1.
    - seq=False: (x (N, D), prev_h (N, H)[, prev_c (N, H) for lstm], Wx, Wh, b), dout
      next_h's (N, H) (and next_c's for lstm, as a tuple of two).
    k = 1 (rnn), 3 (gru), 4 (lstm).
    """
    k = L.RECURRENT_CELLS[cell].gates
    N = draw(dims(1, 3))
    T = draw(dims(1, max_side))
    D = draw(dims(1, max_side))
    H = draw(dims(1, max_side))
    x = draw(generic_arrays((N, T, D) if seq else (N, D), dtype=dtype, salt=1))
    state = [draw(generic_arrays((N, H), dtype=dtype, salt=2))]
    if cell == "lstm" and not seq:
        state.append(draw(generic_arrays((N, H), dtype=dtype, salt=3)))
    Wx = draw(generic_arrays((D, k * H), low=0.05, high=0.5, dtype=dtype, salt=4))
    Wh = draw(generic_arrays((H, k * H), low=0.05, high=0.5, dtype=dtype, salt=5))
    b = draw(generic_arrays((k * H,), low=0.05, high=0.5, dtype=dtype, salt=6))
    if seq:
        dout = draw(upstream((N, T, H), dtype))
    elif cell == "lstm":
        dout = (draw(upstream((N, H), dtype)),
                draw(generic_arrays((N, H), dtype=dtype, salt=98)))  # unlike dnext_h
    else:
        dout = draw(upstream((N, H), dtype))
    return LayerCase((x, *state, Wx, Wh, b), dout, {"N": N, "T": T, "D": D, "H": H})


def _cell_make(cell: str, seq: bool):
    """A medium case: N=8, T=6, D=16, H=24; weights scaled so the gates are not saturated."""
    k = L.RECURRENT_CELLS[cell].gates

    def make(rng, dtype):
        N, T, D, H = 8, 6, 16, 24
        x = normal(rng, (N, T, D) if seq else (N, D), dtype)
        state = [normal(rng, (N, H), dtype)] * (2 if cell == "lstm" and not seq else 1)
        state = [s * (j + 1) for j, s in enumerate(state)]  # h and c differ
        W = [(normal(rng, s, dtype) * 0.2).astype(dtype) for s in
             [(D, k * H), (H, k * H), (k * H,)]]
        dout = normal(rng, (N, T, H) if seq else (N, H), dtype)
        if cell == "lstm" and not seq:
            dout = (dout, normal(rng, (N, H), dtype))
        return LayerCase((x, *state, *W), dout)
    return make


for _cell in ("rnn", "lstm", "gru"):
    for _seq in (False, True):
        _name = _cell if _seq else f"{_cell}_step"
        register(LayerSpec(
            _name, getattr(L, f"{_name}_forward"), getattr(L, f"{_name}_backward"),
            (lambda c, q: lambda dt: recurrent_inputs(c, seq=q, dtype=dt))(_cell, _seq),
            _cell_make(_cell, _seq),
            layout=(f"{'x:N,T,D h0' if _seq else 'x:N,D prev_h'}:N,H"
                    f"{' prev_c:N,H' if _cell == 'lstm' and not _seq else ''} "
                    "Wx:D,G Wh:H,G b:G")))
