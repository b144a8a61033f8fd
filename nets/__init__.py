"""Nets composed from ``layers``: each holds ``params`` and has ``loss(X, y=None)``."""

from .captioning import CaptioningRNN
from .char_lm import CharMLPLM, CharRNNLM

__all__: list[str] = ["CaptioningRNN", "CharMLPLM", "CharRNNLM"]
