"""The recurrent cells as one table: a name gives the sequence and step pairs and the
number of gate blocks k in the columns of Wx (D, kH), Wh (H, kH) and b (kH,).

Nets that take a ``cell_type`` (the captioning net, the character language models) and
the gradcheck strategies read this table, so a new cell is added in one place.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from .gru import gru_backward, gru_forward, gru_step_backward, gru_step_forward
from .recurrent import (lstm_backward, lstm_forward, lstm_step_backward, lstm_step_forward,
                        rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward)

__all__ = ["RecurrentCell", "RECURRENT_CELLS"]


class RecurrentCell(NamedTuple):
    forward: Callable  # (x (N, T, D), h0 (N, H), Wx, Wh, b) -> h (N, T, H), cache
    backward: Callable  # (dh (N, T, H), cache) -> dx, dh0, dWx, dWh, db
    step_forward: Callable
    step_backward: Callable
    gates: int  # k: 1 rnn, 4 lstm (i, f, o, g), 3 gru (r, z, n)


RECURRENT_CELLS: dict[str, RecurrentCell] = {
    "rnn": RecurrentCell(rnn_forward, rnn_backward, rnn_step_forward, rnn_step_backward, 1),
    "lstm": RecurrentCell(lstm_forward, lstm_backward, lstm_step_forward, lstm_step_backward, 4),
    "gru": RecurrentCell(gru_forward, gru_backward, gru_step_forward, gru_step_backward, 3),
}
