"""Nets composed from ``layers``: each holds ``params`` and has ``loss(X, y=None)``."""

__all__: list[str] = []
