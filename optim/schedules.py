"""Learning-rate schedules: pure functions of the step count, so a resumed run picks up
exactly where it stopped.

- ``step_decay``: multiply by ``lr_decay`` once per finished epoch (CS231n's ``lr_decay``).
- ``cosine``: half a cosine from the base rate down to ``lr_min`` over the whole run.
- ``linear_warmup``: any schedule's rate ramped up linearly over the first steps (a
  transformer trained at a high rate from its small initial weights diverges or stalls
  without it; GPT-2, nanoGPT and BERT all warm up).
"""

from __future__ import annotations

import math

from layers import validate as v

__all__ = ["step_decay", "cosine", "linear_warmup", "SCHEDULES"]

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


def linear_warmup(rate: float, iteration: int, warmup_iters: int) -> float:
    """``rate`` for step ``iteration`` (0-based) with a linear warmup over the first
    ``warmup_iters`` steps:

        lr = rate * (iteration + 1) / warmup_iters    while iteration < warmup_iters
        lr = rate                                     after

    The first step takes rate / warmup_iters (never 0: a step at rate 0 would be wasted),
    step warmup_iters - 1 takes the full rate. ``warmup_iters=0`` leaves ``rate`` alone.
    The Solver multiplies the rate of its schedule by this ramp, so a cosine still spans
    the whole run (nanoGPT starts its cosine after the warmup instead; with a warmup of
    a few percent of the run the two differ by less than that fraction of the rate).
    """
    warmup_iters = v.integer("linear_warmup", "warmup_iters", warmup_iters, 0)
    if iteration < 0:
        raise ValueError(f"linear_warmup: iteration must be >= 0; got {iteration}")
    if iteration >= warmup_iters:
        return float(rate)
    return float(rate) * (iteration + 1) / warmup_iters
