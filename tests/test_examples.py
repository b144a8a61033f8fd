"""The scripts in examples/ run as a user would run them (each in its own process)."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(script, cwd):
    return _run_args([script], cwd)


def _run_args(args, cwd):
    env = {**os.environ, "PYTHONPATH": ROOT, "MPLBACKEND": "Agg"}
    r = subprocess.run([sys.executable, os.path.join(ROOT, "examples", args[0]), *args[1:]],
                       cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return r.stdout


def test_custom_net_gradcheck_example(tmp_path):
    out = _run("custom_net_gradcheck.py", tmp_path)
    assert "gradcheck TwoLayerSkipNet.loss" in out and "best val accuracy" in out
    assert float(out.split("best val accuracy")[1].split()[0]) > 0.9


@pytest.mark.parametrize("script", ["train_fc.py", "overfit_small.py"])
def test_fc_examples(tmp_path, script):
    out = _run(script, tmp_path)
    if script == "train_fc.py":
        assert float(out.split("best val accuracy")[1].split(",")[0]) >= 0.97
        assert (tmp_path / "fc_loss.png").exists() and (tmp_path / "fc_accuracy.png").exists()
    else:
        assert out.startswith("train accuracy 1.00")


def test_gpt_vs_lstm_example_runs(tmp_path):
    out = _run_args(["gpt_vs_lstm.py", "--budgets", "1", "--max-chars", "20000", "--out",
                     str(tmp_path)], tmp_path)
    assert "lstm-lm bpc   gpt-lm bpc" in out
    assert (tmp_path / "gpt_vs_lstm.png").exists() and (tmp_path / "gpt_vs_lstm.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize("nsp", [False, True], ids=["mlm", "mlm+nsp"])
def test_bert_transfer_example_quick(tmp_path, nsp):
    """The whole pretraining and transfer story in its smoke-test size (about a minute),
    with the masked LM alone and with next-sentence prediction beside it."""
    out = _run_args(["bert_transfer.py", "--quick", "--out", str(tmp_path)]
                    + ["--nsp"] * nsp, tmp_path)
    assert "| BERT | 20 |" in out and "| LSTM | 5 |" in out
    assert ("next-sentence accuracy" in out) == nsp
    assert (tmp_path / "bert_transfer.png").exists()
