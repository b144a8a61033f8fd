"""One file per layer family: its hypothesis strategies, its medium-size ``make`` cases
and its registry entries, side by side.

Adding a layer to a family touches that family's file; a new family adds a file here and
one name to ``FAMILIES``. Importing this package registers every family's layers in
``gradcheck.registry.REGISTRY`` and gives ``gradcheck.strategies`` its public names.
"""

from importlib import import_module

FAMILIES = ("core", "losses", "norm", "conv", "sandwich", "attention", "recurrent",
            "temporal", "graph", "transformer", "distillation")

MODULES = tuple(import_module(f"{__name__}.{name}") for name in FAMILIES)
