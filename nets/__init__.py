"""Nets composed from ``layers``: each holds ``params`` and has ``loss(X, y=None)``."""

from .base import Model
from .bert import BertClassifier, BertMLM, BertPretraining
from .captioning import CaptioningRNN
from .char_lm import CharMLPLM, CharRNNLM
from .conv import ResidualConvNet, ThreeLayerConvNet
from .distill import DistilledNet
from .fc import FullyConnectedNet, TwoLayerNet
from .gcn import GCN
from .seq2seq import Seq2SeqTransformer
from .rnn_classifier import CharRNNClassifier
from .transformer import TransformerLM
from . import autograd, modules  # noqa: F401  (nets.autograd, nets.modules are public)
from .autograd import Tensor, apply, apply_loss, no_grad
from .modules import Module, ModuleNet, Parameter, Sequential

__all__: list[str] = ["Model", "TwoLayerNet", "FullyConnectedNet", "ThreeLayerConvNet",
                      "ResidualConvNet", "CaptioningRNN", "CharMLPLM", "CharRNNLM", "GCN",
                      "TransformerLM", "Seq2SeqTransformer", "DistilledNet",
                      "Tensor", "apply", "apply_loss", "no_grad", "Module", "Parameter",
                      "Sequential", "ModuleNet", "BertMLM", "BertPretraining", "BertClassifier",
                      "CharRNNClassifier"]
