"""The seed experiment: does an LSTM language model beat Bengio's MLP on the same budget?

Both character-level models train on the Python documentation topics that ship with
Python (``layerkit.text``), on the same split, for the same number of epochs with the
same number of predicted characters per update (MLP: batch * seq_len contexts; LSTM:
batch sequences of seq_len), through the kit's own ``Solver`` with the same settings
(Adam, a cosine schedule, global gradient-norm clipping at 5): the defaults are those of
``layerkit-train --net mlp-lm`` and ``--net lstm-lm``, so the final figures are the
training command's. Validation loss is measured after every epoch on the whole held-out
tail of the text, in nats and bits per character (bpc = nats / ln 2).

    python examples/char_lm_experiment.py                 # ~2 min on 2 cores
    python examples/char_lm_experiment.py --epochs 10 --hidden 256 --out out/big

Writes to --out: char_lm_curves.png (validation bpc of both models against characters
seen), char_lm_results.json (curves, final figures, settings) and samples.txt.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from layerkit.text import char_lm_data  # noqa: E402
from layerkit.train import mean_nll  # noqa: E402
from nets import CharMLPLM, CharRNNLM  # noqa: E402
from optim import Solver  # noqa: E402

LN2 = math.log(2.0)


def train(model, data, args, lr: float, batch: int, seed: int):
    """Train one model with the kit's Solver (Adam, cosine schedule over the whole run,
    global-norm clipping) exactly as the training command does, one epoch per call so
    that the validation loss is measured after every epoch (the schedule spans the whole
    run whatever the calls); return its validation curve."""
    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": lr},
                    schedule="cosine", grad_clip=args.clip, batch_size=batch,
                    num_epochs=args.epochs, seed=seed, verbose=False)
    chars_per_step = batch * (data["y_train"][0].size if data["y_train"].ndim > 1 else 1)
    curve = []
    t0 = time.perf_counter()
    while solver.epoch < args.epochs:
        seen = len(solver.loss_history)
        solver.train(max_epochs=1)
        val = mean_nll(model, data["X_val"], data["y_val"])
        train_loss = float(np.mean(solver.loss_history[seen:]))
        curve.append({"epoch": solver.epoch, "step": solver.iteration,
                      "chars_seen": solver.iteration * chars_per_step,
                      "train_bpc": train_loss / LN2, "val_nats": val, "val_bpc": val / LN2,
                      "seconds": time.perf_counter() - t0})
        print(f"  epoch {solver.epoch}  train {train_loss / LN2:.3f} bpc  "
              f"val {val:.4f} nats = {val / LN2:.3f} bpc  "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return curve


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for r in results.values():
        c = r["curve"]
        ax.plot([p["chars_seen"] / 1e6 for p in c], [p["val_bpc"] for p in c], marker="o",
                markersize=3, label=f"{r['label']} (final {c[-1]['val_bpc']:.3f})")
    ax.set_xlabel("training characters seen (millions)")
    ax.set_ylabel("validation bits per character")
    ax.set_title("Character LMs on the pydoc topics: validation loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="mlp,lstm",
                    help="comma-separated, from mlp, rnn, lstm, gru (default: mlp,lstm)")
    ap.add_argument("--epochs", type=int, default=6, help="passes over the training text")
    ap.add_argument("--batch", type=int, default=32, help="sequences per update (the MLP "
                    "gets batch * seq_len contexts: the same number of targets)")
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--val-seq-len", type=int, default=256, help="validation windows of the "
                    "recurrent models (each starts from a zero state)")
    ap.add_argument("--context", type=int, default=8, help="MLP context length")
    ap.add_argument("--embed", type=int, default=24, help="character embedding size (both)")
    ap.add_argument("--mlp-hidden", type=int, default=512)
    ap.add_argument("--hidden", type=int, default=192, help="recurrent state size")
    ap.add_argument("--lr-mlp", type=float, default=5e-3, help="peak Adam learning rate, MLP")
    ap.add_argument("--lr-rnn", type=float, default=1e-2,
                    help="peak Adam learning rate, recurrent models")
    ap.add_argument("--reg", type=float, default=0.0, help="L2 on the weight matrices (both)")
    ap.add_argument("--clip", type=float, default=5.0, help="max global gradient norm")
    ap.add_argument("--max-chars", type=int, default=None, help="use only the corpus' start")
    ap.add_argument("--prefix", default="The ")
    ap.add_argument("--sample-len", type=int, default=400)
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads (1 is safest on a "
                    "shared machine: a 2-thread GEMM collapses when a core is busy)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="out/char_lm")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    bad = [m for m in names if m not in ("mlp", "rnn", "lstm", "gru")]
    if bad:
        ap.error(f"--models: unknown {bad}; choose from mlp, rnn, lstm, gru")
    with threadpool_limits(limits=args.threads):
        return run(args, names, out)


def run(args, names, out):

    results, samples = {}, []
    for name in names:
        kind = "mlp" if name == "mlp" else "rnn"
        data, vocab = char_lm_data(kind, context=args.context, seq_len=args.seq_len,
                                   val_seq_len=args.val_seq_len, max_chars=args.max_chars)
        if name == "mlp":
            model = CharMLPLM(vocab.chars, context=args.context, embed_dim=args.embed,
                              hidden_dim=args.mlp_hidden, reg=args.reg, seed=args.seed)
            label = f"MLP (Bengio 2003), context {args.context}"
        else:
            model = CharRNNLM(vocab.chars, wordvec_dim=args.embed, hidden_dim=args.hidden,
                              cell_type=name, reg=args.reg, seed=args.seed)
            label = f"{name.upper()}, H = {args.hidden}"
        n_params = sum(int(p.size) for p in model.params.values())
        print(f"{label}: {n_params} params, {len(data['y_train'].reshape(-1))} training "
              f"targets, {len(data['y_val'].reshape(-1))} validation targets, "
              f"vocabulary {len(vocab)}", flush=True)
        t0 = time.perf_counter()
        if name == "mlp":  # the same predicted characters per update
            lr, batch = args.lr_mlp, args.batch * args.seq_len
        else:
            lr, batch = args.lr_rnn, args.batch
        curve = train(model, data, args, lr, batch, args.seed)
        seconds = time.perf_counter() - t0
        text = model.sample(args.prefix, args.sample_len, args.temperature, seed=args.seed)
        results[name] = {"label": label, "params": n_params, "seconds": seconds,
                         "val_nats": curve[-1]["val_nats"], "val_bpc": curve[-1]["val_bpc"],
                         "curve": curve}
        samples.append(f"=== {label}: val {curve[-1]['val_bpc']:.3f} bpc, temperature "
                       f"{args.temperature} ===\n{text}\n")

    plot(results, out / "char_lm_curves.png")
    (out / "char_lm_results.json").write_text(json.dumps(
        {"settings": vars(args), "results": results}, indent=1))
    (out / "samples.txt").write_text("\n".join(samples))

    print("\nmodel                               params   val nats   val bpc   seconds")
    for r in results.values():
        print(f"{r['label']:34s} {r['params']:8d}   {r['val_nats']:.4f}    {r['val_bpc']:.3f}"
              f"   {r['seconds']:7.1f}")
    print()
    print("\n".join(samples))
    if "mlp" in results and "lstm" in results:
        won = results["lstm"]["val_bpc"] < results["mlp"]["val_bpc"]
        print(f"LSTM {'beats' if won else 'does NOT beat'} the MLP on validation bpc "
              f"({results['lstm']['val_bpc']:.3f} vs {results['mlp']['val_bpc']:.3f}).")
    print(f"wrote {out / 'char_lm_curves.png'}, {out / 'char_lm_results.json'}, "
          f"{out / 'samples.txt'}")
    return results


if __name__ == "__main__":
    main()
