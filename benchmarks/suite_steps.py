"""Whole training steps: a net of the kit against the same net written in PyTorch.

    python -m benchmarks.harness steps --rounds 5 --threads 2

One op, "step": the loss on a fixed minibatch, its gradients, and an Adam update of every
parameter (``optim.rules.adam`` against ``torch.optim.Adam``, same hyperparameters, no
weight decay, no clipping). Both sides start from the same weights (copied from the
layerkit net) and keep training across calls, as a Solver would.

Workloads (float32 by default):
- conv_net: ``ThreeLayerConvNet`` with its defaults (32 filters 7x7, hidden 100, 10
  classes) on a CIFAR-sized batch of 64 x 3 x 32 x 32; torch: Conv2d - ReLU -
  MaxPool2d(2) - Linear - ReLU - Linear, cross-entropy.
- fc_bn_dropout: ``FullyConnectedNet([1024, 1024], batchnorm, dropout keep 0.5)`` on
  256 x 3072 (CIFAR-10 rows); torch: Linear - BatchNorm1d - ReLU - Dropout(0.5) twice,
  then Linear. Fresh dropout masks every step on both sides.
- lstm_lm: ``CharRNNLM`` as ``layerkit-train --net lstm-lm`` trains it (embedding 24,
  hidden 192, 32 sequences of 64 characters, 100 symbols); torch: Embedding -
  ``nn.LSTM`` (fused; the reference) or the same cell loop in autograd ops
  ("torch_loop": what the layerkit net computes, step by step) - Linear, mean
  cross-entropy per character.
"""

from __future__ import annotations

import numpy as np

from benchmarks.harness import Workload

CONV_N, FC_N, FC_HIDDEN = 64, 256, (1024, 1024)
LM_N, LM_T, LM_V, LM_E, LM_H = 32, 64, 100, 24, 192
LR = 1e-3


def _adam_step_layerkit(net, X, y):
    """(step callable) loss, backward and an Adam update of every param of ``net``."""
    from optim.rules import adam

    configs = {k: {"learning_rate": LR} for k in net.params}

    def step():
        loss, grads = net.loss(X, y)
        for k, w in net.params.items():
            net.params[k], configs[k] = adam(w, grads[k], configs[k])
        return loss

    return step


def _adam_step_torch(module, loss_fn, X, y):
    import torch

    opt = torch.optim.Adam(module.parameters(), lr=LR)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(module(X), y)
        loss.backward()
        opt.step()
        return loss

    return step


def _copy_in(torch, pairs):
    """Copy layerkit arrays into torch parameters (torch Linear weights are (out, in))."""
    with torch.no_grad():
        for param, array, transpose in pairs:
            param.copy_(torch.from_numpy(np.ascontiguousarray(array.T if transpose
                                                              else array)))


# --- ThreeLayerConvNet ----------------------------------------------------------------


def _conv_data(dtype):
    rng = np.random.default_rng(0)
    return (rng.standard_normal((CONV_N, 3, 32, 32)).astype(dtype),
            rng.integers(0, 10, CONV_N))


def _conv_net(dtype):
    from nets import ThreeLayerConvNet

    return ThreeLayerConvNet(weight_scale=1e-2, dtype=dtype, seed=0)


def _layerkit_side(data, make_net):
    """The layerkit side's setup: the net ``make_net(dtype)`` on the batch ``data(dtype)``."""
    def setup(dtype):
        X, y = data(dtype)
        return {"step": _adam_step_layerkit(make_net(dtype), X, y)}
    return setup


conv_layerkit = _layerkit_side(_conv_data, _conv_net)


def conv_torch_model(net):
    """``ThreeLayerConvNet`` ``net`` written in PyTorch, with a copy of its (numpy) weights."""
    import torch
    from torch import nn

    p = net.params
    F, C, K, _ = p["W1"].shape
    model = nn.Sequential(nn.Conv2d(C, F, K, padding=(K - 1) // 2), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(*p["W2"].shape), nn.ReLU(), nn.Linear(*p["W3"].shape))
    model = model.to(getattr(torch, str(p["W1"].dtype)))
    _copy_in(torch, [(model[0].weight, p["W1"], False), (model[0].bias, p["b1"], False),
                     (model[4].weight, p["W2"], True), (model[4].bias, p["b2"], False),
                     (model[6].weight, p["W3"], True), (model[6].bias, p["b3"], False)])
    return model


def conv_torch(dtype):
    import torch
    from torch import nn

    model = conv_torch_model(_conv_net(dtype))
    X, y = _conv_data(dtype)
    return {"step": _adam_step_torch(model, nn.functional.cross_entropy,
                                     torch.from_numpy(X), torch.from_numpy(y))}


# --- FullyConnectedNet with batchnorm and dropout -------------------------------------


def _fc_data(dtype):
    rng = np.random.default_rng(1)
    return (rng.standard_normal((FC_N, 3072)).astype(dtype), rng.integers(0, 10, FC_N))


def _fc_net(dtype):
    from nets import FullyConnectedNet

    net = FullyConnectedNet(list(FC_HIDDEN), input_dim=3072, num_classes=10,
                            dropout_keep_ratio=0.5, normalization="batchnorm",
                            weight_scale=1e-2, dtype=dtype, seed=0)
    net.dropout_param["seed"] = np.random.default_rng(2)  # fresh masks every step
    return net


fc_layerkit = _layerkit_side(_fc_data, _fc_net)


def fc_torch(dtype):
    import torch
    from torch import nn

    net = _fc_net(dtype)
    p = net.params
    dims = [3072, *FC_HIDDEN]
    layers, pairs = [], []
    for i in range(1, len(dims)):
        lin, bn = nn.Linear(dims[i - 1], dims[i]), nn.BatchNorm1d(dims[i], momentum=0.1)
        layers += [lin, bn, nn.ReLU(), nn.Dropout(0.5)]
        pairs += [(lin.weight, p[f"W{i}"], True), (lin.bias, p[f"b{i}"], False),
                  (bn.weight, p[f"gamma{i}"], False), (bn.bias, p[f"beta{i}"], False)]
    L = len(dims)
    last = nn.Linear(dims[-1], 10)
    pairs += [(last.weight, p[f"W{L}"], True), (last.bias, p[f"b{L}"], False)]
    model = nn.Sequential(*layers, last).to(getattr(torch, dtype)).train()
    _copy_in(torch, pairs)
    X, y = _fc_data(dtype)
    return {"step": _adam_step_torch(model, nn.functional.cross_entropy,
                                     torch.from_numpy(X), torch.from_numpy(y))}


# --- the LSTM language model ----------------------------------------------------------


def _lm_data(dtype=None):
    """(X, y): character ids (the dtype does not apply to them)."""
    rng = np.random.default_rng(3)
    ids = rng.integers(0, LM_V, (LM_N, LM_T + 1))
    return ids[:, :-1], ids[:, 1:]


def _lm_net(dtype):
    from nets import CharRNNLM

    chars = [chr(32 + i) for i in range(LM_V)]
    return CharRNNLM(chars, wordvec_dim=LM_E, hidden_dim=LM_H, cell_type="lstm",
                     dtype=dtype, seed=0)


lm_layerkit = _layerkit_side(_lm_data, _lm_net)


def _lm_torch(dtype, fused: bool):
    import torch
    from torch import nn

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(LM_V, LM_E)
            self.Wx = nn.Parameter(torch.empty(LM_E, 4 * LM_H))
            self.Wh = nn.Parameter(torch.empty(LM_H, 4 * LM_H))
            self.b = nn.Parameter(torch.empty(4 * LM_H))
            self.lstm = nn.LSTM(LM_E, LM_H, batch_first=True) if fused else None
            self.vocab = nn.Linear(LM_H, LM_V)

        def forward(self, X):
            e = self.embed(X)  # (N, T, E)
            if fused:
                h = self.lstm(e)[0]
            else:  # the cell loop lstm_forward computes, in autograd ops
                N, T, _ = e.shape
                xw = e @ self.Wx + self.b
                h_t, c, hs = e.new_zeros(N, LM_H), None, []
                for t in range(T):
                    i, f, o, g = (xw[:, t] + h_t @ self.Wh).chunk(4, dim=1)
                    i, f, o, g = i.sigmoid(), f.sigmoid(), o.sigmoid(), g.tanh()
                    c = i * g if c is None else f * c + i * g
                    h_t = o * c.tanh()
                    hs.append(h_t)
                h = torch.stack(hs, dim=1)
            return self.vocab(h)  # (N, T, V)

    net = _lm_net(dtype)
    p = net.params
    model = LM().to(getattr(torch, dtype))
    if not fused:  # nn.LSTM's own init is kept otherwise (its gate order differs)
        del model.lstm
    pairs = [(model.embed.weight, p["W_embed"], False), (model.vocab.weight, p["W_vocab"], True),
             (model.vocab.bias, p["b_vocab"], False)]
    if not fused:
        pairs += [(model.Wx, p["Wx"], False), (model.Wh, p["Wh"], False), (model.b, p["b"], False)]
    else:
        del model.Wx, model.Wh, model.b
    _copy_in(torch, pairs)
    X, y = (torch.from_numpy(a) for a in _lm_data())

    def loss_fn(scores, target):
        return nn.functional.cross_entropy(scores.reshape(-1, LM_V), target.reshape(-1))

    return {"step": _adam_step_torch(model, loss_fn, X, y)}


def lm_torch(dtype):
    return _lm_torch(dtype, fused=True)


def lm_torch_loop(dtype):
    return _lm_torch(dtype, fused=False)


WORKLOADS = [
    Workload(name="conv_net_step", shape="ThreeLayerConvNet, x (64,3,32,32), 7x7x32",
             sides={"layerkit": conv_layerkit, "torch": conv_torch}, reference="torch",
             note="target <= 1.5x"),
    Workload(name="fc_bn_dropout_step",
             shape="FullyConnectedNet 3072-1024-1024-10, batchnorm, dropout 0.5, N=256",
             sides={"layerkit": fc_layerkit, "torch": fc_torch}, reference="torch",
             note="target <= 1.0x"),
    Workload(name="lstm_lm_step", shape=f"CharRNNLM lstm, N={LM_N} T={LM_T} V={LM_V} "
             f"E={LM_E} H={LM_H}",
             sides={"layerkit": lm_layerkit, "torch": lm_torch, "torch_loop": lm_torch_loop},
             reference="torch", note="target <= 1.0x (reference: nn.LSTM)"),
]
