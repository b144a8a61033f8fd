"""Module nets against the same nets in PyTorch (float64): the loss and every parameter's
gradient. The kit's layouts differ from PyTorch's in known ways (Linear weight transposed,
LSTM gates i,f,o,g with one bias, MHA weights applied as x @ W), converted here."""

import numpy as np
import pytest

from nets.autograd import Tensor
from nets.modules import (GELU, LSTM, BatchNorm1d, BatchNorm2d, Conv2d, Embedding, Flatten,
                          LayerNorm, Linear, MaxPool2d, MultiheadAttention, ReLU, Sequential,
                          cross_entropy, l1_loss, manual_seed, mse_loss)

torch = pytest.importorskip("torch")
nn = torch.nn
F64 = dict(dtype=np.float64)


def t(a):
    return torch.tensor(np.asarray(a), dtype=torch.float64)


def ifog_to_ifgo(a, axis=0):
    """Reorder the kit's gate blocks (i, f, o, g) to PyTorch's (i, f, g, o)."""
    i, f, o, g = np.split(a, 4, axis=axis)
    return np.concatenate([i, f, g, o], axis=axis)


def copy_into_torch(ours, theirs):
    """Set each PyTorch module's parameters from the kit module's; returns (kit param,
    PyTorch grad getter) pairs, the getter mapping PyTorch's gradient to the kit's layout."""
    pairs = []
    for m, tm in zip(ours, theirs):
        with torch.no_grad():
            if isinstance(m, Linear):
                tm.weight.copy_(t(m.weight.data.T))
                tm.bias.copy_(t(m.bias.data))
                pairs += [(m.weight, lambda tm=tm: tm.weight.grad.numpy().T),
                          (m.bias, lambda tm=tm: tm.bias.grad.numpy())]
            elif isinstance(m, (Conv2d, BatchNorm1d, BatchNorm2d, LayerNorm)):
                tm.weight.copy_(t(m.weight.data))
                tm.bias.copy_(t(m.bias.data))
                pairs += [(m.weight, lambda tm=tm: tm.weight.grad.numpy()),
                          (m.bias, lambda tm=tm: tm.bias.grad.numpy())]
            elif isinstance(m, Embedding):
                tm.weight.copy_(t(m.weight.data))
                pairs.append((m.weight, lambda tm=tm: tm.weight.grad.numpy()))
            elif isinstance(m, LSTM):
                tm.weight_ih_l0.copy_(t(ifog_to_ifgo(m.weight_ih.data.T)))
                tm.weight_hh_l0.copy_(t(ifog_to_ifgo(m.weight_hh.data.T)))
                tm.bias_ih_l0.copy_(t(ifog_to_ifgo(m.bias.data)))
                tm.bias_hh_l0.zero_()
                # swapping the last two gate blocks is its own inverse: the same map back
                pairs += [(m.weight_ih, lambda tm=tm: ifog_to_ifgo(tm.weight_ih_l0.grad.numpy()).T),
                          (m.weight_hh, lambda tm=tm: ifog_to_ifgo(tm.weight_hh_l0.grad.numpy()).T),
                          (m.bias, lambda tm=tm: ifog_to_ifgo(tm.bias_ih_l0.grad.numpy()))]
    return pairs


def assert_same(loss, tloss, pairs):
    loss.backward()
    tloss.backward()
    assert abs(loss.item() - tloss.item()) <= 1e-12 * max(1.0, abs(tloss.item()))
    for p, get in pairs:
        np.testing.assert_allclose(p.grad, get(), rtol=1e-9, atol=1e-12)


def test_mlp_with_batchnorm_layernorm_gelu_against_torch():
    manual_seed(0)
    ours = [Flatten(), Linear(12, 8, **F64), BatchNorm1d(8, **F64), ReLU(),
            Linear(8, 6, **F64), LayerNorm(6, **F64), GELU(), Linear(6, 4, **F64)]
    theirs = [nn.Flatten(), nn.Linear(12, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 6),
              nn.LayerNorm(6), nn.GELU(approximate="tanh"), nn.Linear(6, 4)]
    tnet = nn.Sequential(*theirs).double()
    rng = np.random.default_rng(0)
    for m in ours:  # norm params away from ones/zeros
        if isinstance(m, (BatchNorm1d, LayerNorm)):
            m.weight.data = 1 + 0.3 * rng.standard_normal(m.weight.shape)
            m.bias.data = 0.3 * rng.standard_normal(m.bias.shape)
    pairs = copy_into_torch(ours, theirs)
    X, y = rng.standard_normal((10, 3, 4)), rng.integers(0, 4, 10)
    loss = cross_entropy(Sequential(*ours)(X), y)
    tloss = nn.functional.cross_entropy(tnet(t(X)), torch.tensor(y))
    assert_same(loss, tloss, pairs)
    # running statistics: the mean follows PyTorch's momentum exactly
    np.testing.assert_allclose(ours[2].bn_param["running_mean"],
                               theirs[2].running_mean.numpy(), rtol=1e-12)


def test_convnet_against_torch():
    manual_seed(1)
    ours = [Conv2d(2, 4, 3, stride=1, padding=1, **F64), BatchNorm2d(4, **F64), ReLU(),
            MaxPool2d(2), Conv2d(4, 3, 3, stride=2, padding=1, **F64), ReLU(), Flatten(),
            Linear(3 * 3 * 3, 5, **F64)]
    theirs = [nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
              nn.Conv2d(4, 3, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(),
              nn.Linear(27, 5)]
    tnet = nn.Sequential(*theirs).double()
    pairs = copy_into_torch(ours, theirs)
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((6, 2, 10, 10)), rng.integers(0, 5, 6)
    x = Tensor(X, requires_grad=True)
    tx = t(X).requires_grad_()
    loss = cross_entropy(Sequential(*ours)(x), y)
    tloss = nn.functional.cross_entropy(tnet(tx), torch.tensor(y))
    assert_same(loss, tloss, pairs)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_embedding_lstm_language_model_against_torch():
    manual_seed(2)
    V, D, H = 7, 5, 6
    emb, lstm, head = Embedding(V, D, **F64), LSTM(D, H, **F64), Linear(H, V, **F64)
    temb, tlstm, thead = nn.Embedding(V, D), nn.LSTM(D, H, batch_first=True), nn.Linear(H, V)
    for m in (temb, tlstm, thead):
        m.double()
    pairs = copy_into_torch([emb, lstm, head], [temb, tlstm, thead])
    rng = np.random.default_rng(2)
    ids, y = rng.integers(0, V, (3, 4)), rng.integers(0, V, (3, 4))
    loss = cross_entropy(head(lstm(emb(ids))), y)
    tout, _ = tlstm(temb(torch.tensor(ids)))
    tloss = nn.functional.cross_entropy(thead(tout).reshape(-1, V), torch.tensor(y).reshape(-1))
    assert_same(loss, tloss, pairs)


@pytest.mark.parametrize("loss_name", ["mse", "l1"])
def test_multihead_attention_with_mask_against_torch(loss_name):
    manual_seed(3)
    E, h = 6, 2
    mha = MultiheadAttention(E, h, **F64)
    for k in ("bq", "bk", "bv", "bo"):
        mha._parameters[k].data = 0.1 * np.random.default_rng(len(k) + ord(k[1])).standard_normal(E)
    tm = nn.MultiheadAttention(E, h, batch_first=True).double()
    p = {k: mha._parameters[k].data for k in mha.KEYS}
    with torch.no_grad():
        tm.in_proj_weight.copy_(t(np.concatenate([p["Wq"].T, p["Wk"].T, p["Wv"].T])))
        tm.in_proj_bias.copy_(t(np.concatenate([p["bq"], p["bk"], p["bv"]])))
        tm.out_proj.weight.copy_(t(p["Wo"].T))
        tm.out_proj.bias.copy_(t(p["bo"]))
    rng = np.random.default_rng(3)
    q, kv, target = rng.standard_normal((2, 4, E)), rng.standard_normal((2, 5, E)), \
        rng.standard_normal((2, 4, E))
    mask = np.tril(np.ones((4, 5), bool))
    ours_loss = {"mse": mse_loss, "l1": l1_loss}[loss_name]
    theirs_loss = {"mse": nn.functional.mse_loss, "l1": nn.functional.l1_loss}[loss_name]
    loss = ours_loss(mha(q, kv, mask=mask), target)
    tout, _ = tm(t(q), t(kv), t(kv), attn_mask=torch.tensor(~mask))
    tloss = theirs_loss(tout, t(target))
    loss.backward()
    tloss.backward()
    assert abs(loss.item() - tloss.item()) <= 1e-12
    E3 = np.split(tm.in_proj_weight.grad.numpy(), 3)
    b3 = np.split(tm.in_proj_bias.grad.numpy(), 3)
    want = {"Wq": E3[0].T, "Wk": E3[1].T, "Wv": E3[2].T, "bq": b3[0], "bk": b3[1],
            "bv": b3[2], "Wo": tm.out_proj.weight.grad.numpy().T,
            "bo": tm.out_proj.bias.grad.numpy()}
    for k, g in want.items():
        np.testing.assert_allclose(mha._parameters[k].grad, g, rtol=1e-9, atol=1e-12,
                                   err_msg=k)
