"""First-order update rules, each a pure function ``rule(w, dw, config=None) -> (next_w, config)``.

The calling convention is the CS231n one:

- w: array of any shape, the current weights
- dw: array of w's shape, the gradient of the loss with respect to w
- config: dict of hyperparameters and state (or None for the defaults). As in CS231n,
  the rule fills in the default hyperparameters it reads and stores its new state
  (velocity, cache, m, v, t) in the dict it is handed, as *new* arrays, and returns that
  same dict: a notebook reads ``config['velocity']`` after the call. No array is ever
  written into: not w, not dw, not the state arrays the config held before the call.

Returns a tuple of:
- next_w: new array of w's shape and dtype
- config: the config dict that was passed in (a new one when it was None)

Hyperparameters are read as Python numbers (``float(...)``), so a float32 w stays float32
even when a config was restored from a checkpoint as numpy float64 scalars. State arrays
are made on w's backend (numpy or cupy) with w's dtype.
"""

from __future__ import annotations

from typing import Any, Callable

from layers.backend import get_xp

from ._steps import adam_step, ema  # the arithmetic the optimizer classes share

__all__ = ["sgd", "sgd_momentum", "nesterov_momentum", "rmsprop", "adam", "adamw",
           "RULES", "get_rule"]


def _config(config: dict | None, **defaults: Any) -> dict:
    """The caller's config (a new dict for None) with the missing defaults filled in, as
    CS231n's ``config.setdefault``: the rule then stores its state in this same dict."""
    if config is None:
        config = {}
    elif not isinstance(config, dict):
        raise TypeError(f"config must be a dict or None; got {type(config).__name__}")
    for key, value in defaults.items():
        config.setdefault(key, value)
    return config


def _check(rule: str, w, dw) -> None:
    get_xp(w, dw)  # TypeError on a numpy/cupy mix
    if tuple(w.shape) != tuple(dw.shape):
        raise ValueError(f"{rule}: dw must have the shape of w, {tuple(w.shape)}; "
                         f"got {tuple(dw.shape)}")


def _state(config: dict, key: str, w, rule: str):
    """The state array ``config[key]``, or zeros like w when absent; checked against w."""
    s = config.get(key)
    if s is None:
        return get_xp(w).zeros_like(w)
    if tuple(s.shape) != tuple(w.shape):
        raise ValueError(f"{rule}: config[{key!r}] must have the shape of w, "
                         f"{tuple(w.shape)}; got {tuple(s.shape)}")
    return s


def sgd(w, dw, config=None):
    """Vanilla stochastic gradient descent: next_w = w - learning_rate * dw.

    config keys:
    - learning_rate: scalar, default 1e-2
    """
    _check("sgd", w, dw)
    config = _config(config, learning_rate=1e-2)
    lr = float(config["learning_rate"])
    return w - lr * dw, config


def sgd_momentum(w, dw, config=None):
    """SGD with momentum (optionally Nesterov's form).

        v      = momentum * v - learning_rate * dw
        next_w = w + v                                    (classical)
        next_w = w + momentum * v - learning_rate * dw    (nesterov=True)

    The Nesterov line is the usual "look-ahead" rewritten in terms of the stored weights:
    it equals w - momentum * v_old + (1 + momentum) * v.

    config keys:
    - learning_rate: scalar, default 1e-2
    - momentum: scalar in [0, 1), default 0.9 (0 gives plain sgd)
    - nesterov: bool, default False
    - velocity: array of w's shape, default zeros (state)
    """
    _check("sgd_momentum", w, dw)
    config = _config(config, learning_rate=1e-2, momentum=0.9, nesterov=False)
    lr, mu = float(config["learning_rate"]), float(config["momentum"])
    v = mu * _state(config, "velocity", w, "sgd_momentum") - lr * dw
    if config["nesterov"]:
        next_w = w + mu * v - lr * dw
    else:
        next_w = w + v
    config["velocity"] = v
    return next_w, config


def nesterov_momentum(w, dw, config=None):
    """sgd_momentum with ``nesterov=True`` by default (same config keys)."""
    return sgd_momentum(w, dw, _config(config, nesterov=True))


def rmsprop(w, dw, config=None):
    """RMSProp: scale the step by a running average of squared gradients.

        cache  = decay_rate * cache + (1 - decay_rate) * dw**2
        next_w = w - learning_rate * dw / (sqrt(cache) + epsilon)

    config keys:
    - learning_rate: default 1e-2
    - decay_rate: default 0.99
    - epsilon: default 1e-8
    - cache: array of w's shape, default zeros (state)
    """
    _check("rmsprop", w, dw)
    config = _config(config, learning_rate=1e-2, decay_rate=0.99, epsilon=1e-8)
    lr, rho, eps = (float(config[k]) for k in ("learning_rate", "decay_rate", "epsilon"))
    xp = get_xp(w, dw)
    cache = ema(_state(config, "cache", w, "rmsprop"), dw * dw, rho)
    next_w = w - lr * dw / (xp.sqrt(cache) + eps)
    config["cache"] = cache
    return next_w, config


def _adam_step(rule: str, w, dw, config: dict):
    """Shared by adam and adamw: new moments, step count and the bias-corrected step."""
    lr, b1, b2, eps = (float(config[k]) for k in ("learning_rate", "beta1", "beta2", "epsilon"))
    t = int(config["t"]) + 1
    m = ema(_state(config, "m", w, rule), dw, b1)
    v = ema(_state(config, "v", w, rule), dw * dw, b2)
    config.update(m=m, v=v, t=t)
    return adam_step(m, v, t, lr, b1, b2, eps), lr


def adam(w, dw, config=None):
    """Adam (Kingma & Ba): momentum on the gradient and on its square, bias-corrected.

        t      = t + 1
        m      = beta1 * m + (1 - beta1) * dw
        v      = beta2 * v + (1 - beta2) * dw**2
        next_w = w - learning_rate * (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + epsilon)

    config keys:
    - learning_rate: default 1e-3
    - beta1: default 0.9
    - beta2: default 0.999
    - epsilon: default 1e-8
    - m, v: arrays of w's shape, default zeros (state)
    - t: int step count, default 0 (state)
    """
    _check("adam", w, dw)
    config = _config(config, learning_rate=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8, t=0)
    step, _ = _adam_step("adam", w, dw, config)
    return w - step, config


def adamw(w, dw, config=None):
    """AdamW (Loshchilov & Hutter): Adam plus weight decay applied to w directly.

        next_w = w - adam_step - learning_rate * weight_decay * w

    The decay is "decoupled": it is not added to dw, so it is not rescaled by the
    moment estimates. Use it instead of (not with) the model's L2 ``reg``; note it decays
    every param it is applied to, biases included.

    config keys: those of adam, and
    - weight_decay: default 1e-2
    """
    _check("adamw", w, dw)
    config = _config(config, learning_rate=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8, t=0,
                     weight_decay=1e-2)
    step, lr = _adam_step("adamw", w, dw, config)
    decay = lr * float(config["weight_decay"])
    return w - step - decay * w, config


RULES: dict[str, Callable] = {
    "sgd": sgd,
    "sgd_momentum": sgd_momentum,
    "nesterov_momentum": nesterov_momentum,
    "rmsprop": rmsprop,
    "adam": adam,
    "adamw": adamw,
}

# The learning rate each rule uses when the config names none (the Solver's schedules need it).
DEFAULT_LEARNING_RATE = {"sgd": 1e-2, "sgd_momentum": 1e-2, "nesterov_momentum": 1e-2,
                         "rmsprop": 1e-2, "adam": 1e-3, "adamw": 1e-3}


def get_rule(rule: str | Callable) -> Callable:
    """The update rule named ``rule`` (or ``rule`` itself if it is callable)."""
    if callable(rule):
        return rule
    if rule not in RULES:
        raise ValueError(f"update_rule must be a callable or one of {sorted(RULES)}; "
                         f"got {rule!r}")
    return RULES[rule]
