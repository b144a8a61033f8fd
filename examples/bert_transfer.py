"""Pretraining and transfer learning, the whole story on Python's own documentation text.

1. The task (``layerkit.topic_task``): which of 8 groups of pydoc topics a 128-character
   snippet comes from; 60 test and 40 validation snippets per class, the rest (2091
   snippets) the training split, which is also the pretraining text. ``--extra-chars``
   adds the standard library's docstrings (``layerkit.stdlib_text``, minus anything that
   shares 32 characters with a validation or test snippet); measured, they do not help
   at this budget (README), so the default is none.
2. A byte-pair tokenizer learned from the pretraining text (``layerkit.tokenizer``).
3. Masked-LM pretraining of a small BERT (``nets.BertMLM``, BERT's 15 % / 80-10-10
   recipe; ``--nsp`` adds BERT's next-sentence prediction, ``nets.BertPretraining``),
   reported against the unigram baseline; and the kit's LSTM language model
   (``nets.CharRNNLM``) pretrained on the same text.
4. Fine-tuning with 5, 20 and 100 labels per class: from scratch, from the pretrained
   encoder (all layers), and with the lower layers frozen; the same for the LSTM (its
   head on the mean of its hidden states: the last state holds only the last few
   characters, and left the LSTM near chance at any number of labels). Every
   run, scratch included, first trains its head alone (a linear probe, ``--probe-epochs``)
   and then fine-tunes, through the Solver (Adam, cosine schedule), keeping its best
   validation epoch; the test split is read once per run, at the end.

    python examples/bert_transfer.py                  # ~10 min on 2 cores
    python examples/bert_transfer.py --pretrain-epochs 48 --label-seeds 0,1,2
                                                      # the README's table (~45 min)
    python examples/bert_transfer.py --quick          # a smoke run (~1 min)

Writes to --out: bert_transfer.json (every figure and setting) and bert_transfer.png (the
masked-LM loss and the fine-tuning validation accuracy with 20 labels per class).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from layerkit.cli_types import nonneg_float, positive_float, positive_int, probability  # noqa: E402
from layerkit.plots import plot_transfer  # noqa: E402
from layerkit.tokenizer import Tokenizer  # noqa: E402
from layerkit.topic_task import topic_task  # noqa: E402
from layerkit.transfer import (BERT_ARCH, char_ids, classifier_like, copy_params,  # noqa: E402
                               finetune, freeze_lower, layer_decay, mlm_report,
                               nsp_accuracy, pretrain_bert, pretrain_lstm)
from optim import history_dict  # noqa: E402

MODES = ("scratch", "pretrained, all layers", "pretrained, lower layers frozen")


def _runs(name, pretrained, inputs, task, labels_per_class, a, histories, say, lr):
    """Fine-tune ``pretrained``'s classifier in each mode for each labelled-set size, on
    each labelled set of ``a.label_seeds``; returns {k: {mode: [test accuracy per set]}}."""
    X_train, X_val, X_test = inputs
    out = {}
    for k in labels_per_class:
        out[k] = {mode: [] for mode in MODES}
        for s in a.label_seeds:
            idx = task.labelled(k, seed=s)
            data = {"X_train": X_train[idx], "y_train": task.train_labels[idx],
                    "X_val": X_val, "y_val": task.val_labels}
            epochs = max(a.min_epochs, a.steps * a.batch_size // len(idx))  # same budget
            for mode in MODES:
                model = classifier_like(pretrained, len(task.classes), seed=a.seed,
                                        dropout=a.finetune_dropout)
                if mode != "scratch":
                    copy_params(pretrained.params, model)
                if mode.endswith("frozen"):
                    freeze_lower(model)
                if name == "BERT":
                    model.reg = a.finetune_reg
                    if mode != "scratch" and a.layer_decay != 1:
                        layer_decay(model, a.layer_decay)
                solver = finetune(model, data, epochs=epochs, batch_size=a.batch_size, lr=lr,
                                  probe_epochs=a.probe_epochs, probe_lr=3 * lr, seed=a.seed)
                acc = solver.check_accuracy(X_test, task.test_labels)
                out[k][mode].append(acc)
                if k == 20 and s == a.label_seeds[0]:
                    histories[f"{name}, {mode}"] = history_dict(solver)
                say(f"  {name:5s} {k:3d} labels/class (set {s})  {mode:33s} test {acc:.3f} "
                    f"(val {solver.best_val_acc:.3f}, {epochs} epochs)")
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--merges", type=int, default=500, help="byte-pair merges")
    p.add_argument("--extra-chars", type=int, default=0,
                   help="characters of the stdlib's docstrings added to the pretraining text")
    p.add_argument("--pretrain-epochs", type=positive_int, default=12,
                   help="12 tells the story in ~10 min; 48 (25 min more) is what lifts the "
                        "gain at 20 labels past +10 points (README)")
    p.add_argument("--copies", type=int, default=8, help="masks of the text per epoch")
    p.add_argument("--pretrain-batch-size", type=positive_int, default=64,
                   help="masked sequences per pretraining step")
    p.add_argument("--embed-dim", type=positive_int, default=BERT_ARCH["embed_dim"],
                   help="BERT's width (128 with --ff-dim 512 is BERT-Tiny's; README)")
    p.add_argument("--ff-dim", type=positive_int, default=BERT_ARCH["ff_dim"],
                   help="BERT's feed-forward width")
    p.add_argument("--dropout", type=float, default=0.1, help="BERT's, in pretraining")
    p.add_argument("--mask-frac", type=probability, default=0.15,
                   help="positions masked in pretraining (BERT's 0.15; the report masks 0.15)")
    p.add_argument("--nsp", action="store_true",
                   help="pretrain with next-sentence prediction too (BERT's two tasks; "
                        "nets.BertPretraining)")
    p.add_argument("--lstm-epochs", type=int, default=4)
    p.add_argument("--labels", default="5,20,100", help="labels per class to try")
    p.add_argument("--steps", type=int, default=200, help="fine-tuning steps per run")
    p.add_argument("--min-epochs", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--probe-epochs", type=int, default=10,
                   help="epochs of the head alone (rate 3x) before fine-tuning; 0: none")
    p.add_argument("--finetune-lr", type=float, default=1e-3)
    p.add_argument("--finetune-reg", type=nonneg_float, default=0.0,
                   help="BERT's L2 weight decay in fine-tuning (every arm)")
    p.add_argument("--layer-decay", type=positive_float, default=1.0,
                   help="layer-wise rates from the pretrained encoder: each layer down steps "
                        "at this factor of the one above (1: one rate; README)")
    p.add_argument("--finetune-dropout", type=float, default=0.0,
                   help="BERT's drop probability in fine-tuning (every arm)")
    p.add_argument("--lstm-finetune-lr", type=float, default=1e-2,
                   help="the LSTM's rate (its language model trains at 1e-2 too)")
    p.add_argument("--seed", type=int, default=0, help="weights, masks, minibatch order")
    p.add_argument("--label-seeds", default="0",
                   help="labelled training sets to average over, e.g. 0,1,2")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS threads (1 is fastest for these small matrices on a busy machine)")
    p.add_argument("--quick", action="store_true", help="a smoke run of the whole story")
    p.add_argument("--out", default="examples/results")
    a = p.parse_args(argv)
    if a.quick:
        a.merges, a.pretrain_epochs, a.lstm_epochs, a.steps, a.min_epochs = 100, 1, 1, 20, 1
        a.probe_epochs, a.copies, a.extra_chars = 1, 1, min(a.extra_chars, 20_000)
        a.labels = "5,20"
    labels_per_class = [int(k) for k in a.labels.split(",")]
    a.label_seeds = [int(s) for s in a.label_seeds.split(",")]
    start = time.perf_counter()

    def say(line):
        print(f"[{time.perf_counter() - start:6.1f} s] {line}", flush=True)

    with threadpool_limits(limits=a.threads, user_api="blas"):
        task = topic_task(seed=a.seed, extra_chars=a.extra_chars)
        tok = Tokenizer.train("\n".join(task.pretrain_texts), a.merges)
        say(f"task: {len(task.classes)} classes, {len(task.train_texts)} training snippets "
            f"and {len(task.extra_texts)} docstring snippets (the pretraining text), "
            f"{len(task.test_texts)} test; tokenizer: {tok.vocab_size} tokens")
        mlm, solver = pretrain_bert(task, tok, epochs=a.pretrain_epochs, copies=a.copies,
                                    batch_size=a.pretrain_batch_size,
                                    dropout=a.dropout, seed=a.seed, embed_dim=a.embed_dim,
                                    ff_dim=a.ff_dim, mask_frac=a.mask_frac, nsp=a.nsp)
        report = mlm_report(mlm, tok, task.val_texts, task.pretrain_texts)
        uni = report["unigram"]
        say(f"BERT masked LM on the validation snippets: accuracy {report['accuracy']:.3f} "
            f"(unigram {uni['accuracy']:.3f}), {report['bits_per_token']:.3f} bits per masked "
            f"token (unigram {uni['bits_per_token']:.3f}), {report['bits_per_char']:.3f} bits "
            f"per masked character (unigram {uni['bits_per_char']:.3f})")
        if a.nsp:
            report["nsp_accuracy"] = nsp_accuracy(mlm, tok, task.val_texts)
            say(f"BERT next-sentence accuracy on pairs of the validation snippets: "
                f"{report['nsp_accuracy']:.3f} (chance 0.5)")
        lm, lm_solver = pretrain_lstm(task, epochs=a.lstm_epochs, seed=a.seed)
        say(f"LSTM LM: next-character accuracy on the validation snippets "
            f"{lm_solver.val_acc_history[-1]:.3f}")

        histories = {}
        L = mlm.max_len
        bert_inputs = [tok.encode_batch(t, L) for t in
                       (task.train_texts, task.val_texts, task.test_texts)]
        table = {"BERT": _runs("BERT", mlm, bert_inputs, task, labels_per_class, a,
                               histories, say, a.finetune_lr)}
        lstm_inputs = [char_ids(t, lm.chars) for t in
                       (task.train_texts, task.val_texts, task.test_texts)]
        table["LSTM"] = _runs("LSTM", lm, lstm_inputs, task, labels_per_class, a,
                              histories, say, a.lstm_finetune_lr)

    seconds = time.perf_counter() - start
    sets = len(a.label_seeds)
    print(f"\ntest accuracy on {len(task.test_texts)} snippets, 8 classes (chance 0.125)"
          + (f"; mean over {sets} labelled sets (min-max)" if sets > 1 else ""))
    print(f"| net | labels/class | {' | '.join(MODES)} |")
    print("| --- | --- |" + " --- |" * len(MODES))

    def cell(accs):
        mean = sum(accs) / len(accs)
        return f"{mean:.3f}" + (f" ({min(accs):.3f}-{max(accs):.3f})" if len(accs) > 1 else "")
    for net, rows in table.items():
        for k, accs in rows.items():
            print(f"| {net} | {k} | " + " | ".join(cell(accs[m]) for m in MODES) + " |")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    plot_transfer(history_dict(solver), {k: h for k, h in histories.items()
                                         if k.startswith("BERT")},
                  str(out / "bert_transfer.png"),
                  baseline=uni["bits_per_token"] * 0.6931471805599453,
                  title="BERT on the pydoc topics: masked-LM pretraining, then 20 labels "
                        "per class")
    (out / "bert_transfer.json").write_text(json.dumps(
        {"settings": vars(a), "mlm": report, "table": table, "seconds": seconds,
         "vocab_size": tok.vocab_size}, indent=1))
    print(f"\n{seconds:.0f} s; wrote {out / 'bert_transfer.png'} and "
          f"{out / 'bert_transfer.json'}")


if __name__ == "__main__":
    main()
