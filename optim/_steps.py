"""Pure arithmetic shared by the update rules (``optim.rules``) and the optimizer classes
(``optim.optimizers``): no config dicts, no state, just the formulas both use."""

from __future__ import annotations

from layers.backend import get_xp

__all__ = ["ema", "adam_step"]


def ema(avg, x, decay: float):
    """Exponential moving average: decay * avg + (1 - decay) * x (a new array)."""
    return decay * avg + (1 - decay) * x


def adam_step(m, v, t: int, lr: float, beta1: float, beta2: float, eps: float):
    """Adam's bias-corrected step from the moments after t updates:

        lr * (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + eps)

    The corrections are Python floats, so a float32 m stays float32.
    """
    m_hat_scale = 1.0 / (1 - beta1 ** t)
    v_hat_scale = 1.0 / (1 - beta2 ** t)
    return (m_hat_scale * lr) * m / (get_xp(m, v).sqrt(v_hat_scale * v) + eps)
