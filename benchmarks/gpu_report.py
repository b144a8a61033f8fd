"""The device check, in one command: the whole test suite on cupy, then the GPU benchmark
suite, written to one results file.

    python -m benchmarks.gpu_report --out benchmarks/results          # on a GPU machine
    python -m benchmarks.gpu_report --out "$OUT" --no-tests --rounds 1   # the table only

Writes ``gpu-<device>.md`` (device, driver, library versions, date, the test counts with
every failure named, the benchmark table and the issue's targets, each met, missed or not
measured) and ``gpu-<device>.json`` (the same, with every benchmark row). On a machine
without a GPU it still runs: the cupy and torch_cuda sides are then left out and the
targets read "not measured".
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from benchmarks import harness

# (workload, what is compared, the bound): issue 17's targets for the GPU
TARGETS = [("conv3x3", "cupy / torch_cuda", 1.5), ("attention", "cupy / torch_cuda", 1.5),
           ("conv_net_epoch", "numpy / cupy", 20.0)]


def environment() -> dict:
    """What ran: the date, the device and its driver, the library versions, the CPU."""
    import numpy

    env = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "python": platform.python_version(), "numpy": numpy.__version__,
           "cpu": _cpu_model(), "cpu_cores": os.cpu_count()}
    try:
        smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                              "--format=csv,noheader"], capture_output=True, text=True,
                             timeout=30)
        env["nvidia_smi"] = smi.stdout.strip() or smi.stderr.strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        env["nvidia_smi"] = f"unavailable ({e.__class__.__name__})"
    from layers.backend import gpu_available

    if gpu_available():
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(0)
        name = props["name"]
        env.update(device=name.decode() if isinstance(name, bytes) else str(name),
                   cupy=cupy.__version__,
                   cuda_runtime=cupy.cuda.runtime.runtimeGetVersion(),
                   cuda_driver=cupy.cuda.runtime.driverGetVersion())
    else:
        env["device"] = "none (no cupy or no CUDA device)"
    try:
        import torch

        env.update(torch=torch.__version__, torch_cuda=torch.version.cuda,
                   torch_cuda_available=bool(torch.cuda.is_available()))
    except ImportError:
        env["torch"] = "not installed"
    return env


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def slug(device: str) -> str:
    """'NVIDIA H200' -> 'nvidia-h200' (the results file's name)."""
    s = re.sub(r"[^a-z0-9]+", "-", device.lower()).strip("-")
    return s if s and not s.startswith("none") else "no-gpu"


def junit_counts(path: Path) -> dict:
    """Counts and failures from a pytest --junitxml file: tests, passed, failed (failures
    and errors), skipped, seconds, and each failure's test id and first message line."""
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = sum(int(s.get("tests", 0)) for s in suites)
    skipped = sum(int(s.get("skipped", 0)) for s in suites)
    failures = []
    for case in root.iter("testcase"):
        for tag in ("failure", "error"):
            bad = case.find(tag)
            if bad is not None:
                first = (bad.get("message") or "").strip().splitlines()[:1]
                failures.append({"test": f"{case.get('classname')}::{case.get('name')}",
                                 "kind": tag, "message": first[0][:200] if first else ""})
    return {"tests": total, "failed": len(failures), "skipped": skipped,
            "passed": total - skipped - len(failures),
            "seconds": round(sum(float(s.get("time", 0)) for s in suites), 1),
            "failures": failures}


def run_tests(out: Path, timeout: float, extra: list[str]) -> dict:
    """The whole default suite with LAYERKIT_BACKEND=cupy (every test that makes arrays
    makes them on the GPU); its counts from the JUnit file."""
    xml = out / "gpu-tests.xml"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", f"--junitxml={xml}",
           *extra]
    env = {**os.environ, "LAYERKIT_BACKEND": "cupy"}
    try:
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"the suite ran past {timeout:.0f} s", "command": " ".join(cmd)}
    if not xml.exists():
        return {"error": f"pytest exited {res.returncode} without a report: "
                f"{res.stdout[-500:]}{res.stderr[-500:]}", "command": " ".join(cmd)}
    counts = junit_counts(xml)
    counts.update(returncode=res.returncode, summary=res.stdout.strip().splitlines()[-1:],
                  command="LAYERKIT_BACKEND=cupy " + " ".join(cmd[1:]))
    return counts


def targets(rows: list[dict]) -> list[dict]:
    """Each target: the measured value and 'met', 'missed' or 'not measured'."""
    by_name = {r["workload"]: r for r in rows}
    out = []
    for workload, what, bound in TARGETS:
        t = by_name.get(workload, {}).get("times_ms", {})
        num, den = what.split(" / ")
        if num in t and den in t:
            value = t[num] / t[den]
            ok = value >= bound if workload == "conv_net_epoch" else value <= bound
            verdict = "met" if ok else "missed"
        else:
            value, verdict = None, "not measured"
        sign = ">=" if workload == "conv_net_epoch" else "<="
        out.append({"workload": workload, "measure": what, "target": f"{sign} {bound:g}",
                    "value": value, "verdict": verdict})
    return out


def markdown(env: dict, tests: dict | None, table: str, goals: list[dict]) -> str:
    lines = [f"# GPU check: {env.get('device')}", "",
             "Written by `python -m benchmarks.gpu_report` (benchmarks/README.md).", "",
             "| what | value |", "| --- | --- |"]
    lines += [f"| {k} | {v} |" for k, v in env.items()]
    lines += ["", "## Tests (`LAYERKIT_BACKEND=cupy`)", ""]
    if tests is None:
        lines.append("Not run (--no-tests).")
    elif "error" in tests:
        lines.append(f"Did not finish: {tests['error']} (`{tests['command']}`).")
    else:
        lines.append(f"`{tests['command']}`: {tests['passed']} passed, {tests['failed']} "
                     f"failed, {tests['skipped']} skipped of {tests['tests']} in "
                     f"{tests['seconds']} s.")
        for f in tests["failures"]:
            lines.append(f"- {f['kind']}: `{f['test']}`: {f['message']}")
    lines += ["", "## Benchmarks (`python -m benchmarks.harness gpu`)", "", table, "",
              "## Targets", "", "| workload | measure | target | value | verdict |",
              "| --- | --- | --- | --- | --- |"]
    for g in goals:
        value = "-" if g["value"] is None else f"{g['value']:.2f}"
        lines.append(f"| {g['workload']} | {g['measure']} | {g['target']} | {value} | "
                     f"{g['verdict']} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> Path:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="benchmarks/results", help="folder for the results")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="BLAS threads of the numpy and torch sides (default: every core)")
    p.add_argument("--no-tests", action="store_true", help="the benchmarks only")
    p.add_argument("--test-timeout", type=float, default=420.0, help="seconds")
    p.add_argument("--pytest-args", default="", help="more pytest arguments, one string")
    a = p.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    env = environment()
    print(json.dumps(env), flush=True)
    tests = None if a.no_tests else run_tests(out, a.test_timeout, a.pytest_args.split())
    print(json.dumps(tests), flush=True)
    harness._set_idle_wait(2.0)  # a GPU machine is ours alone: no long idle waits
    rows = harness.run("gpu", rounds=a.rounds, threads=a.threads)
    table = harness.format_table(rows)
    print(table, flush=True)
    goals = targets(rows)
    name = f"gpu-{slug(str(env.get('device')))}"
    (out / f"{name}.md").write_text(markdown(env, tests, table, goals))
    (out / f"{name}.json").write_text(json.dumps(
        {"environment": env, "tests": tests, "rows": rows, "targets": goals}, indent=1))
    print(f"wrote {out / name}.md and .json")
    return out / f"{name}.md"


if __name__ == "__main__":
    main()
