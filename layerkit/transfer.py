"""Pretraining and transfer on the topic task: the pieces of the story, each a function.

    task = topic_task()
    tok = Tokenizer.train("\\n".join(task.pretrain_texts), num_merges=500)
    mlm, solver = pretrain_bert(task, tok)                  # masked-LM pretraining
    report = mlm_report(mlm, tok, task.val_texts, task.pretrain_texts)  # vs unigram
    clf = classifier_like(mlm, len(task.classes))             # a fresh BertClassifier
    copy_params(mlm.params, clf)                              # the encoder carries over
    freeze_lower(clf)                                         # optional: train the top only
    idx = task.labelled(20)
    X = tok.encode_batch(task.train_texts, mlm.max_len)
    data = {"X_train": X[idx], "y_train": task.train_labels[idx], "X_val": ..., ...}
    solver = finetune(clf, data, probe_epochs=10)             # then solver.check_accuracy

Everything trains through the kit's Solver (Adam, cosine schedule), so the figures are
those of the training command. Only training snippets are pretraining text (see
``layerkit.topic_task``), and fine-tuning selects its epoch on the validation split;
the test split is read once, at the end.
"""

from __future__ import annotations

import math

import numpy as np

from nets import BertClassifier, BertMLM, BertPretraining, CharRNNClassifier, CharRNNLM
from optim import Solver, load_checkpoint

from .mlm import IGNORE, IS_NEXT, mlm_data, nsp_data, unigram_baseline
from .text import sequence_windows
from .tokenizer import Tokenizer
from .topic_task import topic_task

__all__ = ["BERT_ARCH", "LSTM_ARCH", "copy_params", "fresh_dropout_masks", "freeze_lower",
           "layer_decay", "pretrain_bert", "mlm_report", "nsp_accuracy", "char_ids",
           "pretrain_lstm", "finetune", "classifier_like", "mlm_splits", "bert_mlm_data",
           "bert_cls_data"]

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


def fresh_dropout_masks(model, seed) -> None:
    """Give ``model``'s dropout a seeded Generator, so each training step draws new masks
    (a net built with an int seed draws the same masks every call: gradient-checkable,
    but a fixed pattern, not dropout, in training). No dropout: nothing to do."""
    if model.dropout_param:
        model.dropout_param["seed"] = np.random.default_rng(seed)


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


def layer_decay(model, factor: float) -> dict:
    """Layer-wise rates for fine-tuning a BertClassifier: set and return
    ``model.lr_scale`` so the head and the final layernorm step at the full rate, the top
    block at ``factor`` times it, each block below at another ``factor`` down, and the
    embeddings at ``factor ** (num_layers + 1)``. ``factor`` 1 clears it; > 1 makes the
    lower layers the faster ones."""
    if not (isinstance(factor, (int, float)) and math.isfinite(factor) and factor > 0):
        raise ValueError(f"layer_decay: factor must be a finite number > 0; got {factor!r}")
    if not isinstance(model, BertClassifier):
        raise TypeError(f"layer_decay: model must be a BertClassifier; got "
                        f"{type(model).__name__}")
    depth = {"W_tok": 0, "W_pos": 0}  # a layer's height: the embeddings 0, block i at i
    depth.update({k: int(k[3:k.index(".")]) for k in model.params if k.startswith("blk")})
    top = model.num_layers + 1
    model.lr_scale = ({} if factor == 1 else
                      {k: factor ** (top - d) for k, d in depth.items()})
    return model.lr_scale


# --- BERT ---------------------------------------------------------------------------------

def mlm_splits(task, tok, *, copies: int, seed: int, max_len: int,
               mask_frac: float = 0.15, nsp: bool = False) -> dict:
    """The Solver's data for masked-LM pretraining: X_train, y_train (``copies`` masks of
    the pretraining snippets, ``mask_frac`` of the positions chosen; with ``nsp``, each
    snippet as a next-sentence pair, ``layerkit.mlm.nsp_data``), X_val, y_val (the
    validation snippets, whole and masked once with BERT's 15 %, whatever the options)."""
    build = nsp_data if nsp else mlm_data
    train = build(tok, task.pretrain_texts, copies=copies, seed=seed, max_len=max_len,
                  frac=mask_frac)
    val = mlm_data(tok, task.val_texts, seed=seed + 1, max_len=max_len)
    return {"X_train": train["X"], "y_train": train["y"], "X_val": val["X"], "y_val": val["y"]}


def pretrain_bert(task, tok, *, epochs=4, copies=8, batch_size=64, lr=2e-3, seed=0,
                  mask_frac=0.15, nsp=False, verbose=False, **arch):
    """A BertMLM pretrained on ``task.pretrain_texts`` with BERT's masking (``copies``
    masks of the text; ``mask_frac`` of the positions, 0.15 as BERT), validated on the
    masked validation snippets; with ``nsp``, a BertPretraining trained on masked
    next-sentence pairs of the same snippets (BERT's masked LM plus next-sentence
    prediction). Returns ``(model, solver)``; the solver's val accuracy is the
    masked-token accuracy."""
    arch = {**BERT_ARCH, **arch}
    data = mlm_splits(task, tok, copies=copies, seed=seed, max_len=arch["max_len"],
                      mask_frac=mask_frac, nsp=nsp)
    model = (BertPretraining if nsp else BertMLM)(tok.vocab_size, pad_id=tok.pad_id,
                                                 seed=seed, **arch)
    fresh_dropout_masks(model, seed)
    model.info.update(tok.to_tree())
    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": lr},
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


def nsp_accuracy(model, tok, texts, *, seed=1, batch_size=64) -> float:
    """Next-sentence accuracy of a ``nets.BertPretraining`` on the pairs ``nsp_data``
    makes of ``texts`` (seeded; half continue their text, so chance is 0.5)."""
    data = nsp_data(tok, texts, seed=seed, max_len=model.max_len)
    X, is_next = data["X"], data["y"][:, 0] == IS_NEXT
    pred = np.concatenate([np.asarray(model.nsp_scores(X[s:s + batch_size])).argmax(axis=1)
                           for s in range(0, len(X), batch_size)])
    return float((pred == is_next).mean())


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

def classifier_like(pretrained, num_classes: int, seed: int = 0, *, pooling: str = "mean",
                    dropout: float = 0.0):
    """A fresh classifier with ``pretrained``'s architecture (BertMLM -> BertClassifier,
    CharRNNLM -> CharRNNClassifier), its params newly initialised (from scratch), its head
    on the mean of the final states (``pooling``; 'cls' or 'last' for the first or last
    position). ``dropout`` (BERT only) draws fresh masks each step."""
    if isinstance(pretrained, BertMLM):
        m = pretrained
        model = BertClassifier(m.vocab_size, num_classes, max_len=m.max_len,
                               embed_dim=m.embed_dim, num_heads=m.num_heads,
                               num_layers=m.num_layers, ff_dim=m.ff_dim, dropout=dropout,
                               pooling=pooling, pad_id=m.pad_id, dtype=m.dtype, seed=seed)
        fresh_dropout_masks(model, seed)
        return model
    if isinstance(pretrained, CharRNNLM):
        m = pretrained
        return CharRNNClassifier(m.chars, num_classes, wordvec_dim=m.params["W_embed"].shape[1],
                                 hidden_dim=m.params["Wh"].shape[0], cell_type=m.cell_type,
                                 dtype=m.dtype, seed=seed, pooling=pooling)
    raise TypeError(f"classifier_like: no classifier for {type(pretrained).__name__}")


def finetune(model, data: dict, *, epochs=20, batch_size=16, lr=1e-3, seed=0,
             probe_epochs=0, probe_lr=3e-3, verbose=False):
    """Train ``model`` (a classifier) on ``data`` (X_train, y_train, X_val, y_val) with
    the Solver, keeping the params of the best validation epoch. Returns the Solver.

    ``probe_epochs`` > 0 first trains the head alone (W_cls, b_cls; everything else
    frozen) for that many epochs at ``probe_lr``, then everything that ``model.frozen``
    does not name: a linear probe, then fine-tuning (LP-FT, Kumar et al. 2022), so a
    random head does not push its first large gradients into pretrained layers."""
    def run(n, rate):
        solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": rate},
                        schedule="cosine", num_epochs=n, batch_size=batch_size,
                        num_train_samples=None, seed=seed, verbose=verbose, print_every=0)
        solver.train()
        return solver

    if probe_epochs:
        frozen = model.frozen
        model.frozen = set(model.params) - {"W_cls", "b_cls"}
        try:
            run(probe_epochs, probe_lr)
        finally:
            model.frozen = frozen
    return run(epochs, lr)


# --- the training command's data (layerkit.net_table rows bert-mlm, bert-cls) -------------

def bert_mlm_data(a):
    """``(data, build)`` of ``layerkit-train --net bert-mlm``: the masked pretraining text
    of the topic task and a BertMLM that carries its tokenizer in ``info`` (so the run's
    model.npz and checkpoints hold it)."""
    task = topic_task(seed=a.split_seed)
    tok = Tokenizer.train("\n".join(task.pretrain_texts), a.merges)
    L = BERT_ARCH["max_len"]
    data = mlm_splits(task, tok, copies=a.copies, seed=a.seed, max_len=L)

    def build():
        model = BertMLM(tok.vocab_size, max_len=L, embed_dim=a.embed, num_heads=a.heads,
                        num_layers=a.layers, dropout=a.dropout, pad_id=tok.pad_id, reg=a.reg,
                        dtype=a.dtype, seed=a.seed)
        fresh_dropout_masks(model, a.seed)
        model.info.update(tok.to_tree())
        return model
    return data, build


def bert_cls_data(a):
    """``(data, build)`` of ``layerkit-train --net bert-cls``: ``a.labels_per_class``
    labelled training snippets per class, the validation and test splits, and a
    BertClassifier; with ``a.init`` (a bert-mlm model.npz or checkpoint) its
    architecture, tokenizer and encoder come from there, and ``a.freeze == 'lower'``
    freezes all but the top block."""
    task = topic_task(seed=a.split_seed)
    arch = {"embed_dim": a.embed, "num_heads": a.heads, "num_layers": a.layers,
            "max_len": BERT_ARCH["max_len"]}
    params = {}
    if a.init:
        try:
            ck = load_checkpoint(a.init)
        except OSError as e:
            raise OSError(f"--init {a.init}: cannot read it ({e.strerror or e})") from None
        info = ck["model_state"]["state_dicts"][0]
        tok, params = Tokenizer.from_tree(info), ck["params"]
        arch = {"embed_dim": params["W_tok"].shape[1], "num_heads": int(info["num_heads"]),
                "num_layers": sum(k.endswith(".ln1_gamma") for k in params),
                "ff_dim": params["blk1.W_ff1"].shape[1], "max_len": params["W_pos"].shape[0]}
    else:
        tok = Tokenizer.train("\n".join(task.pretrain_texts), a.merges)
    idx = task.labelled(a.labels_per_class, seed=a.seed)
    X = [tok.encode_batch(t, arch["max_len"]) for t in
         (task.train_texts, task.val_texts, task.test_texts)]
    data = {"X_train": X[0][idx], "y_train": task.train_labels[idx], "X_val": X[1],
            "y_val": task.val_labels, "X_test": X[2], "y_test": task.test_labels}

    def build():
        model = BertClassifier(tok.vocab_size, len(task.classes), dropout=a.dropout,
                               pooling=a.pooling, pad_id=tok.pad_id, reg=a.reg, dtype=a.dtype,
                               seed=a.seed, **arch)
        copy_params(params, model)
        fresh_dropout_masks(model, a.seed)
        model.info.update(tok.to_tree())
        if a.freeze == "lower":
            freeze_lower(model)
        return model
    return data, build
