"""Every user error of the training command: one line on stderr naming the flag, exit 2."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import layerkit.train as T
from layerkit import compare, search
from tests.test_train_cli import ROOT, _tiny, tiny_run_in, use_net

# (arguments, what the one line must say). The first ones are the values the issue found
# ending in a traceback or passing silently.
BAD = [
    (["--batch-size", "0"], "argument --batch-size: must be an integer >= 1; got '0'"),
    (["--epochs", "-1"], "argument --epochs: must be an integer >= 1; got '-1'"),
    (["--epochs", "0"], "argument --epochs: must be an integer >= 1"),
    (["--out", "afile"], "--out afile: is a file"),
    (["--resume", "run/checkpoints/text.npz"], "--resume run/checkpoints/text.npz: cannot "
                                               "continue from it"),
    (["--resume", "run/checkpoints/garbage.npz"], "--resume run/checkpoints/garbage.npz: "
                                                  "cannot continue from it"),
    (["--resume", "nowhere.npz"], "--resume nowhere.npz: no such file"),
    (["--resume", "afile"], "--resume afile: no run.json in ."),
    (["--hidden", "abc"], "argument --hidden: must be positive integers separated by commas"),
    (["--hidden", "10,0"], "argument --hidden: must be positive integers"),
    (["--dropout-keep", "0"], "argument --dropout-keep: must be in (0, 1]; got '0'"),
    (["--dropout-keep", "1.5"], "argument --dropout-keep: must be in (0, 1]"),
    (["--data", "mnist"], "--data mnist is read from local files: give their folder with "
                          "--data-dir"),
    (["--data", "cifar10"], "--data cifar10 is read from local files"),
    (["--data", "mnist", "--data-dir", "no/such/dir"], "--data-dir no/such/dir: no such folder"),
    (["--data", "cifar10", "--data-dir", "empty"], "--data cifar10 --data-dir empty:"),
    (["--backend", "cupy"], "--backend cupy: no usable cupy"),
    (["--lr", "-1"], "argument --lr: must be a number > 0; got '-1'"),
    (["--lr", "nan"], "argument --lr: needs a finite number; got 'nan'"),
    (["--lr", "x"], "argument --lr: needs a number; got 'x'"),
    (["--lr-decay", "-1"], "argument --lr-decay: must be in (0, 1]"),
    (["--num-train", "-5"], "argument --num-train: must be an integer >= 1; got '-5'"),
    (["--num-train", "99999"], "--num-train 99999: --data digits has 1297 training examples"),
    (["--threads", "-1"], "argument --threads: must be an integer >= 0; got '-1'"),
    (["--data-dir", "empty"], "--data-dir empty: --data digits is built in and reads no folder"),
    (["--reg", "-0.1"], "argument --reg: must be a number >= 0"),
    (["--grad-clip", "0"], "argument --grad-clip: must be a number > 0"),
    (["--seed", "-3"], "argument --seed: must be an integer >= 0"),
    (["--keep", "-1"], "argument --keep: must be an integer >= 0"),
    (["--net", "resnet", "--filter-size", "3"], "--filter-size 3: --net resnet does not use "
                                                "it (its own options: --num-blocks"),
    (["--net", "fc", "--num-blocks", "2"], "--num-blocks 2: --net fc does not use it"),
    (["--net", "lstm-lm", "--num-train", "5"], "--num-train 5: --net lstm-lm does not use it"),
    (["--net", "conv", "--hidden", "10,10"], "--hidden 10,10: --net conv has one hidden layer"),
    (["--net", "conv", "--filter-size", "20"], "--net conv: ThreeLayerConvNet"),
    (["--epoch", "5"], "unrecognized arguments: --epoch 5"),  # no abbreviations
    (["--net", "nope"], "argument --net: invalid choice: 'nope'"),
    (["--net", "fc", "--data", "text"], "--data text is for the language models"),
    (["--net", "lstm-lm", "--data", "digits"], "--data digits: --net lstm-lm trains on --data "
                                               "text"),
    (["--net", "mlp-lm", "--max-chars", "5"], "--net mlp-lm on --max-chars 5:"),
    (["--schedule", "cosine", "--lr-decay", "0.9"], "--lr-decay 0.9: --schedule cosine sets "
                                                    "the rate itself"),
    (["--out", "run"], "--out run: holds a run already"),
    (["--out", "empty_but_file"], "--out empty_but_file: the folder holds files and no "
                                  "run.json"),
    (["--overwrite"], "--overwrite needs --out"),
    (["--resume", "run", "--lr", "0.5"], "--lr 0.5: the run in run has --lr 0.002; a resumed "
                                         "run keeps its configuration"),
    (["--resume", "run", "--hidden", "7"], "--hidden 7: the run in run has --hidden 9"),
    (["--resume", "run", "--out", "elsewhere"], "--out elsewhere: a resumed run continues in "
                                                "its own folder run"),
    (["--resume", "run", "--epochs", "1"], "--epochs 1: the checkpoint run/checkpoints/"
                                           "fc_epoch_1.npz is at epoch 1 already"),
]


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A folder with one finished tiny run ('run', hidden 9, 1 epoch) and some bad files."""
    tmp_path = tmp_path_factory.mktemp("errors")
    tiny_run_in(tmp_path, "--epochs", "1", "--hidden", "9", "--out", "run", "-q", "--no-track")
    (tmp_path / "afile").write_text("not a folder")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty_but_file").mkdir()
    (tmp_path / "empty_but_file" / "notes.txt").write_text("mine")
    (tmp_path / "run" / "checkpoints" / "text.npz").write_text("hello")
    (tmp_path / "run" / "checkpoints" / "garbage.npz").write_bytes(
        np.random.default_rng(0).bytes(300))
    return tmp_path


@pytest.fixture
def workdir(template, tmp_path, monkeypatch):
    """A copy of the template folder, as the current directory; the tiny net as fc."""
    shutil.copytree(template, tmp_path / "w")
    monkeypatch.chdir(tmp_path / "w")
    use_net(monkeypatch, "fc", _tiny)
    return tmp_path / "w"


@pytest.mark.parametrize("argv, says", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_flag_value_gives_one_line_and_exit_2(workdir, capsys, argv, says):
    before = sorted(os.listdir(workdir))
    assert T.main([*argv, "-q"]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("layerkit-train: error: "), err
    assert says in err, err
    assert "Traceback" not in err and out == ""
    assert sorted(os.listdir(workdir)) == before  # no run folder left behind


def test_the_entry_point_exits_2_with_one_line_and_debug_shows_the_traceback(tmp_path):
    cmd = [sys.executable, "-m", "layerkit.train", "--batch-size", "0"]
    env = {**os.environ, "PYTHONPATH": ROOT}
    r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == ("layerkit-train: error: argument --batch-size: must be an integer "
                        ">= 1; got '0'\n")
    r = subprocess.run([*cmd, "--debug"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=120, env=env)
    assert r.returncode != 0 and "Traceback (most recent call last)" in r.stderr
    assert "UsageError: argument --batch-size" in r.stderr.splitlines()[-1]
    r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120,
                       env={**env, "LAYERKIT_DEBUG": "1"})
    assert "Traceback (most recent call last)" in r.stderr
    assert not (tmp_path / "runs").exists()


def test_a_bug_is_one_line_pointing_to_debug(tmp_path, monkeypatch, capsys):
    def broken(a, shape, k):
        raise ZeroDivisionError("planted")

    use_net(monkeypatch, "fc", broken)
    assert T.main(["--out", str(tmp_path / "r"), "-q"]) == 1
    err = capsys.readouterr().err
    assert err == ("layerkit-train: internal error: ZeroDivisionError: planted (run again "
                   "with --debug for the traceback)\n")
    with pytest.raises(ZeroDivisionError):
        T.main(["--out", str(tmp_path / "r"), "-q", "--debug"])


@pytest.mark.parametrize("main, argv, says", [
    (search.main, ["--trials", "0"], "argument --trials: must be an integer >= 1"),
    (search.main, ["--lr-range", "1e-2", "1e-4"], "--lr-range 0.01 0.0001: needs LOW <= HIGH"),
    (search.main, ["--hidden-sizes", "a,b"], "--hidden-sizes a,b: needs positive integers"),
    (search.main, ["--net", "lstm-lm"], "argument --net: invalid choice"),
    (compare.main, ["nowhere"], "nowhere: no such run folder"),
    (compare.main, ["."], "no run folders among ."),
])
def test_search_and_compare_errors_are_one_line(tmp_path, monkeypatch, capsys, main, argv,
                                                says):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err, err
