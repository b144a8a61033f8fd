"""What every family file shares: ``LayerCase``, the general-position array strategies,
and the registry's ``LayerSpec`` / ``register``.

Hypothesis's own ``arrays`` reuse one fill value for most elements; on a max-pool or a
relu that puts ties and kinks in nearly every example, and a correct layer fails its
gradient check for reasons that have nothing to do with its backward. The arrays drawn
here are *generic*: every value distinct, with a gap between any two values far larger
than the checker's step, and (where asked) at least ``low`` away from zero, the kink of
relu and friends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from hypothesis import strategies as st


@dataclass
class LayerCase:
    """Inputs for one layer call: ``forward(*inputs)``; ``dout`` matches the output(s)."""

    inputs: tuple
    dout: Any = None
    info: dict | None = None


seeds = st.integers(min_value=0, max_value=2**32 - 1)


def _generic(rng: np.random.Generator, shape, low: float, high: float, signed: bool,
             dtype) -> np.ndarray:
    """Distinct values with magnitudes in [low, high]; neighbouring magnitudes differ by
    at least (high - low) / (2 n), and values of opposite sign by at least 2 low."""
    n = math.prod(shape)
    grid = (rng.permutation(n) + 0.25 + 0.5 * rng.random(n)) / n  # distinct, in (0, 1)
    mags = low + (high - low) * grid
    signs = rng.choice(np.array([-1.0, 1.0]), size=n) if signed else 1.0
    return (signs * mags).reshape(shape).astype(dtype)


@st.composite
def generic_arrays(draw, shape, *, low: float = 0.1, high: float = 1.0, signed: bool = True,
                   dtype=np.float64, salt: int = 0):
    """A strategy for one array of ``shape`` in general position (see the module doc).

    The values come from a seeded numpy Generator (hypothesis draws the seed and a scale),
    so arrays of any size cost one draw; the shrinker works on shapes and scale. Give
    each array of one case its own ``salt``: the shrinker drives every seed to 0, and
    unsalted arrays of one shape would then be equal (q == k == v).
    """
    scale = draw(st.sampled_from([1.0, 0.5, 2.0]))
    rng = np.random.default_rng([draw(seeds), salt])
    return _generic(rng, tuple(shape), low * scale, high * scale, signed, dtype)


def upstream(shape, dtype=np.float64):
    """An upstream gradient: generic, never constant (a constant dout makes the checks of
    batchnorm, layernorm and softmax vacuous)."""
    return generic_arrays(shape, low=0.1, high=1.0, dtype=dtype, salt=99)


def dims(lo: int = 1, hi: int = 4):
    return st.integers(min_value=lo, max_value=hi)


def normal(rng, shape, dtype):
    """Standard normal values of ``shape`` in ``dtype``: the medium-size ``make`` cases."""
    return rng.standard_normal(shape).astype(dtype)


# --- the registry -----------------------------------------------------------------------


@dataclass(frozen=True)
class LayerSpec:
    """One registered layer: what the conformance suite needs to check it."""

    name: str
    forward: Callable
    backward: Callable | None  # None for a loss: forward returns (loss, dx)
    strategy: Callable  # dtype -> hypothesis strategy of LayerCase
    make: Callable  # (Generator, dtype) -> LayerCase
    naive: tuple[Callable, Callable] | None = None  # (forward, backward) reference
    alt_backwards: tuple[Callable, ...] = ()  # other backwards that must agree
    linear: tuple[int, tuple[int, ...]] | None = None  # (i, zeroed): linear in input i
    kind: str = "layer"  # "layer" or "loss"
    extra: dict = field(default_factory=dict)
    # the array arguments' axes by letter, e.g. "x:N,*D w:D,M b:M" (grammar in
    # gradcheck/layout.py), from which gradcheck.badinput generates the bad-input cases
    layout: str | None = None
    # N = 0: "ok" (an empty output, zero parameter gradients) or "error" (a mean over
    # zero examples: a ValueError naming the first argument)
    empty_batch: str = "ok"

    @property
    def is_loss(self) -> bool:
        return self.kind == "loss"


REGISTRY: dict[str, LayerSpec] = {}


def register(spec: LayerSpec) -> LayerSpec:
    if spec.name in REGISTRY:
        raise ValueError(f"layer {spec.name!r} registered twice")
    REGISTRY[spec.name] = spec
    return spec
