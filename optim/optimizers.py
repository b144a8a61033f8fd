"""Optimizer classes with ``torch.optim``'s semantics and defaults: SGD, RMSprop, Adam, AdamW.

    opt = Adam(model.parameters(), lr=1e-3)
    for X, y in batches:
        opt.zero_grad()
        cross_entropy(model(X), y).backward()
        opt.step()

They take any iterable of objects with ``.data`` and ``.grad`` arrays (``nets``'
Parameters, or anything shaped like them; this module never imports ``nets``), or a
list of param-group dicts ``{"params": [...], "lr": ...}`` as PyTorch's. ``step()``
replaces each ``.data`` with a new array (nothing a caller holds is written into) and
skips parameters whose ``.grad`` is None. Hyperparameters live in ``param_groups`` and
are read at every step (set ``opt.param_groups[0]["lr"]`` to schedule). State is per
parameter in ``opt.state[i]`` (plain arrays and ints). Where the arithmetic is the same
as the pure update rules' (moving averages, Adam's bias-corrected step) it is the same
code (``optim._steps``).
"""

from __future__ import annotations

from layers.backend import get_xp

from ._steps import adam_step, ema

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW"]


class Optimizer:
    """Base class: holds the param groups and per-parameter state; subclasses define
    ``_update(w, g, state, group) -> new w`` for one parameter."""

    def __init__(self, params, defaults: dict):
        name = type(self).__name__
        for k, v in defaults.items():
            if k in ("lr", "eps", "weight_decay", "momentum", "dampening", "alpha") and v < 0:
                raise ValueError(f"{name}: {k} must be >= 0; got {v!r}")
        params = list(params)
        if not params:
            raise ValueError(f"{name}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.defaults = dict(defaults)
        self.param_groups = []
        for g in groups:
            g = {**defaults, **g, "params": list(g["params"])}
            for i, p in enumerate(g["params"]):
                if not (hasattr(p, "data") and hasattr(p, "grad")):
                    raise TypeError(f"{name}: parameter {i} must have .data and .grad "
                                    f"arrays; got {type(p).__name__}")
            self.param_groups.append(g)
        n = sum(len(g["params"]) for g in self.param_groups)
        self.state: list[dict] = [{} for _ in range(n)]

    def zero_grad(self) -> None:
        """Set every parameter's grad to None (PyTorch's default, set_to_none=True)."""
        for g in self.param_groups:
            for p in g["params"]:
                p.grad = None

    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        i = 0
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    get_xp(p.data, p.grad)  # TypeError on a numpy/cupy mix
                    if tuple(p.grad.shape) != tuple(p.data.shape):
                        raise ValueError(f"{type(self).__name__}.step: parameter {i} has "
                                         f"shape {tuple(p.data.shape)} but its grad "
                                         f"{tuple(p.grad.shape)}")
                    p.data = self._update(p.data, p.grad, self.state[i], group) \
                        .astype(p.data.dtype, copy=False)
                i += 1

    def _update(self, w, g, state: dict, group: dict):
        raise NotImplementedError

    @staticmethod
    def _decayed(w, g, group):
        """The gradient with L2 weight decay folded in (torch's ``weight_decay``)."""
        wd = float(group["weight_decay"])
        return g + wd * w if wd else g


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum (torch.optim.SGD):

        g = grad + weight_decay * w
        buf = g (first step), else momentum * buf + (1 - dampening) * g
        g = g + momentum * buf (nesterov) or buf
        w = w - lr * g
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov momentum needs momentum > 0 and dampening = 0; "
                             f"got momentum={momentum!r}, dampening={dampening!r}")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def _update(self, w, g, state, group):
        g = self._decayed(w, g, group)
        mu = float(group["momentum"])
        if mu:
            buf = state.get("momentum_buffer")
            buf = g if buf is None else mu * buf + (1 - float(group["dampening"])) * g
            state["momentum_buffer"] = buf
            g = g + mu * buf if group["nesterov"] else buf
        return w - float(group["lr"]) * g


class RMSprop(Optimizer):
    """RMSprop (torch.optim.RMSprop):

        g = grad + weight_decay * w
        square_avg = alpha * square_avg + (1 - alpha) * g^2
        avg = sqrt(square_avg - grad_avg^2 if centered else square_avg) + eps
        buf = momentum * buf + g / avg;  w = w - lr * buf       (momentum > 0)
        w = w - lr * g / avg                                     (otherwise)
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    def _update(self, w, g, state, group):
        xp = get_xp(w, g)
        g = self._decayed(w, g, group)
        alpha, lr, eps = (float(group[k]) for k in ("alpha", "lr", "eps"))
        sq = ema(state.get("square_avg", xp.zeros_like(w)), g * g, alpha)
        state["square_avg"] = sq
        if group["centered"]:
            gavg = ema(state.get("grad_avg", xp.zeros_like(w)), g, alpha)
            state["grad_avg"] = gavg
            sq = sq - gavg * gavg
        avg = xp.sqrt(sq) + eps
        mu = float(group["momentum"])
        if mu:
            buf = mu * state.get("momentum_buffer", xp.zeros_like(w)) + g / avg
            state["momentum_buffer"] = buf
            return w - lr * buf
        return w - lr * g / avg


class Adam(Optimizer):
    """Adam (torch.optim.Adam): with g = grad + weight_decay * w (L2, coupled),

        m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g^2;  t += 1
        w = w - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)

    ``amsgrad=True`` uses the running maximum of v instead of v.
    """

    decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False):
        for b in betas:
            if not 0 <= b < 1:
                raise ValueError(f"{type(self).__name__}: betas must be in [0, 1); "
                                 f"got {betas!r}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad))

    def _update(self, w, g, state, group):
        xp = get_xp(w, g)
        lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        b1, b2 = (float(b) for b in group["betas"])
        if self.decoupled:  # AdamW: shrink w itself, outside the moment estimates
            w = w * (1 - lr * wd)
        else:
            g = self._decayed(w, g, group)
        t = state.get("step", 0) + 1
        m = ema(state.get("exp_avg", xp.zeros_like(w)), g, b1)
        v = ema(state.get("exp_avg_sq", xp.zeros_like(w)), g * g, b2)
        state.update(step=t, exp_avg=m, exp_avg_sq=v)
        if group["amsgrad"]:
            v = xp.maximum(state.get("max_exp_avg_sq", v), v)
            state["max_exp_avg_sq"] = v
        return w - adam_step(m, v, t, lr, b1, b2, eps)


class AdamW(Adam):
    """AdamW (torch.optim.AdamW): Adam on the raw gradient, and the weights shrunk by
    ``1 - lr * weight_decay`` before each step (decoupled weight decay)."""

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)
