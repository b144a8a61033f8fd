"""Learning-rate schedules: pure functions of the step count, so a resumed run picks up
exactly where it stopped.

- ``step_decay``: multiply by ``lr_decay`` once per finished epoch (CS231n's ``lr_decay``).
- ``cosine``: half a cosine from the base rate down to ``lr_min`` over the whole run.
"""

from __future__ import annotations

import math

__all__ = ["step_decay", "cosine", "SCHEDULES"]

SCHEDULES = ("step", "cosine")


def step_decay(base_lr: float, epoch: int, lr_decay: float = 1.0) -> float:
    """The rate after ``epoch`` finished epochs: base_lr * lr_decay ** epoch."""
    if epoch < 0:
        raise ValueError(f"step_decay: epoch must be >= 0; got {epoch}")
    return float(base_lr) * float(lr_decay) ** epoch


def cosine(base_lr: float, iteration: int, num_iterations: int, lr_min: float = 0.0) -> float:
    """The rate for step ``iteration`` (0-based) of ``num_iterations``.

        lr = lr_min + (base_lr - lr_min) * (1 + cos(pi * iteration / num_iterations)) / 2

    Starts at base_lr and reaches lr_min after the last step.
    """
    if num_iterations < 1:
        raise ValueError(f"cosine: num_iterations must be >= 1; got {num_iterations}")
    if not 0 <= iteration <= num_iterations:
        raise ValueError(f"cosine: iteration must be in [0, {num_iterations}]; got {iteration}")
    frac = iteration / num_iterations
    return float(lr_min) + (float(base_lr) - float(lr_min)) * 0.5 * (1 + math.cos(math.pi * frac))
