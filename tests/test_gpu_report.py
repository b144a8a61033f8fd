"""benchmarks/gpu_report.py, the one-command device check, on a machine without a GPU:
its test run and JUnit counts (on a small suite written here), its verdicts on the
issue's targets, and the results file it writes."""

import json

import pytest

from benchmarks import gpu_report


def test_the_results_file_is_named_after_the_device():
    assert gpu_report.slug("NVIDIA H200") == "nvidia-h200"
    assert gpu_report.slug("Tesla V100-SXM2-16GB") == "tesla-v100-sxm2-16gb"
    assert gpu_report.slug("none (no cupy or no CUDA device)") == "no-gpu"


def test_the_suite_runs_on_cupy_and_every_failure_is_named(tmp_path):
    suite = tmp_path / "test_small.py"
    suite.write_text(
        "import os, pytest\n"
        "def test_backend():\n    assert os.environ['LAYERKIT_BACKEND'] == 'cupy'\n"
        "def test_broken():\n    assert 1 == 2, 'one is not two'\n"
        "@pytest.mark.skip(reason='no')\ndef test_skipped():\n    pass\n")
    out = tmp_path / "out"
    out.mkdir()
    counts = gpu_report.run_tests(out, timeout=120, extra=[str(suite), "-p", "no:cacheprovider"])
    assert (counts["tests"], counts["passed"], counts["failed"], counts["skipped"]) == \
        (3, 1, 1, 1)
    (failure,) = counts["failures"]
    assert failure["test"].endswith("test_broken") and "one is not two" in failure["message"]
    assert counts["command"].startswith("LAYERKIT_BACKEND=cupy ")


def _row(workload, **times):
    return {"workload": workload, "times_ms": times}


def test_each_target_is_met_missed_or_not_measured():
    goals = gpu_report.targets([
        _row("conv3x3", numpy=90.0, cupy=3.0, torch_cuda=2.0),  # 1.5x: met (<= 1.5)
        _row("attention", numpy=50.0, cupy=4.0, torch_cuda=2.0),  # 2.0x: missed
        _row("conv_net_epoch", numpy=900.0)])  # no GPU side: not measured
    assert [(g["workload"], g["verdict"]) for g in goals] == [
        ("conv3x3", "met"), ("attention", "missed"), ("conv_net_epoch", "not measured")]
    assert goals[0]["value"] == pytest.approx(1.5) and goals[2]["value"] is None
    (epoch,) = gpu_report.targets([_row("conv_net_epoch", numpy=400.0, cupy=10.0)])[2:]
    assert epoch["value"] == pytest.approx(40.0) and epoch["verdict"] == "met"  # >= 20


def test_it_writes_the_markdown_and_json_results(tmp_path, monkeypatch):
    rows = [{"workload": "conv3x3", "shape": "x", "op": "fwd+bwd", "dtype": "float32",
             "threads": 2, "rounds": 1, "peak_gflops": 100.0, "blas": "k", "clock": "wall",
             "loadavg_after": 0.1, "times_ms": {"numpy": 80.0}, "missing": ["cupy"]}]
    monkeypatch.setattr(gpu_report.harness, "run", lambda *a, **k: rows)
    path = gpu_report.main(["--out", str(tmp_path), "--no-tests"])
    text = path.read_text()
    assert path.name == "gpu-no-gpu.md"
    for needle in ("| numpy |", "| date |", "Not run (--no-tests).", "numpy 80",
                   "| conv3x3 | cupy / torch_cuda | <= 1.5 | - | not measured |"):
        assert needle in text, needle
    saved = json.loads(path.with_suffix(".json").read_text())
    assert saved["rows"] == rows and saved["tests"] is None
