"""TensorBoard events of a run, read back by tensorboard's own reader and by a real server."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest

import layerkit.search as S
import layerkit.train as T
from layerkit.text import load_corpus
from tests.test_train_cli import _tiny, tiny_run_in, use_net

pytest.importorskip("tensorboardX")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def read_events(folder):
    ea = event_accumulator.EventAccumulator(str(folder), size_guidance={"scalars": 0,
                                                                         "tensors": 0})
    ea.Reload()
    return ea


def scalars(ea, tag):
    events = ea.Scalars(tag)
    return [e.step for e in events], np.array([e.value for e in events])


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A 2-epoch run of the tiny net in runs/fc-digits (25 steps an epoch)."""
    root = tmp_path_factory.mktemp("tb")
    tiny_run_in(root, "--epochs", "2", "--hidden", "12", "-q")
    return root / "runs" / "fc-digits"


def test_event_files_hold_losses_accuracies_norms_and_hparams(tiny_run):
    h = json.loads((tiny_run / "history.json").read_text())
    ea = read_events(tiny_run)
    steps, loss = scalars(ea, "train/loss")
    assert steps == h["iteration"] and len(steps) == 2 * 25
    np.testing.assert_allclose(loss, h["loss"], rtol=1e-6)  # stored as float32
    np.testing.assert_allclose(scalars(ea, "train/lr")[1], h["lr"], rtol=1e-6)
    assert np.all(scalars(ea, "train/grad_norm")[1] > 0)
    steps, val = scalars(ea, "val/accuracy")
    assert steps == [25, 50]  # after each epoch
    np.testing.assert_allclose(val, h["val_acc"][1:], rtol=1e-6)
    assert len(scalars(ea, "train/accuracy")[1]) == 2
    for name in ("W1", "b1", "W2", "b2"):
        assert len(scalars(ea, f"weight_norm/{name}")[1]) == 2
        assert np.all(scalars(ea, f"grad_norm/{name}")[1] > 0)
    run = json.loads((tiny_run / "run.json").read_text())
    _, best = scalars(ea, "hparams/val_acc")
    assert best[-1] == pytest.approx(run["val_acc"], rel=1e-6)
    assert scalars(ea, "hparams/test_acc")[1][-1] == pytest.approx(run["test_acc"], rel=1e-6)
    # the HParams plugin's three summaries sit in the run's own folder (one TensorBoard run)
    hp = set(ea.PluginTagToContent("hparams"))
    assert {"_hparams_/experiment", "_hparams_/session_start_info",
            "_hparams_/session_end_info"} <= hp
    start = ea.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    assert b"hidden" in start and b"12" in start and b"update_rule" in start
    assert [d for d in os.listdir(tiny_run) if os.path.isdir(tiny_run / d)] == ["checkpoints"]


def test_language_model_logs_bits_per_char_each_epoch(tmp_path):
    out = tmp_path / "lm"
    assert T.main(["--net", "lstm-lm", "--epochs", "2", "--max-chars", "6000", "--hidden",
                   "16", "--embed", "8", "--batch-size", "16", "--seq-len", "16",
                   "--sample-len", "10", "--out", str(out), "-q"]) == 0
    h = json.loads((out / "history.json").read_text())
    assert h["val_bpc_epoch"] == [1, 2] and len(h["val_bpc"]) == 2
    steps, bpc = scalars(read_events(out), "val/bits_per_char")
    assert steps == [h["iterations_per_epoch"], 2 * h["iterations_per_epoch"]]
    np.testing.assert_allclose(bpc, h["val_bpc"], rtol=1e-6)
    # below a uniform guess over the vocabulary
    assert 1 < h["val_bpc"][-1] < np.log2(len(set(load_corpus(6000))))


def test_no_track_writes_no_events(tmp_path, monkeypatch):
    use_net(monkeypatch, "fc", _tiny)
    assert T.main(["--epochs", "1", "--out", str(tmp_path / "r"), "-q", "--no-track"]) == 0
    assert not [n for n in os.listdir(tmp_path / "r") if n.startswith("events.out")]


def test_search_logs_each_trial_as_a_run_with_its_hparams(tmp_path, monkeypatch, capsys):
    use_net(monkeypatch, "fc", _tiny)
    out = tmp_path / "search"
    assert S.main(["--trials", "2", "--epochs", "1", "--hidden-sizes", "8", "--out",
                   str(out)]) == 0
    results = json.loads((out / "search.json").read_text())["results"]
    for i, r in enumerate(results, 1):
        ea = read_events(out / f"trial-{i:02d}")
        assert ea.Scalars("hparams/val_acc")[-1].value == pytest.approx(r["val_acc"], rel=1e-6)
        start = ea.PluginTagToContent("hparams")["_hparams_/session_start_info"]
        assert b"lr" in start and b"reg" in start


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def test_a_real_tensorboard_server_shows_the_run(tiny_run, tmp_path):
    """Start `tensorboard` on 127.0.0.1, read the loss back over HTTP, stop it."""
    pytest.importorskip("tensorboard")
    exe = shutil.which("tensorboard") or os.path.join(os.path.dirname(sys.executable),
                                                      "tensorboard")
    if not os.path.exists(exe):
        pytest.skip("the tensorboard command is not installed")
    port = _free_port()
    logdir = tiny_run.parent  # runs/: one run, "fc-digits"
    proc = subprocess.Popen([exe, "--logdir", str(logdir), "--host", "127.0.0.1", "--port",
                             str(port), "--load_fast", "false", "--reload_interval", "1"],
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "tb.log", "w"))
    url = (f"http://127.0.0.1:{port}/data/plugin/scalars/scalars?"
           + urllib.parse.urlencode({"run": "fc-digits", "tag": "train/loss"}))
    data, deadline = None, time.monotonic() + 90
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                data = _get_json(url)
                if data:
                    break
            except (urllib.error.URLError, ConnectionError, ValueError, TimeoutError):
                pass
            time.sleep(0.5)
        assert data, ("tensorboard did not serve the run within 90 s: "
                      + (tmp_path / "tb.log").read_text()[-2000:])
        h = json.loads((tiny_run / "history.json").read_text())
        assert [row[1] for row in data] == h["iteration"]  # rows are [wall time, step, value]
        np.testing.assert_allclose([row[2] for row in data], h["loss"], rtol=1e-6)
        assert "fc-digits" in _get_json(f"http://127.0.0.1:{port}/data/runs")
        # the HParams tab: the run is a session with its settings and final metric
        query = {"experimentName": "", "startIndex": 0, "sliceSize": 10, "colParams": [],
                 "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE",
                                     "STATUS_RUNNING"]}
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/data/plugin/hparams/session_groups",
            data=json.dumps(query).encode(), headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            groups = json.loads(r.read())["sessionGroups"]
        assert [g["name"] for g in groups] == ["fc-digits"]
        assert groups[0]["hparams"]["hidden"] == "12"
        val = {m["name"]["tag"]: m["value"] for m in groups[0]["metricValues"]}
        run = json.loads((tiny_run / "run.json").read_text())
        assert val["hparams/val_acc"] == pytest.approx(run["val_acc"], rel=1e-6)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("clip", [None, 1.0])
def test_on_a_device_each_step_is_logged_with_one_read_per_window(tmp_path, monkeypatch, clip):
    """On the CuPy stand-in: every step's loss, rate and gradient norm reach TensorBoard,
    the norms read once per print_every window with the Solver's own read (not at all
    under grad_clip, where the Solver reads them), never once per step."""
    from layerkit.tracking import Tracker
    from tests import fake_cupy
    from tests.test_solver_device import _solver, train_syncs

    monkeypatch.setitem(sys.modules, "cupy", fake_cupy)
    solver = _solver("cupy", grad_clip=clip)  # 20 steps, print_every 5
    tracker = Tracker(str(tmp_path))
    solver.callbacks.append(tracker.on_step)
    syncs, _, steps = train_syncs(solver, fake_cupy)
    tracker.close()
    windows = 1 + steps // 5  # step 1, then every 5 steps
    assert syncs <= windows + 2 + (windows if clip is None else 0), syncs
    ea = read_events(tmp_path)
    t, loss = scalars(ea, "train/loss")
    assert t == list(range(1, steps + 1))
    np.testing.assert_allclose(loss, solver.loss_history, rtol=1e-6)
    # the norms before clipping: a host run whose clip never bites has the same steps
    host_run = _solver("numpy", grad_clip=1e9)
    host_run.train()
    t, norms = scalars(ea, "train/grad_norm")
    assert t == list(range(1, steps + 1))
    np.testing.assert_allclose(norms, host_run.grad_norm_history if clip is None
                               else solver.grad_norm_history, rtol=1e-6)
