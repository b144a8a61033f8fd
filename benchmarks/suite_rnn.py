"""Recurrent layers: layerkit's LSTM against the same cell loop in PyTorch and torch.nn.LSTM.

    python -m benchmarks.harness rnn [--rounds 5] [--dtype float32] [--threads 2]

Sides (each in its own process, see benchmarks.harness):
- layerkit: ``lstm_forward`` / ``lstm_backward`` (numpy).
- torch_loop (the reference): the same algorithm in PyTorch with autograd: the input
  projection of all steps in one matmul, then per step ``h @ Wh``, the four gates
  (i, f, o, g), the cell and hidden updates. This is the like-for-like peer.
- torch_loop_stepwise: the same loop with ``x_t @ Wx`` computed step by step, as a
  textbook cell loop (and the perf notes' peer) does.
- torch_nn: ``torch.nn.LSTM`` (fused kernels; not a target, shown for scale).

Ops: ``fwd`` is one forward over the sequence (torch records autograd, as a training
step would); ``fwd+bwd`` adds the backward from a fixed upstream gradient on every hidden
state, with gradients for x, h0 and the weights (as lstm_backward returns them).
"""

from __future__ import annotations

from benchmarks.harness import Workload

T, N, D, H = 32, 64, 128, 256


def _arrays(dtype: str, dims=(T, N, D, H)):
    import numpy as np

    T, N, D, H = dims
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, T, D)).astype(dtype)
    h0 = rng.standard_normal((N, H)).astype(dtype)
    Wx = (rng.standard_normal((D, 4 * H)) / np.sqrt(D)).astype(dtype)
    Wh = (rng.standard_normal((H, 4 * H)) / np.sqrt(H)).astype(dtype)
    b = (0.1 * rng.standard_normal(4 * H)).astype(dtype)
    dout = rng.standard_normal((N, T, H)).astype(dtype)
    return x, h0, Wx, Wh, b, dout


def setup_layerkit(dtype: str):
    from layers import lstm_backward, lstm_forward

    x, h0, Wx, Wh, b, dout = _arrays(dtype)

    def fwd():
        return lstm_forward(x, h0, Wx, Wh, b)[0]

    def fwd_bwd():
        _, cache = lstm_forward(x, h0, Wx, Wh, b)
        return lstm_backward(dout, cache)

    return {"fwd": fwd, "fwd+bwd": fwd_bwd}


def _torch_leaves(dtype: str, dims=(T, N, D, H)):
    import torch

    arrays = _arrays(dtype, dims)
    leaves = [torch.tensor(a, requires_grad=True) for a in arrays[:5]]
    return torch, leaves, torch.tensor(arrays[5])


def torch_loop(dtype: str, dims=(T, N, D, H), hoist: bool = True):
    """(forward, leaves [x, h0, Wx, Wh, b], dout) of the PyTorch cell loop; hoist=False
    computes x_t @ Wx inside the loop, step by step."""
    torch, leaves, dout = _torch_leaves(dtype, dims)
    x, h0, Wx, Wh, b = leaves
    T, N, D, H = dims

    def forward():
        if hoist:
            xw = (x.reshape(N * T, D) @ Wx + b).reshape(N, T, 4 * H)  # all steps at once
        h, c, hs = h0, None, []
        for t in range(T):
            a = (xw[:, t] if hoist else x[:, t] @ Wx + b) + h @ Wh
            i, f, o, g = a.chunk(4, dim=1)
            i, f, o, g = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o), torch.tanh(g)
            c = i * g if c is None else f * c + i * g  # c0 = 0, as lstm_forward
            h = o * torch.tanh(c)
            hs.append(h)
        return torch.stack(hs, dim=1)

    return forward, leaves, dout


def setup_torch_loop(dtype: str, hoist: bool = True):
    forward, leaves, dout = torch_loop(dtype, hoist=hoist)

    def fwd_bwd():
        for p in leaves:
            p.grad = None
        forward().backward(dout)

    return {"fwd": forward, "fwd+bwd": fwd_bwd}


def setup_torch_loop_stepwise(dtype: str):
    return setup_torch_loop(dtype, hoist=False)


def setup_torch_nn(dtype: str):
    torch, leaves, dout = _torch_leaves(dtype)
    x, h0 = leaves[0], leaves[1]
    lstm = torch.nn.LSTM(D, H, batch_first=True).to(getattr(torch, dtype))
    h0_ = h0.detach()[None].requires_grad_(True)
    c0 = torch.zeros_like(h0_)

    def forward():
        return lstm(x, (h0_, c0))[0]

    def fwd_bwd():
        lstm.zero_grad(set_to_none=True)
        x.grad = h0_.grad = None
        forward().backward(dout)

    return {"fwd": forward, "fwd+bwd": fwd_bwd}


WORKLOADS = [
    Workload(
        name="lstm", shape=f"T={T} N={N} D={D} H={H}",
        flops=2 * N * T * (D + H) * 4 * H,
        sides={"layerkit": setup_layerkit, "torch_loop": setup_torch_loop,
               "torch_loop_stepwise": setup_torch_loop_stepwise, "torch_nn": setup_torch_nn},
        reference="torch_loop",
        note="ratios are side / torch_loop; torch_nn is fused and not a target",
    ),
]
