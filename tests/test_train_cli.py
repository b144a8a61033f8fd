"""The training command end to end: outputs, plots, resume; the real nets when present."""

import json
import math
import os
import subprocess
import sys
from dataclasses import replace

import matplotlib.image
import numpy as np
import pytest

import layerkit.train as T
from layerkit.text import load_corpus
from optim import load_checkpoint
from tests.tiny_models import TinyMLP

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def assert_png(path, min_side=200):
    """A real PNG: signature, IEND chunk, decodes to a non-blank image of some size."""
    raw = open(path, "rb").read()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n" and raw[-8:-4] == b"IEND", path
    img = matplotlib.image.imread(path)
    assert img.ndim == 3 and min(img.shape[:2]) >= min_side, img.shape
    assert img[..., :3].std() > 0.01, f"{path} is blank"


def _tiny(a, shape, k):
    return TinyMLP(math.prod(shape), T._dims(a.hidden)[0], k, reg=a.reg, dtype=a.dtype,
                   seed=a.seed, weight_scale=a.weight_scale)


def use_net(monkeypatch, name, build):
    """Make ``--net name`` build with ``build`` for this test (its flags stay the same)."""
    monkeypatch.setitem(T.NETS, name, replace(T.NETS[name], build=build))


def tiny_run_in(folder, *argv):
    """``layerkit-train argv`` with the tiny net as fc, run from ``folder`` (module fixtures)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        use_net(mp, "fc", _tiny)
        assert T.main(list(argv)) == 0


def run_files(folder):
    """The files of a run folder, TensorBoard's event files left out."""
    return sorted(n for n in os.listdir(folder) if not n.startswith("events.out.tfevents"))


class FilterNet:
    """Filters as big as the image, then an affine layer: a 4-D W1 like a conv net's."""

    def __init__(self, input_dim, num_filters, num_classes, seed, dtype):
        rng = np.random.default_rng(seed)
        self.params = {
            "W1": (0.1 * rng.standard_normal((num_filters, *input_dim))).astype(dtype),
            "W2": (0.1 * rng.standard_normal((num_filters, num_classes))).astype(dtype),
            "b2": np.zeros(num_classes, dtype)}
        self.reg = 0.0

    def loss(self, X, y=None):
        from layers import affine_backward, affine_forward, softmax_loss
        F = self.params["W1"].shape[0]
        Wf = self.params["W1"].reshape(F, -1).T  # (D, F)
        h, c1 = affine_forward(X, Wf, np.zeros(F, Wf.dtype))
        s, c2 = affine_forward(h, self.params["W2"], self.params["b2"])
        if y is None:
            return s
        loss, ds = softmax_loss(s, y)
        dh, dW2, db2 = affine_backward(ds, c2)
        _, dWf, _ = affine_backward(dh, c1)
        return loss, {"W1": dWf.T.reshape(self.params["W1"].shape), "W2": dW2, "b2": db2}


def test_epoch_on_digits_writes_history_checkpoint_and_plots(tmp_path, monkeypatch, capsys):
    use_net(monkeypatch, "fc", _tiny)
    out = tmp_path / "run"
    assert T.main(["--epochs", "2", "--out", str(out), "-q"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("val accuracy 0.") and "(digits, fc, " in line and " s)" in line
    names = run_files(out)
    assert names == ["accuracy.png", "checkpoints", "filters.png", "history.csv",
                     "history.json", "loss.png", "model.npz", "run.json"]
    for png in ("loss.png", "accuracy.png", "filters.png"):
        assert_png(out / png)
    h = json.loads((out / "history.json").read_text())
    assert len(h["val_acc"]) == 3 and h["num_epochs"] == 2
    assert len(h["loss"]) == 2 * (1297 // 50)
    run = json.loads((out / "run.json").read_text())
    assert run["val_acc"] == h["best_val_acc"] and 0 <= run["test_acc"] <= 1
    with np.load(out / "model.npz", allow_pickle=False) as f:
        assert f["params/W1"].shape == (64, 100) and f["params/W1"].dtype == np.float32
    assert sorted(os.listdir(out / "checkpoints")) == ["fc_epoch_1.npz", "fc_epoch_2.npz"]


def test_resume_from_the_command_line(tmp_path, monkeypatch, capsys):
    use_net(monkeypatch, "fc", _tiny)
    a, b = tmp_path / "a", tmp_path / "b"
    T.main(["--epochs", "3", "--out", str(a), "-q", "--hidden", "20", "--seed", "4"])
    T.main(["--epochs", "1", "--out", str(b), "-q", "--hidden", "20", "--seed", "4"])
    # --epochs counts from the start; --hidden and --seed come back from b/run.json
    T.main(["--resume", str(b / "checkpoints" / "fc_epoch_1.npz"), "--epochs", "3",
            "--out", str(b), "-q"])
    ca = load_checkpoint(a / "checkpoints" / "fc_epoch_3.npz")
    cb = load_checkpoint(b / "checkpoints" / "fc_epoch_3.npz")
    # same ops in the same order on the same float32 data: the same bits
    for k in ca["params"]:
        np.testing.assert_array_equal(cb["params"][k], ca["params"][k])
    assert ca["history"]["loss"].tolist() == cb["history"]["loss"].tolist()
    assert json.loads((b / "run.json").read_text())["epochs_done"] == 3


def test_filters_png_for_a_net_with_4d_first_layer(tmp_path, monkeypatch):
    def conv_like(a, shape, k):
        return FilterNet(shape, a.num_filters, k, a.seed, a.dtype)

    use_net(monkeypatch, "conv", conv_like)
    out = tmp_path / "conv"
    assert T.main(["--net", "conv", "--epochs", "1", "--out", str(out), "-q"]) == 0
    assert_png(out / "filters.png")
    filters = T.NETS["conv"].defaults["num_filters"]  # the net built from --net conv's defaults
    assert load_checkpoint(out / "model.npz")["params"]["W1"].shape == (filters, 1, 8, 8)


def _has(name):
    try:
        import nets
    except ImportError:
        return False
    return hasattr(nets, name)


needs_fc = pytest.mark.skipif(not _has("FullyConnectedNet"),
                              reason="nets.FullyConnectedNet is not in this build yet (fc)")


@needs_fc
def test_python_m_layerkit_train_one_epoch(tmp_path):
    out = tmp_path / "cli"
    r = subprocess.run([sys.executable, "-m", "layerkit.train", "--epochs", "1", "--out",
                        str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "val accuracy" in r.stdout.splitlines()[-1]
    for png in ("loss.png", "accuracy.png", "filters.png"):
        assert_png(out / png)


@needs_fc
def test_default_run_reaches_97_percent_on_digits(tmp_path, capsys):
    assert T.main(["--out", str(tmp_path / "default"), "-q"]) == 0
    run = json.loads((tmp_path / "default" / "run.json").read_text())
    assert run["val_acc"] >= 0.97, run
    assert run["seconds"] < 60


def test_blas_threads_limits_and_restores():
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas():
        return [i["num_threads"] for i in threadpoolctl.threadpool_info()
                if i["user_api"] == "blas"]

    before = blas()
    with T.blas_threads(1):
        assert blas() and set(blas()) == {1}
    assert blas() == before
    with T.blas_threads(0):  # 0 / None: left alone
        assert blas() == before


_LM_ARGS = {"mlp-lm": ["--hidden", "16", "--batch-size", "256"],
            "lstm-lm": ["--hidden", "16", "--batch-size", "16", "--seq-len", "16"],
            "gpt-lm": ["--layers", "1", "--heads", "2", "--batch-size", "16", "--seq-len", "16",
                       "--lr", "1e-2", "--no-tie-weights"]}


@pytest.mark.parametrize("net", list(_LM_ARGS))
def test_language_model_from_the_command_line(tmp_path, capsys, net):
    out = tmp_path / net
    args = ["--net", net, "--epochs", "1", "--max-chars", "6000", "--embed", "8",
            "--sample-len", "40", "--out", str(out), "-q", *_LM_ARGS[net]]
    assert T.main(args) == 0
    printed = capsys.readouterr().out
    run = json.loads((out / "run.json").read_text())
    assert run["val_bpc"] == pytest.approx(run["val_nats"] / math.log(2))
    # one epoch beats a uniform guess over the vocabulary, and the print says so
    vocab = len(set(load_corpus(6000)))
    assert run["val_nats"] < math.log(vocab)
    assert f"{run['val_bpc']:.3f} bits/char" in printed
    assert run["sample"].startswith("The ") and len(run["sample"]) >= 40
    assert_png(out / "loss.png")


def test_text_data_is_only_for_language_models(tmp_path, capsys):
    assert T.main(["--net", "fc", "--data", "text", "--out", str(tmp_path)]) == 2
    assert "--data text is for the language models" in capsys.readouterr().err
    assert T.main(["--net", "lstm-lm", "--data", "digits", "--out", str(tmp_path)]) == 2
    assert "trains on --data text" in capsys.readouterr().err


def test_conv_default_reaches_98_percent_on_digits(tmp_path, capsys):
    assert T.main(["--net", "conv", "--out", str(tmp_path), "-q"]) == 0
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["val_acc"] >= 0.98
    assert_png(tmp_path / "filters.png")  # the real ThreeLayerConvNet's 4-D W1


def test_resnet_one_epoch_keeps_batchnorm_state_in_its_checkpoint(tmp_path):
    assert T.main(["--net", "resnet", "--epochs", "1", "--num-filters", "4",
                   "--num-blocks", "1", "--out", str(tmp_path), "-q"]) == 0
    with np.load(tmp_path / "model.npz", allow_pickle=False) as ck:
        assert any("running_mean" in k for k in ck.files)
