"""Checkpoints: no pickle, exact round trips, atomic writes, and resume == uninterrupted.

The tests that save arrays make them on the backend under test (``xp``); a checkpoint
holds host arrays whatever the backend, so a run saved on a device resumes on the CPU and
the other way round (``test_a_checkpoint_resumes_on_the_other_backend``)."""

import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from nets import FullyConnectedNet
from optim import Solver, load_checkpoint, save_checkpoint
from optim.checkpoint import write_npz_atomic
from tests.helpers import host
from tests.tiny_models import TinyMLP, blobs


def test_round_trip_is_exact_and_pickle_free(tmp_path, xp):
    tree = {"params": {"W": xp.arange(6.0).reshape(2, 3), "n": xp.arange(3, dtype=np.int32)},
            "optim": {"W": {"learning_rate": 0.1 * 3, "t": 7, "nesterov": True, "m": None}},
            "rng": {"state": 2**100 + 12345}, "curve": [0.1, float("nan"), 1 / 3],
            "name": "adam", "f32": np.float32(1.5)}
    path = tmp_path / "c.npz"
    save_checkpoint(path, tree)
    back = load_checkpoint(path)
    assert isinstance(back["params"]["W"], np.ndarray)  # loads on the host, from any backend
    np.testing.assert_array_equal(back["params"]["W"], host(tree["params"]["W"]))
    assert back["params"]["n"].dtype == np.int32
    assert back["optim"] == {"W": {"learning_rate": 0.1 * 3, "t": 7, "nesterov": True,
                                   "m": None}}
    assert type(back["optim"]["W"]["t"]) is int and back["rng"]["state"] == 2**100 + 12345
    assert back["curve"][0] == 0.1 and np.isnan(back["curve"][1]) and back["curve"][2] == 1 / 3
    assert back["name"] == "adam" and back["f32"] == 1.5
    with np.load(path, allow_pickle=False) as f:  # every entry loads without pickle
        for k in f.files:
            assert not f[k].dtype.hasobject
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["meta.npy", "params/W.npy", "params/n.npy"]


def test_unsaveable_values_are_refused(tmp_path, xp):
    with pytest.raises(TypeError, match="'optim/W/rule' has type function"):
        save_checkpoint(tmp_path / "c.npz", {"optim": {"W": {"rule": lambda w: w}}})
    with pytest.raises(TypeError, match="object array"):
        save_checkpoint(tmp_path / "c.npz", {"a": np.array([None, 1])})
    with pytest.raises(ValueError, match="without '/'"):
        save_checkpoint(tmp_path / "c.npz", {"a/b": xp.ones(1)})
    assert not list(tmp_path.iterdir())


def test_a_file_with_pickles_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, meta=np.array({"format": "x"}, dtype=object))
    with pytest.raises(ValueError, match="allow_pickle"):
        load_checkpoint(path)


def test_crash_mid_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "run_epoch_1.npz"
    save_checkpoint(path, {"params": {"W": np.ones(3)}})
    good = path.read_bytes()

    def torn_savez(f, **arrays):  # writes half a file, then the "power fails"
        f.write(good[: len(good) // 2])
        raise OSError("disk vanished")

    monkeypatch.setattr(np, "savez", torn_savez)
    with pytest.raises(OSError, match="disk vanished"):
        save_checkpoint(path, {"params": {"W": np.zeros(3)}})
    monkeypatch.undo()
    assert path.read_bytes() == good
    np.testing.assert_array_equal(load_checkpoint(path)["params"]["W"], np.ones(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # temp file removed


def test_process_killed_mid_write_keeps_the_previous_checkpoint(tmp_path):
    """A real crash: the writing process dies (os._exit) halfway; no cleanup code runs."""
    path = tmp_path / "c.npz"
    write_npz_atomic(path, {"W": np.ones(4)})
    script = f"""
import os, numpy as np
from optim.checkpoint import write_npz_atomic
def dying_savez(f, **arrays):
    f.write(b"PK\\x03\\x04 half a zip")
    f.flush()
    os._exit(3)
np.savez = dying_savez
write_npz_atomic({str(path)!r}, {{"W": np.zeros(4)}})
"""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    r = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True)
    assert r.returncode == 3, r.stderr.decode()
    with np.load(path, allow_pickle=False) as f:
        np.testing.assert_array_equal(f["W"], np.ones(4))
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "c.npz"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".c.npz.")  # only a hidden temp
    write_npz_atomic(path, {"W": np.ones(4)})  # the next successful write removes it
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]


def _solver(rule, epochs, name, xp=np, **kw):
    model = TinyMLP(5, 16, 3, dtype=np.float64, seed=0, xp=xp)
    return Solver(model, blobs(n=160, seed=9), update_rule=rule, num_epochs=epochs,
                  batch_size=20, seed=3, checkpoint_name=name, verbose=False,
                  num_train_samples=60, **kw)


@pytest.mark.parametrize("rule, kw", [
    ("adam", {"optim_config": {"learning_rate": 5e-3}, "lr_decay": 0.9}),
    ("nesterov_momentum", {"optim_config": {"learning_rate": 2e-2}, "schedule": "cosine",
                           "grad_clip": 1.0}),
])
def test_resume_equals_uninterrupted(tmp_path, rule, kw, xp):
    straight = _solver(rule, 4, str(tmp_path / "a"), xp, **kw)
    straight.train()
    first = _solver(rule, 4, str(tmp_path / "b"), xp, **kw)
    first.train(max_epochs=2)  # stop after 2 of the planned 4 epochs
    model = TinyMLP(5, 16, 3, dtype=np.float64, seed=123, xp=xp)  # other initial weights
    resumed = Solver.resume(str(tmp_path / "b_epoch_2.npz"), model, blobs(n=160, seed=9),
                            num_epochs=4)
    assert (resumed.epoch, resumed.iteration) == (2, 12)
    resumed.train()
    a = load_checkpoint(tmp_path / "a_epoch_4.npz")
    b = load_checkpoint(tmp_path / "b_epoch_4.npz")
    for k in a["params"]:
        np.testing.assert_allclose(b["params"][k], a["params"][k], rtol=0, atol=1e-12)
        np.testing.assert_allclose(host(resumed.model.params[k]),
                                   host(straight.model.params[k]),
                                   rtol=0, atol=1e-12)  # both hold their best params
    for k in a["optim"]:
        for key, v in a["optim"][k].items():
            np.testing.assert_allclose(b["optim"][k][key], v, rtol=0, atol=1e-12)
    assert resumed.loss_history == pytest.approx(straight.loss_history, abs=1e-12)
    assert resumed.lr_history == straight.lr_history
    assert resumed.val_acc_history == straight.val_acc_history
    assert resumed.train_acc_history == straight.train_acc_history
    assert resumed.best_val_acc == straight.best_val_acc
    assert a["rng"] == b["rng"]


def test_resume_checks_the_model_and_the_rule(tmp_path, xp):
    s = _solver("adam", 1, str(tmp_path / "r"), xp)
    s.train()
    path = str(tmp_path / "r_epoch_1.npz")
    with pytest.raises(ValueError, match=r"params 'W1' has shape \(5, 16\) in the checkpoint "
                                         r"but \(5, 8\) in the model"):
        Solver.resume(path, TinyMLP(5, 8, 3, xp=xp), blobs(n=160, seed=9))
    with pytest.raises(ValueError, match="made with update_rule='adam'; got update_rule='sgd'"):
        Solver.resume(path, TinyMLP(5, 16, 3, xp=xp), blobs(n=160, seed=9), update_rule="sgd")
    with pytest.raises(ValueError, match=r"an epoch is 3 steps: resume with the same data"):
        Solver.resume(path, TinyMLP(5, 16, 3, xp=xp), blobs(n=160, seed=9), batch_size=40)


class _Recorder(TinyMLP):
    """A stand-in for batchnorm: every training call adds 1 to a running statistic."""

    def __init__(self, xp=np):
        super().__init__(5, 4, 3, seed=0, xp=xp)
        self.bn_params = [{"mode": "train", "running_mean": xp.zeros(4)}, {}]

    def loss(self, X, y=None):
        if y is not None:
            self.bn_params[0]["running_mean"] = self.bn_params[0]["running_mean"] + 1
        return super().loss(X, y)


class _WithStateDicts(_Recorder):
    """The nets.Model way: state_dicts() lists the dicts that hold state."""

    def __init__(self, xp=np):
        super().__init__(xp)
        self.dropout_param = {"p": 0.5, "seed": np.random.default_rng(0)}  # not saveable

    def state_dicts(self):
        return [*self.bn_params, self.dropout_param]


@pytest.mark.parametrize("cls", [_Recorder, _WithStateDicts])
def test_resume_restores_batchnorm_running_stats(tmp_path, cls, xp):
    m = cls(xp)
    s = Solver(m, blobs(n=40, seed=1), num_epochs=1, batch_size=10,
               checkpoint_name=str(tmp_path / "bn"), verbose=False)
    s.train()  # 3 steps
    fresh = cls(xp)
    Solver.resume(str(tmp_path / "bn_epoch_1.npz"), fresh, blobs(n=40, seed=1))
    assert isinstance(fresh.bn_params[0]["running_mean"], xp.ndarray)
    np.testing.assert_array_equal(host(fresh.bn_params[0]["running_mean"]), np.full(4, 3.0))
    assert fresh.bn_params[0]["mode"] == "train" and fresh.bn_params[1] == {}


def test_keep_checkpoints_keeps_the_newest(tmp_path, xp):
    s = _solver("sgd", 4, str(tmp_path / "k"), xp, keep_checkpoints=2)
    s.train()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k_epoch_3.npz", "k_epoch_4.npz"]


def test_resume_equals_uninterrupted_with_batchnorm_and_dropout(tmp_path, xp):
    def make():
        return FullyConnectedNet([12, 10], input_dim=5, num_classes=3,
                                 normalization="batchnorm", dropout_keep_ratio=0.8,
                                 weight_scale=0.3, dtype=np.float64, seed=5).to(xp)

    data = blobs(n=160, seed=9)
    kw = dict(update_rule="adam", optim_config={"learning_rate": 5e-3}, lr_decay=0.9,
              num_epochs=4, batch_size=20, seed=3, verbose=False)
    straight = Solver(make(), data, checkpoint_name=str(tmp_path / "a"), **kw)
    straight.train()
    Solver(make(), data, checkpoint_name=str(tmp_path / "b"), **kw).train(max_epochs=2)
    fresh = make()
    Solver.resume(str(tmp_path / "b_epoch_2.npz"), fresh, data).train()
    a = load_checkpoint(tmp_path / "a_epoch_4.npz")
    b = load_checkpoint(tmp_path / "b_epoch_4.npz")
    for k in a["params"]:
        np.testing.assert_allclose(b["params"][k], a["params"][k], rtol=0, atol=1e-12)
    for sa, sb in zip(a["model_state"]["state_dicts"], b["model_state"]["state_dicts"],
                      strict=True):
        for key in ("running_mean", "running_var"):
            np.testing.assert_allclose(sb[key], sa[key], rtol=0, atol=1e-12)
    for sa, sb in zip(straight.model.bn_params, fresh.bn_params, strict=True):
        np.testing.assert_allclose(host(sb["running_mean"]), host(sa["running_mean"]), rtol=0,
                                   atol=1e-12)


def test_resume_continues_the_stream_of_fresh_dropout_masks(tmp_path, xp):
    """A net whose dropout draws from a Generator (a new mask every step) resumes with the
    Generator where the run left it, not where a newly built net starts it (which would
    replay the first epochs' masks): the resumed run is the straight run."""
    def make():
        net = FullyConnectedNet([12, 10], input_dim=5, num_classes=3,
                                dropout_keep_ratio=0.7, weight_scale=0.3, dtype=np.float64,
                                seed=5).to(xp)
        net.dropout_param["seed"] = np.random.default_rng(11)  # as layerkit-train builds it
        return net

    data = blobs(n=160, seed=9)
    kw = dict(update_rule="adam", optim_config={"learning_rate": 5e-3}, num_epochs=4,
              batch_size=20, seed=3, verbose=False)
    Solver(make(), data, checkpoint_name=str(tmp_path / "a"), **kw).train()
    Solver(make(), data, checkpoint_name=str(tmp_path / "b"), **kw).train(max_epochs=2)
    Solver.resume(str(tmp_path / "b_epoch_2.npz"), make(), data).train()
    a = load_checkpoint(tmp_path / "a_epoch_4.npz")
    b = load_checkpoint(tmp_path / "b_epoch_4.npz")
    for k in a["params"]:
        np.testing.assert_array_equal(b["params"][k], a["params"][k])
    assert a["model_state"]["dropout_rng"] == b["model_state"]["dropout_rng"]


@pytest.mark.parametrize("saved_on, resumed_on", [("numpy", "device"), ("device", "numpy")])
def test_a_checkpoint_resumes_on_the_other_backend(tmp_path, device, saved_on, resumed_on):
    """A run checkpointed on a device resumes on the CPU and the other way round: params,
    the optimizer's moments, best params and batchnorm's running stats move with it, and
    the resumed run ends where a run never stopped ends (float64: to rounding on a GPU)."""
    on = {"numpy": np, "device": device}

    def make(where):
        return FullyConnectedNet([12, 10], input_dim=5, num_classes=3,
                                 normalization="batchnorm", weight_scale=0.3,
                                 dtype=np.float64, seed=5).to(on[where])

    data = blobs(n=160, seed=9)
    kw = dict(update_rule="adam", optim_config={"learning_rate": 5e-3}, num_epochs=4,
              batch_size=20, seed=3, verbose=False, grad_clip=1.0)
    straight = Solver(make("numpy"), data, **kw)
    straight.train()
    Solver(make(saved_on), data, checkpoint_name=str(tmp_path / "b"), **kw).train(max_epochs=2)
    fresh = make(resumed_on)
    resumed = Solver.resume(str(tmp_path / "b_epoch_2.npz"), fresh, data)
    xp = on[resumed_on]
    for arrays in (fresh.params, resumed.best_params, fresh.bn_params[0],
                   resumed.optim_configs["W1"]):
        assert all(isinstance(a, xp.ndarray) for a in arrays.values()
                   if isinstance(a, (np.ndarray, device.ndarray))), arrays.keys()
    resumed.train()
    assert resumed.loss_history == pytest.approx(straight.loss_history, rel=1e-10)
    assert resumed.val_acc_history == straight.val_acc_history
    for k, w in straight.model.params.items():
        np.testing.assert_allclose(host(fresh.params[k]), w, rtol=0, atol=1e-10)
    for sa, sb in zip(straight.model.bn_params, fresh.bn_params, strict=True):
        np.testing.assert_allclose(host(sb["running_var"]), sa["running_var"], rtol=0,
                                   atol=1e-10)
