"""nets.modules: every module gradient-checked through gradcheck.check_module, the Module
API (names, modes, state dicts), and the bridge both ways: module-built nets equal the
hand-composed nets with the same params, and the Solver trains a module-built net."""

import numpy as np
import pytest

from gradcheck import GradientCheckError, check_module, check_net
from layers import relu_forward
from nets import FullyConnectedNet, ThreeLayerConvNet
from nets.autograd import Tensor, apply
from nets.modules import (GELU, LSTM, BatchNorm1d, BatchNorm2d, Conv2d, Dropout, Embedding,
                          Flatten, LayerNorm, Linear, MaxPool2d, Module, ModuleNet,
                          MultiheadAttention, Parameter, ReLU, Sequential, cross_entropy,
                          l1_loss, manual_seed, mse_loss)
from optim import Adam, Solver

F64 = dict(dtype=np.float64)


def generic(shape, seed=0, low=0.1):
    """Distinct values away from 0 (no relu/max-pool ties or kinks)."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    mags = low + (rng.permutation(n) + 0.5) / n
    return (rng.choice([-1.0, 1.0], n) * mags).reshape(shape)


def checked(module, *inputs, **kw):
    """check_module with a Tensor input that requires its gradient, in float64."""
    args = [Tensor(a, requires_grad=True) if getattr(a, "dtype", None) == np.float64 else a
            for a in inputs]
    return check_module(module, *args, **kw)


CASES = {
    "linear": lambda: (Linear(4, 3, seed=0, **F64), generic((5, 4))),
    "linear_3d_no_bias": lambda: (Linear(4, 3, bias=False, seed=0, **F64), generic((2, 3, 4))),
    "relu": lambda: (ReLU(), generic((3, 4))),
    "gelu": lambda: (GELU(), generic((3, 4)) * 3),
    "flatten": lambda: (Sequential(Flatten(), Linear(12, 2, seed=1, **F64)),
                        generic((2, 3, 2, 2))),
    "batchnorm1d": lambda: (BatchNorm1d(3, **F64), generic((6, 3))),
    "batchnorm2d": lambda: (BatchNorm2d(2, **F64), generic((3, 2, 3, 3))),
    "layernorm_3d": lambda: (LayerNorm(4, **F64), generic((2, 3, 4))),
    "conv2d": lambda: (Conv2d(2, 3, 3, stride=2, padding=1, seed=0, **F64),
                       generic((2, 2, 5, 5))),
    "conv2d_rect_no_bias": lambda: (Conv2d(2, 3, (3, 2), bias=False, seed=0, **F64),
                                    generic((2, 2, 4, 4))),
    "maxpool2d": lambda: (MaxPool2d(2), generic((2, 2, 4, 4))),
    "embedding_lstm": lambda: (Sequential(Embedding(6, 3, seed=0, **F64),
                                          LSTM(3, 4, seed=1, **F64)),
                               np.array([[0, 5, 5], [2, 1, 0]])),
    "embedding_1d": lambda: (Embedding(6, 3, seed=0, **F64), np.array([4, 4, 1])),
    "mha_self": lambda: (MultiheadAttention(4, 2, seed=0, **F64), generic((2, 3, 4))),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_module_passes_check_module(name):
    module, x = CASES[name]()
    report = checked(module, x)
    assert report.ok and report.inputs


def test_mha_cross_attention_with_mask_and_the_lstm_h0_are_checked():
    mha = MultiheadAttention(4, 2, seed=0, **F64)
    q, kv = Tensor(generic((2, 3, 4)), requires_grad=True), Tensor(generic((2, 5, 4), 1),
                                                                   requires_grad=True)
    mask = np.tril(np.ones((3, 5), bool))
    assert check_module(lambda a, b: mha(a, b, mask=mask), q, kv,
                        parameters=mha.named_parameters()).ok
    lstm = LSTM(3, 4, seed=0, **F64)
    h0 = Tensor(generic((2, 4), 2), requires_grad=True)
    assert check_module(lambda x, h: lstm(x, h), Tensor(generic((2, 3, 3)), requires_grad=True),
                        h0, parameters=lstm.named_parameters()).ok


@pytest.mark.parametrize("loss", [cross_entropy, mse_loss, l1_loss])
def test_losses(loss):
    x = Tensor(generic((4, 3)), requires_grad=True)
    target = np.array([0, 2, 1, 1]) if loss is cross_entropy else generic((4, 3), 5)
    assert check_module(lambda t: loss(t, target), x).ok
    if loss is cross_entropy:  # (N, T, C) logits: the mean over all N*T positions
        z = generic((2, 3, 4))
        labels = np.array([[0, 1, 3], [2, 2, 0]])
        p = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
        want = -np.log(np.take_along_axis(p, labels[..., None], -1)).mean()
        assert abs(cross_entropy(Tensor(z), labels).item() - want) < 1e-12
    else:  # the target is differentiated too when it asks for it
        tt = Tensor(target, requires_grad=True)
        assert check_module(lambda a, b: loss(a, b), x, tt).ok
        d = x.data - target
        want = (d * d).mean() if loss is mse_loss else np.abs(d).mean()
        assert abs(loss(x, target).item() - want) < 1e-15


def test_check_module_catches_a_wrong_backward():
    def wrong_relu_backward(dout, cache):
        return dout  # forgets the mask

    class BadReLU(Module):
        def forward(self, x):
            return apply(relu_forward, wrong_relu_backward, x)

    with pytest.raises(GradientCheckError, match="input 0"):
        checked(Sequential(Linear(3, 3, seed=0, **F64), BadReLU()), generic((4, 3)))


def test_named_parameters_state_dict_and_npz_round_trip(tmp_path):
    manual_seed(0)
    model = Sequential(Conv2d(1, 2, 3, padding=1), BatchNorm2d(2), ReLU(), Flatten(),
                       Linear(2 * 4 * 4, 3))
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "4.bias"]
    X = generic((5, 1, 4, 4)).astype(np.float32)
    model(X)  # train mode: new running statistics
    sd = model.state_dict()
    assert list(sd)[-2:] == ["1.running_mean", "1.running_var"]
    np.savez(tmp_path / "m.npz", **sd)
    manual_seed(1)
    other = Sequential(Conv2d(1, 2, 3, padding=1), BatchNorm2d(2), ReLU(), Flatten(),
                       Linear(2 * 4 * 4, 3))
    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        other.load_state_dict(f)
    model.eval()
    other.eval()
    np.testing.assert_array_equal(model(X).data, other(X).data)
    with pytest.raises(KeyError, match="missing"):
        other.load_state_dict({"0.weight": sd["0.weight"]})
    with pytest.raises(ValueError, match="4.weight must have shape"):
        other.load_state_dict({**sd, "4.weight": np.zeros((3, 3))})


def test_train_eval_zero_grad_dropout_and_dtype():
    manual_seed(0)
    model = Sequential(Linear(4, 50), Dropout(0.5, seed=0), ReLU(), Linear(50, 2))
    assert model.training and model[1].training
    x = generic((8, 4)).astype(np.float32)
    a, b = model(x).data, model(x).data
    assert not np.array_equal(a, b)  # fresh masks in train mode
    model.eval()
    assert not model[1].training
    np.testing.assert_array_equal(model(x).data, model(x).data)
    model.train()
    cross_entropy(model(x), np.zeros(8, int)).backward()
    assert all(p.grad is not None and p.grad.dtype == np.float32 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    model.double()
    assert all(p.dtype == np.float64 for p in model.parameters())


def test_shared_parameter_listed_once_and_gets_both_gradients():
    lin = Linear(3, 3, seed=0, **F64)
    model = Sequential(lin, ReLU(), lin)
    assert len(list(model.parameters())) == 2
    assert checked(model, generic((4, 3))).ok


def test_module_needs_super_init_and_sequential_needs_modules():
    class Bad(Module):
        def __init__(self):
            self.w = Parameter(np.ones(2))

    with pytest.raises(AttributeError, match="super"):
        Bad()
    with pytest.raises(TypeError, match="argument 1 must be a Module"):
        Sequential(ReLU(), np.ones(2))


# --- the bridge: module nets and hand-composed nets -------------------------------------------


def _same_loss_and_grads(net, module_net, mapping, X, y):
    for k, name in mapping.items():
        module_net.params[name] = net.params[k]
    loss, grads = net.loss(X, y)
    mloss, mgrads = module_net.loss(X, y)
    np.testing.assert_allclose(mloss, loss, rtol=1e-13)
    for k, name in mapping.items():
        np.testing.assert_allclose(mgrads[name], grads[k], rtol=1e-10, atol=1e-13,
                                   err_msg=k)


@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
def test_fully_connected_net_and_its_module_twin(normalization):
    net = FullyConnectedNet([6, 5], input_dim=8, num_classes=3, normalization=normalization,
                            weight_scale=0.5, reg=0.3, dtype=np.float64, seed=0)
    norm = {None: [], "batchnorm": [BatchNorm1d], "layernorm": [LayerNorm]}[normalization]
    layers, mapping, dims = [], {}, [8, 6, 5, 3]
    for i in range(3):
        mapping[f"W{i + 1}"], mapping[f"b{i + 1}"] = f"{len(layers)}.weight", \
            f"{len(layers)}.bias"
        layers.append(Linear(dims[i], dims[i + 1], **F64))
        if i < 2:
            for n in norm:
                mapping[f"gamma{i + 1}"], mapping[f"beta{i + 1}"] = \
                    f"{len(layers)}.weight", f"{len(layers)}.bias"
                layers.append(n(dims[i + 1], **F64))
            layers.append(ReLU())
    rng = np.random.default_rng(1)
    for k in net.params:  # gamma/beta away from their ones/zeros start
        net.params[k] = net.params[k] + 0.1 * rng.standard_normal(net.params[k].shape)
    X, y = rng.standard_normal((7, 2, 4)), rng.integers(0, 3, 7)
    _same_loss_and_grads(net, ModuleNet(Sequential(Flatten(), *layers), reg=0.3),
                         {k: f"{int(v[0]) + 1}{v[1:]}" for k, v in mapping.items()}, X, y)


def test_three_layer_convnet_and_its_module_twin():
    net = ThreeLayerConvNet(input_dim=(2, 6, 6), num_filters=3, filter_size=3, hidden_dim=7,
                            num_classes=4, weight_scale=0.3, reg=0.2, dtype=np.float64, seed=0)
    model = Sequential(Conv2d(2, 3, 3, padding=1, **F64), ReLU(), MaxPool2d(2), Flatten(),
                       Linear(3 * 3 * 3, 7, **F64), ReLU(), Linear(7, 4, **F64))
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((5, 2, 6, 6)), rng.integers(0, 4, 5)
    mapping = {"W1": "0.weight", "b1": "0.bias", "W2": "4.weight", "b2": "4.bias",
               "W3": "6.weight", "b3": "6.bias"}
    for k in ("b1", "b2", "b3"):
        net.params[k] = 0.1 * rng.standard_normal(net.params[k].shape)
    _same_loss_and_grads(net, ModuleNet(model, reg=0.2), mapping, X, y)


def test_solver_trains_a_module_net_and_check_net_checks_it():
    from layerkit.data import get_data
    data = get_data("digits", seed=0)
    manual_seed(0)
    model = ModuleNet(Sequential(Flatten(), Linear(64, 32), ReLU(), Linear(32, 10)))
    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 5e-3},
                    num_epochs=3, batch_size=50, seed=0, verbose=False)
    solver.train()
    assert solver.best_val_acc > 0.9
    assert solver.loss_history[-1] < solver.loss_history[0] / 3
    X, y = data["X_val"][:6], data["y_val"][:6]
    with pytest.warns(Warning):  # float32 params upcast for the check
        assert check_net(model, X, y, num_checks=8).ok


def test_adam_trains_a_module_net_the_pytorch_way():
    from layerkit.data import get_data
    data = get_data("digits", seed=0)
    manual_seed(0)
    model = Sequential(Flatten(), Linear(64, 32), ReLU(), Linear(32, 10))
    opt = Adam(model.parameters(), lr=5e-3)
    X, y = data["X_train"], data["y_train"]
    for _ in range(3):
        for i in range(0, len(y), 50):
            opt.zero_grad()
            cross_entropy(model(X[i:i + 50]), y[i:i + 50]).backward()
            opt.step()
    model.eval()
    acc = (model(data["X_val"]).data.argmax(1) == data["y_val"]).mean()
    assert acc > 0.9


def test_linear_and_layernorm_act_on_the_last_axis_of_any_rank():
    lin, ln = Linear(4, 3, seed=0, **F64), LayerNorm(4, **F64)
    x = generic((2, 5, 4))
    np.testing.assert_allclose(lin(x).data, x @ lin.weight.data + lin.bias.data, rtol=1e-14)
    z = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(ln(x).data, z, rtol=1e-12)


@pytest.mark.gpu
def test_module_net_and_optimizer_on_cupy_match_numpy():
    import cupy

    manual_seed(0)
    model = Sequential(Conv2d(1, 2, 3, padding=1, **F64), BatchNorm2d(2, **F64), ReLU(),
                       MaxPool2d(2), Flatten(), Linear(8, 3, **F64))
    X, y = generic((4, 1, 4, 4)), np.array([0, 1, 2, 1])
    cross_entropy(model(X), y).backward()
    want = {n: p.grad for n, p in model.named_parameters()}
    model.zero_grad()
    model.to("cupy")
    opt = Adam(model.parameters(), lr=0.1)
    cross_entropy(model(cupy.asarray(X)), cupy.asarray(y)).backward()
    for n, p in model.named_parameters():
        assert isinstance(p.grad, cupy.ndarray)
        np.testing.assert_allclose(cupy.asnumpy(p.grad), want[n], rtol=1e-10, atol=1e-12)
    opt.step()
    assert all(isinstance(p.data, cupy.ndarray) for p in model.parameters())
