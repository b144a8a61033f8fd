"""optim's optimizer classes: torch.optim's trajectories over 25 steps in float64 (when
PyTorch is installed), and the contract without it (new arrays, skipped None grads,
param groups read at every step, clear errors)."""

import numpy as np
import pytest

import optim
from optim import SGD, Adam, AdamW, RMSprop


class P:
    """The smallest parameter: .data and .grad."""

    def __init__(self, a):
        self.data, self.grad = a, None


def grad_of(w, target, k):
    """A gradient that depends on the weights, nonlinearly, and on the step."""
    return np.sin(w) * w - target + 0.05 * k


SETTINGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.9, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.05, betas=(0.85, 0.995), weight_decay=0.3)),
]


@pytest.mark.parametrize("name,kw", SETTINGS, ids=[f"{n}-{i}" for i, (n, _) in
                                                   enumerate(SETTINGS)])
def test_trajectory_equals_torch_optim_over_25_steps(name, kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    init = [rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal(2)]
    targets = [rng.standard_normal(a.shape) for a in init]
    ours = [P(a.copy()) for a in init]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt, topt = getattr(optim, name)(ours, **kw), getattr(torch.optim, name)(theirs, **kw)
    worst = 0.0
    for k in range(25):
        for i, (p, q, tg) in enumerate(zip(ours, theirs, targets)):
            skip = i == 2 and k % 3 == 1  # a param without a gradient is left alone
            p.grad = None if skip else grad_of(p.data, tg, k)
            q.grad = None if skip else torch.from_numpy(grad_of(q.detach().numpy(), tg, k))
        opt.step()
        topt.step()
        for p, q in zip(ours, theirs):
            err = np.max(np.abs(p.data - q.detach().numpy())) / np.max(np.abs(p.data))
            worst = max(worst, err)
    assert worst < 1e-10, f"{name} {kw}: trajectories differ by {worst:.2e} (relative)"


def test_defaults_are_torch_optims():
    torch = pytest.importorskip("torch")
    import inspect
    for name in ("SGD", "RMSprop", "Adam", "AdamW"):
        ours = inspect.signature(getattr(optim, name)).parameters
        theirs = inspect.signature(getattr(torch.optim, name)).parameters
        for k, p in ours.items():
            if k != "params":
                want = theirs[k].default
                assert p.default == (tuple(want) if isinstance(want, tuple) else want), \
                    f"{name}.{k}"


@pytest.mark.parametrize("cls", [SGD, RMSprop, Adam, AdamW])
def test_step_replaces_data_and_keeps_dtype(cls):
    a = np.ones((2, 3), np.float32)
    keep = a.copy()
    p = P(a)
    p.grad = np.full((2, 3), 0.5, np.float32)
    g = p.grad.copy()
    opt = cls([p], lr=0.1) if cls is not SGD else cls([p], lr=0.1, momentum=0.9)
    opt.step()
    opt.step()
    assert p.data is not a and np.array_equal(a, keep) and np.array_equal(p.grad, g)
    assert p.data.dtype == np.float32 and not np.array_equal(p.data, keep)
    opt.zero_grad()
    assert p.grad is None
    before = p.data
    opt.step()  # no gradient: nothing moves
    assert p.data is before


def test_sgd_plain_step_and_param_groups_read_at_every_step():
    p, q = P(np.array([1.0, 2.0])), P(np.array([3.0]))
    opt = SGD([{"params": [p]}, {"params": [q], "lr": 1.0}], lr=0.1)
    p.grad, q.grad = np.array([1.0, -1.0]), np.array([0.5])
    opt.step()
    np.testing.assert_allclose(p.data, [0.9, 2.1])
    np.testing.assert_allclose(q.data, [2.5])
    opt.param_groups[0]["lr"] = 0.0
    opt.step()
    np.testing.assert_allclose(p.data, [0.9, 2.1])


def test_adam_shares_the_update_rules_arithmetic():
    """Adam's class and the pure rule take the same step from the same state."""
    rng = np.random.default_rng(0)
    w, dw = rng.standard_normal(5), rng.standard_normal(5)
    p = P(w)
    opt = Adam([p], lr=1e-2)
    config = {"learning_rate": 1e-2}
    for _ in range(3):
        p.grad = dw
        opt.step()
        w, config = optim.adam(w, dw, config)
    np.testing.assert_array_equal(p.data, w)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match=r"parameter 0 must have \.data and \.grad"):
        Adam([np.ones(2)])
    with pytest.raises(ValueError, match="nesterov"):
        SGD([P(np.ones(2))], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="lr must be >= 0"):
        RMSprop([P(np.ones(2))], lr=-1.0)
    with pytest.raises(ValueError, match="betas"):
        AdamW([P(np.ones(2))], betas=(0.9, 1.0))
    p = P(np.ones(2))
    p.grad = np.ones(3)
    with pytest.raises(ValueError, match=r"parameter 0 has shape \(2,\) but its grad \(3,\)"):
        Adam([p]).step()
