"""Nets composed from ``layers``: each holds ``params`` and has ``loss(X, y=None)``."""

from .conv import ResidualConvNet, ThreeLayerConvNet

__all__: list[str] = ["ThreeLayerConvNet", "ResidualConvNet"]
