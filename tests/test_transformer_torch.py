"""The whole TransformerLM against the same model written in PyTorch (llm.c's check of
GPT-2): the numpy model's params are loaded into the torch model by name, then scores,
loss and every gradient must agree to ~1e-9 relative in float64, tied and untied; then
10 AdamW steps on each must give the same loss trajectory. The torch model is
benchmarks.suite_transformer.torch_gpt, so the benchmark times the model proven equal
here. PyTorch is the optional peer: these tests skip where it is not installed."""

import math

import numpy as np
import pytest

from layers import BLOCK_KEYS
from nets import TransformerLM
from optim.rules import adamw

torch = pytest.importorskip("torch", reason="PyTorch is the optional reference peer")
F = torch.nn.functional
# the PyTorch model, written with torch's own modules (nn.Linear, nn.LayerNorm,
# scaled_dot_product_attention), shared with the benchmark that times it against ours
from benchmarks.suite_transformer import load_into_torch, torch_gpt, torch_name  # noqa: E402

V, MAX_LEN, E, H, L, FF = 11, 8, 16, 4, 2, 24


def pair(tie, seed=0):
    """The numpy model with random params of a useful size, and the torch model with the
    same params loaded by name."""
    model = TransformerLM(V, max_len=MAX_LEN, embed_dim=E, num_heads=H, num_layers=L,
                          ff_dim=FF, tie_weights=tie, dtype=np.float64, seed=seed)
    rng = np.random.default_rng(seed)
    for k, a in model.params.items():
        base = 1.0 if k.endswith("gamma") else 0.0
        scale = 0.3 if k.split(".")[-1].startswith("W") else 0.1
        model.params[k] = base + scale * rng.standard_normal(a.shape)
    ref = torch_gpt(V, MAX_LEN, E, H, L, FF, tie).double()
    assert len(ref.state_dict()) == len(model.params)
    load_into_torch(ref, model.params, torch_name)
    return model, ref


def _data(seed=1):
    rng = np.random.default_rng(seed)
    return rng.integers(0, V, (3, MAX_LEN)), rng.integers(0, V, (3, MAX_LEN))


def _close(ours, theirs, what, rtol=1e-9):
    scale = max(float(np.abs(theirs).max()), 1e-6)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol * scale, err_msg=what)


def test_names_cover_torch_state_dict_one_to_one():
    for tie in (True, False):
        model, ref = pair(tie)
        assert sorted(torch_name(k)[0] for k in model.params) == sorted(ref.state_dict())
        assert all(k.split(".")[-1] in BLOCK_KEYS for k in model.params if k.startswith("blk"))


@pytest.mark.parametrize("tie", [True, False], ids=["tied", "untied"])
def test_scores_loss_and_every_gradient_match_pytorch(tie):
    model, ref = pair(tie)
    X, y = _data()
    for T in (MAX_LEN, 5):  # the full context, and a shorter one (W_pos rows unused)
        scores = model.loss(X[:, :T])
        ref_scores = ref(torch.tensor(X[:, :T]))
        _close(scores, ref_scores.detach().numpy(), f"scores, T={T}")

    loss, grads = model.loss(X, y)
    ref.zero_grad()
    ref_loss = F.cross_entropy(ref(torch.tensor(X)).reshape(-1, V), torch.tensor(y).reshape(-1))
    ref_loss.backward()
    assert float(loss) == pytest.approx(ref_loss.item(), rel=1e-12)
    ref_params = dict(ref.named_parameters())
    for k, g in grads.items():
        name, transpose = torch_name(k)
        want = ref_params[name].grad.numpy()
        _close(g, want.T if transpose else want, k)


@pytest.mark.parametrize("tie", [True, False], ids=["tied", "untied"])
def test_ten_adamw_steps_follow_pytorch(tie):
    model, ref = pair(tie, seed=2)
    X, y = _data(seed=3)
    lr, wd = 3e-3, 0.1
    opt = torch.optim.AdamW(ref.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8,
                            weight_decay=wd)
    configs = {k: {"learning_rate": lr, "weight_decay": wd} for k in model.params}
    ours, theirs = [], []
    for _ in range(10):
        loss, grads = model.loss(X, y)
        ours.append(float(loss))
        for k in model.params:
            model.params[k], configs[k] = adamw(model.params[k], grads[k], configs[k])
        opt.zero_grad()
        ref_loss = F.cross_entropy(ref(torch.tensor(X)).reshape(-1, V),
                                   torch.tensor(y).reshape(-1))
        ref_loss.backward()
        opt.step()
        theirs.append(ref_loss.item())
    assert ours[-1] < ours[0] - 0.5  # it learns: the trajectory is not flat
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
    assert math.isfinite(ours[-1])
