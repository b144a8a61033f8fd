"""layerkit-train --net bert-mlm / bert-cls: pretraining writes a model.npz that holds the
tokenizer; fine-tuning starts from it (--init), frozen lower layers stay as pretrained,
and bad flags are one-line errors."""

import json

import numpy as np
import pytest

from layerkit.tokenizer import Tokenizer
from layerkit.train import main
from optim import load_checkpoint

SMALL = ["--embed", "16", "--heads", "2", "--layers", "2", "-q", "--no-track"]


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "mlm"
    assert main(["--net", "bert-mlm", "--epochs", "1", "--copies", "1", "--merges", "30",
                 "--out", str(out), *SMALL]) == 0
    return out


def test_pretraining_run_holds_the_tokenizer(pretrained):
    ck = load_checkpoint(pretrained / "model.npz")
    info = ck["model_state"]["state_dicts"][0]
    tok = Tokenizer.from_tree(info)
    assert len(tok.merges) == 30 and ck["params"]["W_tok"].shape == (tok.vocab_size, 16)
    assert info["num_heads"] == 2
    run = json.loads((pretrained / "run.json").read_text())
    assert run["status"] == "finished" and 0 < run["val_acc"] < 1  # masked-token accuracy


def test_finetune_from_the_checkpoint_with_lower_layers_frozen(pretrained, tmp_path):
    out = tmp_path / "cls"
    assert main(["--net", "bert-cls", "--init", str(pretrained / "model.npz"), "--freeze",
                 "lower", "--labels-per-class", "5", "--epochs", "2", "--out", str(out),
                 "-q", "--no-track"]) == 0
    before = load_checkpoint(pretrained / "model.npz")["params"]
    after = load_checkpoint(out / "model.npz")["params"]
    for k in ("W_tok", "W_pos", "blk1.Wq", "blk1.W_ff2"):  # frozen: as pretrained
        assert np.array_equal(after[k], before[k]), k
    for k in ("blk2.Wq", "lnf_gamma"):  # the top block trains
        assert not np.array_equal(after[k], before[k]), k
    run = json.loads((out / "run.json").read_text())
    assert 0 <= run["test_acc"] <= 1


@pytest.mark.parametrize("argv,message", [
    (["--net", "bert-cls", "--init", "/nonexistent/model.npz"], "--init /nonexistent"),
    (["--net", "bert-mlm", "--data", "digits"], "--net bert-mlm trains on --data topics"),
    (["--net", "fc", "--data", "topics"], "--net fc trains on"),
    (["--net", "fc", "--merges", "10"], "--net fc does not use it"),
    (["--net", "bert-mlm", "--freeze", "lower"], "--net bert-mlm does not use it"),
])
def test_bad_flags_are_one_line_errors(argv, message, capsys):
    assert main([*argv, "-q", "--no-track"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
