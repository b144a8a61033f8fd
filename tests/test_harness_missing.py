"""The benchmark table says when a side was not timed because this machine cannot run it
(torch not installed; no GPU for the cupy and CUDA sides)."""

import pytest

from benchmarks import harness


def _row(**kw):
    return {"workload": "affine", "shape": "(64, 512)", "op": "fwd", "dtype": "float32",
            "threads": 2, "rounds": 1, "peak_gflops": 100.0, "times_ms": {"layerkit": 1.0},
            "blas": "SkylakeX", "clock": "wall", "loadavg_after": 0.5,
            **kw}


def test_a_missing_torch_is_named_instead_of_a_bare_dash():
    text = harness.format_table([_row(missing=["torch"])])
    assert "| - (torch not available) |" in text
    assert "not available here, so not timed: torch (torch sides need pip install -e " \
           "'.[bench]'; cupy and *_cuda sides a GPU)" in text


def test_nothing_missing_keeps_the_table_as_it_was():
    text = harness.format_table([_row(ratio={"torch": 1.5}, missing=[])])
    assert "torch 1.50x" in text and "not available" not in text


def test_gpu_sides_are_available_only_with_a_device(monkeypatch):
    import layers.backend

    monkeypatch.setattr(layers.backend, "gpu_available", lambda: False)
    assert not harness._available("cupy")
    monkeypatch.setattr(layers.backend, "gpu_available", lambda: True)
    assert harness._available("cupy")
    assert harness._available("numpy")
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert harness._available("torch") and not harness._available("torch_cuda")
