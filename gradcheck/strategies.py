"""Hypothesis strategies that draw valid inputs for layers, in general position.

Hypothesis's own ``arrays`` reuse one fill value for most elements; on a max-pool or a
relu that puts ties and kinks in nearly every example, and a correct layer fails its
gradient check for reasons that have nothing to do with its backward. The arrays drawn
here are *generic*: every value distinct, with a gap between any two values far larger
than the checker's step, and (where asked) at least ``low`` away from zero, the kink of
relu and friends. Each layer strategy returns a ``LayerCase``: the forward's positional
inputs and an upstream gradient, ready for ``check_layer(fwd, bwd, *case.inputs,
dout=case.dout)``.

The strategies live beside their layers' registry entries, one file per family in
``gradcheck/families/``; this module gathers their public names in one namespace.

Profiles: ``register_profiles()`` adds ``dev`` (few examples, no deadline: numerical
gradients are slow by design) and ``nightly`` (many examples); ``load_profile()`` picks
the one named by ``HYPOTHESIS_PROFILE``. Under CI (``CI`` set) hypothesis loads its own
deterministic ``ci`` profile, which is left as it is.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

from .families import MODULES as _FAMILIES
from .families._base import LayerCase, dims, generic_arrays, seeds, upstream

__all__ = ["LayerCase", "generic_arrays", "upstream", "seeds", "dims", "register_profiles",
           "load_profile"]
for _module in _FAMILIES:
    globals().update({_name: getattr(_module, _name) for _name in _module.__all__})
    __all__ += _module.__all__


# --- profiles -------------------------------------------------------------------------


def register_profiles() -> None:
    """``dev``: 20 examples, no deadline. ``nightly``: 1000 examples, no deadline."""
    settings.register_profile("dev", deadline=None, max_examples=20,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile("nightly", deadline=None, max_examples=1000,
                              suppress_health_check=[HealthCheck.too_slow])


def load_profile() -> str:
    """Load ``HYPOTHESIS_PROFILE`` if set; else ``dev`` outside CI. Under CI (and no
    explicit choice) hypothesis's own deterministic ``ci`` profile stays loaded."""
    register_profiles()
    name = os.environ.get("HYPOTHESIS_PROFILE")
    if name is None and not os.environ.get("CI"):
        name = "dev"
    if name is not None:
        settings.load_profile(name)
    return name or "ci"
