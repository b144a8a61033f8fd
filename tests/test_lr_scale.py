"""Layer-wise rates: ``model.lr_scale`` steps the named params at a multiple of the step's
rate, with every update rule and schedule; the saved configs and ``lr_history`` keep the
run's own rate; bad names and factors are refused before any update."""

import numpy as np
import pytest

from layers.backend import to_numpy
from optim import Solver
from tests.tiny_models import SoftmaxRegression, blobs


def _solver(model, data, **kw):
    kw = {"num_epochs": 1, "batch_size": 10, "verbose": False, "restore_best": False,
          "seed": 0, "print_every": 0, "num_train_samples": None, **kw}
    return Solver(model, data, **kw)


def test_sgd_steps_a_scaled_param_at_its_factor_of_the_rate(xp):
    data = blobs(n=40, seed=3)
    model = SoftmaxRegression(5, 3, xp=xp)
    model.lr_scale = {"W": 0.25}
    before = {k: to_numpy(w).copy() for k, w in model.params.items()}
    s = _solver(model, data, update_rule="sgd", optim_config={"learning_rate": 0.4})
    grads = {k: to_numpy(g) for k, g in s._step(np.arange(10)).items()}
    # plain SGD: w - rate * dw, with rate 0.4 * 0.25 for W and 0.4 for b
    np.testing.assert_allclose(to_numpy(model.params["W"]), before["W"] - 0.1 * grads["W"],
                               rtol=0, atol=1e-15)
    np.testing.assert_allclose(to_numpy(model.params["b"]), before["b"] - 0.4 * grads["b"],
                               rtol=0, atol=1e-15)
    s._read()
    assert s.optim_configs["W"]["learning_rate"] == 0.4  # not 0.1, nor 0.1 * 0.25 next
    assert s.lr_history == [0.4]


@pytest.mark.parametrize("rule", ["adam", "rmsprop", "sgd_momentum"])
def test_one_step_moves_a_scaled_param_as_the_scaled_rate_would(rule):
    """From the same params (so the same gradients), one step with W under factor 0.5 at
    rate 2e-2 gives W of a step at 1e-2 and b of a step at 2e-2."""
    data = blobs(n=60, seed=4)
    after = {}
    for rate, scale in [(2e-2, {"W": 0.5}), (1e-2, None), (2e-2, None)]:
        model = SoftmaxRegression(5, 3, seed=1)
        model.lr_scale = scale
        _solver(model, data, update_rule=rule,
                optim_config={"learning_rate": rate})._step(np.arange(10))
        after[(rate, scale is None)] = model.params
    np.testing.assert_array_equal(after[(2e-2, False)]["W"], after[(1e-2, True)]["W"])
    np.testing.assert_array_equal(after[(2e-2, False)]["b"], after[(2e-2, True)]["b"])
    assert not np.array_equal(after[(2e-2, False)]["W"], after[(2e-2, True)]["W"])


@pytest.mark.parametrize("rule", ["adam", "rmsprop", "sgd_momentum"])
def test_one_factor_for_every_param_is_the_run_at_the_scaled_rate(rule):
    """Every param under factor 0.5 at 2e-2, with a cosine schedule and warmup, over three
    epochs, is the run at 1e-2: the factor multiplies every step's scheduled rate, and
    nothing else; lr_history is the 2e-2 run's."""
    data = blobs(n=60, seed=4)
    runs = {}
    for rate, scale in [(2e-2, {"W": 0.5, "b": 0.5}), (1e-2, None), (2e-2, None)]:
        model = SoftmaxRegression(5, 3, seed=1)
        model.lr_scale = scale
        s = _solver(model, data, update_rule=rule, optim_config={"learning_rate": rate},
                    schedule="cosine", warmup_iters=2, num_epochs=3)
        s.train()
        runs[(rate, scale is None)] = (model.params, s.lr_history)
    (scaled, lrs), (half, _), (full, full_lrs) = runs.values()
    for k in scaled:
        np.testing.assert_array_equal(scaled[k], half[k])
    assert lrs == full_lrs


@pytest.mark.parametrize("scale, err, words", [
    ({"nope": 0.5}, ValueError, "model.lr_scale names ['nope'], which are not params"),
    ({"W": 0.0}, ValueError, "model.lr_scale['W'] must be finite and > 0; got 0.0"),
    ({"W": -1}, ValueError, "model.lr_scale['W'] must be finite and > 0; got -1"),
    ({"W": float("nan")}, ValueError, "must be finite and > 0; got nan"),
    ({"W": "0.5"}, TypeError, "model.lr_scale['W'] must be a number; got str"),
    ({"W": True}, TypeError, "model.lr_scale['W'] must be a number; got bool"),
])
def test_bad_scales_are_refused_before_any_update(scale, err, words):
    model = SoftmaxRegression(5, 3)
    model.lr_scale = scale
    before = {k: w.copy() for k, w in model.params.items()}
    with pytest.raises(err) as e:
        _solver(model, blobs(n=40, seed=3), update_rule="sgd").train()
    assert str(e.value).startswith("Solver: ") and words in str(e.value)
    assert all(np.array_equal(model.params[k], before[k]) for k in before)


def test_a_rule_without_a_rate_cannot_be_scaled():
    def halve(w, dw, config=None):  # a custom rule with no learning_rate at all
        return w - 0.5 * dw, config or {}

    model = SoftmaxRegression(5, 3)
    model.lr_scale = {"W": 0.5}
    with pytest.raises(ValueError, match="model.lr_scale scales 'W', but the rule 'halve' "
                                         "has no learning_rate to scale"):
        _solver(model, blobs(n=40, seed=3), update_rule=halve).train()
