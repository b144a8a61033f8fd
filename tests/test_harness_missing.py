"""The benchmark table says when a side (torch) was not timed because it is not installed."""

from benchmarks import harness


def _row(**kw):
    return {"workload": "affine", "shape": "(64, 512)", "op": "fwd", "dtype": "float32",
            "threads": 2, "rounds": 1, "peak_gflops": 100.0, "times_ms": {"layerkit": 1.0},
            "blas": "SkylakeX", "clock": "wall", "loadavg_after": 0.5,
            **kw}


def test_a_missing_torch_is_named_instead_of_a_bare_dash():
    text = harness.format_table([_row(missing=["torch"])])
    assert "| - (torch not installed) |" in text
    assert "not installed, so not timed: torch (the torch side needs pip install -e " \
           "'.[bench]')" in text


def test_nothing_missing_keeps_the_table_as_it_was():
    text = harness.format_table([_row(ratio={"torch": 1.5}, missing=[])])
    assert "torch 1.50x" in text and "not installed" not in text
