"""A run killed (SIGKILL) or stopped with Ctrl-C (SIGINT) resumes to the params of a straight run.

The interrupted runs are real processes (``python -m layerkit.train``); the resumes too.
Small real nets in float64, so "the same" is checked to 1e-12.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import layerkit.train as T
from optim import load_checkpoint
from tests.test_train_cli import ROOT, assert_png

FAST = ["--hidden", "16", "--num-train", "100", "--batch-size", "10", "--dtype", "float64",
        "--keep", "2", "-q"]  # 10 steps per epoch
ENV = {**os.environ, "PYTHONPATH": ROOT}

# The training command with a signal sent to itself after step LK_STOP_AT (from a Solver
# callback, so the point is exact; the handler then runs between two bytecodes, as for a
# real Ctrl-C).
WRAPPER = """
import os, signal, sys
from optim import Solver
stop_at, sig = int(os.environ["LK_STOP_AT"]), getattr(signal, os.environ["LK_SIGNAL"])
_init = Solver.__init__
def __init__(self, *a, **k):
    _init(self, *a, **k)
    self.callbacks.append(lambda s, g: os.kill(os.getpid(), sig) if s.iteration == stop_at
                          else None)
Solver.__init__ = __init__
from layerkit.train import main
sys.exit(main(sys.argv[1:]))
"""


def _train(args, cwd, **env):
    return subprocess.run([sys.executable, "-m", "layerkit.train", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=180, env={**ENV, **env})


def _with_signal(args, cwd, signame, step):
    return subprocess.run([sys.executable, "-c", WRAPPER, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=180,
                          env={**ENV, "LK_SIGNAL": signame, "LK_STOP_AT": str(step)})


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """An uninterrupted 4-epoch run (in this process; same code as the command)."""
    out = tmp_path_factory.mktemp("straight") / "run"
    assert T.main([*FAST, "--epochs", "4", "--out", str(out), "--no-track"]) == 0
    return out


def assert_same_run(a, b, epochs):
    """Same params (last and best), optimizer state and loss history, to 1e-12."""
    ca = load_checkpoint(a / "checkpoints" / f"fc_epoch_{epochs}.npz")
    cb = load_checkpoint(b / "checkpoints" / f"fc_epoch_{epochs}.npz")
    for k in ca["params"]:
        np.testing.assert_allclose(cb["params"][k], ca["params"][k], rtol=0, atol=1e-12)
        np.testing.assert_allclose(cb["optim"][k]["m"], ca["optim"][k]["m"], rtol=0, atol=1e-12)
    ma, mb = load_checkpoint(a / "model.npz"), load_checkpoint(b / "model.npz")
    for k in ma["params"]:
        np.testing.assert_allclose(mb["params"][k], ma["params"][k], rtol=0, atol=1e-12)
    np.testing.assert_allclose(cb["history"]["loss"], ca["history"]["loss"], rtol=0, atol=1e-12)
    assert len(ca["history"]["loss"]) == 10 * epochs


def assert_events_once_per_step(run, steps):
    """TensorBoard shows the loss of every step once: what the stopped process logged past
    its checkpoint is purged when the resumed one starts."""
    ea_mod = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    ea = ea_mod.EventAccumulator(str(run), size_guidance={"scalars": 0})
    ea.Reload()
    events = ea.Scalars("train/loss")
    assert [e.step for e in events] == list(range(1, steps + 1))
    h = json.loads((run / "history.json").read_text())
    np.testing.assert_allclose([e.value for e in events], h["loss"], rtol=1e-6)


def test_sigkill_mid_epoch_then_resume_equals_a_straight_run(tmp_path, straight):
    r = _with_signal([*FAST, "--epochs", "4", "--out", "run"], tmp_path, "SIGKILL", 25)
    assert r.returncode == -signal.SIGKILL
    run = tmp_path / "run"
    # run.json was written before the first step, so the killed run can be resumed as is
    doc = json.loads((run / "run.json").read_text())
    assert doc["status"] == "running" and doc["args"]["hidden"] == "16"
    assert sorted(os.listdir(run / "checkpoints")) == ["fc_epoch_1.npz", "fc_epoch_2.npz"]
    assert len(json.loads((run / "history.json").read_text())["val_acc"]) == 3  # step 1, 2 epochs
    # resume from the folder: its newest checkpoint; the net's flags come from run.json
    r = _train(["--resume", "run", "-q"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("wrote run")
    assert_same_run(straight, run, 4)
    doc = json.loads((run / "run.json").read_text())
    assert doc["status"] == "finished" and doc["epochs_done"] == 4
    assert doc["resumed"][0]["from"] == os.path.join("run", "checkpoints", "fc_epoch_2.npz")
    assert_events_once_per_step(run, 40)
    # resume prunes: --keep 2 holds across the resume
    assert sorted(os.listdir(run / "checkpoints")) == ["fc_epoch_3.npz", "fc_epoch_4.npz"]


@pytest.mark.parametrize("step", [25, 3])  # mid-epoch 3, and in the first epoch
def test_ctrl_c_mid_epoch_saves_everything_and_resumes_exactly(tmp_path, straight, step):
    r = _with_signal([*FAST, "--epochs", "4", "--out", "run"], tmp_path, "SIGINT", step)
    assert r.returncode == 130, r.stderr
    done = step // 10
    ckpt = os.path.join("run", "checkpoints", f"fc_epoch_{done}_step_{step}.npz")
    assert r.stderr == (f"layerkit-train: stopped by Ctrl-C at step {step} of 40 (epoch "
                        f"{done + 1}); wrote run; resume with: layerkit-train --resume {ckpt}\n")
    run = tmp_path / "run"
    for name in ("history.json", "history.csv", "model.npz", "run.json"):
        assert (run / name).is_file(), name
    for png in ("loss.png", "accuracy.png", "filters.png"):
        assert_png(run / png)
    doc = json.loads((run / "run.json").read_text())
    assert doc["status"] == "interrupted" and doc["resume_from"] == ckpt
    assert doc["steps_done"] == step
    assert len(json.loads((run / "history.json").read_text())["loss"]) == step
    # the step checkpoint counts for --keep 2: at step 25, epoch 1's is gone
    assert sorted(os.listdir(run / "checkpoints")) == [
        *([f"fc_epoch_{done}.npz"] if done else []), os.path.basename(ckpt)]
    r = _train(["--resume", ckpt, "-q"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert_same_run(straight, run, 4)
    assert_events_once_per_step(run, 40)


def test_a_real_sigint_from_outside_then_resume(tmp_path):
    """SIGINT sent by another process at whatever point the run has reached."""
    args = [*FAST, "--epochs", "60", "--out", "run"]
    p = subprocess.Popen([sys.executable, "-m", "layerkit.train", *args], cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    first = tmp_path / "run" / "checkpoints" / "fc_epoch_1.npz"
    deadline = time.monotonic() + 120
    while not first.exists() and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, (out, err)
    line = err.strip().splitlines()[-1]
    assert line.startswith("layerkit-train: stopped by Ctrl-C at step ")
    ckpt = line.split("resume with: layerkit-train --resume ")[1]
    r = _train(["--resume", ckpt, "-q"], tmp_path)
    assert r.returncode == 0, r.stderr
    ref = tmp_path / "ref"
    assert T.main([*args[:-1], str(ref), "--no-track"]) == 0
    assert_same_run(ref, tmp_path / "run", 60)


def test_a_language_model_with_fresh_dropout_masks_resumes_exactly(tmp_path):
    """gpt-lm with --dropout draws a new mask every step from a Generator seeded by
    --seed; stopped by Ctrl-C after epoch 1 and resumed, it continues that Generator (the
    checkpoint holds its state) and ends where a straight run ends."""
    args = ["--net", "gpt-lm", "--epochs", "2", "--max-chars", "4000", "--embed", "16",
            "--heads", "2", "--layers", "1", "--batch-size", "16", "--seq-len", "16",
            "--dropout", "0.2", "--dtype", "float64", "--sample-len", "0", "--no-track",
            "-q"]
    assert T.main([*args, "--out", str(tmp_path / "straight")]) == 0
    steps = len(json.loads((tmp_path / "straight" / "history.json").read_text())["loss"])
    stop = steps // 2 + 1  # a step of epoch 2: its masks come from the resumed Generator
    r = _with_signal([*args, "--out", "run"], tmp_path, "SIGINT", stop)
    assert r.returncode == 130, r.stderr
    ckpt = json.loads((tmp_path / "run" / "run.json").read_text())["resume_from"]
    r = _train(["--resume", ckpt, "-q"], tmp_path)
    assert r.returncode == 0, r.stderr
    ma = load_checkpoint(tmp_path / "straight" / "model.npz")
    mb = load_checkpoint(tmp_path / "run" / "model.npz")
    for k in ma["params"]:
        np.testing.assert_allclose(mb["params"][k], ma["params"][k], rtol=0, atol=1e-12)
