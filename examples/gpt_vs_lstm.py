"""Does the transformer LM beat the LSTM LM at equal compute time on this machine?

Both models are the training command's, built and trained by its own builders and recipe
(``layerkit-train --net lstm-lm`` and ``--net gpt-lm`` with their defaults: the same
text and split, the kit's Solver with Adam, a cosine schedule and gradient clipping; the
transformer's rate also warms up over its first 50 steps). For each budget, each model
gets a run whose cosine schedule spans that budget (its number of epochs is set from a
short calibration of its time per step), and its validation loss is measured after every
epoch, in bits per character on the held-out tail of the text (as the command reports
it: the LSTM on windows of 256 characters, the transformer on windows of its context,
64; each window starts cold, and the first few characters of a window cost the
transformer ~0.05 bits/char of its average over 64).

The clock is the process's CPU time with BLAS on one thread (the command's default): on
a machine shared with other jobs it is what the wall clock would read on an idle one,
and it charges both models the same way. The two models' epochs are interleaved (the one
with less time spent goes next), so both see the same load.

    python examples/gpt_vs_lstm.py                       # budgets 60, 120, 300 s
    python examples/gpt_vs_lstm.py --budgets 300 --out out/gpt_vs_lstm

Writes to --out: gpt_vs_lstm.png (validation bpc of both against CPU seconds, one line per
budget) and gpt_vs_lstm.json (every point, the settings).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from layerkit.text import char_lm_data  # noqa: E402
from layerkit.cli_args import resolve  # noqa: E402
from layerkit.net_table import NETS as NET_TABLE  # noqa: E402
from layerkit.train import mean_nll, solver_settings, typed_config, warm_allocator  # noqa: E402
from optim import Solver  # noqa: E402

LN2 = math.log(2.0)
NETS = ("lstm-lm", "gpt-lm")
NET_DEFAULTS = {n: NET_TABLE[n].defaults for n in NETS}


def resolve_args(net: str, seed: int = 0):
    """The training command's full configuration for ``--net net --seed seed``."""
    return resolve(["--net", net, "--seed", str(seed)]).config


def build(net: str, vocab, seed: int):
    """The model the training command builds for ``--net net`` (its default flags)."""
    a = resolve_args(net, seed)
    return NET_TABLE[net].build(typed_config(a), vocab)


def solver_for(net, model, data, epochs, seed):
    """The command's Solver for ``--net net`` (its recipe: rule, rate, schedule, warmup,
    clipping, batch), planned for ``epochs``."""
    return Solver(model, data, **{**solver_settings(resolve_args(net, seed)),
                                  "num_epochs": epochs, "verbose": False})


def seconds_per_epoch(net, data, vocab, seed, steps=10) -> float:
    """CPU seconds of an epoch's steps (loss and gradients; no update, no checks), from a
    few steps of a throwaway model: a first guess, corrected after the first epoch."""
    model = build(net, vocab, seed)
    batch = resolve_args(net, seed).batch_size
    X, y = data["X_train"][:batch], data["y_train"][:batch]
    model.loss(X, y)
    t = time.process_time()
    for _ in range(steps):
        model.loss(X, y)
    return (time.process_time() - t) / steps * (len(data["X_train"]) // batch)


class Run:
    """One model trained for one budget, an epoch at a time."""

    def __init__(self, net, budget, data, vocab, seed, epoch_seconds):
        self.net, self.budget, self.data = net, budget, data
        self.epochs = max(1, round(budget / (1.3 * epoch_seconds)))
        self.model = build(net, vocab, seed)
        self.solver = solver_for(net, self.model, data, self.epochs, seed)
        self.cpu = 0.0
        self.curve = []

    @property
    def done(self):
        return self.solver.epoch >= self.epochs

    def epoch(self):
        t = time.process_time()
        self.solver.train(max_epochs=1)
        self.cpu += time.process_time() - t
        if self.solver.epoch == 1:  # the plan from the first epoch's real cost (updates,
            # the Solver's accuracy checks): the cosine schedule spans the budget
            self.epochs = self.solver.num_epochs = max(1, round(self.budget / self.cpu))
        val = mean_nll(self.model, self.data["X_val"], self.data["y_val"])
        self.curve.append({"epoch": self.solver.epoch, "cpu_seconds": self.cpu,
                           "val_nats": val, "val_bpc": val / LN2})
        print(f"  {self.net:8s} budget {self.budget:4.0f} s  epoch {self.solver.epoch:2d}/"
              f"{self.epochs}  {self.cpu:6.1f} s  val {val / LN2:.3f} bpc", flush=True)


def crossing(a, b):
    """First CPU time where curve b's bpc drops below curve a's (linear interpolation
    of both), or None."""
    def at(curve, t):
        pts = [(0.0, None)] + [(p["cpu_seconds"], p["val_bpc"]) for p in curve]
        for (t0, v0), (t1, v1) in zip(pts, pts[1:]):
            if t0 <= t <= t1:
                return v1 if v0 is None else v0 + (v1 - v0) * (t - t0) / (t1 - t0)
        return None
    times = sorted({p["cpu_seconds"] for p in a + b})
    for t in times:
        va, vb = at(a, t), at(b, t)
        if va is not None and vb is not None and vb < va:
            return t
    return None


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.8, 4.4))
    colors = {"lstm-lm": "tab:blue", "gpt-lm": "tab:red"}
    longest = max(r["budget"] for r in results)
    for r in results:
        c = r["curve"]
        ax.plot([p["cpu_seconds"] for p in c], [p["val_bpc"] for p in c], marker="o",
                markersize=3, color=colors[r["net"]],
                alpha=1.0 if r["budget"] == longest else 0.45,
                label=f"{r['net']}, {r['budget']:.0f} s budget: {c[-1]['val_bpc']:.3f}")
    ax.set_xlabel("training time (CPU seconds, 1 BLAS thread)")
    ax.set_ylabel("validation bits per character")
    ax.set_title("LSTM vs transformer LM on the pydoc topics")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budgets", type=float, nargs="+", default=[60, 120, 300],
                    help="CPU seconds per run (default 60 120 300)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-chars", type=int, default=None, help="use only the corpus' start")
    ap.add_argument("--out", default="out/gpt_vs_lstm")
    ap.add_argument("--from-json", nargs="+", metavar="JSON",
                    help="no training: plot and summarise the results of earlier runs "
                         "(e.g. one process per budget, run side by side)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.from_json:
        runs = [json.loads(Path(f).read_text()) for f in args.from_json]
        results = [r for run in runs for r in run["results"]]
        args.budgets = sorted({r["budget"] for r in results})
        return summarise(results, args, out, runs[0]["settings"]["seconds_per_epoch"])
    warm_allocator()  # as the training command does: no page faults on every step
    with threadpool_limits(limits=1, user_api="blas"):
        datas = {}
        for net in NETS:
            a = resolve_args(net, args.seed)
            datas[net] = char_lm_data("rnn", seq_len=a.seq_len, val_seq_len=a.val_seq_len,
                                      max_chars=args.max_chars)
        epoch_s = {net: seconds_per_epoch(net, *datas[net], args.seed) for net in NETS}
        print("CPU seconds per epoch: " + ", ".join(f"{n} {s:.1f}" for n, s in epoch_s.items()))
        results = []
        for budget in args.budgets:
            runs = [Run(net, budget, *datas[net], args.seed, epoch_s[net]) for net in NETS]
            while not all(r.done for r in runs):
                min(filter(lambda r: not r.done, runs), key=lambda r: r.cpu).epoch()
            for r in runs:
                results.append({"net": r.net, "budget": budget, "epochs": r.epochs,
                                "curve": r.curve})
    return summarise(results, args, out, epoch_s)


def summarise(results, args, out, epoch_s):
    plot(results, out / "gpt_vs_lstm.png")
    (out / "gpt_vs_lstm.json").write_text(json.dumps(
        {"settings": {**{k: v for k, v in vars(args).items() if k != "from_json"},
                      "seconds_per_epoch": epoch_s,
                      "defaults": {n: NET_DEFAULTS[n] for n in NETS}},
         "results": results}, indent=1))
    print("\nbudget   lstm-lm bpc   gpt-lm bpc   (CPU seconds used)")
    for budget in args.budgets:
        lstm, gpt = (next(r for r in results if r["net"] == n and r["budget"] == budget)
                     for n in NETS)
        last = {n: r["curve"][-1] for n, r in (("lstm", lstm), ("gpt", gpt))}
        print(f"{budget:5.0f} s   " + "   ".join(
            f"{p['val_bpc']:.3f} ({p['cpu_seconds']:.0f} s)" for p in last.values()))
        t = crossing(lstm["curve"], gpt["curve"])
        print(f"         gpt-lm below lstm-lm from {t:.0f} s on" if t is not None
              else "         gpt-lm never below lstm-lm")
    print(f"wrote {out / 'gpt_vs_lstm.png'}, {out / 'gpt_vs_lstm.json'}")
    return results


if __name__ == "__main__":
    main()
