"""A training run's state in one object, with the one pair of functions that turns it into
a checkpoint tree and back, so that saving and restoring cannot drift apart.

``RunState`` holds everything that changes while a Solver trains: the step and epoch
counters, the histories, the best validation accuracy and params, the update rules'
per-parameter configs and the minibatch generator. The Solver's CS231n attributes
(``loss_history``, ``best_params``, ...) read and write the fields of its ``state``.

``to_tree()`` is the part of a checkpoint that is run state (arrays and JSON values);
``from_tree(tree, ...)`` rebuilds it, checking it against the model it is restored into
and moving its arrays to that model's backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from layers.backend import is_array, to_xp

__all__ = ["RunState", "HISTORY_FIELDS"]

# field name -> (checkpoint key, dtype of the saved array)
HISTORY_FIELDS = {
    "loss_history": ("loss", np.float64),
    "lr_history": ("lr", np.float64),
    "train_acc_history": ("train_acc", np.float64),
    "val_acc_history": ("val_acc", np.float64),
    "acc_iterations": ("acc_iteration", np.int64),  # the step after which each acc was taken
    "grad_norm_history": ("grad_norm", np.float64),  # filled when grad_clip is set
}

# numpy's own bit generators: the only names a checkpoint may ask to construct
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")


@dataclass
class RunState:
    """The mutable state of a training run (see the module doc)."""

    rng: np.random.Generator
    optim_configs: dict  # param name -> the update rule's config dict
    epoch: int = 0  # finished epochs
    iteration: int = 0  # optimisation steps taken
    best_val_acc: float = 0
    best_params: dict = field(default_factory=dict)
    loss_history: list = field(default_factory=list)
    lr_history: list = field(default_factory=list)
    train_acc_history: list = field(default_factory=list)
    val_acc_history: list = field(default_factory=list)
    acc_iterations: list = field(default_factory=list)
    grad_norm_history: list = field(default_factory=list)
    # the minibatch order of the epoch in progress; None between epochs, so it is saved
    # only by a checkpoint taken mid-epoch (Solver.request_stop), which resumes from it
    epoch_order: np.ndarray | None = None

    def to_tree(self) -> dict:
        """The run state as a checkpoint tree: arrays and JSON values only."""
        return {
            "best_params": self.best_params, "optim": self.optim_configs,
            "history": {key: np.asarray(getattr(self, name), dtype)
                        for name, (key, dtype) in HISTORY_FIELDS.items()},
            "epoch": self.epoch, "iteration": self.iteration,
            "best_val_acc": float(self.best_val_acc),
            "rng": self.rng.bit_generator.state,
            **({} if self.epoch_order is None else {"epoch_order": self.epoch_order}),
        }

    @classmethod
    def from_tree(cls, tree: dict, params: dict, xp, path) -> "RunState":
        """The state saved by ``to_tree``, checked against the model's ``params`` (names
        and shapes) and moved to ``xp``; ``path`` names the file in errors."""
        configs = {p: {k: to_xp(v, xp) if is_array(v) else v for k, v in c.items()}
                   for p, c in tree["optim"].items()}
        if set(configs) != set(params):
            raise ValueError(f"{path}: optimizer state for {sorted(configs)} does not match "
                             f"params {sorted(params)}")
        best = tree["best_params"]
        state = cls(
            rng=generator_from_state(tree["rng"], path), optim_configs=configs,
            epoch=int(tree["epoch"]), iteration=int(tree["iteration"]),
            best_val_acc=tree["best_val_acc"],
            best_params=params_like(params, best, xp, "best params", path) if best else {},
            epoch_order=np.asarray(tree["epoch_order"]) if "epoch_order" in tree else None,
            **{name: tree["history"][key].tolist()
               for name, (key, _) in HISTORY_FIELDS.items()})
        return state


def params_like(target: dict, saved: dict, xp, what: str, path) -> dict:
    """Saved arrays checked against ``target``'s names and shapes, cast to each target
    array's dtype and moved to ``xp``."""
    if set(saved) != set(target):
        raise ValueError(f"{path}: the checkpoint's {what} are {sorted(saved)} but the model's "
                         f"params are {sorted(target)}")
    out = {}
    for k, cur in target.items():
        a = saved[k]
        if tuple(a.shape) != tuple(cur.shape):
            raise ValueError(f"{path}: {what} {k!r} has shape {tuple(a.shape)} in the "
                             f"checkpoint but {tuple(cur.shape)} in the model")
        out[k] = to_xp(a.astype(cur.dtype, copy=False), xp)
    return out


def generator_from_state(state: dict, path) -> np.random.Generator:
    """A Generator in the saved state; only numpy's own bit generators are constructed."""
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in _BIT_GENERATORS:
        raise ValueError(f"{path}: the checkpoint's RNG state names bit generator {name!r}; "
                         f"expected one of numpy's {_BIT_GENERATORS}")
    bitgen = getattr(np.random, name)()
    bitgen.state = state
    return np.random.Generator(bitgen)
