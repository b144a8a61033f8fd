"""``layerkit-train --net gpt-lm``: the transformer LM on the text data, tied or untied."""

import json
import math

import numpy as np
import pytest

from layerkit import train as T
from layerkit.text import load_corpus


@pytest.mark.parametrize("tie", [True, False])
def test_gpt_lm_from_the_command_line(tmp_path, capsys, tie):
    out = tmp_path / "gpt"
    args = ["--net", "gpt-lm", "--epochs", "1", "--max-chars", "6000", "--embed", "16",
            "--heads", "2", "--layers", "1", "--batch-size", "16", "--seq-len", "16",
            "--sample-len", "40", "--tie-weights" if tie else "--no-tie-weights",
            "--out", str(out), "-q"]
    assert T.main(args) == 0
    printed = capsys.readouterr().out
    run = json.loads((out / "run.json").read_text())
    assert run["args"]["tie_weights"] is tie and run["args"]["heads"] == 2
    assert run["val_bpc"] == pytest.approx(run["val_nats"] / math.log(2))
    assert run["val_nats"] < math.log(len(set(load_corpus(6000))))  # beats uniform
    assert f"{run['val_bpc']:.3f} bits/char" in printed
    assert run["sample"].startswith("The ") and len(run["sample"]) == 4 + 40
    with np.load(out / "model.npz", allow_pickle=False) as ck:
        names = " ".join(ck.files)
    assert ("W_out" in names) is not tie and "blk1.W_ff1" in names


def test_warmup_iters_reaches_the_solver(tmp_path):
    out = tmp_path / "gpt"
    args = ["--net", "gpt-lm", "--epochs", "1", "--max-chars", "6000", "--embed", "16",
            "--heads", "2", "--layers", "1", "--batch-size", "16", "--seq-len", "16",
            "--lr", "0.01", "--warmup-iters", "4", "--sample-len", "0", "--out", str(out),
            "-q"]
    assert T.main(args) == 0
    assert json.loads((out / "run.json").read_text())["args"]["warmup_iters"] == 4
    lr = json.loads((out / "history.json").read_text())["lr"]
    n = len(lr)  # one epoch: the cosine of n steps, ramped over the first 4
    expected = [0.005 * (1 + math.cos(math.pi * t / n)) * min(1, (t + 1) / 4)
                for t in range(n)]
    np.testing.assert_allclose(lr, expected, rtol=1e-12)
