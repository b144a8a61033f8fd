"""Transformers: layerkit's transformer block and one full TransformerLM training step,
each against the same computation in PyTorch.

    python -m benchmarks.harness transformer [--rounds 5] [--dtype float32] [--threads 2]

Sides: "layerkit" (default settings: a block of N T F >= 2**20 splits its batch over
the cores allowed, one Python thread each with BLAS pinned to one thread, as the conv
layers do), "layerkit_nosplit" (the block with ``layers.set_threads(1)``: one Python
thread), "layerkit_2thr" (the LM step with ``layers.set_threads(2)``, a split forced on
blocks too small for it to pay) and "torch". For figures a shared machine's load does not
move: ``--threads 1 --clock cpu`` (one thread per side, CPU time).
Workloads (each side in its own process, see benchmarks.harness):
- ``transformer_block`` (N=32, T=64, E=256, 8 heads, F=1024, causal mask), op
  ``fwd+bwd``: ``transformer_block_forward`` then ``transformer_block_backward`` from a
  fixed upstream gradient (layerkit), against the same pre-norm block in PyTorch
  (torch): ``nn.LayerNorm``, ``nn.Linear``, ``F.scaled_dot_product_attention`` with
  ``is_causal=True``, tanh GELU, with autograd and gradients for x and every param.
- ``gpt_lm_step`` (the training command's ``--net gpt-lm`` defaults on the pydoc
  vocabulary), op ``step``: the loss, its backward and one AdamW update of every param
  (layerkit: ``TransformerLM.loss`` and ``optim.rules.adamw``, as the Solver runs them),
  against the same model in PyTorch (``torch_gpt``, the model the parity test
  tests/test_transformer_torch.py proves equal) with ``torch.optim.AdamW``.
"""

from __future__ import annotations

import math

from benchmarks.harness import Workload
from layers import BLOCK_KEYS

N, T, E, HEADS, F = 32, 64, 256, 8, 1024


# --- the same model in PyTorch (also the parity test's reference) -----------------------

_LINEAR = {"Wq": "q", "Wk": "k", "Wv": "v", "Wo": "o", "W_ff1": "ff1", "W_ff2": "ff2"}
_LN = {"ln1_gamma": "ln1.weight", "ln1_beta": "ln1.bias", "ln2_gamma": "ln2.weight",
       "ln2_beta": "ln2.bias"}


def torch_block_name(key: str) -> tuple[str, bool]:
    """A block param key of layerkit -> (the torch block's state_dict name, transpose?)."""
    if key in _LN:
        return _LN[key], False
    if key in _LINEAR:
        return _LINEAR[key] + ".weight", True  # nn.Linear stores W.T
    return _LINEAR["W" + key[1:]] + ".bias", False  # bq -> q.bias, b_ff1 -> ff1.bias


def torch_name(name: str) -> tuple[str, bool]:
    """A TransformerLM param name -> (torch_gpt's state_dict name, transpose?)."""
    top = {"W_tok": ("wte.weight", False), "W_pos": ("wpe.weight", False),
           "lnf_gamma": ("lnf.weight", False), "lnf_beta": ("lnf.bias", False),
           "W_out": ("head.weight", True), "b_out": ("head.bias", False)}
    if name in top:
        return top[name]
    blk, key = name.split(".")
    sub, transpose = torch_block_name(key)
    return f"blocks.{int(blk[3:]) - 1}.{sub}", transpose


def torch_block(E: int, heads: int, F: int):
    """GPT-2's pre-norm block from torch's own modules, causal."""
    from torch import nn
    from torch.nn import functional as fn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(E, eps=1e-5), nn.LayerNorm(E, eps=1e-5)
            self.q, self.k, self.v, self.o = (nn.Linear(E, E) for _ in range(4))
            self.ff1, self.ff2 = nn.Linear(E, F), nn.Linear(F, E)

        def forward(self, x):
            n, t, _ = x.shape
            a = self.ln1(x)
            q, k, v = (f(a).view(n, t, heads, E // heads).transpose(1, 2)
                       for f in (self.q, self.k, self.v))
            att = fn.scaled_dot_product_attention(q, k, v, is_causal=True)  # (n, h, t, d)
            x = x + self.o(att.transpose(1, 2).reshape(n, t, E))
            return x + self.ff2(fn.gelu(self.ff1(self.ln2(x)), approximate="tanh"))

    return Block()


def torch_gpt(V: int, max_len: int, E: int, heads: int, layers: int, F: int, tie: bool):
    """TransformerLM written in PyTorch: embeddings, blocks, final layernorm, tied (or
    untied) head; returns logits (N, T, V)."""
    import torch
    from torch import nn

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(V, E), nn.Embedding(max_len, E)
            self.blocks = nn.ModuleList(torch_block(E, heads, F) for _ in range(layers))
            self.lnf = nn.LayerNorm(E, eps=1e-5)
            self.head = None if tie else nn.Linear(E, V)

        def forward(self, X):
            h = self.wte(X) + self.wpe(torch.arange(X.shape[1]))
            for blk in self.blocks:
                h = blk(h)
            h = self.lnf(h)
            return h @ self.wte.weight.T if self.head is None else self.head(h)

    return GPT()


def load_into_torch(module, params: dict, name_of) -> None:
    """Copy layerkit params (numpy) into a torch module by name."""
    import torch

    state = module.state_dict()
    for k, a in params.items():
        name, transpose = name_of(k)
        state[name] = torch.tensor(a.T if transpose else a)
    module.load_state_dict(state)


# --- the block ---------------------------------------------------------------------------


def _block_arrays(dtype: str):
    import numpy as np

    rng = np.random.default_rng(0)
    shapes = {"W_ff1": (E, F), "b_ff1": (F,), "W_ff2": (F, E)}
    params = {}
    for k in BLOCK_KEYS:
        shape = shapes.get(k, (E, E) if k[0] == "W" else (E,))
        scale = 1 / math.sqrt(shape[0]) if k[0] == "W" else 0.1
        params[k] = ((1.0 if k.endswith("gamma") else 0.0)
                     + scale * rng.standard_normal(shape)).astype(dtype)
    x = rng.standard_normal((N, T, E)).astype(dtype)
    dout = rng.standard_normal((N, T, E)).astype(dtype)
    return x, params, dout


def _threads(n: int | None) -> None:
    """layers.set_threads(n) for a side (None: the default, the automatic split)."""
    from layers import set_threads

    if set_threads(n) != n and n is not None:
        raise RuntimeError(f"layers.set_threads({n}) unavailable (threadpoolctl?)")


def setup_block_layerkit(dtype: str, threads: int | None = None):
    from layers import causal_mask, transformer_block_backward, transformer_block_forward

    _threads(threads)
    x, params, dout = _block_arrays(dtype)
    mask = causal_mask(T)

    def fwd_bwd():
        _, cache = transformer_block_forward(x, params, HEADS, mask)
        return transformer_block_backward(dout, cache)

    return {"fwd+bwd": fwd_bwd}


def setup_block_torch(dtype: str):
    import torch

    x, params, dout = _block_arrays(dtype)
    block = torch_block(E, HEADS, F).to(getattr(torch, dtype))
    load_into_torch(block, params, torch_block_name)
    tx, tdout = torch.tensor(x, requires_grad=True), torch.tensor(dout)

    def fwd_bwd():
        block.zero_grad(set_to_none=True)
        tx.grad = None
        block(tx).backward(tdout)

    return {"fwd+bwd": fwd_bwd}


# --- one training step of the LM ------------------------------------------------------------


def lm_config() -> dict:
    """The training command's gpt-lm defaults, on the pydoc text's vocabulary size."""
    from layerkit.text import Vocab, load_corpus
    from layerkit.cli_args import resolve
    from layerkit.net_table import NETS

    a = resolve(["--net", "gpt-lm"]).config
    d = NETS["gpt-lm"].defaults
    return {"V": len(Vocab.from_text(load_corpus())), "T": d["seq_len"], "E": a.embed,
            "heads": a.heads, "layers": a.layers, "F": 4 * a.embed, "N": a.batch_size,
            "tie": a.tie_weights, "lr": a.lr}


def _lm_batch(cfg):
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.integers(0, cfg["V"], (cfg["N"], cfg["T"]))
    return X, np.roll(X, -1, axis=1)


def setup_block_layerkit_nosplit(dtype: str):
    return setup_block_layerkit(dtype, threads=1)


def setup_step_layerkit(dtype: str, threads: int | None = None):
    from nets import TransformerLM
    from optim.rules import adamw

    _threads(threads)
    cfg = lm_config()
    model = TransformerLM(cfg["V"], max_len=cfg["T"], embed_dim=cfg["E"],
                          num_heads=cfg["heads"], num_layers=cfg["layers"], ff_dim=cfg["F"],
                          tie_weights=cfg["tie"], dtype=dtype, seed=0)
    X, y = _lm_batch(cfg)
    configs = {k: {"learning_rate": cfg["lr"], "weight_decay": 0.0} for k in model.params}

    def step():
        loss, grads = model.loss(X, y)
        for k, w in model.params.items():
            model.params[k], configs[k] = adamw(w, grads[k], configs[k])
        return loss

    return {"step": step}


def setup_step_layerkit_2thr(dtype: str):
    return setup_step_layerkit(dtype, threads=2)


def setup_step_torch(dtype: str):
    import torch

    cfg = lm_config()
    model = torch_gpt(cfg["V"], cfg["T"], cfg["E"], cfg["heads"], cfg["layers"], cfg["F"],
                      cfg["tie"]).to(getattr(torch, dtype))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=0.0)
    X, y = (torch.tensor(a) for a in _lm_batch(cfg))

    def step():
        opt.zero_grad(set_to_none=True)
        logits = model(X)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, cfg["V"]), y.reshape(-1))
        loss.backward()
        opt.step()
        return loss

    return {"step": step}


def _block_flops():
    per_token = 8 * E * E + 4 * E * F + 4 * T * E  # projections, feed-forward, attention
    return N * T * per_token


WORKLOADS = [
    Workload(
        name="transformer_block", shape=f"N={N} T={T} E={E} heads={HEADS} F={F} causal",
        flops=_block_flops(),
        sides={"layerkit": setup_block_layerkit,
               "layerkit_nosplit": setup_block_layerkit_nosplit, "torch": setup_block_torch},
        reference="torch", note="target: layerkit <= 1.0x torch"),
    Workload(
        name="gpt_lm_step", shape="layerkit-train --net gpt-lm defaults",
        sides={"layerkit": setup_step_layerkit, "layerkit_2thr": setup_step_layerkit_2thr,
               "torch": setup_step_torch},
        reference="torch", note="loss + backward + AdamW; target: layerkit <= 1.2x torch"),
]
