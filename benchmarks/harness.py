"""Side-by-side timing: every (workload, side) in its own process, in alternating rounds.

    python -m benchmarks.harness fc [--rounds 5] [--dtype float32] [--threads 2]
                                    [--only NAME] [--json out.jsonl] [--clock cpu]

A suite is a module ``benchmarks/suite_<family>.py`` with a list ``WORKLOADS`` of
``Workload``. Each side ("layerkit", "torch", "naive", ...) is a setup function
``setup(dtype: str) -> {op: callable}``; the harness times each op (one forward, or one
forward+backward per call) and reports, per op, the median time of each side and its
ratio to the workload's reference side.

Method (why each step is here; the measurements are in the project's perf notes):
- Separate processes, one side at a time: torch's OpenMP threads spin after each op and
  would slow numpy's BLAS threads in a shared process.
- Wait for idle CPUs before each run: on a shared 2-core VM a busy neighbour makes a
  2-thread GEMM collapse, so a run only starts once /proc/stat shows the cores quiet.
- One 31 MiB allocation freed before timing, so glibc's mmap threshold has adapted and
  multi-MB temporaries stop page-faulting on every call (it cost torch up to 8x).
- Alternating rounds; the figure is the minimum over rounds of each round's median (the
  median resists outliers within a run, the minimum across runs resists a noisy run).
- The matmul peak of the run's dtype is measured in the same run, for GFLOP/s as a % of it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Workload:
    name: str
    shape: str
    sides: dict[str, Callable[[str], dict[str, Callable[[], object]]]]
    reference: str | None = None  # ratios are side / reference
    flops: float | None = None  # forward FLOPs; fwd+bwd counts 3x
    note: str = ""
    extra: dict = field(default_factory=dict)


# --- worker: runs in its own process --------------------------------------------------


def _warm_malloc() -> None:
    import numpy as np

    # 31 MiB, touched, then freed. Not 32: glibc raises its mmap threshold only when the
    # freed chunk is at most DEFAULT_MMAP_THRESHOLD_MAX (32 MiB on 64-bit), and a 32 MiB
    # array plus malloc's header is just over it (then nothing adapts: measured 3.3 ms
    # instead of 0.55 ms for batchnorm_backward on (256, 1024) float32)
    block = np.ones(31 * 2**20 // 8)
    del block


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def _time_op(fn: Callable[[], object], min_time: float, min_reps: int,
             clock: Callable[[], float] = time.perf_counter) -> list[float]:
    for _ in range(2):  # warm-up: caches, lazy imports, allocator
        fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_reps or (time.perf_counter() - start) < min_time:
        t0 = clock()
        fn()
        times.append(clock() - t0)
        if len(times) >= 2000:
            break
    return times


def _worker(family: str, workload: str, side: str, dtype: str, threads: int,
            min_time: float, clock: str = "wall") -> None:
    _warm_malloc()
    if side == "torch" or side.startswith("torch"):
        import torch

        torch.set_num_threads(threads)
    suite = importlib.import_module(f"benchmarks.suite_{family}")
    wl = next(w for w in suite.WORKLOADS if w.name == workload)
    ops = wl.sides[side](dtype)
    out = {}
    for op, fn in ops.items():
        ts = _time_op(fn, min_time, min_reps=5, clock=CLOCKS[clock])
        out[op] = {"median": statistics.median(ts), "best": min(ts), "reps": len(ts)}
    print(json.dumps(out))


def _matmul_peak(dtype: str = "float32", n: int = 1024, clock: str = "wall") -> float:
    import numpy as np

    a = np.ones((n, n), dtype=dtype)
    b = np.ones((n, n), dtype=dtype)
    c = np.empty((n, n), dtype=dtype)
    ts = _time_op(lambda: np.matmul(a, b, out=c), 0.5, 5, CLOCKS[clock])
    return 2 * n**3 / statistics.median(ts) / 1e9


# --- parent ---------------------------------------------------------------------------


def _cpu_busy(interval: float = 0.25) -> float:
    """Fraction of CPU time not idle over ``interval`` seconds (Linux /proc/stat)."""
    def read():
        with open("/proc/stat") as f:
            vals = [int(v) for v in f.readline().split()[1:]]
        return vals[3] + vals[4], sum(vals)  # idle + iowait, total

    try:
        i0, t0 = read()
        time.sleep(interval)
        i1, t1 = read()
    except OSError:
        return 0.0
    return 1.0 - (i1 - i0) / max(t1 - t0, 1)


def wait_for_idle(threshold: float = 0.15, timeout: float = 20.0) -> float:
    """Block until the CPUs are mostly idle (or ``timeout``); return the last busy fraction."""
    deadline = time.monotonic() + timeout
    busy = _cpu_busy()
    while busy > threshold and time.monotonic() < deadline:
        busy = _cpu_busy()
    return busy


# Variables some machines set to pin OpenBLAS to a kernel (these CI machines pin the AVX2
# "Haswell" kernel on an AVX-512 CPU: sgemm at ~255 GFLOP/s instead of ~470). A user's
# machine has no such setting, so the benchmark processes, and only they, run without them
# (tests and CI keep the environment they were given).
PINNING_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def _env(threads: int) -> dict:
    env = {k: val for k, val in os.environ.items() if k not in PINNING_VARS}
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    return env


def blas_info() -> str:
    """The BLAS libraries this process loaded, with the kernel OpenBLAS picked (threadpoolctl)."""
    import numpy  # noqa: F401  (loads numpy's OpenBLAS)

    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed: kernel unknown"
    return "; ".join(f"{i.get('internal_api')} {i.get('version')} kernel "
                     f"{i.get('architecture')} threads {i.get('num_threads')}"
                     for i in threadpool_info() if i.get("user_api") == "blas")


IDLE_WAIT = 20.0  # seconds to wait for idle CPUs before each process (--idle-wait)


def _set_idle_wait(seconds: float) -> None:
    global IDLE_WAIT
    IDLE_WAIT = seconds


def _run_side(family, wl, side, dtype, threads, min_time, clock="wall") -> tuple[dict, float]:
    busy = wait_for_idle(timeout=IDLE_WAIT)
    cmd = [sys.executable, "-m", "benchmarks.harness", "--worker", family, wl.name, side,
           "--dtype", dtype, "--threads", str(threads), "--min-time", str(min_time),
           "--clock", clock]
    res = subprocess.run(cmd, capture_output=True, text=True, env=_env(threads))
    if res.returncode != 0:
        raise RuntimeError(f"{wl.name}/{side} failed:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1]), busy


def _available(side: str) -> bool:
    """Whether this machine can run ``side``: torch sides need torch ("..._cuda" ones a
    CUDA device too), the "cupy" side cupy and a GPU."""
    if side == "cupy":
        from layers.backend import gpu_available

        return gpu_available()
    if side.startswith("torch"):
        try:
            torch = importlib.import_module("torch")
        except ImportError:
            return False
        if side.endswith("_cuda"):
            return bool(torch.cuda.is_available())
    return True


def run(family: str, rounds: int = 5, dtype: str = "float32", threads: int = 2,
        only: list[str] | None = None, min_time: float = 0.3,
        clock: str = "wall") -> list[dict]:
    """Time every workload of a suite; return one result dict per (workload, op)."""
    suite = importlib.import_module(f"benchmarks.suite_{family}")
    peaks = []
    for _ in range(3):  # the best of 3, each after an idle wait: a busy neighbour during
        wait_for_idle(timeout=IDLE_WAIT)  # one measurement made every "% peak" too high
        peak_res = subprocess.run(
            [sys.executable, "-c", "from benchmarks.harness import _matmul_peak as p, "
             f"blas_info as b; print(b()); print(p({dtype!r}, clock={clock!r}))"],
            capture_output=True, text=True, env=_env(threads))
        lines = peak_res.stdout.strip().splitlines() or ["", "nan"]
        kernel = lines[0]
        peaks.append(float(lines[-1]))
    peak = max(peaks)
    print(f"benchmark processes: {kernel}; {dtype} matmul peak {peak:.0f} GFLOP/s "
          f"(n=1024, best of 3); unset here: {', '.join(PINNING_VARS)}; "
          f"load average {os.getloadavg()[0]:.2f}", file=sys.stderr, flush=True)
    results = []
    for wl in suite.WORKLOADS:
        if only and wl.name not in only:
            continue
        sides = [s for s in wl.sides if _available(s)]
        missing = [s for s in wl.sides if s not in sides]  # e.g. torch, or no GPU
        per_side: dict[str, dict[str, list[float]]] = {s: {} for s in sides}
        busy_seen = []
        for r in range(rounds):
            order = sides if r % 2 == 0 else sides[::-1]
            for side in order:
                out, busy = _run_side(family, wl, side, dtype, threads, min_time, clock)
                busy_seen.append(busy)
                for op, st in out.items():
                    per_side[side].setdefault(op, []).append(st["median"])
        ops = sorted({op for s in sides for op in per_side[s]},
                     key=lambda o: (o != "fwd", o))
        for op in ops:
            row = {"workload": wl.name, "shape": wl.shape, "op": op, "dtype": dtype,
                   "threads": threads, "rounds": rounds, "peak_gflops": peak,
                   "blas": kernel, "loadavg_after": os.getloadavg()[0], "clock": clock,
                   "max_busy_before": max(busy_seen) if busy_seen else 0.0, "times_ms": {},
                   "missing": missing}
            for s in sides:
                if op in per_side[s]:
                    row["times_ms"][s] = 1e3 * min(per_side[s][op])
            ref = wl.reference
            if ref in row["times_ms"]:
                row["ratio"] = {s: t / row["times_ms"][ref]
                                for s, t in row["times_ms"].items() if s != ref}
            if wl.flops:
                mult = 3.0 if "bwd" in op else 1.0
                row["gflops"] = {s: wl.flops * mult / (t / 1e3) / 1e9
                                 for s, t in row["times_ms"].items()
                                 if "naive" not in s}
            results.append(row)
    return results


def format_table(results: list[dict]) -> str:
    lines = []
    head = "| workload | shape | op | times (ms) | ratio vs reference | GFLOP/s (% peak) |"
    lines += [head, "|---|---|---|---|---|---|"]
    for r in results:
        times = ", ".join(f"{s} {t:.3g}" for s, t in r["times_ms"].items())
        ratio = ", ".join(f"{s} {v:.2f}x" for s, v in r.get("ratio", {}).items()) or (
            f"- ({', '.join(r['missing'])} not available)" if r.get("missing") else "-")
        gf = ", ".join(f"{s} {g:.0f} ({100 * g / r['peak_gflops']:.0f}%)"
                       for s, g in r.get("gflops", {}).items()) or "-"
        lines.append(f"| {r['workload']} | {r['shape']} | {r['op']} | {times} | {ratio} | {gf} |")
    missing = sorted({s for r in results for s in r.get("missing", [])})
    if missing:
        lines.append(f"\nnot available here, so not timed: {', '.join(missing)} (torch "
                     "sides need pip install -e '.[bench]'; cupy and *_cuda sides a GPU)")
    if results:
        r0 = results[0]
        lines.append(f"\n{r0['dtype']} matmul peak measured in this run: "
                     f"{r0['peak_gflops']:.0f} GFLOP/s ({r0['blas']}); {r0['threads']} "
                     f"threads; {r0['clock']} clock; min over {r0['rounds']} rounds of "
                     f"per-run medians; load "
                     f"average {max(r['loadavg_after'] for r in results):.2f} at most.")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("family", help="suite name: benchmarks/suite_<family>.py")
    p.add_argument("workload", nargs="?", help=argparse.SUPPRESS)
    p.add_argument("side", nargs="?", help=argparse.SUPPRESS)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--dtype", default="float32")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--min-time", type=float, default=0.3, help="seconds per op per run")
    p.add_argument("--only", action="append", help="workload name (repeatable)")
    p.add_argument("--json", help="also write one JSON line per row to this file")
    p.add_argument("--idle-wait", type=float, default=IDLE_WAIT,
                   help="seconds to wait for idle CPUs before each process (default 20)")
    p.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                   help="wall (default) or cpu: the process's CPU time, which a busy "
                   "neighbour does not inflate; meaningful with --threads 1 only (idle "
                   "BLAS/OpenMP threads spin, and that counts as CPU time)")
    a = p.parse_args(argv)
    if a.worker:
        _worker(a.family, a.workload, a.side, a.dtype, a.threads, a.min_time, a.clock)
        return
    _set_idle_wait(a.idle_wait)
    if a.clock == "cpu" and a.threads != 1:
        p.error("--clock cpu needs --threads 1 (spinning threads count as CPU time)")
    results = run(a.family, a.rounds, a.dtype, a.threads, a.only, a.min_time, a.clock)
    print(format_table(results))
    if a.json:
        with open(a.json, "w") as f:
            for r in results:
                f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
