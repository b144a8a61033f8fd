"""The Solver refuses bad settings and data before training, each with an error that
names the setting (optim/settings.py), and names a parameter that was not finite before
training rather than reporting a divergence of the loss."""

import numpy as np
import pytest

from optim import Solver
from tests.tiny_models import SoftmaxRegression, blobs

DATA = blobs(n=40, d=3, classes=3)


def _solver(data=None, **kw):
    return Solver(SoftmaxRegression(3, 3), DATA if data is None else data, verbose=False,
                  **kw)


@pytest.mark.parametrize("kw, exc, match", [
    ({"optim_config": {"learning_rate": -1}}, ValueError,
     r"optim_config\['learning_rate'\] must be a number > 0.*got -1"),
    ({"optim_config": {"learning_rate": 0.0}}, ValueError,
     r"optim_config\['learning_rate'\] must be"),
    ({"optim_config": {"learning_rate": float("nan")}}, ValueError,
     r"optim_config\['learning_rate'\] must be a finite number > 0.*got nan"),
    ({"optim_config": {"learning_rate": "abc"}}, TypeError,
     r"optim_config\['learning_rate'\] must be a number > 0.*got str 'abc'"),
    ({"optim_config": {"momentum": 1.5}}, ValueError,
     r"optim_config\['momentum'\] must be a number in \[0, 1\]"),
    ({"optim_config": {"epsilon": 0}}, ValueError, r"optim_config\['epsilon'\] must be"),
    ({"optim_config": {"beta2": float("nan")}}, ValueError, r"optim_config\['beta2'\]"),
    ({"lr_decay": -1}, ValueError, r"lr_decay must be a number > 0"),
    ({"lr_decay": 0}, ValueError, r"lr_decay must be a number > 0"),
    ({"lr_decay": "abc"}, TypeError, r"lr_decay must be a number"),
    ({"batch_size": 2.5}, TypeError, r"batch_size must be an integer >= 1; got float 2.5"),
    ({"batch_size": "abc"}, TypeError, r"batch_size must be an integer"),
    ({"batch_size": 0}, ValueError, r"batch_size must be an integer >= 1; got 0"),
    ({"num_epochs": -1}, ValueError, r"num_epochs must be an integer >= 0"),
    ({"num_epochs": 1.5}, TypeError, r"num_epochs must be an integer"),
    ({"grad_clip": 0}, ValueError, r"grad_clip must be a number > 0"),
    ({"grad_clip": float("inf")}, ValueError, r"grad_clip must be a finite number"),
    ({"keep_checkpoints": 0}, ValueError, r"keep_checkpoints must be an integer >= 1"),
    ({"num_val_samples": 2.5}, TypeError, r"num_val_samples must be an integer"),
    ({"print_every": -1}, ValueError, r"print_every must be an integer >= 0"),
    ({"optim_config": [("learning_rate", 1e-3)]}, TypeError, r"optim_config must be a dict"),
    ({"schedule": "linear"}, ValueError, r"schedule must be one of"),
    ({"update_rule": 3}, TypeError, r"update_rule must be a rule's name or a callable"),
    ({"learning_rate": 1e-3}, TypeError, r"unrecognized arguments \['learning_rate'\]"),
    ({"seed": "abc"}, TypeError, r"seed must be an integer >= 0"),
    ({"seed": -1}, ValueError, r"seed must be an integer >= 0"),
])
def test_bad_settings_are_refused_naming_the_setting(kw, exc, match):
    with pytest.raises(exc, match=r"^Solver: " + match):
        _solver(**kw)


def test_numpy_integers_and_floats_are_good_settings():
    s = _solver(batch_size=np.int64(8), num_epochs=np.int32(1),
                optim_config={"learning_rate": np.float32(0.5)}, lr_decay=np.float64(0.9))
    assert (s.batch_size, s.num_epochs) == (8, 1) and type(s.batch_size) is int
    assert s.optim_config["learning_rate"] == 0.5
    s.train()
    assert np.isfinite(s.loss_history).all()


@pytest.mark.parametrize("change, exc, match", [
    (lambda d: {**d, "X_train": d["X_train"][:0], "y_train": d["y_train"][:0]}, ValueError,
     r"data\['X_train'\] holds no examples"),
    (lambda d: {**d, "X_val": d["X_val"][:0], "y_val": d["y_val"][:0]}, ValueError,
     r"data\['X_val'\] holds no examples"),
    (lambda d: {**d, "y_train": d["y_train"][:-1]}, ValueError,
     r"X_train has 30 examples but y_train has 29"),
    (lambda d: {**d, "y_val": d["y_val"].astype(float)}, TypeError,
     r"data\['y_val'\] must hold integer labels; got dtype float64"),
    (lambda d: {**d, "X_train": d["X_train"].tolist()}, TypeError,
     r"data\['X_train'\] must be an array; got list"),
    (lambda d: {k: v for k, v in d.items() if k != "y_val"}, ValueError,
     r"data is missing \['y_val'\]"),
])
def test_bad_data_is_refused_before_training(change, exc, match):
    with pytest.raises(exc, match=r"^Solver: " + match):
        _solver(change(DATA))


def test_val_labels_out_of_range_are_an_error_not_a_wrong_answer():
    y_val = DATA["y_val"].copy()
    y_val[3] = 7  # 3 classes: 7 could never be predicted
    s = _solver({**DATA, "y_val": y_val}, num_epochs=1, batch_size=10)
    with pytest.raises(ValueError, match=r"y_val holds label 7, but the model scores "
                                         r"C = 3 classes; labels must be < 3"):
        s.train()


def test_negative_labels_are_not_counted():
    s = _solver(num_epochs=0)
    X, y = DATA["X_val"], DATA["y_val"].copy()
    pred = s.model.loss(X).argmax(axis=1)
    y[:4] = -1  # e.g. a masked LM's unchosen positions
    want = (pred[4:] == y[4:]).mean()
    assert s.check_accuracy(X, y) == pytest.approx(want)


def test_a_nan_planted_in_a_weight_is_named_before_training():
    s = _solver(num_epochs=1, batch_size=10)
    s.model.params["W"] = s.model.params["W"].copy()
    s.model.params["W"][1, 2] = np.nan
    with pytest.raises(ValueError, match=r"parameter 'W' holds nan or inf before training"):
        s.train()
    assert s.loss_history == []  # nothing ran


def test_check_accuracy_and_train_arguments():
    s = _solver(num_epochs=1, batch_size=10)
    with pytest.raises(ValueError, match=r"check_accuracy: batch_size must be an integer >= 1"):
        s.check_accuracy(DATA["X_val"], DATA["y_val"], batch_size=0)
    with pytest.raises(TypeError, match=r"check_accuracy: num_samples must be an integer"):
        s.check_accuracy(DATA["X_val"], DATA["y_val"], num_samples=2.5)
    with pytest.raises(TypeError, match=r"Solver.train: max_epochs must be an integer"):
        s.train(max_epochs=0.5)
