"""The GPU: the same layerkit calls on numpy (this machine's CPU) and on cupy (the GPU),
against PyTorch CUDA.

    python -m benchmarks.harness gpu --rounds 2 --threads $(nproc)
    python -m benchmarks.gpu_report     # the whole device check: this table, the cupy suite

Sides (each in its own process, see benchmarks.harness):
- "numpy": layerkit on numpy arrays, BLAS on ``--threads`` threads (give it the machine's
  cores: this side is what the GPU is compared with);
- "cupy": the same layerkit calls on cupy arrays (``layers.backend.to_xp``), the model
  and data resident on the device;
- "torch_cuda" (the reference): the same computation in PyTorch on the GPU, autograd
  recording, gradients for the input and every weight, as the CPU suites time it.
A side whose device is absent is left out of the table (the harness names it); on a
machine without a GPU only "numpy" runs. Every op of a GPU side ends with a device
synchronize, so its time is the work's, not the launch's.

Workloads (float32; ops fwd+bwd from a fixed upstream gradient, or one training epoch):
- ``conv3x3``: x (64, 64, 32, 32), 64 filters 3x3, stride 1, pad 1 (``conv_forward_fast``);
- ``maxpool_2x2``: x (64, 64, 32, 32) (``max_pool_forward_fast``);
- ``lstm``: the rnn suite's sizes (T=32, N=64, D=128, H=256); torch: ``nn.LSTM`` (cuDNN);
- ``attention``: multi-head self-attention, N=32, T=128, E=256, 8 heads, causal mask;
  torch: four ``nn.Linear`` and ``F.scaled_dot_product_attention``;
- ``transformer_block``: the transformer suite's block (N=32, T=64, E=256, F=1024);
- ``conv_net_epoch``: one epoch of ``ThreeLayerConvNet`` (its defaults: 32 filters 7x7,
  hidden 100) with Adam over 2048 random CIFAR-sized images (3 x 32 x 32) in minibatches
  of 64; torch: the steps suite's same net with ``torch.optim.Adam``.
Targets (issue 17): cupy within 1.5x of torch_cuda on conv3x3 and attention; the cupy
epoch at least 20x faster than the numpy one (``benchmarks.gpu_report`` works both out).
"""

from __future__ import annotations

import numpy as np

from benchmarks import suite_rnn, suite_steps, suite_transformer
from benchmarks.harness import Workload
from layers.backend import get_xp, to_xp

CONV = (64, 64, 32, 32, 64, 3)  # N, C, H, W, F, K (stride 1, pad 1)
ATT = (32, 128, 256, 8)  # N, T, E, heads
EPOCH_N, EPOCH_BATCH = 2048, 64
SIDES = ("numpy", "cupy", "torch_cuda")


# --- moving a side's arrays, and waiting for its device ---------------------------------


def _device_sync(backend: str):
    """A callable that waits for ``backend``'s device (nothing to wait for on numpy)."""
    xp = get_xp(to_xp(np.zeros(1), backend))
    return (lambda: None) if xp is np else (lambda: xp.cuda.Device().synchronize())


def _synced(ops: dict, sync) -> dict:
    """Each op, followed by ``sync()`` (the GPU runs asynchronously to Python)."""
    def wrap(fn):
        def op():
            out = fn()
            sync()
            return out
        return op
    return {name: wrap(fn) for name, fn in ops.items()}


def _cuda():
    import torch

    return torch, torch.device("cuda")


def _leaves(torch, dev, *arrays, grad=True):
    return [torch.tensor(a, device=dev, requires_grad=grad) for a in arrays]


def _layerkit_sides(make_ops):
    """{"numpy": setup, "cupy": setup}: ``make_ops(backend, dtype)`` builds the ops on
    arrays it puts on ``backend`` ('numpy' or 'cupy') with ``layers.backend.to_xp``."""
    def side(name):
        def setup(dtype):
            return _synced(make_ops(name, dtype), _device_sync(name))
        return setup
    return {name: side(name) for name in ("numpy", "cupy")}


def _torch_side(make_ops):
    def setup(dtype):
        torch, dev = _cuda()
        return _synced(make_ops(torch, dev, dtype), torch.cuda.synchronize)
    return setup


# --- conv and pool ----------------------------------------------------------------------


def _conv_arrays(dtype):
    N, C, H, W, F, K = CONV
    rng = np.random.default_rng(0)
    return (rng.standard_normal((N, C, H, W)).astype(dtype),
            (0.1 * rng.standard_normal((F, C, K, K))).astype(dtype),
            rng.standard_normal(F).astype(dtype),
            rng.standard_normal((N, F, H, W)).astype(dtype))


def _conv_layerkit(backend, dtype):
    from layers import conv_backward_fast, conv_forward_fast

    x, w, b, dout = to_xp(_conv_arrays(dtype), backend)
    cp = {"stride": 1, "pad": (CONV[5] - 1) // 2}

    def fwd_bwd():
        _, cache = conv_forward_fast(x, w, b, cp)
        return conv_backward_fast(dout, cache)

    return {"fwd+bwd": fwd_bwd}


def _conv_torch(torch, dev, dtype):
    x, w, b, dout = _conv_arrays(dtype)
    xt, wt, bt = _leaves(torch, dev, x, w, b)
    dt = torch.tensor(dout, device=dev)

    def fwd_bwd():
        xt.grad = wt.grad = bt.grad = None
        torch.nn.functional.conv2d(xt, wt, bt, padding=(CONV[5] - 1) // 2).backward(dt)

    return {"fwd+bwd": fwd_bwd}


def _pool_arrays(dtype):
    N, C, H, W = CONV[:4]
    rng = np.random.default_rng(1)
    return (rng.standard_normal((N, C, H, W)).astype(dtype),
            rng.standard_normal((N, C, H // 2, W // 2)).astype(dtype))


def _pool_layerkit(backend, dtype):
    from layers import max_pool_backward_fast, max_pool_forward_fast

    x, dout = to_xp(_pool_arrays(dtype), backend)
    pp = {"pool_height": 2, "pool_width": 2, "stride": 2}

    def fwd_bwd():
        _, cache = max_pool_forward_fast(x, pp)
        return max_pool_backward_fast(dout, cache)

    return {"fwd+bwd": fwd_bwd}


def _pool_torch(torch, dev, dtype):
    x, dout = _pool_arrays(dtype)
    (xt,) = _leaves(torch, dev, x)
    dt = torch.tensor(dout, device=dev)

    def fwd_bwd():
        xt.grad = None
        torch.nn.functional.max_pool2d(xt, 2, 2).backward(dt)

    return {"fwd+bwd": fwd_bwd}


# --- LSTM -------------------------------------------------------------------------------


def _lstm_layerkit(backend, dtype):
    from layers import lstm_backward, lstm_forward

    x, h0, Wx, Wh, b, dout = to_xp(suite_rnn._arrays(dtype), backend)

    def fwd_bwd():
        _, cache = lstm_forward(x, h0, Wx, Wh, b)
        return lstm_backward(dout, cache)

    return {"fwd+bwd": fwd_bwd}


def _lstm_torch(torch, dev, dtype):
    x, h0, _, _, _, dout = suite_rnn._arrays(dtype)
    lstm = torch.nn.LSTM(suite_rnn.D, suite_rnn.H, batch_first=True).to(
        device=dev, dtype=getattr(torch, dtype))
    xt, h0t = _leaves(torch, dev, x, h0[None])
    c0, dt = torch.zeros_like(h0t), torch.tensor(dout, device=dev)

    def fwd_bwd():
        lstm.zero_grad(set_to_none=True)
        xt.grad = h0t.grad = None
        lstm(xt, (h0t, c0))[0].backward(dt)

    return {"fwd+bwd": fwd_bwd}


# --- attention and the transformer block ------------------------------------------------


def _att_arrays(dtype):
    from layers import MHA_KEYS

    N, T, E, _ = ATT
    rng = np.random.default_rng(2)
    params = {k: ((rng.standard_normal((E, E)) / np.sqrt(E)) if k[0] == "W"
                  else 0.1 * rng.standard_normal(E)).astype(dtype) for k in MHA_KEYS}
    return (rng.standard_normal((N, T, E)).astype(dtype), params,
            rng.standard_normal((N, T, E)).astype(dtype))


def _att_layerkit(backend, dtype):
    from layers import causal_mask, multihead_attention_backward, multihead_attention_forward

    x, params, dout = to_xp(_att_arrays(dtype), backend)
    mask = to_xp(causal_mask(ATT[1]), backend)

    def fwd_bwd():
        _, cache = multihead_attention_forward(x, x, x, params, ATT[3], mask)
        return multihead_attention_backward(dout, cache)

    return {"fwd+bwd": fwd_bwd}


def _att_torch(torch, dev, dtype):
    N, T, E, h = ATT
    x, params, dout = _att_arrays(dtype)
    (xt,) = _leaves(torch, dev, x)
    p = dict(zip(params, _leaves(torch, dev, *params.values())))
    dt = torch.tensor(dout, device=dev)

    def heads(a):
        return a.view(N, T, h, E // h).transpose(1, 2)

    def fwd_bwd():
        xt.grad = None
        for t in p.values():
            t.grad = None
        q, k, v = (heads(xt @ p["W" + c] + p["b" + c]) for c in "qkv")
        att = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        out = att.transpose(1, 2).reshape(N, T, E) @ p["Wo"] + p["bo"]
        out.backward(dt)

    return {"fwd+bwd": fwd_bwd}


def _block_layerkit(backend, dtype):
    from layers import causal_mask, transformer_block_backward, transformer_block_forward

    x, params, dout = to_xp(suite_transformer._block_arrays(dtype), backend)
    mask = to_xp(causal_mask(suite_transformer.T), backend)

    def fwd_bwd():
        _, cache = transformer_block_forward(x, params, suite_transformer.HEADS, mask)
        return transformer_block_backward(dout, cache)

    return {"fwd+bwd": fwd_bwd}


def _block_torch(torch, dev, dtype):
    st = suite_transformer
    x, params, dout = st._block_arrays(dtype)
    block = st.torch_block(st.E, st.HEADS, st.F).to(getattr(torch, dtype))
    st.load_into_torch(block, params, st.torch_block_name)
    block = block.to(dev)
    (xt,) = _leaves(torch, dev, x)
    dt = torch.tensor(dout, device=dev)

    def fwd_bwd():
        block.zero_grad(set_to_none=True)
        xt.grad = None
        block(xt).backward(dt)

    return {"fwd+bwd": fwd_bwd}


# --- one training epoch of ThreeLayerConvNet --------------------------------------------


def _epoch_data(dtype):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((EPOCH_N, 3, 32, 32)).astype(dtype)
    y = rng.integers(0, 10, EPOCH_N)
    return X, y, rng.permutation(EPOCH_N)


def _epoch_layerkit(backend, dtype):
    from layers.validate import labels_checked
    from optim.rules import adam

    net = suite_steps._conv_net(dtype)
    net.to(backend)  # the model, and below the data, resident on the device
    X, y, order = to_xp(_epoch_data(dtype), backend)
    configs = {k: {"learning_rate": suite_steps.LR} for k in net.params}

    def epoch():
        with labels_checked():  # 0..9 by construction: no range check (a sync) per step
            for i in range(0, EPOCH_N, EPOCH_BATCH):
                idx = order[i:i + EPOCH_BATCH]
                _, grads = net.loss(X[idx], y[idx])
                for k, w in net.params.items():
                    net.params[k], configs[k] = adam(w, grads[k], configs[k])

    return {"epoch": epoch}


def _epoch_torch(torch, dev, dtype):
    model = suite_steps.conv_torch_model(suite_steps._conv_net(dtype)).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=suite_steps.LR)
    X, y, order = (torch.tensor(a, device=dev) for a in _epoch_data(dtype))

    def epoch():
        for i in range(0, EPOCH_N, EPOCH_BATCH):
            idx = order[i:i + EPOCH_BATCH]
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(X[idx]), y[idx]).backward()
            opt.step()

    return {"epoch": epoch}


def _workload(name, shape, layerkit, torch_side, note=""):
    return Workload(name=name, shape=shape, reference="torch_cuda", note=note,
                    sides={**_layerkit_sides(layerkit), "torch_cuda": _torch_side(torch_side)})


N_, C_, H_, W_, F_, K_ = CONV
WORKLOADS = [
    _workload("conv3x3", f"x ({N_},{C_},{H_},{W_}), {F_} filters {K_}x{K_}, pad 1",
              _conv_layerkit, _conv_torch, "target: cupy <= 1.5x torch_cuda"),
    _workload("maxpool_2x2", f"x ({N_},{C_},{H_},{W_}), 2x2 stride 2", _pool_layerkit,
              _pool_torch),
    _workload("lstm", f"T={suite_rnn.T} N={suite_rnn.N} D={suite_rnn.D} H={suite_rnn.H}",
              _lstm_layerkit, _lstm_torch, "torch_cuda: nn.LSTM (cuDNN)"),
    _workload("attention", "N={} T={} E={} heads={} causal".format(*ATT), _att_layerkit,
              _att_torch, "target: cupy <= 1.5x torch_cuda"),
    _workload("transformer_block", "N={} T={} E={} heads={} F={} causal".format(
        suite_transformer.N, suite_transformer.T, suite_transformer.E,
        suite_transformer.HEADS, suite_transformer.F), _block_layerkit, _block_torch),
    _workload("conv_net_epoch", f"ThreeLayerConvNet, Adam, {EPOCH_N} images 3x32x32, "
              f"batch {EPOCH_BATCH}", _epoch_layerkit, _epoch_torch,
              "target: numpy / cupy >= 20"),
]
