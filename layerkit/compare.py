"""Compare past runs offline: ``layerkit-compare RUN...`` (or ``python -m layerkit.compare``).

Reads each run folder's run.json and history.json (as ``layerkit-train`` writes them),
prints one table row per run (the settings that differ between the runs, then the final
metrics), and overlays their curves in one PNG (``--out``, default ``compare.png``):
training loss and validation accuracy, or bits/char for language models, against epochs.

    layerkit-compare runs/fc-digits runs/fc-digits-2
    layerkit-compare runs/*            # the shell expands it; folders without a run are skipped
"""

from __future__ import annotations

import os
import sys

from optim import load_history

from . import plots, runs
from .cli_types import Parser, UsageError, run_command

__all__ = ["main", "load_run", "format_table"]

_METRICS = (("status", "{}"), ("epochs_done", "{}"), ("val_acc", "{:.3f}"),
            ("test_acc", "{:.3f}"), ("val_bpc", "{:.3f}"), ("seconds", "{:.1f}"))


def load_run(folder: str) -> dict:
    """{"folder", "args", "metrics", "history"} of one run folder; UsageError if not a run."""
    doc = runs.read_run_json(folder)
    try:
        history = load_history(os.path.join(folder, "history.json"))
    except (OSError, ValueError) as e:
        raise UsageError(f"{folder}: no readable history.json ({e})") from None
    return {"folder": folder, "args": doc["args"], "history": history,
            "metrics": {k: doc[k] for k, _ in _METRICS if k in doc}}


# How a run was watched, not what it computed: left out of the table.
_WATCHING = ("quiet", "print_every", "threads", "keep", "track")


def differing(found: list[dict]) -> list[str]:
    """The settings whose values are not the same in every run, in a stable order."""
    keys = sorted({k for r in found for k in r["args"]} - set(_WATCHING))
    return [k for k in keys if len({repr(r["args"].get(k)) for r in found}) > 1]


def format_table(found: list[dict]) -> str:
    """One line per run: folder, differing settings, metrics (blank where not measured)."""
    keys = differing(found)
    head = ["run", *keys, *(k for k, _ in _METRICS)]
    rows = []
    for r in found:
        cells = [r["folder"], *(str(r["args"].get(k, "")) for k in keys)]
        for k, fmt in _METRICS:
            v = r["metrics"].get(k)
            cells.append("" if v is None else fmt.format(v))
        rows.append(cells)
    widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=True)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    return "\n".join([line(head), *(line(c) for c in rows)]).rstrip()


def parser() -> Parser:
    p = Parser(prog="layerkit-compare",
               description="Overlay the curves of several layerkit-train runs in one PNG "
                           "and print their settings and final metrics.")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders (with run.json)")
    p.add_argument("--out", default="compare.png", help="the PNG to write (default compare.png)")
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return p


def _compare(argv) -> int:
    a = parser().parse_args(argv)
    if not a.out.endswith(".png"):
        raise UsageError(f"--out {a.out}: the figure is a PNG; give a name ending in .png")
    found, skipped = [], []
    for folder in a.runs:
        if os.path.isdir(folder) and not os.path.isfile(os.path.join(folder, "run.json")):
            skipped.append(folder)  # e.g. runs/search among runs/*
            continue
        if not os.path.isdir(folder):
            raise UsageError(f"{folder}: no such run folder")
        found.append(load_run(folder))
    if not found:
        raise UsageError(f"no run folders among {' '.join(a.runs)} (a run folder has run.json)")
    print(format_table(found))
    keys = differing(found)
    labels = [" ".join([os.path.basename(os.path.normpath(r["folder"])),
                        *(f"{k}={r['args'].get(k)}" for k in keys[:3])]) for r in found]
    plots.plot_compare(list(zip(labels, (r["history"] for r in found), strict=True)), a.out)
    note = f"; skipped {len(skipped)} folder(s) without run.json" if skipped else ""
    print(f"compared {len(found)} runs; wrote {a.out}{note}")
    return 0


def main(argv=None) -> int:
    """``layerkit-compare``: 0 done, 2 a user error."""
    return run_command("layerkit-compare", _compare, argv)


if __name__ == "__main__":
    sys.exit(main())
