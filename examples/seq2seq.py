"""An encoder-decoder transformer (every backward by hand) learns to turn numbers written
in English words into digits; exact match of greedy decoding on held-out numbers.

    python examples/seq2seq.py               # numbers in words -> digits: 0.998
    python examples/seq2seq.py --task sort   # sort sequences of 2..10 letters: 1.000

"forty two thousand seven" -> 42007: the net must place the zeros that no word names.
The test numbers are never seen in training. Prints the exact-match accuracy (the whole
output sequence right, EOS included) and a few decoded examples, greedy and sampled.
"""

import argparse
import time

import numpy as np

from layerkit.seqdata import detok, exact_match, sort_task, words_task
from layerkit.train import blas_threads
from nets import Seq2SeqTransformer
from optim import Solver


def decode_all(model, X, max_len, batch=500, **kw):
    return np.concatenate([model.decode(X[i:i + batch], max_len=max_len, **kw)
                           for i in range(0, len(X), batch)])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", choices=("words", "sort"), default="words")
    ap.add_argument("--num-train", type=int, default=20000)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--embed", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--layers", type=int, default=2, help="encoder and decoder layers each")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    make = words_task if args.task == "words" else sort_task
    data = make(num_train=args.num_train, seed=args.seed)
    src, tgt = data["src_vocab"], data["tgt_vocab"]
    S, T = data["X_train"].shape[1], data["y_train"].shape[1]
    model = Seq2SeqTransformer(len(src), len(tgt), max_src_len=S, max_tgt_len=T,
                               embed_dim=args.embed, num_heads=args.heads,
                               num_enc_layers=args.layers, num_dec_layers=args.layers,
                               seed=args.seed)
    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": args.lr},
                    num_epochs=args.epochs, batch_size=args.batch_size, schedule="cosine",
                    grad_clip=1.0, num_train_samples=500, print_every=0, verbose=True,
                    seed=args.seed)
    solver.train()  # best validation epoch (per-token accuracy of greedy decoding)
    pred = decode_all(model, data["X_test"], T)
    acc = exact_match(pred, data["y_test"])
    sep = "" if args.task == "words" else " "
    for i in range(4):
        print(f"  {detok(data['X_test'][i], src)!r:>62} -> {detok(pred[i], tgt, sep)}")
    sampled = model.decode(data["X_test"][:4], max_len=T, temperature=1.0, seed=args.seed)
    print("  sampled at temperature 1:", ", ".join(detok(s, tgt, sep) for s in sampled))
    print(f"exact match on {len(pred)} held-out sequences ({args.task}): {acc:.3f} "
          f"({time.perf_counter() - t0:.0f} s)")
    return acc


if __name__ == "__main__":
    with blas_threads(1):  # small matrices: one BLAS thread is fastest, and on a busy
        main()             # machine spinning BLAS threads cost 7x here
