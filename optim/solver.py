"""The Solver: minibatch training of any model that keeps the CS231n contract.

A model is anything with ``params`` (a dict of arrays) and ``loss(X, y=None)``: scores
without labels, ``(loss, grads)`` with them. The Solver never imports ``nets``.

    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-3},
                    num_epochs=10, batch_size=100, seed=0, checkpoint_name="runs/fc")
    solver.train()
    solver.best_val_acc, solver.loss_history, solver.val_acc_history

Beyond CS231n: ``seed`` (same seed, same run: the minibatch order and the accuracy
subsamples come from one ``numpy.random.Generator``), ``grad_clip`` (max global gradient
norm), ``schedule`` ('step' uses ``lr_decay`` per epoch; 'cosine' anneals to ``lr_min``
over the run), a tqdm progress bar when ``verbose``, ``lr_history``, a stop with
``TrainingDivergedError`` on a non-finite loss, gradient or parameter, and checkpoints that
``Solver.resume`` continues exactly.

Epochs are real passes: each epoch draws a permutation of the training set and walks it in
``N // batch_size`` minibatches (the remainder differs each epoch).

On a device (cupy) a step reads nothing back to the host: its loss, gradient norm and
finite flags stay on the device and are read in one transfer per ``print_every`` window
(and after step 1, at each epoch end, on a stop and when ``train`` returns); the training
labels are range-checked once per dataset, not per minibatch. The data live on the device
too (``optim.placement``: moved once, minibatches gathered there, each dataset's value
checks run once). A non-finite step found in a window is named as the step it was, and
from it on every update was masked on the device, so the model and optimizer state are
those of the last finite step. On numpy the window is one step (a read costs nothing
there).
"""

from __future__ import annotations

import math
import os

import numpy as np
from tqdm.auto import tqdm

from layers import validate as v
from layers.backend import default_rng, get_xp, is_array, to_numpy, to_xp

from . import rules as _rules
from .checkpoint import load_checkpoint, save_checkpoint
from .placement import Placement
from .schedules import cosine, linear_warmup, step_decay
from .settings import SETTINGS, check_data, check_settings, model_frozen, model_lr_scale
from .state import RunState, generator_from_state, params_like
from .step_stats import first_nonfinite, global_norm, keep_if, plain_values

__all__ = ["Solver", "TrainingDivergedError"]

_SETTINGS = SETTINGS  # every keyword the Solver takes, with its default
# the top-level keys of a Solver checkpoint (checkpoint_state)
_CHECKPOINT_KEYS = ("params", "model_state", "settings", "best_params", "optim", "history",
                    "epoch", "iteration", "best_val_acc", "rng")


class TrainingDivergedError(FloatingPointError):
    """A non-finite loss, gradient or parameter stopped training.

    Attributes: ``epoch`` (1-based, the epoch in progress), ``iteration`` (1-based step),
    ``parameter`` ('loss' or the param's name), ``checkpoint`` (the last good checkpoint's
    path, or None). The model keeps the params of the last finite step.
    """

    def __init__(self, message, *, epoch, iteration, parameter, checkpoint):
        super().__init__(message)
        self.epoch, self.iteration = epoch, iteration
        self.parameter, self.checkpoint = parameter, checkpoint


def _state_field(name: str, read_pending: bool = False) -> property:
    """A Solver attribute that reads and writes ``solver.state.<name>``; a per-step
    history (``read_pending``) first reads the steps still on the device."""

    def get(self):
        if read_pending:
            self._read()
        return getattr(self.state, name)

    return property(get, lambda self, value: setattr(self.state, name, value),
                    doc=f"The run's {name} (a field of ``Solver.state``).")


def _dropout_param(model) -> dict:
    """``model.dropout_param`` (CS231n's nets and the kit's), or {} when it has none."""
    d = getattr(model, "dropout_param", None)
    return d if isinstance(d, dict) else {}


class Solver:
    """Train ``model`` on ``data`` (keys X_train, y_train, X_val, y_val) with SGD-family rules.

    Keywords (CS231n): update_rule (name in optim.rules or a callable), optim_config,
    lr_decay=1.0, batch_size=100, num_epochs=10, num_train_samples=1000,
    num_val_samples=None, checkpoint_name=None, print_every=10, verbose=True.
    Added: seed=None, grad_clip=None (max global L2 norm of the gradients),
    schedule='step' or 'cosine', lr_min=0.0 (cosine's floor), warmup_iters=0 (the
    schedule's rate ramped up linearly over the first steps), restore_best=True (put
    best_params into the model when training ends, as CS231n does), keep_checkpoints=None
    (keep only the newest k checkpoint files this Solver wrote; None keeps all).

    Frozen params: the names in ``model.frozen`` (when the model has it) are never
    updated and their update rule is never called, so its state (Adam's m, v, t) stays
    as it was; their gradients are ignored and may be left out of ``loss``'s grads.
    Layer-wise rates: ``model.lr_scale`` ({name: factor > 0}, when the model has it)
    steps each named param at factor times the rate of the step (the schedule's, or
    the config's own); the saved configs and ``lr_history`` keep the unscaled rate.
    """

    # CS231n's attributes are the fields of self.state (one object to save and restore)
    epoch = _state_field("epoch")
    iteration = _state_field("iteration")
    best_val_acc = _state_field("best_val_acc")
    best_params = _state_field("best_params")
    optim_configs = _state_field("optim_configs")
    rng = _state_field("rng")
    loss_history = _state_field("loss_history", read_pending=True)
    lr_history = _state_field("lr_history", read_pending=True)
    train_acc_history = _state_field("train_acc_history")
    val_acc_history = _state_field("val_acc_history")
    acc_iterations = _state_field("acc_iterations")
    grad_norm_history = _state_field("grad_norm_history", read_pending=True)

    def __init__(self, model, data, **kwargs):
        s = check_settings(kwargs)  # every setting checked here (optim/settings.py)
        data = check_data(data)
        self.model = model
        self.X_train, self.y_train = data["X_train"], data["y_train"]
        self.X_val, self.y_val = data["X_val"], data["y_val"]
        self.optim_config = s["optim_config"]
        self.lr_decay, self.lr_min = s["lr_decay"], s["lr_min"]
        self.warmup_iters = s["warmup_iters"]
        self.batch_size, self.num_epochs = s["batch_size"], s["num_epochs"]
        self.num_train_samples, self.num_val_samples = (s["num_train_samples"],
                                                        s["num_val_samples"])
        self.checkpoint_name, self.print_every = s["checkpoint_name"], s["print_every"]
        self.verbose, self.seed, self.grad_clip = s["verbose"], s["seed"], s["grad_clip"]
        self.schedule, self.restore_best = s["schedule"], s["restore_best"]
        self.keep_checkpoints = s["keep_checkpoints"]
        rule = s["update_rule"]
        self.update_rule = _rules.get_rule(rule)
        self.rule_name = rule if isinstance(rule, str) else getattr(rule, "__name__", "custom")
        base = self.optim_config.get("learning_rate",
                                     _rules.DEFAULT_LEARNING_RATE.get(self.rule_name))
        if self.schedule == "cosine" and base is None:
            raise ValueError("Solver: schedule='cosine' with a custom rule needs "
                             "optim_config['learning_rate']")
        self.base_lr = None if base is None else float(base)
        # Hooks for an application (not saved in checkpoints): each ``fn(solver, grads)``
        # runs after every step, once the epoch's accuracies and checkpoint are done;
        # ``grads`` are the step's gradients before clipping.
        self.callbacks = []
        self._stop_requested = False
        self.placement = Placement(self)  # the data where the model is (optim/placement.py)
        self._reset()

    # --- bookkeeping -------------------------------------------------------------------

    def _reset(self):
        """Set up the state of a fresh run (epoch 0, empty histories, new RNG)."""
        self.state = RunState(rng=default_rng(self.seed),
                              optim_configs={p: dict(self.optim_config)
                                             for p in self.model.params})
        self.last_checkpoint = None
        self._written = []  # checkpoint files this Solver wrote, oldest first
        # steps whose statistics are still on the device (see _step and _read), and
        # whether every one of them was finite (a device flag)
        self._pending = []
        self._finite = True
        self._labels_ok = False  # y_train's labels checked against the model's classes
        self.placement.reset()

    @property
    def iterations_per_epoch(self) -> int:
        return max(self.X_train.shape[0] // self.batch_size, 1)

    @property
    def num_iterations(self) -> int:
        return self.num_epochs * self.iterations_per_epoch

    def request_stop(self):
        """Make ``train()`` return after the step in progress (e.g. from a SIGINT handler).

        ``checkpoint_state()`` then holds that step's state, mid-epoch included (the
        epoch's minibatch order is in ``state.epoch_order``), and ``Solver.resume``
        carries on from it exactly.
        """
        self._stop_requested = True

    def _say(self, line: str):
        if self.verbose:
            tqdm.write(line)

    def _scheduled_rate(self) -> float | None:
        """The learning rate of the coming step from ``optim.schedules`` (a pure function
        of the step count, so a resumed run continues exactly), or None to leave each
        config's own rate alone (step schedule without decay, or a rule with no rate)."""
        if self.schedule == "cosine":
            rate = cosine(self.base_lr, self.iteration, max(self.num_iterations, 1),
                          self.lr_min)
        elif self.lr_decay != 1.0 and self.base_lr is not None:
            rate = step_decay(self.base_lr, self.epoch, self.lr_decay)
        elif self.warmup_iters and self.base_lr is not None:
            rate = self.base_lr
        else:
            return None
        return linear_warmup(rate, self.iteration, self.warmup_iters)

    # --- one step ----------------------------------------------------------------------

    def _diverged(self, what: str, name: str):
        where = self.last_checkpoint or "none written (checkpoint_name is None)"
        if self.checkpoint_name is not None and self.last_checkpoint is None:
            where = "none written yet (divergence before the first epoch ended)"
        return TrainingDivergedError(
            f"training diverged in epoch {self.epoch + 1} of {self.num_epochs}, iteration "
            f"{self.iteration + 1} of {self.num_iterations}: {what} (nan or inf). The model "
            f"keeps the params of the last finite step; last good checkpoint: {where}. "
            "Try a smaller learning rate or grad_clip.",
            epoch=self.epoch + 1, iteration=self.iteration + 1, parameter=name,
            checkpoint=self.last_checkpoint)

    def _window(self) -> int:
        """Steps between reads of the step statistics (loss, norms, finite flags): 1 on
        the host, where a read costs nothing, ``print_every`` on a device (each read
        stalls the GPU). Epoch ends, step 1, a stop and the end of ``train`` read too."""
        if self.placement.xp() is np:
            return 1
        return int(self.print_every) if self.print_every else self.iterations_per_epoch

    def _step(self, idx):
        """One update from the minibatch ``idx`` (indices into the training set, on the
        model's backend); a non-finite loss, gradient or param
        raises ``TrainingDivergedError`` when the step statistics are read (``_read``),
        with the model at the last finite step.

        Nothing is read back to the host here: the loss, the gradient norm and the finite
        flags stay on the device as one row of ``self._pending``. Returns the gradients
        (before clipping)."""
        xp = self.placement.xp()
        X_train, y_train, _, _ = self.placement.data()
        X, y = self.placement.batch(X_train[idx]), to_xp(y_train[idx], xp)
        with (v.labels_checked(self._labels_ok), v.inputs_checked(xp is not np),
              v.range_known(X, *self.placement.id_range(X_train)),
              v.range_known(y, *self.placement.id_range(y_train))):
            loss, grads = self.model.loss(X, y)
        frozen = model_frozen(self.model)
        trainable = [p for p in self.model.params if p not in frozen]
        if not set(trainable) <= set(grads) <= set(self.model.params):
            raise ValueError(f"Solver: model.loss returned grads for {sorted(grads)} but "
                             f"params are {sorted(self.model.params)}"
                             + (f" (frozen: {sorted(frozen)})" if frozen else ""))
        grads = {p: grads[p] for p in trainable}  # a frozen param's gradient is not used
        loss = xp.asarray(loss)
        row = [loss.astype(xp.float64).reshape(1)]
        flags = [xp.isfinite(loss)] + [xp.isfinite(g).all() for g in grads.values()]
        raw = grads
        if self.grad_clip is not None:
            # summed left to right in float64, as Python's sum of floats would
            norm = global_norm(grads, xp)
            row.append(norm.reshape(1))
            scale = xp.where(norm > self.grad_clip, float(self.grad_clip) / norm, 1.0)
            grads = {k: g * scale.astype(g.dtype) for k, g in grads.items()}
        configs = self.optim_configs
        lr = self._scheduled_rate()
        if lr is not None:
            configs = {p: {**c, "learning_rate": lr} for p, c in configs.items()}
        scale = model_lr_scale(self.model)
        new_params, new_configs = {}, dict(self.optim_configs)  # frozen: as they were
        for p in trainable:
            # a copy: a rule stores its state in the dict it is handed (CS231n), and a
            # step that diverges must leave the Solver's state as it was
            config = dict(configs[p])
            if p in scale:  # this step only: the config keeps the run's own rate
                rate = config.get("learning_rate", self.base_lr)
                if rate is None:
                    raise ValueError(f"Solver: model.lr_scale scales {p!r}, but the rule "
                                     f"{self.rule_name!r} has no learning_rate to scale")
                config["learning_rate"] = rate * scale[p]
            new_params[p], new_configs[p] = self.update_rule(self.model.params[p], grads[p],
                                                             config)
            if p in scale:
                new_configs[p]["learning_rate"] = rate
        flags += [xp.isfinite(w).all() for w in new_params.values()]
        row.append(xp.stack(flags).astype(xp.float64))
        first = new_configs[trainable[0]] if trainable else {}
        names = ("loss", *(f"grad:{p}" for p in trainable), *trainable)  # the flags' order
        # (statistics, steps done before this one, its rate, what masking cannot keep,
        # the flags' names, whether column 1 is the gradient norm)
        self._pending.append((xp.concatenate(row), self.iteration,
                              float(first.get("learning_rate", math.nan)),
                              plain_values(self.optim_configs), names,
                              self.grad_clip is not None))
        if self._window() == 1:  # read now: a bad step changes nothing
            self._read()
        else:  # read later: from a bad step on, every array keeps its last finite value
            self._finite = self._finite & xp.all(row[-1] > 0)
            new_params = keep_if(self._finite, new_params, self.model.params)
            new_configs.update({p: keep_if(self._finite, new_configs[p],
                                           self.optim_configs[p]) for p in trainable})
        self.model.params.update(new_params)  # the same dict, new arrays (CS231n)
        self.optim_configs = new_configs
        self.iteration += 1
        return raw

    def _read(self):
        """Read the pending steps' statistics back in one transfer; append the finite
        steps' loss, lr and gradient norm to the histories; raise on the first step with
        a non-finite value, the model and configs rolled back to the step before it."""
        if not self._pending:
            return
        xp = self.placement.xp()
        rows = to_numpy(xp.stack([r for r, *_ in self._pending]))  # the one sync
        pending, self._pending = self._pending, []
        self._finite = True
        st = self.state
        for row, (_, done, lr, plain, names, clip) in zip(rows, pending, strict=True):
            flags = row[2 if clip else 1:]  # the loss, [the gradient norm], the flags
            if not flags.all():
                self.iteration = done  # the steps before the bad one
                for p, c in self.optim_configs.items():  # arrays were kept on the device
                    keys, values = plain[p]
                    self.optim_configs[p] = {**{k: a for k, a in c.items() if k in keys},
                                             **values}
                bad = names[int(np.argmin(flags))]
                if bad == "loss":
                    raise self._diverged(f"the loss is {row[0]}", "loss")
                if bad.startswith("grad:"):
                    raise self._diverged(f"the gradient of parameter {bad[5:]!r} is not "
                                         "finite", bad[5:])
                raise self._diverged(f"parameter {bad!r} became non-finite in the update",
                                     bad)
            st.loss_history.append(float(row[0]))
            st.lr_history.append(lr)
            if clip:
                st.grad_norm_history.append(float(row[1]))

    # --- the loop ----------------------------------------------------------------------

    def check_accuracy(self, X, y, num_samples=None, batch_size=100, *, name="y"):
        """Fraction of argmax(scores) == y, computed in batches of ``batch_size``.

        Inputs:
        - X: (N, ...) inputs
        - y: (N,) labels, or (N, T) targets when the model's scores are (N, T, V);
          negative targets (a masked LM's unchosen positions) are not counted
        - num_samples: if given and N is larger, a random subsample of that size (drawn
          from the Solver's generator)

        - name: what to call y in an error (the Solver passes 'y_train' / 'y_val')

        Returns a Python float in [0, 1]. A label >= C, C the number of classes the model
        scores, is a ValueError (it could never count as right).
        """
        batch_size = v.integer("check_accuracy", "batch_size", batch_size, 1)
        if num_samples is not None:
            num_samples = v.integer("check_accuracy", "num_samples", num_samples, 1)
        N, y_all = X.shape[0], y
        ids = self.placement.id_range(X)  # token ids: every batch's range vouched for by X's
        if num_samples is not None and N > num_samples:
            pick = np.sort(self.rng.choice(N, num_samples, replace=False))
            pick = to_xp(pick, get_xp(X))  # (where X is: a device gathers on the device)
            X, y, N = X[pick], y[pick], num_samples
        xp = self.placement.xp()
        correct = total = 0
        for start in range(0, N, batch_size):
            Xb = self.placement.batch(X[start:start + batch_size])
            with v.range_known(Xb, *ids):
                scores = self.model.loss(Xb)
            if start == 0:  # every label, not just the subsample: now C is known
                lo = self.placement.check_labels(name, y_all, scores.shape[-1])
                if lo >= 0 and any(y_all is t for t in (self.y_train, self.placement.data()[1])):
                    # every training label in [0, C): the loss need not check them
                    self._labels_ok = True
            yb = to_xp(y[start:start + batch_size], xp)
            pred = xp.argmax(scores, axis=-1)  # (n,) or (n, T)
            if pred.shape != yb.shape:
                raise ValueError(f"check_accuracy: scores of shape {tuple(scores.shape)} "
                                 f"need targets of shape {tuple(pred.shape)}; got "
                                 f"{tuple(yb.shape)}")
            counted = yb >= 0
            correct = correct + ((pred == yb) & counted).sum()  # summed on the device
            total = total + counted.sum()
        if is_array(total):
            correct, total = (int(c) for c in to_numpy(xp.stack([correct, total])))  # 1 read
        return correct / max(total, 1)

    def _check_and_record(self):
        X_train, y_train, X_val, y_val = self.placement.data()
        train_acc = self.check_accuracy(X_train, y_train, num_samples=self.num_train_samples,
                                        name="y_train")
        val_acc = self.check_accuracy(X_val, y_val, num_samples=self.num_val_samples,
                                      name="y_val")
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        self.acc_iterations.append(self.iteration)
        self._say(f"(Epoch {self.epoch} / {self.num_epochs}) train acc: {train_acc:f}; "
                  f"val_acc: {val_acc:f}")
        if val_acc > self.best_val_acc or not self.best_params:
            self.best_val_acc = val_acc
            self.best_params = {k: v.copy() for k, v in self.model.params.items()}

    def train(self, max_epochs=None):
        """Run until ``num_epochs`` epochs are done (from where the Solver stands).

        ``max_epochs`` stops this call after that many more epochs without changing the
        plan (the cosine schedule still spans ``num_epochs``); a later ``train()`` or a
        ``Solver.resume`` from the last checkpoint carries on. ``best_params`` are put into
        the model only when the plan is complete (``restore_best``).
        """
        N, ipe, total = self.X_train.shape[0], self.iterations_per_epoch, self.num_iterations
        bad = first_nonfinite(self.model.params)
        if bad is not None:  # not divergence: the params were handed over that way
            raise ValueError(f"Solver.train: parameter {bad!r} holds nan or inf before "
                             "training; the model's params must be finite")
        stop = total
        if max_epochs is not None:
            stop = min(total, (self.epoch + v.integer("Solver.train", "max_epochs",
                                                      max_epochs, 0)) * ipe)
        bar = tqdm(total=total, initial=self.iteration, unit="step", dynamic_ncols=True,
                   disable=None if self.verbose else True)
        try:
            while self.iteration < stop:
                j = self.iteration % ipe
                if j == 0:  # a new epoch: a fresh order of the training set
                    self.state.epoch_order = self.rng.permutation(N)
                order = self.placement.epoch_order(self.state.epoch_order)
                grads = self._step(order[j * self.batch_size:(j + 1) * self.batch_size])
                t = self.iteration
                epoch_end = t % ipe == 0
                bar.update(1)
                if (t % self._window() == 0 or t == 1 or epoch_end or t == stop
                        or self._stop_requested):
                    self._read()  # the window's one sync; raises on divergence
                    bar.set_postfix(loss=f"{self.state.loss_history[-1]:.4f}", refresh=False)
                if self.print_every and t % self.print_every == 0:
                    self._say(f"(Iteration {t} / {total}) loss: {self.loss_history[-1]:f}")
                if epoch_end:
                    self.epoch += 1
                    self.state.epoch_order = None  # a finished epoch's order is not state
                if t == 1 or epoch_end:
                    self._check_and_record()
                if epoch_end:
                    self._save_checkpoint()
                for fn in self.callbacks:
                    fn(self, grads)
                if self._stop_requested:
                    break
        finally:
            self._stop_requested = False
            bar.close()
        self._read()  # a callback's request_stop, say
        if self.restore_best and self.best_params and self.iteration >= total:
            self.model.params.update({k: v.copy() for k, v in self.best_params.items()})

    # --- checkpoints -------------------------------------------------------------------

    def _state_dicts(self):
        """The model's state outside params (batchnorm running stats): the dicts its
        ``state_dicts()`` lists, else CS231n's ``bn_params`` list, else none."""
        fn = getattr(self.model, "state_dicts", None)
        dicts = fn() if callable(fn) else getattr(self.model, "bn_params", None)
        if isinstance(dicts, list) and all(isinstance(d, dict) for d in dicts):
            return dicts
        return []

    def _model_state(self):
        # arrays and plain values of the state dicts; a dropout whose seed is a Generator
        # (a new mask every step) keeps the Generator's state, so a resume continues its
        # stream instead of replaying the masks of the first steps
        plain = (bool, int, float, str, type(None), np.generic)
        out = {"state_dicts": [{k: v for k, v in d.items() if is_array(v) or
                                isinstance(v, plain)} for d in self._state_dicts()]}
        rng = _dropout_param(self.model).get("seed")
        if isinstance(rng, np.random.Generator):
            out["dropout_rng"] = rng.bit_generator.state
        return out

    def checkpoint_state(self) -> dict:
        """Everything a resume needs, as a tree of arrays and JSON values."""
        self._read()  # the steps still on the device, into the histories
        # from the attributes, which a CS231n-style script may have changed since __init__
        settings = {k: getattr(self, k) for k in _SETTINGS if k != "update_rule"}
        settings["update_rule"] = self.rule_name
        seed = self.seed
        settings["seed"] = int(seed) if isinstance(seed, (int, np.integer)) else None
        # (a Generator passed as seed lives on in "rng")
        return {"params": dict(self.model.params), "model_state": self._model_state(),
                "settings": settings, **self.state.to_tree()}

    def _save_checkpoint(self):
        if self.checkpoint_name is None:
            return
        path = f"{self.checkpoint_name}_epoch_{self.epoch}.npz"
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        save_checkpoint(path, self.checkpoint_state())
        self.last_checkpoint = path
        self._written.append(path)
        if self.keep_checkpoints is not None:
            while len(self._written) > int(self.keep_checkpoints):
                old = self._written.pop(0)
                if os.path.exists(old):
                    os.remove(old)

    @classmethod
    def resume(cls, path, model, data, **kwargs):
        """A Solver that carries on from the checkpoint at ``path``.

        ``model`` must have the checkpoint's param names and shapes; its params (and
        batchnorm running stats) are replaced by the saved ones. The saved settings are
        used unless overridden in ``kwargs``; ``num_epochs`` counts from the start of the
        run, so ``num_epochs=4`` on an epoch-2 checkpoint trains 2 more epochs. A custom
        (callable) update rule must be passed again as ``update_rule``.
        """
        ck = load_checkpoint(path, required=_CHECKPOINT_KEYS)  # CheckpointError names the file
        settings = dict(ck["settings"])
        saved_rule = settings.pop("update_rule")
        rule = kwargs.pop("update_rule", None)
        if rule is None:
            if saved_rule not in _rules.RULES:
                raise ValueError(f"{path}: the checkpoint was made with a custom update rule "
                                 f"{saved_rule!r}; pass it again as update_rule=")
            rule = saved_rule
        elif isinstance(rule, str) and rule != saved_rule:
            raise ValueError(f"{path}: the checkpoint was made with update_rule="
                             f"{saved_rule!r}; got update_rule={rule!r}")
        solver = cls(model, data, **{**settings, **kwargs, "update_rule": rule})
        xp = solver.placement.xp()
        state = RunState.from_tree(ck, model.params, xp, path)
        ipe = solver.iterations_per_epoch
        mid_epoch = (state.epoch_order is not None and state.iteration // ipe == state.epoch
                     and len(state.epoch_order) == solver.X_train.shape[0])
        if not mid_epoch and state.iteration != state.epoch * ipe:
            raise ValueError(
                f"{path}: epoch {state.epoch} ended at step {state.iteration}, but with "
                f"{solver.X_train.shape[0]} training examples and batch_size "
                f"{solver.batch_size} an epoch is {solver.iterations_per_epoch} steps: "
                "resume with the same data and batch size")
        saved = ck["model_state"].get("state_dicts", [])
        live = solver._state_dicts()
        if len(saved) != len(live):
            raise ValueError(f"{path}: {len(saved)} model state dicts (batchnorm) saved, the "
                             f"model has {len(live)}")
        model.params.update(params_like(model.params, ck["params"], xp, "params", path))
        for d, s in zip(live, saved, strict=True):
            d.update({k: to_xp(v, xp) if is_array(v) else v for k, v in s.items()})
        dropout_rng = ck["model_state"].get("dropout_rng")
        if dropout_rng is not None and _dropout_param(model):  # (older checkpoints: none)
            model.dropout_param["seed"] = generator_from_state(dropout_rng, path)
        solver.state = state
        solver.last_checkpoint = str(path)
        return solver
