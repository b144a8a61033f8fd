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


def test_dropout_and_weight_scale_reach_the_model():
    from layerkit.cli_args import resolve
    from layerkit.cli_types import UsageError
    from layerkit.net_table import NETS
    from layerkit.text import Vocab

    a = resolve(["--net", "gpt-lm", "--dropout", "0.2", "--weight-scale", "0.05",
                 "--embed", "32", "--heads", "2"]).config
    model = NETS["gpt-lm"].build(T.typed_config(a), Vocab("abcdefgh"))
    assert model.dropout_param["p"] == pytest.approx(0.8)
    # fresh masks every step: a generator, not the fixed seed of a gradient check
    assert isinstance(model.dropout_param["seed"], np.random.Generator)
    assert float(np.std(model.params["blk1.W_ff1"])) == pytest.approx(0.05, rel=0.05)
    X = np.zeros((2, 8), dtype=np.int64)
    assert model.loss(X, X)[0] != model.loss(X, X)[0]  # two steps, two masks
    with pytest.raises(UsageError, match="--dropout 0.2: --net lstm-lm does not use it"):
        resolve(["--net", "lstm-lm", "--dropout", "0.2"])
