"""Put a loaded checkpoint back into a Solver and its model (used by ``Solver.resume``)."""

from __future__ import annotations

import numpy as np

from layers.backend import is_array, to_xp


def _params_into(target: dict, saved: dict, xp, what: str, path) -> dict:
    """Saved arrays checked against ``target``'s names and shapes, cast and moved to xp."""
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


def _config_into(config: dict, xp) -> dict:
    return {k: to_xp(v, xp) if is_array(v) else v for k, v in config.items()}


def restore(solver, ck: dict, path) -> None:
    """Load params, optimizer state, histories, RNG and model state from ``ck``."""
    model = solver.model
    xp = solver._xp()
    model.params.update(_params_into(model.params, ck["params"], xp, "params", path))
    if ck["best_params"]:
        solver.best_params = _params_into(model.params, ck["best_params"], xp,
                                          "best params", path)
    solver.optim_configs = {p: _config_into(c, xp) for p, c in ck["optim"].items()}
    if set(solver.optim_configs) != set(model.params):
        raise ValueError(f"{path}: optimizer state for {sorted(solver.optim_configs)} does "
                         f"not match params {sorted(model.params)}")
    h = ck["history"]
    solver.loss_history = h["loss"].tolist()
    solver.lr_history = h["lr"].tolist()
    solver.train_acc_history = h["train_acc"].tolist()
    solver.val_acc_history = h["val_acc"].tolist()
    solver.acc_iterations = h["acc_iteration"].tolist()
    solver.grad_norm_history = h["grad_norm"].tolist()
    solver.epoch, solver.iteration = int(ck["epoch"]), int(ck["iteration"])
    order = ck.get("epoch_order")  # saved mid-epoch: the minibatch order of that epoch
    if order is not None and len(order) == solver.X_train.shape[0] and (
            solver.iteration // solver.iterations_per_epoch == solver.epoch):
        solver._order = np.asarray(order)
    elif solver.iteration != solver.epoch * solver.iterations_per_epoch:
        raise ValueError(
            f"{path}: epoch {solver.epoch} ended at step {solver.iteration}, but with "
            f"{solver.X_train.shape[0]} training examples and batch_size {solver.batch_size} "
            f"an epoch is {solver.iterations_per_epoch} steps: resume with the same data "
            "and batch size")
    solver.best_val_acc = ck["best_val_acc"]
    state = ck["rng"]
    bitgen = getattr(np.random, state["bit_generator"])()
    bitgen.state = state
    solver.rng = np.random.Generator(bitgen)
    solver.last_checkpoint = str(path)
    saved = ck["model_state"].get("state_dicts", [])
    live = solver._state_dicts()
    if len(saved) != len(live):
        raise ValueError(f"{path}: {len(saved)} model state dicts (batchnorm) saved, the "
                         f"model has {len(live)}")
    for d, s in zip(live, saved, strict=True):
        d.update(_config_into(s, xp))
