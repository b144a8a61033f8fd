"""Update rules against values worked out by hand, purity, dtype, and schedules."""

import copy
import math

import numpy as np
import pytest

from optim import rules, schedules
from tests.helpers import host

W = [1.0, -2.0]
DW = [0.5, 0.25]


def _arrays(xp, dtype=np.float64):
    return xp.asarray(np.array(W, dtype)), xp.asarray(np.array(DW, dtype))


# Each case: rule, config, expected next_w, worked out by hand in the comment.
HAND = [
    # w - lr dw = [1 - 0.05, -2 - 0.025]
    ("sgd", {"learning_rate": 0.1}, [0.95, -2.025]),
    # v = 0.9 [0.1, 0] - 0.1 [0.5, 0.25] = [0.04, -0.025]; w + v
    ("sgd_momentum", {"learning_rate": 0.1, "momentum": 0.9, "velocity": [0.1, 0.0]},
     [1.04, -2.025]),
    # same v; w + 0.9 v - 0.1 dw = [1 + 0.036 - 0.05, -2 - 0.0225 - 0.025]
    ("nesterov_momentum", {"learning_rate": 0.1, "momentum": 0.9, "velocity": [0.1, 0.0]},
     [0.986, -2.0475]),
    # cache = 0.1 dw^2 = [0.025, 0.00625]; dw / sqrt(cache) = 1/sqrt(0.1) each; step 0.1 * that
    ("rmsprop", {"learning_rate": 0.1, "decay_rate": 0.9, "epsilon": 0.0},
     [1 - 0.1 / math.sqrt(0.1), -2 - 0.1 / math.sqrt(0.1)]),
    # first step: m_hat = dw, v_hat = dw^2, so the step is lr * sign(dw)
    ("adam", {"learning_rate": 0.1, "epsilon": 0.0}, [0.9, -2.1]),
    # adam's step [0.1, 0.1] plus lr * weight_decay * w = 0.05 * [1, -2]:
    # [1 - 0.1 - 0.05, -2 - 0.1 + 0.1]
    ("adamw", {"learning_rate": 0.1, "epsilon": 0.0, "weight_decay": 0.5}, [0.85, -2.0]),
]


@pytest.mark.parametrize("name, config, expected", HAND, ids=[c[0] for c in HAND])
def test_rule_by_hand(xp, name, config, expected):
    w, dw = _arrays(xp)
    config = {k: xp.asarray(np.array(v)) if isinstance(v, list) else v
              for k, v in config.items()}
    next_w, _ = rules.RULES[name](w, dw, config)
    np.testing.assert_allclose(host(next_w), expected, rtol=1e-12, atol=1e-15)


def test_adam_second_step_by_hand(xp):
    # With a constant gradient the bias-corrected moments are exactly dw and dw^2 at every
    # step: m = 0.095 -> m / (1 - 0.81) = 0.5, v = 0.00049975 -> v / 0.001999 = 0.25.
    w, dw = _arrays(xp)
    w1, c1 = rules.adam(w, dw, {"learning_rate": 0.1, "epsilon": 0.0})
    w2, c2 = rules.adam(w1, dw, c1)
    assert c2["t"] == 2
    np.testing.assert_allclose(host(c2["m"]), [0.095, 0.0475], rtol=1e-12)
    np.testing.assert_allclose(host(c2["v"]), [0.00049975, 0.00049975 / 4], rtol=1e-12)
    np.testing.assert_allclose(host(w2), [0.8, -2.2], rtol=1e-12)


def test_momentum_two_steps_by_hand(xp):
    # v1 = -0.1 dw = [-0.05, -0.025]; v2 = 0.9 v1 - 0.1 dw = [-0.095, -0.0475]
    w, dw = _arrays(xp)
    w1, c1 = rules.sgd_momentum(w, dw, {"learning_rate": 0.1})
    w2, c2 = rules.sgd_momentum(w1, dw, c1)
    np.testing.assert_allclose(host(c2["velocity"]), [-0.095, -0.0475], rtol=1e-12)
    np.testing.assert_allclose(host(w2), [1 - 0.145, -2 - 0.0725], rtol=1e-12)


def test_defaults_are_the_cs231n_ones():
    w, dw = np.ones(2), np.ones(2)
    assert rules.sgd(w, dw)[1] == {"learning_rate": 1e-2}
    c = rules.sgd_momentum(w, dw)[1]
    assert (c["learning_rate"], c["momentum"], c["nesterov"]) == (1e-2, 0.9, False)
    c = rules.rmsprop(w, dw)[1]
    assert (c["learning_rate"], c["decay_rate"], c["epsilon"]) == (1e-2, 0.99, 1e-8)
    c = rules.adam(w, dw)[1]
    assert (c["learning_rate"], c["beta1"], c["beta2"], c["epsilon"], c["t"]) == (
        1e-3, 0.9, 0.999, 1e-8, 1)


STATE_KEYS = {"sgd": (), "sgd_momentum": ("velocity",), "nesterov_momentum": ("velocity",),
              "rmsprop": ("cache",), "adam": ("m", "v", "t"), "adamw": ("m", "v", "t")}


@pytest.mark.parametrize("name", sorted(rules.RULES))
def test_state_goes_into_the_config_handed_in_as_new_arrays(xp, name):
    # CS231n: next_w, _ = sgd_momentum(w, dw, config=config); then config['velocity']
    rng = np.random.default_rng(3)
    w = xp.asarray(rng.standard_normal((3, 4)))
    dw = xp.asarray(rng.standard_normal((3, 4)))
    rule = rules.RULES[name]
    state = {"learning_rate": 0.05}
    _, returned = rule(w, dw, state)
    assert returned is state  # the same dict, now carrying the state
    assert set(STATE_KEYS[name]) <= set(state)
    old = {k: v for k, v in state.items() if hasattr(v, "shape")}
    saved = copy.deepcopy(old)
    w0, dw0 = w.copy(), dw.copy()
    next_w, new = rule(w, dw, state)
    assert new is state
    for k, v in old.items():  # the state moves on in new arrays; the old ones are intact
        assert state[k] is not v
        np.testing.assert_array_equal(host(v), host(saved[k]))
    if "t" in STATE_KEYS[name]:
        assert state["t"] == 2
    np.testing.assert_array_equal(host(w), host(w0))
    np.testing.assert_array_equal(host(dw), host(dw0))
    assert next_w is not w
    assert rule(w, dw)[1] is not rule(w, dw)[1]  # config=None: a fresh dict each call


@pytest.mark.parametrize("name", sorted(rules.RULES))
def test_float32_stays_float32(xp, name):
    w = xp.ones((2, 3), dtype=np.float32)
    dw = xp.full((2, 3), 0.5, dtype=np.float32)
    # hyperparameters as numpy float64 scalars (as a config restored from disk may hold)
    config = {"learning_rate": np.float64(0.1), "momentum": np.float64(0.9)}
    if name not in ("sgd_momentum", "nesterov_momentum"):
        config.pop("momentum")
    for _ in range(2):
        w, config = rules.RULES[name](w, dw, config)
        assert w.dtype == np.float32
        assert all(v.dtype == np.float32 for v in config.values() if hasattr(v, "dtype")
                   and getattr(v, "ndim", 0) > 0)


def test_bad_input_names_the_problem():
    with pytest.raises(ValueError, match=r"sgd: dw must have the shape of w, \(2,\); got \(3,\)"):
        rules.sgd(np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match=r"adam: config\['m'\] must have the shape of w"):
        rules.adam(np.ones(2), np.ones(2), {"m": np.zeros(3)})
    with pytest.raises(ValueError, match="update_rule must be a callable or one of"):
        rules.get_rule("adagrad")


def test_step_decay_and_cosine_by_hand():
    assert schedules.step_decay(0.1, 0, 0.5) == 0.1
    assert schedules.step_decay(0.1, 3, 0.5) == pytest.approx(0.0125, rel=1e-15)
    assert schedules.cosine(0.1, 0, 10) == 0.1
    assert schedules.cosine(0.1, 5, 10, lr_min=0.02) == pytest.approx(0.06, rel=1e-14)
    assert schedules.cosine(0.1, 10, 10, lr_min=0.02) == pytest.approx(0.02, rel=1e-14)
    # a quarter of the way: (1 + cos(pi/4)) / 2 = 0.853553...
    assert schedules.cosine(1.0, 1, 4) == pytest.approx((1 + math.sqrt(0.5)) / 2, rel=1e-14)
    with pytest.raises(ValueError, match="iteration must be in"):
        schedules.cosine(0.1, 11, 10)


def test_linear_warmup_by_hand():
    # 4 warmup steps: rate/4, 2 rate/4, 3 rate/4, rate, then rate
    assert [schedules.linear_warmup(0.2, t, 4) for t in range(6)] == pytest.approx(
        [0.05, 0.1, 0.15, 0.2, 0.2, 0.2], rel=1e-15)
    assert schedules.linear_warmup(0.2, 0, 0) == 0.2  # no warmup
    assert schedules.linear_warmup(0.2, 0, 1) == 0.2  # one step: the full rate at once
    with pytest.raises(ValueError, match="linear_warmup: warmup_iters must be an integer >= 0"):
        schedules.linear_warmup(0.2, 0, -1)
    with pytest.raises(TypeError, match="linear_warmup: warmup_iters must be an integer"):
        schedules.linear_warmup(0.2, 0, 2.5)
    with pytest.raises(ValueError, match="linear_warmup: iteration must be >= 0"):
        schedules.linear_warmup(0.2, -1, 2)
