"""The Solver's step statistics on a device: what it checks and keeps without a host sync.

A GPU step that reads a number back (``float(loss)``, a finite check) waits for the whole
step to finish. The Solver instead keeps each step's loss, gradient norm and finite flags on
the device and reads them once per window; these helpers compute them there, mask the
updates of a step that went non-finite (``keep_if``) and remember what a masked config
cannot keep (``plain_values``). ``first_nonfinite`` and ``check_labels`` are the reads
the Solver still makes once per ``train`` call or per dataset.
"""

from __future__ import annotations

import functools
import operator

from layers.backend import get_xp, is_array, to_numpy

__all__ = ["first_nonfinite", "check_labels", "global_norm", "plain_values", "keep_if"]


def first_nonfinite(named: dict) -> str | None:
    """The first name whose array holds a nan or inf (one reduction per array, one sync)."""
    if not named:
        return None
    xp = get_xp(*named.values())
    flags = to_numpy(xp.stack([xp.isfinite(a).all() for a in named.values()]))
    for name, ok in zip(named, flags, strict=True):
        if not ok:
            return name
    return None


def check_labels(name: str, y, C: int) -> int:
    """Labels below C, the number of classes the model scores (one pass over y); negative
    ones are allowed: they mark targets that are not counted. Returns the smallest label."""
    if not y.size:
        return 0
    lo, hi = (int(m) for m in to_numpy(get_xp(y).stack([y.min(), y.max()])))  # one read
    if hi >= C:
        raise ValueError(f"check_accuracy: {name} holds label {hi}, but the model scores "
                         f"C = {C} classes; labels must be < {C} (negative ones are not "
                         "counted)")
    return lo


def plain_values(configs: dict) -> dict:
    """Each update-rule config's keys and non-array values (what ``keep_if`` cannot
    keep): enough to roll a config back to this step once its arrays were kept."""
    return {p: (set(cfg), {k: c for k, c in cfg.items() if not is_array(c)})
            for p, cfg in configs.items()}


def keep_if(ok, new: dict, old: dict) -> dict:
    """``new``'s arrays where the device flag ``ok`` is true, else ``old``'s (no sync)."""
    xp = get_xp(ok)
    return {k: xp.where(ok, a, old[k]) if is_array(a) and k in old and is_array(old[k])
            and a.shape == old[k].shape else a for k, a in new.items()}


def global_norm(grads: dict, xp):
    """The L2 norm of all the gradients together, a float64 0-d array on backend ``xp``
    (0 for no gradients).

    The per-array sums are added left to right in float64, as Python's ``sum`` of floats
    would, so the norm is the same number on numpy and on a device."""
    return xp.sqrt(functools.reduce(
        operator.add, [(g * g).sum().astype(xp.float64) for g in grads.values()],
        xp.zeros((), xp.float64)))
