"""The Solver's keywords and data, checked in one place before any training starts.

Each bad setting is a ``TypeError`` (wrong kind: ``batch_size=2.5``, ``'abc'`` for a
number) or a ``ValueError`` (out of range: ``learning_rate=-1``, NaN, ``lr_decay=0``, an
empty training set) that names the setting, what it got and what it needs, instead of a
"training diverged" many steps later or a silent truncation (``int(2.5) == 2``).
"""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from layers import validate as v
from layers.backend import is_array

from .schedules import SCHEDULES

__all__ = ["SETTINGS", "check_settings", "check_data", "model_frozen", "model_lr_scale"]

FN = "Solver"

SETTINGS = {  # every keyword the Solver takes, with its default
    "update_rule": "sgd", "optim_config": None, "lr_decay": 1.0, "batch_size": 100,
    "num_epochs": 10, "num_train_samples": 1000, "num_val_samples": None,
    "checkpoint_name": None, "print_every": 10, "verbose": True, "seed": None,
    "grad_clip": None, "schedule": "step", "lr_min": 0.0, "restore_best": True,
    "keep_checkpoints": None, "warmup_iters": 0,
}


# the update rules' hyperparameters: key -> (low, high, low excluded, what it is)
_HYPER = {
    "learning_rate": (0, None, True, "the step size"),
    "momentum": (0, 1, False, "the fraction of the velocity kept"),
    "decay_rate": (0, 1, False, "rmsprop's running average of dw^2"),
    "beta1": (0, 1, False, "adam's running average of dw"),
    "beta2": (0, 1, False, "adam's running average of dw^2"),
    "epsilon": (0, None, True, "keeps the division finite"),
    "weight_decay": (0, None, False, "adamw's decoupled decay"),
}


def _optional(check: Callable, name: str, value: Any, *args, **kwargs):
    return None if value is None else check(FN, name, value, *args, **kwargs)


def check_settings(kwargs: dict) -> dict:
    """The Solver's settings (``SETTINGS`` overridden by ``kwargs``), validated and
    normalised: integers as int, rates as float, ``optim_config`` as a new dict."""
    unknown = sorted(set(kwargs) - set(SETTINGS))
    if unknown:
        raise TypeError(f"{FN}: unrecognized arguments {unknown}; known: {sorted(SETTINGS)}")
    s = {**SETTINGS, **kwargs}
    config = s["optim_config"]
    if config is not None and not isinstance(config, dict):
        raise TypeError(f"{FN}: optim_config must be a dict or None; got "
                        f"{type(config).__name__}")
    s["optim_config"] = config = dict(config or {})
    for key, (low, high, low_open, why) in _HYPER.items():
        if key in config:
            config[key] = v.number(FN, f"optim_config[{key!r}]", config[key], low=low,
                                   high=high, low_open=low_open, why=why)
    s["lr_decay"] = v.number(FN, "lr_decay", s["lr_decay"], low=0, low_open=True,
                             why="the learning rate is multiplied by it every epoch")
    s["lr_min"] = v.number(FN, "lr_min", s["lr_min"], low=0, why="the cosine schedule's floor")
    s["batch_size"] = v.integer(FN, "batch_size", s["batch_size"], 1)
    s["warmup_iters"] = v.integer(FN, "warmup_iters", s["warmup_iters"], 0)
    s["num_epochs"] = v.integer(FN, "num_epochs", s["num_epochs"], 0)
    s["print_every"] = v.integer(FN, "print_every", s["print_every"], 0)
    s["num_train_samples"] = _optional(v.integer, "num_train_samples", s["num_train_samples"], 1)
    s["num_val_samples"] = _optional(v.integer, "num_val_samples", s["num_val_samples"], 1)
    s["keep_checkpoints"] = _optional(v.integer, "keep_checkpoints", s["keep_checkpoints"], 1)
    s["grad_clip"] = _optional(v.number, "grad_clip", s["grad_clip"], low=0, low_open=True,
                               why="the largest global gradient norm")
    s["verbose"], s["restore_best"] = bool(s["verbose"]), bool(s["restore_best"])
    name = s["checkpoint_name"]
    if name is not None and not isinstance(name, (str, os.PathLike)):
        raise TypeError(f"{FN}: checkpoint_name must be a path (str) or None; got "
                        f"{type(name).__name__}")
    if name is not None:
        s["checkpoint_name"] = os.fspath(name)
    seed = s["seed"]
    if not (seed is None or isinstance(seed, np.random.Generator)):
        s["seed"] = v.integer(FN, "seed", seed, 0)
    if s["schedule"] not in SCHEDULES:
        raise ValueError(f"{FN}: schedule must be one of {SCHEDULES}; got {s['schedule']!r}")
    if s["schedule"] == "cosine" and s["lr_decay"] != 1.0:
        raise ValueError(f"{FN}: schedule='cosine' sets the rate itself; leave lr_decay=1.0")
    rule = s["update_rule"]
    if not (isinstance(rule, str) or callable(rule)):
        raise TypeError(f"{FN}: update_rule must be a rule's name or a callable; got "
                        f"{type(rule).__name__}")
    return s


def check_data(data) -> dict:
    """``data``'s X_train, y_train, X_val, y_val: arrays, at least one training and one
    validation example, as many labels as inputs; returns them in a new dict."""
    if not hasattr(data, "keys"):
        raise TypeError(f"{FN}: data must be a dict with X_train, y_train, X_val, y_val; got "
                        f"{type(data).__name__}")
    missing = [k for k in ("X_train", "y_train", "X_val", "y_val") if k not in data]
    if missing:
        raise ValueError(f"{FN}: data is missing {missing}; it needs X_train, y_train, "
                         f"X_val, y_val; got {sorted(data)}")
    out = {}
    for split in ("train", "val"):
        X, y = data[f"X_{split}"], data[f"y_{split}"]
        for name, a in ((f"X_{split}", X), (f"y_{split}", y)):
            if not is_array(a):
                raise TypeError(f"{FN}: data[{name!r}] must be an array; got "
                                f"{type(a).__name__}")
            if a.ndim == 0:
                raise ValueError(f"{FN}: data[{name!r}] must have an example axis; got a 0-d "
                                 "array")
        if X.shape[0] == 0:
            raise ValueError(f"{FN}: data['X_{split}'] holds no examples (shape "
                             f"{tuple(X.shape)}); training needs at least one")
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"{FN}: X_{split} has {X.shape[0]} examples but y_{split} has "
                             f"{y.shape[0]}")
        if y.dtype.kind not in "iu":
            raise TypeError(f"{FN}: data['y_{split}'] must hold integer labels; got dtype "
                            f"{y.dtype}")
        out[f"X_{split}"], out[f"y_{split}"] = X, y
    return out


# --- what a model says of its own params: which are frozen, which train at another rate ---

def model_frozen(model) -> set:
    """``model.frozen`` (names of params never updated; empty when absent), checked."""
    frozen = set(getattr(model, "frozen", None) or ())
    unknown = sorted(frozen - set(model.params))
    if unknown:
        raise ValueError(f"{FN}: model.frozen names {unknown}, which are not params; "
                         f"params are {sorted(model.params)}")
    return frozen


def model_lr_scale(model) -> dict:
    """``model.lr_scale`` ({param name: factor}; empty when absent), checked: each named
    param steps at factor times the rate every other param gets (layer-wise rates,
    e.g. a decay per block when fine-tuning a pretrained net). A factor must be a
    finite number > 0 (0 is ``model.frozen``'s job)."""
    scale = dict(getattr(model, "lr_scale", None) or {})
    unknown = sorted(set(scale) - set(model.params))
    if unknown:
        raise ValueError(f"{FN}: model.lr_scale names {unknown}, which are not params; "
                         f"params are {sorted(model.params)}")
    for k, f in scale.items():
        if isinstance(f, bool) or not isinstance(f, (int, float, np.floating, np.integer)):
            raise TypeError(f"{FN}: model.lr_scale[{k!r}] must be a number; "
                            f"got {type(f).__name__}")
        if not (np.isfinite(f) and f > 0):
            raise ValueError(f"{FN}: model.lr_scale[{k!r}] must be finite and > 0; got {f}")
    return {k: float(f) for k, f in scale.items()}
