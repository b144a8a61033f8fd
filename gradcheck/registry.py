"""One entry per layer: forward, backward, a strategy for valid inputs, a medium-size
example, the naive reference where one exists, and which inputs the layer is linear in.

The entries are written beside their strategies, one file per family in
``gradcheck/families/``; importing this module imports them all.

The conformance suite (tests/test_conformance.py) runs every entry through the same
checks on every backend and dtype, and a test compares this registry with the public
names ``layers`` exports, so a new layer cannot skip the suite. The bad-input suite
(tests/test_bad_inputs.py, cases from ``gradcheck.badinput``) is generated from the same
entries: each declares its arguments' axes (``layout``) and what N = 0 means
(``empty_batch``).

``make(rng, dtype)`` returns a ``LayerCase`` big enough (~1e4-1e5 elements) for memory
and layout tests; ``strategy(dtype)`` draws small ones for property-based checks.
"""

from __future__ import annotations

from typing import Callable

import layers as L

from . import families  # noqa: F401  (registers every family's layers)
from .families._base import REGISTRY, LayerSpec, register


def registered_functions() -> set:
    """Every forward/backward/loss function object the registry covers."""
    fns = set()
    for s in REGISTRY.values():
        fns |= {s.forward, s.backward, *s.alt_backwards}
        if s.naive:
            fns |= set(s.naive)
    fns.discard(None)
    return fns


def exported_layer_functions() -> dict[str, Callable]:
    """The public layer functions of ``layers``: forwards, backwards and losses."""
    out = {}
    for name in L.__all__:
        fn = getattr(L, name)
        if callable(fn) and ("_forward" in name or "_backward" in name or
                             name.endswith("_loss")):
            out[name] = fn
    return out


__all__ = ["LayerSpec", "REGISTRY", "register", "registered_functions",
           "exported_layer_functions"]
