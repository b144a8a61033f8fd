"""The nets ``layerkit-train`` can build: one table, one row per ``--net``.

Adding a net to the command is local to this file:

1. a builder: ``build(a, input_shape, num_classes)`` for image nets, ``build(a, vocab)``
   for text nets (``a`` is the run's configuration, an ``argparse.Namespace`` with the
   common flags and the net's own options, ``dtype`` a numpy dtype);
2. a row in ``NETS``: the builder, the options the net reads (their flags are refused for
   every other net), its defaults (also of the common flags: lr, epochs, batch_size, ...;
   an option with no value in ``OPTION_DEFAULTS`` needs one here), and for a language
   model how the text is cut (``text="mlp"``: fixed contexts, ``text="rnn"``: sequences);
3. a row in ``OPTIONS`` for each option no other net has yet (its flag, type and help).

A text net also needs ``sample(prefix, n, temperature, seed=)`` taking and returning text,
or a ``sample`` function in its row: ``sample(model, vocab, a) -> str``.
A net with its own data (``load``, e.g. the BERT nets on the topic task) builds its
data and model itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from . import cli_types as ty

__all__ = ["Net", "NETS", "OPTIONS", "LM_OPTIONS", "IMAGE_OPTIONS", "build_model", "dims"]


@dataclass(frozen=True)
class Net:
    """One ``--net``: how to build it, which options it reads, and its defaults."""

    build: Callable
    options: tuple[str, ...]
    defaults: dict = field(default_factory=dict)
    text: str | None = None  # None: an image classifier; "mlp" / "rnn": a character LM
    help: str = ""
    sample: Callable | None = None  # (model, vocab, a) -> str, for a model that samples ids
    # a net with its own data: load(a) -> (data, build), build() -> the model (then
    # ``data`` names it, e.g. "topics", and the builder above is not called)
    load: Callable | None = None
    data: str | None = None


@dataclass(frozen=True)
class Option:
    """A net option's flag: ``--hidden`` for ``hidden``; ``type`` parses and checks it."""

    type: Callable
    help: str
    choices: tuple | None = None


def dims(hidden: str | list) -> list[int]:
    """'100,100' -> [100, 100] (``--hidden`` is checked by its type when parsed)."""
    return [int(h) for h in hidden.split(",")] if isinstance(hidden, str) else list(hidden)


def one_size(a) -> int:
    """The single hidden size of a net that has one hidden layer."""
    sizes = dims(a.hidden)
    if len(sizes) != 1:
        raise ty.UsageError(f"--hidden {a.hidden}: --net {a.net} has one hidden layer; "
                            "give one size, e.g. --hidden 100")
    return sizes[0]


# --- builders ---------------------------------------------------------------------------


def _fc(a, input_shape, num_classes):
    from nets import FullyConnectedNet

    return FullyConnectedNet(dims(a.hidden), input_dim=math.prod(input_shape),
                             num_classes=num_classes, dropout_keep_ratio=a.dropout_keep,
                             normalization=a.normalization, reg=a.reg,
                             weight_scale=a.weight_scale, dtype=a.dtype, seed=a.seed)


def _two_layer(a, input_shape, num_classes):
    from nets import TwoLayerNet

    return TwoLayerNet(input_dim=math.prod(input_shape), hidden_dim=one_size(a),
                       num_classes=num_classes, weight_scale=a.weight_scale, reg=a.reg,
                       dtype=a.dtype, seed=a.seed)


def _conv(a, input_shape, num_classes):
    from nets import ThreeLayerConvNet

    return ThreeLayerConvNet(input_dim=tuple(input_shape), num_filters=a.num_filters,
                             filter_size=a.filter_size, hidden_dim=one_size(a),
                             num_classes=num_classes, weight_scale=a.weight_scale, reg=a.reg,
                             dtype=a.dtype, seed=a.seed)


def _resnet(a, input_shape, num_classes):
    from nets import ResidualConvNet

    return ResidualConvNet(input_dim=tuple(input_shape), num_filters=a.num_filters,
                           num_blocks=a.num_blocks, num_classes=num_classes,
                           weight_scale=a.weight_scale, reg=a.reg, dtype=a.dtype, seed=a.seed)


def _mlp_lm(a, vocab):
    from nets import CharMLPLM

    return CharMLPLM(vocab.chars, context=a.context, embed_dim=a.embed,
                     hidden_dim=one_size(a), reg=a.reg, dtype=a.dtype, seed=a.seed)


def _rnn_lm(cell: str):
    def build(a, vocab):
        from nets import CharRNNLM

        return CharRNNLM(vocab.chars, wordvec_dim=a.embed, hidden_dim=one_size(a),
                         cell_type=cell, reg=a.reg, dtype=a.dtype, seed=a.seed)
    return build


def _gpt_lm(a, vocab):
    """A GPT-style TransformerLM over the text's characters; it sees seq_len at a time.
    With --dropout, fresh masks every step (from a generator seeded by --seed)."""
    import numpy as np

    from nets import TransformerLM

    if a.embed % a.heads:
        raise ty.UsageError(f"--heads {a.heads}: must divide --embed {a.embed}")
    model = TransformerLM(len(vocab.chars), max_len=max(a.seq_len, a.val_seq_len),
                          embed_dim=a.embed, num_heads=a.heads, num_layers=a.layers,
                          dropout=a.dropout, tie_weights=a.tie_weights, reg=a.reg,
                          dtype=a.dtype, seed=a.seed, weight_scale=a.weight_scale)
    if model.dropout_param:
        model.dropout_param["seed"] = np.random.default_rng(a.seed)
    return model


def _sample_ids(model, vocab, a) -> str:
    """The prefix and sample_len sampled characters of a model that samples token ids; it
    starts from the topic separator, as the recurrent LMs start from their pad char."""
    ids = model.sample(list(vocab.encode("\n" + a.prefix)), a.sample_len, a.temperature,
                       seed=a.seed)
    return vocab.decode(ids[1:])


def _bert_mlm(a):
    from .transfer import bert_mlm_data

    return bert_mlm_data(a)


def _bert_cls(a):
    from .transfer import bert_cls_data

    return bert_cls_data(a)


# --- the table --------------------------------------------------------------------------

# Character LMs on the pydoc topics (~0.42 M training characters). Same budget for every
# cell: 6 epochs, 2048 predicted characters per update (the MLP takes 2048 contexts, the
# recurrent nets 32 sequences of 64), Adam with a cosine schedule, global norm clipped at 5.
_RNN_LM = dict(hidden="192", embed=24, seq_len=64, lr=1e-2, epochs=6, batch_size=32,
               schedule="cosine", grad_clip=5.0)

NETS: dict[str, Net] = {
    # the fc defaults reach >= 97 % validation accuracy on digits in about a second
    "fc": Net(_fc, ("hidden", "weight_scale", "dropout_keep", "normalization"),
              dict(hidden="100,100", weight_scale=0.1, lr=2e-3, epochs=30, batch_size=50,
                   reg=1e-3, lr_decay=0.95),
              help="FullyConnectedNet (any depth, dropout, batch/layer norm)"),
    "two-layer": Net(_two_layer, ("hidden", "weight_scale"),
                     dict(hidden="100", weight_scale=0.1, lr=2e-3, epochs=30, batch_size=50,
                          reg=1e-3, lr_decay=0.95), help="TwoLayerNet"),
    # ThreeLayerConvNet on digits: 0.988 validation accuracy in 15 epochs (~2 s)
    "conv": Net(_conv, ("hidden", "weight_scale", "num_filters", "filter_size"),
                dict(hidden="128", weight_scale=0.05, lr=5e-3, epochs=15, batch_size=32,
                     reg=1e-4, lr_decay=0.8, num_filters=32, filter_size=3),
                help="ThreeLayerConvNet (conv-relu-pool-affine-relu-affine)"),
    # ResidualConvNet (He-initialised when weight_scale is None)
    "resnet": Net(_resnet, ("weight_scale", "num_filters", "num_blocks"),
                  dict(weight_scale=None, lr=5e-3, epochs=10, batch_size=32, reg=1e-4,
                       lr_decay=0.8, num_filters=16, num_blocks=2),
                  help="ResidualConvNet (batchnorm residual blocks)"),
    "mlp-lm": Net(_mlp_lm, ("hidden", "embed", "context"),
                  dict(hidden="512", embed=24, context=8, lr=5e-3, epochs=6, batch_size=2048,
                       schedule="cosine", grad_clip=5.0),
                  text="mlp", help="CharMLPLM (Bengio et al. 2003)"),
    "rnn-lm": Net(_rnn_lm("rnn"), ("hidden", "embed", "seq_len"), _RNN_LM, text="rnn",
                  help="CharRNNLM, vanilla RNN cell"),
    "lstm-lm": Net(_rnn_lm("lstm"), ("hidden", "embed", "seq_len"), _RNN_LM, text="rnn",
                   help="CharRNNLM, LSTM cell"),
    "gru-lm": Net(_rnn_lm("gru"), ("hidden", "embed", "seq_len"), _RNN_LM, text="rnn",
                  help="CharRNNLM, GRU cell"),
    # TransformerLM (GPT-2 layout: pre-norm blocks, learned positions, tied embedding).
    # Selected on validation bits/char after 60 CPU seconds (examples/gpt_vs_lstm.py, the
    # table in README.md): init std 0.1 instead of GPT-2's 0.02 (too small at E = 64: the
    # first few hundred steps stall near the bigram loss), lr 2e-2 after a 50-step warmup
    # (3e-3 without one before: 1.944 -> 1.886); wider, deeper, smaller batches, untied,
    # fewer heads: no better at 60 s; no dropout (0.1 costs 0.15 at 120 s: it underfits)
    "gpt-lm": Net(_gpt_lm, ("embed", "seq_len", "heads", "layers", "tie_weights", "dropout",
                           "weight_scale"),
                  dict(embed=64, heads=4, layers=2, seq_len=64, val_seq_len=64, lr=2e-2,
                       warmup_iters=50, epochs=6, batch_size=32, schedule="cosine",
                       grad_clip=1.0, weight_scale=0.1, dropout=0.0),
                  text="rnn", sample=_sample_ids,
                  help="TransformerLM (GPT: causal self-attention blocks)"),
    # BERT on the topic task (layerkit.topic_task): masked-LM pretraining on the training
    # snippets, then fine-tuning on a few labels per class from its model.npz
    "bert-mlm": Net(None, ("embed", "heads", "layers", "merges", "copies", "dropout"),
                    dict(embed=64, heads=4, layers=2, merges=500, copies=8, dropout=0.1,
                         lr=2e-3, epochs=4, batch_size=64, schedule="cosine",
                         grad_clip=1.0),
                    load=_bert_mlm, data="topics",
                    help="BertMLM: masked-LM pretraining (BERT's 15 %% / 80-10-10 recipe)"),
    "bert-cls": Net(None, ("embed", "heads", "layers", "merges", "dropout", "init",
                           "labels_per_class", "freeze", "pooling"),
                    dict(embed=64, heads=4, layers=2, merges=500, dropout=0.0, lr=1e-3,
                         epochs=20, batch_size=16, schedule="cosine", labels_per_class=20,
                         init=None, freeze="none", pooling="mean"),
                    load=_bert_cls, data="topics",
                    help="BertClassifier on the topic task, from scratch or --init a "
                         "bert-mlm model.npz (--freeze lower: train the top block only)"),
}

# Options some nets read (the flag is --name-with-dashes), with the value used when
# neither the command line nor the net's defaults give one.
OPTIONS: dict[str, Option] = {
    "hidden": Option(ty.sizes, "hidden sizes, comma-separated, e.g. 100,100"),
    "weight_scale": Option(ty.positive_float, "std of the initial weights"),
    "dropout_keep": Option(ty.probability, "dropout keep probability in (0, 1]; 1 = off"),
    "normalization": Option(str, "normalization layers", ("batchnorm", "layernorm")),
    "num_filters": Option(ty.positive_int, "number of conv filters"),
    "filter_size": Option(ty.positive_int, "conv filter size"),
    "num_blocks": Option(ty.positive_int, "residual blocks"),
    "context": Option(ty.positive_int, "characters of context"),
    "embed": Option(ty.positive_int, "character embedding size"),
    "seq_len": Option(ty.positive_int, "training sequence length"),
    "heads": Option(ty.positive_int, "attention heads (dividing --embed)"),
    "layers": Option(ty.positive_int, "transformer blocks"),
    "tie_weights": Option(bool, "the output layer is the token embedding (default: tied)"),
    "merges": Option(ty.nonneg_int, "byte-pair merges of the tokenizer (0: characters)"),
    "copies": Option(ty.positive_int, "masks of the pretraining text per epoch"),
    "dropout": Option(ty.nonneg_float, "drop probability in [0, 1)"),
    "init": Option(str, "a bert-mlm model.npz (or checkpoint) to start from"),
    "labels_per_class": Option(ty.positive_int, "labelled training snippets per class"),
    "freeze": Option(str, "freeze the embeddings and all blocks but the top one",
                     ("none", "lower")),
    "pooling": Option(str, "the sequence summary the head reads", ("mean", "cls")),
}
OPTION_DEFAULTS = dict(hidden="100", weight_scale=1e-2, dropout_keep=1.0, normalization=None,
                       num_filters=32, filter_size=7, num_blocks=2, context=8, embed=24,
                       seq_len=64, heads=4, layers=2, tie_weights=True, merges=500, copies=8,
                       dropout=0.0, init=None, labels_per_class=20, freeze="none",
                       pooling="mean")

# Options of every text net (the sample printed at the end, the text's length) and of
# every image net (the data's size and folder).
LM_OPTIONS = ("max_chars", "sample_len", "temperature", "prefix", "val_seq_len")
IMAGE_OPTIONS = ("num_train", "data_dir")


def build_model(a, input_shape, num_classes):
    """The image net named ``a.net`` for inputs of ``input_shape`` (one example)."""
    return NETS[a.net].build(a, input_shape, num_classes)
