"""benchmarks/suite_transformer.py: every op of every side runs once (no timing here:
speed is measured by ``python -m benchmarks.harness transformer``, never by tests)."""

import pytest

from benchmarks import suite_transformer

PAIRS = [(wl, side) for wl in suite_transformer.WORKLOADS for side in wl.sides]


@pytest.mark.parametrize("wl,side", PAIRS, ids=[f"{w.name}-{s}" for w, s in PAIRS])
def test_side_runs_once(wl, side):
    if side.startswith("torch"):
        pytest.importorskip("torch")
    ops = wl.sides[side]("float32")
    assert wl.reference in wl.sides and ops
    try:
        for op in ops.values():
            op()
    finally:
        from layers import set_threads

        set_threads(None)  # the nosplit and 2thr sides set it


def test_the_step_uses_the_training_commands_gpt_lm_defaults():
    from layerkit.net_table import NETS

    cfg = suite_transformer.lm_config()
    d = NETS["gpt-lm"].defaults
    assert (cfg["E"], cfg["T"], cfg["N"], cfg["lr"]) == (d["embed"], d["seq_len"],
                                                         d["batch_size"], d["lr"])
    assert 60 < cfg["V"] < 200  # the pydoc text's characters
