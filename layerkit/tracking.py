"""TensorBoard event files for a run, through ``tensorboardX`` (the ``track`` extra).

    tracker = Tracker(run_folder)          # a no-op when tensorboardX is not installed
    solver.callbacks.append(tracker.on_step)
    ...
    tracker.hparams(config, {"hparams/val_acc": 0.98})
    tracker.close()

View with ``tensorboard --logdir runs``: each run folder is one run. Tags:

- every step: ``train/loss``, ``train/lr``, ``train/grad_norm`` (global L2 norm, before
  clipping); x axis: the step. Each step is logged once the Solver has read it back: at
  once on numpy, once per ``print_every`` window on a device, where nothing here reads a
  device value per step (the norms wait on the device and are read with one transfer
  per window; none at all under ``grad_clip``, whose norms the Solver reads itself);
- every epoch: ``train/accuracy``, ``val/accuracy``, ``val/bits_per_char`` (language
  models), and per parameter ``weight_norm/<name>`` and ``grad_norm/<name>``;
- at the end: the run's hyperparameters and final metrics (TensorBoard's HParams tab
  compares runs by them).
"""

from __future__ import annotations

import math
import sys

from layers.backend import get_xp, to_numpy
from optim.step_stats import global_norm

__all__ = ["Tracker", "available"]


def _import_tensorboardx():
    """``tensorboardX``, or None. Imported with torch hidden unless torch is loaded already:
    tensorboardX.writer imports torch when it can (only to accept torch tensors), which
    took 3.4 s of a 1 s training run here."""
    hide = "torch" not in sys.modules
    if hide:
        sys.modules["torch"] = None  # makes "import torch" raise ImportError
    try:
        import tensorboardX
    except ImportError:
        return None
    finally:
        if hide:
            del sys.modules["torch"]
    return tensorboardX


def available() -> bool:
    return _import_tensorboardx() is not None


def _norms(arrays: dict) -> dict:
    """{name: L2 norm} of the arrays, as Python floats, in one read from their device."""
    if not arrays:
        return {}
    xp = get_xp(*arrays.values())
    sums = [(a * a).sum().astype(xp.float64) for a in arrays.values()]
    return dict(zip(arrays, (math.sqrt(s) for s in to_numpy(xp.stack(sums)).tolist()),
                    strict=True))


class Tracker:
    """Writes one run's events into ``folder``; ``purge_step`` hides a resumed run's
    events from that step on (what a killed run logged after its last checkpoint)."""

    def __init__(self, folder: str, purge_step: int | None = None, enabled: bool = True):
        self.writer = None
        self.folder, self._files = folder, 0
        self._logged = None  # steps logged so far (set at the first on_step)
        self._pending = []  # (step, its global gradient norm, still on the device)
        self._tbx = _import_tensorboardx() if enabled else None
        if self._tbx is not None:
            self.writer = self._open(purge_step)

    def _open(self, purge_step=None):
        """A writer on a new event file (a numbered suffix: two files opened within one
        second would otherwise get the same name)."""
        self._files += 1
        return self._tbx.SummaryWriter(logdir=self.folder, purge_step=purge_step,
                                       flush_secs=5, filename_suffix=f".{self._files}")

    def durable(self) -> None:
        """Everything logged so far on disk, as a checkpoint is. tensorboardX's flush()
        does not wait for its writer thread's queue, so a SIGKILL just after it could lose
        events that the checkpoint already covers (then a resumed run would show a gap);
        closing drains the queue. Later events go to a new file in the same folder."""
        if self.writer is not None:
            self.writer.close()
            self.writer = self._open()

    def scalars(self, values: dict, step: int) -> None:
        """Finite ``values`` ({tag: number}) at ``step``, as one event (add_scalar makes
        one event per tag: 3x the cost per step, which showed on a 1 s digits run)."""
        if self.writer is None:
            return
        from tensorboardX.proto.summary_pb2 import Summary

        vals = [Summary.Value(tag=k, simple_value=float(v)) for k, v in values.items()
                if v is not None and math.isfinite(v)]
        if vals:
            self.writer.file_writer.add_summary(Summary(value=vals), step)

    def on_step(self, solver, grads) -> None:
        """A ``Solver.callbacks`` hook: the loss, rate and gradient norm of each step the
        Solver has read back since the last call (see the module doc); nothing is read
        from a device here but, once per window, the norms of its steps."""
        if self.writer is None:
            return
        if self._logged is None:  # the steps before this one: logged by an earlier run
            self._logged = solver.iteration - 1
        if solver.grad_clip is None and grads:
            self._pending.append((solver.iteration,
                                  global_norm(grads, get_xp(*grads.values()))))
        self.flush_steps(solver)

    def flush_steps(self, solver) -> None:
        """Log the steps the Solver has read back and this tracker has not logged yet
        (``on_step`` does at every step; call it once more when training stops)."""
        st = solver.state  # (not solver.loss_history: that would read pending steps)
        done = len(st.loss_history)
        if self.writer is None or self._logged is None or done <= self._logged:
            return
        steps = range(self._logged + 1, done + 1)
        if solver.grad_clip is not None:
            norms = {t: st.grad_norm_history[t - 1] for t in steps}
        else:
            ready = [(t, n) for t, n in self._pending if t <= done]
            self._pending = [(t, n) for t, n in self._pending if t > done]
            norms = {}
            if ready:
                xp = get_xp(ready[0][1])
                values = to_numpy(xp.stack([n for _, n in ready])).tolist()  # one read
                norms = dict(zip((t for t, _ in ready), values, strict=True))
        for t in steps:
            self.scalars({"train/loss": st.loss_history[t - 1], "train/lr": st.lr_history[t - 1],
                          "train/grad_norm": norms.get(t)}, t)
        self._logged = done

    def on_epoch(self, solver, grads, extra: dict | None = None) -> None:
        """After an epoch: accuracies, ``extra`` scalars, per-parameter norms."""
        if self.writer is None:
            return
        values = {"train/accuracy": solver.train_acc_history[-1],
                  "val/accuracy": solver.val_acc_history[-1], **(extra or {})}
        params = solver.model.params
        arrays = {**{f"weight_norm/{k}": w for k, w in params.items()},
                  **{f"grad_norm/{k}": g for k, g in grads.items() if k in params}}
        values.update(_norms(arrays))  # one read for all of them
        self.scalars(values, solver.iteration)
        self.durable()  # the epoch's checkpoint is on disk: so are its events

    def hparams(self, config: dict, metrics: dict, step: int = 0) -> None:
        """The run's settings and final metrics, for TensorBoard's HParams tab."""
        if self.writer is None:
            return
        from tensorboardX.summary import hparams

        plain = {k: v if isinstance(v, (bool, int, float, str)) else str(v)
                 for k, v in config.items()}
        finite = {k: float(v) for k, v in metrics.items()
                  if v is not None and math.isfinite(v)}
        # into the run's own folder (add_hparams would make a subfolder, a second "run")
        for summary in hparams(plain, finite):
            self.writer.file_writer.add_summary(summary)
        self.scalars(finite, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
