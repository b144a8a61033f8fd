"""benchmarks/suite_transformer.py: every op of every side runs once (no timing here:
speed is measured by ``python -m benchmarks.harness transformer``, never by tests)."""

import pytest

from benchmarks import suite_transformer


@pytest.mark.parametrize("wl", suite_transformer.WORKLOADS, ids=lambda w: w.name)
def test_every_side_runs(wl):
    for side, setup in wl.sides.items():
        if side.startswith("torch"):
            pytest.importorskip("torch")
        ops = setup("float32")
        assert ops, f"{wl.name}/{side} has no ops"
        for fn in ops.values():
            fn()
    assert wl.reference in wl.sides


def test_the_step_uses_the_training_commands_gpt_lm_defaults():
    from layerkit.train import NET_DEFAULTS

    cfg = suite_transformer.lm_config()
    d = NET_DEFAULTS["gpt-lm"]
    assert (cfg["E"], cfg["T"], cfg["N"], cfg["lr"]) == (d["embed"], d["seq_len"],
                                                         d["batch_size"], d["lr"])
    assert 60 < cfg["V"] < 200  # the pydoc text's characters
