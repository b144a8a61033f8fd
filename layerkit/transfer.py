"""Pretraining and transfer on the topic task: the pieces of the story, each a function.

    task = topic_task()
    tok = Tokenizer.train("\\n".join(task.pretrain_texts), num_merges=500)
    mlm, solver = pretrain_bert(task, tok, epochs=6)        # masked-LM pretraining
    report = mlm_report(mlm, tok, task.val_texts, task.pretrain_texts)  # vs unigram
    clf = BertClassifier(...); copy_params(mlm.params, clf)   # the encoder carries over
    freeze_lower(clf)                                         # optional: train the top only
    acc = finetune(clf, encode_labelled(...), ...)            # test accuracy

Everything trains through the kit's Solver (Adam, cosine schedule), so the figures are
those of the training command. Only training snippets are pretraining text (see
``layerkit.topic_task``), and fine-tuning selects its epoch on the validation split;
the test split is read once, at the end.
"""

from __future__ import annotations

import math

import numpy as np

from nets import BertClassifier, BertMLM, CharRNNClassifier, CharRNNLM
from optim import Solver

from .mlm import IGNORE, mlm_data, unigram_baseline
from .text import sequence_windows

__all__ = ["BERT_ARCH", "LSTM_ARCH", "copy_params", "freeze_lower", "pretrain_bert",
           "mlm_report", "char_ids", "pretrain_lstm", "finetune", "classifier_like"]

LN2 = math.log(2.0)
BERT_ARCH = {"embed_dim": 64, "num_heads": 4, "num_layers": 2, "ff_dim": 256, "max_len": 64}
LSTM_ARCH = {"wordvec_dim": 32, "hidden_dim": 128, "cell_type": "lstm"}


def copy_params(src: dict, model) -> list[str]:
    """Copy every entry of ``src`` whose name and shape ``model.params`` has (as
    model.params' dtype); returns the copied names. A name with another shape is an
    error (the two nets do not match)."""
    copied = []
    for k, w in src.items():
        if k in model.params:
            if tuple(w.shape) != tuple(model.params[k].shape):
                raise ValueError(f"copy_params: {k} has shape {tuple(w.shape)} in the source "
                                 f"and {tuple(model.params[k].shape)} in the model")
            model.params[k] = w.astype(model.params[k].dtype, copy=True)
            copied.append(k)
    return copied


def freeze_lower(model) -> set:
    """Freeze the lower layers and return the frozen names: for a BERT net the token and
    position embeddings and every block but the top one; for a recurrent classifier the
    embedding and the recurrent cell (only the head trains)."""
    if isinstance(model, BertClassifier):
        names = {"W_tok", "W_pos"} | {k for k in model.params
                                      if k.startswith("blk")
                                      and int(k[3:k.index(".")]) < model.num_layers}
    else:
        names = {"W_embed", "Wx", "Wh", "b"} & set(model.params)
    model.frozen = names
    return names


# --- BERT ---------------------------------------------------------------------------------

def pretrain_bert(task, tok, *, epochs=6, copies=2, batch_size=64, lr=2e-3, seed=0,
                  verbose=False, **arch):
    """A BertMLM pretrained on ``task.pretrain_texts`` with BERT's masking (``copies``
    masks of the text), validated on the masked validation snippets. Returns
    ``(model, solver)``; the solver's val accuracy is the masked-token accuracy."""
    arch = {**BERT_ARCH, **arch}
    max_len = arch["max_len"]
    train = mlm_data(tok, task.pretrain_texts, copies=copies, seed=seed, max_len=max_len)
    val = mlm_data(tok, task.val_texts, seed=seed + 1, max_len=max_len)
    model = BertMLM(tok.vocab_size, pad_id=tok.pad_id, seed=seed, **arch)
    solver = Solver(model, {"X_train": train["X"], "y_train": train["y"], "X_val": val["X"],
                            "y_val": val["y"]},
                    update_rule="adam", optim_config={"learning_rate": lr},
                    schedule="cosine", num_epochs=epochs, batch_size=batch_size,
                    num_train_samples=256, grad_clip=1.0, seed=seed, verbose=verbose,
                    print_every=0)
    solver.train()
    return model, solver


def mlm_report(model, tok, texts, train_texts, *, seed=1, batch_size=64) -> dict:
    """Masked-LM figures on ``texts`` (masked with BERT's recipe, seeded): masked-token
    accuracy, nats and bits per masked token, bits per masked character (the bits over
    the characters the masked tokens spell), and the same for the unigram baseline of
    ``train_texts``' token frequencies (``unigram``: the pretraining text)."""
    data = mlm_data(tok, texts, seed=seed, max_len=model.max_len)
    X, y = data["X"], data["y"]
    nats, correct = [], []
    for s in range(0, len(X), batch_size):
        scores = np.asarray(model.loss(X[s:s + batch_size]), dtype=np.float64)
        yb = y[s:s + batch_size]
        n, t = np.nonzero(yb != IGNORE)
        z = scores[n, t]  # (M, V)
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        nats.append(-logp[np.arange(len(n)), yb[n, t]])
        correct.append(z.argmax(axis=1) == yb[n, t])
    nats, correct = np.concatenate(nats), np.concatenate(correct)
    targets = y[y != IGNORE]
    chars = np.asarray([len(tok.tokens[i]) for i in targets], dtype=np.float64)
    return _figures(nats, correct, chars, targets, tok, tok.encode("\n".join(train_texts)))


def _figures(nats, correct, chars, targets, tok, train_ids) -> dict:
    uni = unigram_baseline(train_ids, targets, tok.vocab_size, tok.special_ids)
    counts = np.bincount(np.asarray(train_ids, dtype=np.int64), minlength=tok.vocab_size)
    p = counts.astype(np.float64) + 1.0
    p[list(tok.special_ids)] = 0.0
    p /= p.sum()
    uni_bits = -np.log2(p[targets])
    return {"masked_tokens": int(len(nats)), "accuracy": float(correct.mean()),
            "nats_per_token": float(nats.mean()), "bits_per_token": float(nats.mean() / LN2),
            "bits_per_char": float(nats.sum() / LN2 / chars.sum()),
            "unigram": {"accuracy": uni["accuracy"], "bits_per_token": uni["bits"],
                        "bits_per_char": float(uni_bits.sum() / chars.sum())}}


# --- the LSTM language model ------------------------------------------------------------

def char_ids(texts, chars: str, fallback: str = " ") -> np.ndarray:
    """(N, L) int64 ids of equal-length texts over ``chars``; a character not in it (a
    test snippet may hold one the pretraining text lacks) reads as ``fallback``."""
    stoi = {c: i for i, c in enumerate(chars)}
    fb = stoi[fallback]
    return np.asarray([[stoi.get(c, fb) for c in t] for t in texts], dtype=np.int64)


def pretrain_lstm(task, *, epochs=3, seq_len=64, batch_size=32, lr=2e-3, seed=0,
                  verbose=False, **arch):
    """CharRNNLM pretrained on the pretraining text (next-character prediction); its
    validation is the validation snippets. Returns ``(model, solver)``."""
    arch = {**LSTM_ARCH, **arch}
    text = "\n".join(task.pretrain_texts)
    chars = "".join(sorted(set(text)))
    Xt, yt = sequence_windows(char_ids([text], chars)[0], seq_len)
    Xv, yv = sequence_windows(char_ids(["\n".join(task.val_texts)], chars)[0], seq_len)
    model = CharRNNLM(chars, seed=seed, **arch)
    solver = Solver(model, {"X_train": Xt, "y_train": yt, "X_val": Xv, "y_val": yv},
                    update_rule="adam", optim_config={"learning_rate": lr},
                    schedule="cosine", num_epochs=epochs, batch_size=batch_size,
                    num_train_samples=256, grad_clip=5.0, seed=seed, verbose=verbose,
                    print_every=0)
    solver.train()
    return model, solver


# --- fine-tuning --------------------------------------------------------------------------

def classifier_like(pretrained, num_classes: int, seed: int = 0):
    """A fresh classifier with ``pretrained``'s architecture (BertMLM -> BertClassifier,
    CharRNNLM -> CharRNNClassifier), its params newly initialised (from scratch)."""
    if isinstance(pretrained, BertMLM):
        m = pretrained
        return BertClassifier(m.vocab_size, num_classes, max_len=m.max_len,
                              embed_dim=m.embed_dim, num_heads=m.num_heads,
                              num_layers=m.num_layers, ff_dim=m.ff_dim, pad_id=m.pad_id,
                              dtype=m.dtype, seed=seed)
    if isinstance(pretrained, CharRNNLM):
        m = pretrained
        return CharRNNClassifier(m.chars, num_classes, wordvec_dim=m.params["W_embed"].shape[1],
                                 hidden_dim=m.params["Wh"].shape[0], cell_type=m.cell_type,
                                 dtype=m.dtype, seed=seed)
    raise TypeError(f"classifier_like: no classifier for {type(pretrained).__name__}")


def finetune(model, data: dict, *, epochs=20, batch_size=16, lr=1e-3, seed=0,
             verbose=False):
    """Train ``model`` (a classifier) on ``data`` (X_train, y_train, X_val, y_val) with
    the Solver, keeping the params of the best validation epoch. Returns the Solver."""
    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": lr},
                    schedule="cosine", num_epochs=epochs, batch_size=batch_size,
                    num_train_samples=None, seed=seed, verbose=verbose, print_every=0)
    solver.train()
    return solver
