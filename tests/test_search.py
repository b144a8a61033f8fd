"""The random-search command: draws, the sorted table, the saved results and scatter plot."""

import json
import math

import numpy as np

import layerkit.search as S
import layerkit.train as T
from tests.test_train_cli import assert_png, use_net
from tests.tiny_models import TinyMLP


def test_trials_are_seeded_and_log_uniform_in_range():
    a = S.sample_trials(200, (1e-4, 1e-2), (1e-5, 1e-1), [16, 32], seed=3)
    assert a == S.sample_trials(200, (1e-4, 1e-2), (1e-5, 1e-1), [16, 32], seed=3)
    lr = np.log10([t["lr"] for t in a])
    reg = np.log10([t["reg"] for t in a])
    assert lr.min() >= -4 and lr.max() <= -2 and reg.min() >= -5 and reg.max() <= -1
    # log-uniform: about half the draws below the middle decade (a uniform draw would put
    # about 1 % of them below 1e-3)
    assert 0.35 < np.mean(lr < -3) < 0.65
    assert {t["hidden"] for t in a} == {16, 32}


def test_search_prints_sorted_table_and_saves_plot(tmp_path, monkeypatch, capsys):
    def tiny(a, shape, k):
        return TinyMLP(math.prod(shape), T._dims(a.hidden)[0], k, reg=a.reg, dtype=a.dtype,
                       seed=a.seed)

    use_net(monkeypatch, "fc", tiny)
    out = tmp_path / "search"
    assert S.main(["--trials", "4", "--epochs", "2", "--hidden-sizes", "8,16", "--out",
                   str(out)]) == 0
    text = capsys.readouterr().out
    table = text[text.index("rank"):].splitlines()
    vals = [float(line.split()[1]) for line in table[1:5]]
    assert vals == sorted(vals, reverse=True) and len(vals) == 4
    res = json.loads((out / "search.json").read_text())["results"]
    assert sorted(r["val_acc"] for r in res) == sorted(vals)
    assert "best val accuracy" in text.splitlines()[-1]
    assert (out / "search.csv").read_text().count("\n") == 5
    assert_png(out / "search.png")
