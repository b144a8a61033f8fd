"""The Solver: each rule trains, same seed same run, clipping, schedules, divergence, history.

Every test that makes a model makes it on the backend under test (``xp``: numpy, the CuPy
stand-in in CI's second run, cupy on a GPU); the data stay on the host, as a dataset read
from disk does, and the Solver moves them."""

import csv
import json
import math

import numpy as np
import pytest

from layerkit.data import get_data
from nets import FullyConnectedNet
from optim import Solver, TrainingDivergedError, history_dict, save_history
from tests.helpers import host
from tests.tiny_models import Poison, SoftmaxRegression, TinyMLP, blobs

RATES = {"sgd": 0.1, "sgd_momentum": 0.05, "nesterov_momentum": 0.05, "rmsprop": 1e-2,
         "adam": 1e-2, "adamw": 1e-2}


@pytest.mark.parametrize("rule", sorted(RATES))
def test_each_rule_lowers_the_loss(rule, xp):
    data = blobs(seed=1)
    model = SoftmaxRegression(5, 3, reg=1e-3, xp=xp)
    solver = Solver(model, data, update_rule=rule, optim_config={"learning_rate": RATES[rule]},
                    num_epochs=6, batch_size=25, seed=0, verbose=False)
    solver.train()
    first, last = np.mean(solver.loss_history[:3]), np.mean(solver.loss_history[-3:])
    assert last < 0.5 * first, (rule, first, last)
    assert solver.best_val_acc > 0.9
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == 6 + 1
    assert len(solver.loss_history) == len(solver.lr_history) == 6 * (150 // 25)


def _run(seed, xp=np, **kw):
    model = TinyMLP(5, 8, 3, seed=0, xp=xp)
    solver = Solver(model, blobs(seed=2), update_rule="sgd_momentum", num_epochs=2,
                    batch_size=16, seed=seed, verbose=False, num_train_samples=50, **kw)
    solver.train()
    return solver


def test_same_seed_same_run_and_another_seed_another_run(xp):
    a, b, c = _run(7, xp), _run(7, xp), _run(8, xp)
    assert a.loss_history == b.loss_history
    assert a.train_acc_history == b.train_acc_history
    for k in a.model.params:
        assert isinstance(a.model.params[k], xp.ndarray)  # trained where it was made
        np.testing.assert_array_equal(host(a.model.params[k]), host(b.model.params[k]))
    assert a.loss_history != c.loss_history


def test_overfits_50_digits_with_a_small_mlp(xp):
    data = get_data("digits")
    small = {"X_train": data["X_train"][:50], "y_train": data["y_train"][:50],
             "X_val": data["X_val"], "y_val": data["y_val"]}
    model = TinyMLP(64, 100, 10, dtype=np.float32, seed=0, xp=xp)
    solver = Solver(model, small, update_rule="adam", optim_config={"learning_rate": 5e-3},
                    num_epochs=40, batch_size=25, seed=0, verbose=False)
    solver.train()
    assert solver.train_acc_history[-1] == 1.0
    assert model.params["W1"].dtype == np.float32


def test_overfits_50_digits_with_the_fully_connected_net(xp):
    data = get_data("digits")
    small = {"X_train": data["X_train"][:50], "y_train": data["y_train"][:50],
             "X_val": data["X_val"], "y_val": data["y_val"]}
    model = FullyConnectedNet([100, 100], input_dim=64, num_classes=10,
                              weight_scale=0.1, seed=0).to(xp)
    solver = Solver(model, small, update_rule="adam", optim_config={"learning_rate": 5e-3},
                    num_epochs=40, batch_size=25, seed=0, verbose=False)
    solver.train()
    assert solver.train_acc_history[-1] == 1.0


class ConstantGrad:
    """loss 1, gradient ``g`` for every param whatever the input; scores are zeros."""

    def __init__(self, g, xp=np):
        self.params = {"w": xp.zeros(2), "b": xp.zeros(1)}
        self.g, self.xp = g, xp

    def loss(self, X, y=None):
        xp = self.xp
        if y is None:
            return xp.zeros((X.shape[0], 2))
        return 1.0, {"w": xp.full(2, self.g), "b": xp.full(1, self.g)}


def test_grad_clip_caps_the_global_norm(xp):
    data = {"X_train": np.zeros((4, 1)), "y_train": np.zeros(4, int),
            "X_val": np.zeros((2, 1)), "y_val": np.zeros(2, int)}
    model = ConstantGrad(10.0, xp)  # global norm sqrt(3) * 10
    solver = Solver(model, data, update_rule="sgd", optim_config={"learning_rate": 1.0},
                    num_epochs=1, batch_size=4, grad_clip=0.5, verbose=False)
    solver.train()
    step = np.concatenate([host(model.params["w"]), host(model.params["b"])])
    np.testing.assert_allclose(np.linalg.norm(step), 0.5, rtol=1e-12)
    np.testing.assert_allclose(step, -0.5 / math.sqrt(3), rtol=1e-12)
    assert solver.grad_norm_history == [pytest.approx(10 * math.sqrt(3), rel=1e-12)]
    # below the threshold the gradient is left alone
    model = ConstantGrad(0.1, xp)
    Solver(model, data, update_rule="sgd", optim_config={"learning_rate": 1.0}, num_epochs=1,
           batch_size=4, grad_clip=0.5, verbose=False).train()
    np.testing.assert_allclose(host(model.params["w"]), [-0.1, -0.1], rtol=1e-12)


def test_step_decay_and_cosine_rates_by_hand(xp):
    data = blobs(n=40, seed=3)  # 30 training examples, batch 10: 3 steps per epoch
    s = Solver(SoftmaxRegression(5, 3, xp=xp), data, update_rule="sgd", batch_size=10, num_epochs=3,
               optim_config={"learning_rate": 0.1}, lr_decay=0.5, verbose=False)
    s.train()
    np.testing.assert_allclose(s.lr_history, [0.1] * 3 + [0.05] * 3 + [0.025] * 3, rtol=1e-15)
    s = Solver(SoftmaxRegression(5, 3, xp=xp), data, update_rule="adam", batch_size=10,
               num_epochs=2,
               optim_config={"learning_rate": 0.1}, schedule="cosine", lr_min=0.01,
               verbose=False)
    s.train()
    # 6 steps: lr_t = 0.01 + 0.09 * (1 + cos(pi t / 6)) / 2 for t = 0..5
    expected = [0.01 + 0.045 * (1 + math.cos(math.pi * t / 6)) for t in range(6)]
    np.testing.assert_allclose(s.lr_history, expected, rtol=1e-14)
    with pytest.raises(ValueError, match="leave lr_decay=1.0"):
        Solver(SoftmaxRegression(5, 3), data, schedule="cosine", lr_decay=0.9)


@pytest.mark.parametrize("what", ["b2", "loss"])
def test_nan_stops_training_naming_epoch_iteration_parameter(tmp_path, what, xp):
    data = blobs(seed=4)  # 150 training examples, batch 25: 6 steps per epoch
    model = Poison(TinyMLP(5, 8, 3, xp=xp), at_call=16, what=what)  # the 4th step of epoch 3
    name = str(tmp_path / "run")
    solver = Solver(model, data, update_rule="adam", num_epochs=5, batch_size=25, seed=0,
                    checkpoint_name=name, verbose=False)
    with pytest.raises(TrainingDivergedError) as info:
        solver.train()
    e = info.value
    assert isinstance(e, FloatingPointError)
    assert (e.epoch, e.iteration, e.parameter) == (3, 16, what)
    msg = str(e)
    assert "epoch 3 of 5" in msg and "iteration 16 of 30" in msg
    assert (f"the gradient of parameter '{what}' is not finite" in msg) if what != "loss" \
        else ("the loss is inf" in msg)
    assert e.checkpoint == f"{name}_epoch_2.npz" and f"{name}_epoch_2.npz" in msg
    assert not (tmp_path / "run_epoch_3.npz").exists()
    with np.load(e.checkpoint, allow_pickle=False) as f:  # the last good one is intact
        assert np.isfinite(f["params/b2"]).all()
    assert all(np.isfinite(host(p)).all() for p in model.params.values())
    assert len(solver.loss_history) == 15  # the bad step was not recorded or applied


def test_check_accuracy_on_sequence_scores(xp):
    class SeqModel:  # scores (N, T, V) whose argmax is the input token itself
        params = {"w": xp.zeros(1)}

        def loss(self, X, y=None):
            return xp.eye(4)[X]

    X = np.array([[0, 1, 2], [3, 3, 1]])
    y = np.array([[0, 1, 0], [3, 2, 1]])  # 4 of 6 right
    s = Solver(SeqModel(), {"X_train": X, "y_train": y, "X_val": X, "y_val": y}, verbose=False)
    assert s.check_accuracy(X, y, batch_size=1) == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match=r"need targets of shape \(2, 3\); got \(2,\)"):
        s.check_accuracy(X, y[:, 0])


def test_float64_data_is_cast_to_a_float32_model(xp):
    data = blobs(seed=5, dtype=np.float64)
    model = SoftmaxRegression(5, 3, dtype=np.float32, xp=xp)
    Solver(model, data, update_rule="adam", num_epochs=1, batch_size=50, verbose=False).train()
    assert all(p.dtype == np.float32 for p in model.params.values())


def test_history_json_and_csv(tmp_path, xp):
    s = Solver(SoftmaxRegression(5, 3, xp=xp), blobs(seed=6), update_rule="sgd", batch_size=50,
               num_epochs=2, optim_config={"learning_rate": 0.1}, lr_decay=0.5, verbose=False)
    s.train()
    h = history_dict(s)
    save_history(h, tmp_path / "h.json")
    save_history(h, tmp_path / "h.csv")
    back = json.loads((tmp_path / "h.json").read_text())
    assert back["loss"] == s.loss_history and back["val_acc"] == s.val_acc_history
    assert back["acc_iteration"] == [1, 3, 6] and back["acc_epoch"] == [1 / 3, 1.0, 2.0]
    rows = list(csv.DictReader(open(tmp_path / "h.csv")))
    assert len(rows) == 6
    assert [float(r["lr"]) for r in rows] == [0.1] * 3 + [0.05] * 3
    assert [float(r["loss"]) for r in rows] == s.loss_history
    assert rows[2]["val_acc"] == str(s.val_acc_history[1]) and rows[1]["val_acc"] == ""


def test_verbose_prints_cs231n_lines(capsys, xp):
    Solver(SoftmaxRegression(5, 3, xp=xp), blobs(seed=7), batch_size=50, num_epochs=1,
           print_every=2).train()
    out = capsys.readouterr().out
    assert "(Iteration 2 / 3) loss:" in out
    assert "(Epoch 0 / 1) train acc:" in out and "(Epoch 1 / 1) train acc:" in out


def test_bad_arguments_are_named():
    data = blobs()
    with pytest.raises(TypeError, match=r"unrecognized arguments \['learning_rate'\]"):
        Solver(SoftmaxRegression(5, 3), data, learning_rate=0.1)
    with pytest.raises(ValueError, match=r"missing \['y_val'\]"):
        Solver(SoftmaxRegression(5, 3), {k: v for k, v in data.items() if k != "y_val"})
    with pytest.raises(ValueError, match="update_rule must be"):
        Solver(SoftmaxRegression(5, 3), data, update_rule="adagrad")
