"""Nets composed from ``layers``: each holds ``params`` and has ``loss(X, y=None)``."""

from .base import Model
from .fc import FullyConnectedNet, TwoLayerNet

__all__: list[str] = ["Model", "TwoLayerNet", "FullyConnectedNet"]
