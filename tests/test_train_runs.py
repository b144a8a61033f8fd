"""Run folders: never overwritten, resumed in place with their own configuration."""

import json
import os

import pytest

import layerkit.compare as C
import layerkit.train as T
from tests.test_train_cli import _tiny, assert_png, run_files, use_net

TINY = ["--hidden", "8", "--num-train", "100", "--batch-size", "20", "-q", "--no-track"]


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    use_net(monkeypatch, "fc", _tiny)
    return tmp_path


def test_two_default_runs_leave_two_folders(here, capsys):
    assert T.main(["--epochs", "1", *TINY]) == 0
    first = (here / "runs" / "fc-digits" / "run.json").read_text()
    assert T.main(["--epochs", "2", *TINY]) == 0
    assert sorted(os.listdir(here / "runs")) == ["fc-digits", "fc-digits-2"]
    assert (here / "runs" / "fc-digits" / "run.json").read_text() == first  # untouched
    second = json.loads((here / "runs" / "fc-digits-2" / "run.json").read_text())
    assert second["args"]["epochs"] == 2 and second["folder"] == os.path.join("runs",
                                                                              "fc-digits-2")
    assert capsys.readouterr().out.splitlines()[-1].endswith("wrote runs/fc-digits-2")
    (here / "runs" / "fc-digits-3").mkdir()  # an empty folder is free
    assert T.main(["--epochs", "1", *TINY]) == 0
    assert (here / "runs" / "fc-digits-3" / "run.json").is_file()


def test_out_takes_a_new_or_empty_folder_and_overwrite_replaces_a_run(here, capsys):
    assert T.main(["--epochs", "1", "--out", "mine", *TINY]) == 0
    assert T.main(["--epochs", "1", "--out", "mine", *TINY]) == 2
    assert "holds a run already" in capsys.readouterr().err
    (here / "mine" / "checkpoints" / "stale.txt").write_text("old")
    assert T.main(["--epochs", "2", "--out", "mine", "--overwrite", *TINY]) == 0
    assert json.loads((here / "mine" / "run.json").read_text())["epochs_done"] == 2
    assert sorted(os.listdir(here / "mine" / "checkpoints")) == ["fc_epoch_1.npz",
                                                                 "fc_epoch_2.npz"]


def test_resume_continues_in_the_checkpoints_folder_and_prunes(here, capsys):
    assert T.main(["--epochs", "2", "--keep", "0", "--out", "a", *TINY]) == 0
    assert T.main(["--resume", "a", "--epochs", "5", "--keep", "2", "-q"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith("wrote a")
    assert not (here / "runs").exists()  # no new default folder
    assert sorted(os.listdir(here / "a" / "checkpoints")) == ["fc_epoch_4.npz",
                                                              "fc_epoch_5.npz"]
    doc = json.loads((here / "a" / "run.json").read_text())
    assert doc["args"]["epochs"] == 5 and doc["args"]["hidden"] == "8"
    assert doc["resumed"][0]["from"] == os.path.join("a", "checkpoints", "fc_epoch_2.npz")
    h = json.loads((here / "a" / "history.json").read_text())
    assert len(h["loss"]) == 5 * 5 and h["num_epochs"] == 5
    assert run_files(here / "a") == ["accuracy.png", "checkpoints", "filters.png",
                                     "history.csv", "history.json", "loss.png", "model.npz",
                                     "run.json"]


def test_a_cosine_horizon_change_is_said_in_one_line(here, capsys):
    assert T.main(["--epochs", "2", "--schedule", "cosine", "--out", "c", *TINY]) == 0
    capsys.readouterr()
    assert T.main(["--resume", "c/checkpoints/fc_epoch_1.npz", "--epochs", "3", "-q"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == ["note: --epochs 3 moves the cosine schedule's end from epoch 2 to 3: from "
                   "here on the rate differs from the original plan's, so the result differs "
                   "from a straight run of either length"]


def test_language_model_resume_keeps_the_bits_per_char_of_earlier_epochs(tmp_path):
    lm = ["--net", "mlp-lm", "--max-chars", "6000", "--hidden", "16", "--embed", "8",
          "--batch-size", "256", "--sample-len", "5", "-q", "--no-track"]
    out = tmp_path / "lm"
    assert T.main([*lm, "--epochs", "1", "--out", str(out)]) == 0
    assert T.main(["--resume", str(out), "--epochs", "2", "-q"]) == 0
    h = json.loads((out / "history.json").read_text())
    assert h["val_bpc_epoch"] == [1, 2]
    assert_png(out / "loss.png")


def test_compare_prints_the_differences_and_overlays_the_curves(here, capsys):
    assert T.main(["--epochs", "1", "--lr", "0.01", *TINY]) == 0
    assert T.main(["--epochs", "2", "--lr", "0.001", *TINY]) == 0
    (here / "runs" / "search").mkdir()  # no run.json: skipped
    capsys.readouterr()
    assert C.main(["runs/fc-digits", "runs/fc-digits-2", "runs/search", "--out", "c.png"]) == 0
    lines = capsys.readouterr().out.splitlines()
    head = lines[0].split()
    assert head[:3] == ["run", "epochs", "lr"] and "val_acc" in head and "test_acc" in head
    row = lines[2].split()
    run = json.loads((here / "runs" / "fc-digits-2" / "run.json").read_text())
    assert row[:3] == ["runs/fc-digits-2", "2", "0.001"]
    assert row[head.index("val_acc")] == f"{run['val_acc']:.3f}"
    assert lines[-1] == "compared 2 runs; wrote c.png; skipped 1 folder(s) without run.json"
    assert_png(here / "c.png")


def test_a_new_net_is_one_row_in_the_table(here, monkeypatch, capsys):
    """What a helper adding --net gpt-lm does: a builder, a NETS row, an OPTIONS row."""
    from layerkit import cli_types, net_table
    from tests.tiny_models import TinyMLP

    def build(a, shape, k):
        return TinyMLP(64, a.width, k, dtype=a.dtype, seed=a.seed)

    monkeypatch.setitem(net_table.OPTIONS, "width",
                        net_table.Option(cli_types.positive_int, "hidden width"))
    monkeypatch.setitem(net_table.NETS, "tiny", net_table.Net(build, ("width",),
                                                              dict(width=5, epochs=1)))
    assert T.main(["--net", "tiny", "--width", "7", "-q", "--no-track"]) == 0
    run = json.loads((here / "runs" / "tiny-digits" / "run.json").read_text())
    assert run["args"]["width"] == 7 and "hidden" not in run["args"]
    assert T.main(["--net", "fc", "--width", "7", "-q"]) == 2
    assert "--width 7: --net fc does not use it" in capsys.readouterr().err
    assert T.main(["--net", "tiny", "--width", "0", "-q"]) == 2
    assert "argument --width: must be an integer >= 1" in capsys.readouterr().err
