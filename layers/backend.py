"""The one module that knows about array modules (numpy on the CPU, cupy on a GPU).

Every layer asks ``get_xp(*arrays)`` which module its inputs belong to and runs on that
module, so the same code serves both backends with no global switch. The few operations
whose spelling differs between numpy and cupy (strided windows, scatter-add, moving data to
the host) live here, as does the choice of where *new* arrays are made (nets' initial
weights, data batches): numpy by default, cupy when ``LAYERKIT_BACKEND=cupy`` is set or
``set_backend("cupy")`` is called.

cupy is imported lazily: nothing here fails on a machine without it. Note that
``import cupy`` can succeed on a machine with no GPU; ``gpu_available()`` asks the driver.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType
from typing import Any

import numpy

__all__ = [
    "numpy",
    "get_xp",
    "get_backend",
    "set_backend",
    "backend_name",
    "gpu_available",
    "is_array",
    "to_numpy",
    "to_xp",
    "to_scalar",
    "windows",
    "scatter_add",
    "sigmoid",
    "logsumexp",
    "softmax",
    "default_rng",
    "seeded_or_global_rng",
    "random_normal",
    "random_uniform",
    "uniform_draws",
]

_BACKENDS = ("numpy", "cupy")
_chosen: str | None = None  # set by set_backend(); None means "read LAYERKIT_BACKEND"


def _cupy() -> ModuleType:
    """Import cupy, with an error that says how to get it."""
    try:
        import cupy
    except ImportError as e:  # pragma: no cover - depends on the machine
        raise ImportError(
            "the cupy backend needs cupy: pip install 'layerkit[gpu]' on a machine with "
            "an NVIDIA GPU and CUDA 12"
        ) from e
    return cupy


def gpu_available() -> bool:
    """True if cupy imports *and* a CUDA device answers."""
    try:
        import cupy
    except ImportError:
        return False
    try:
        return bool(cupy.cuda.is_available())
    except Exception:  # a broken driver counts as "no GPU"
        return False


def _is_cupy_array(a: Any) -> bool:
    cupy = sys.modules.get("cupy")
    return cupy is not None and isinstance(a, cupy.ndarray)


def is_array(a: Any) -> bool:
    """True for a numpy or cupy ndarray (not for lists or Python scalars)."""
    return isinstance(a, numpy.ndarray) or _is_cupy_array(a)


def get_xp(*arrays: Any) -> ModuleType:
    """The array module of ``arrays``: numpy, or cupy if any argument is a cupy array.

    Non-array arguments (None, Python scalars, dicts) are ignored. Raises ``TypeError``
    when numpy and cupy arrays are mixed in one call, naming the position of each kind.
    """
    if "cupy" not in sys.modules:  # cupy never imported: there can be no cupy array
        return numpy
    kinds = {}
    for i, a in enumerate(arrays):
        if _is_cupy_array(a):
            kinds.setdefault("cupy", i)
        elif isinstance(a, numpy.ndarray):
            kinds.setdefault("numpy", i)
    if len(kinds) == 2:
        raise TypeError(
            "arrays from different backends in one call: argument "
            f"{kinds['numpy']} is a numpy array and argument {kinds['cupy']} is a cupy "
            "array; move them to one backend first (layers.backend.to_xp)"
        )
    return sys.modules["cupy"] if "cupy" in kinds else numpy


def backend_name() -> str:
    """The name of the backend where new arrays are made: 'numpy' or 'cupy'."""
    name = _chosen if _chosen is not None else os.environ.get("LAYERKIT_BACKEND", "numpy")
    name = name.strip().lower() or "numpy"
    if name not in _BACKENDS:
        raise ValueError(f"LAYERKIT_BACKEND must be one of {_BACKENDS}; got {name!r}")
    return name


def get_backend() -> ModuleType:
    """The array module where new arrays are made (numpy unless cupy was chosen)."""
    return _cupy() if backend_name() == "cupy" else numpy


def set_backend(name: str | None) -> ModuleType:
    """Choose where new arrays are made: 'numpy', 'cupy', or None to follow the environment.

    Returns the chosen module. Existing arrays are not moved: see ``to_xp``.
    """
    global _chosen
    if name is not None and name not in _BACKENDS:
        raise ValueError(f"backend must be one of {_BACKENDS} or None; got {name!r}")
    _chosen = name
    return get_backend()


def _as_module(xp: ModuleType | str | None) -> ModuleType:
    if xp is None:
        return get_backend()
    if isinstance(xp, str):
        if xp not in _BACKENDS:
            raise ValueError(f"backend must be one of {_BACKENDS}; got {xp!r}")
        return _cupy() if xp == "cupy" else numpy
    return xp


def to_numpy(obj: Any) -> Any:
    """Move arrays to the host, recursively through dicts, lists and tuples.

    numpy arrays and non-arrays come back as they are (no copy); None passes.
    """
    if _is_cupy_array(obj):
        return obj.get()
    if isinstance(obj, dict):
        return {k: to_numpy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_numpy(v) for v in obj)
    return obj


def to_xp(obj: Any, xp: ModuleType | str | None = None) -> Any:
    """Move arrays to backend ``xp`` (a module, 'numpy'/'cupy', or None for the chosen one).

    Recursive over dicts, lists and tuples; non-array leaves pass unchanged.
    """
    xp = _as_module(xp)
    if xp is numpy:
        return to_numpy(obj)
    if is_array(obj):
        return xp.asarray(obj)
    if isinstance(obj, dict):
        return {k: to_xp(v, xp) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_xp(v, xp) for v in obj)
    return obj


def to_scalar(a: Any) -> float:
    """A 0-d array (on either backend) or number as a Python float: the only host sync."""
    return float(a)


# --- operations whose spelling differs between numpy and cupy -------------------------


def windows(x, kernel: tuple[int, int], stride: tuple[int, int] = (1, 1)):
    """A read-only strided view of the kernel-sized windows over the last two axes.

    Inputs:
    - x: (..., H, W) array
    - kernel: (KH, KW) window size
    - stride: (SH, SW) step between windows

    Returns a view of shape (..., OH, OW, KH, KW) with OH = (H - KH) // SH + 1 (likewise
    OW). No data is copied; the view cannot be written.
    """
    xp = get_xp(x)
    kh, kw = kernel
    sh, sw = stride
    if xp is numpy:
        view = numpy.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(-2, -1))
    else:  # cupy ships the same function under cupy.lib.stride_tricks
        view = xp.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(-2, -1))
    return view[..., ::sh, ::sw, :, :]


def scatter_add(target, indices, values):
    """Return ``target`` with ``values`` added at ``indices``; repeated indices accumulate.

    ``target`` is not modified: the sum is written into a copy. Use only where a scatter
    is unavoidable (the embedding backward): ``a[idx] += v`` drops repeats on both
    backends, and on a GPU the atomic adds make the last bits vary between runs.
    """
    xp = get_xp(target, values)
    out = target.copy()
    if xp is numpy:
        numpy.add.at(out, indices, values)
    else:
        xp.add.at(out, indices, values)
    return out


def sigmoid(x):
    """The logistic function, written with tanh so it never overflows: 0.5 * (1 + tanh(x/2))."""
    xp = get_xp(x)
    half = x.dtype.type(0.5) if hasattr(x, "dtype") else 0.5
    return half * (1 + xp.tanh(half * x))


def logsumexp(x, axis: int = -1, keepdims: bool = False):
    """log(sum(exp(x))) along ``axis``, shifted by the max so it never overflows."""
    xp = get_xp(x)
    m = x.max(axis=axis, keepdims=True)
    out = m + xp.log(xp.exp(x - m).sum(axis=axis, keepdims=True))
    return out if keepdims else out.squeeze(axis)


def softmax(x, axis: int = -1, *, with_logsumexp: bool = False):
    """Softmax along ``axis`` (a new array), max-shifted so large logits stay finite; the
    one definition the layers share (softmax_loss fuses the same steps in place).

    A slice that is all -inf (attention with every key masked) gives zeros, not nan.
    With ``with_logsumexp`` also returns log(sum(exp(x))) along ``axis`` (kept as a size-1
    axis), from the same exponentials: a cross-entropy is then lse - x[target].
    """
    xp = get_xp(x)
    m = x.max(axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)  # all -inf slices: no (-inf) - (-inf)
    e = xp.exp(x - m)  # our own temporary, normalised in place
    s = e.sum(axis=axis, keepdims=True)
    e /= xp.where(s > 0, s, 1)
    if with_logsumexp:
        return e, m + xp.log(s)
    return e


# --- randomness: from an explicit numpy Generator (device masks: uniform_draws) -------


def default_rng(seed: int | numpy.random.Generator | None = None) -> numpy.random.Generator:
    """A ``numpy.random.Generator`` from a seed (or the Generator itself, passed through).

    Draws are made on the host and moved to the target backend, so the same seed gives
    the same numbers on numpy and cupy.
    """
    if isinstance(seed, numpy.random.Generator):
        return seed
    return numpy.random.default_rng(seed)


class _GlobalRandomState:
    """numpy's global random state (what ``np.random.seed`` fixes) behind the three
    ``Generator`` methods the kit draws with: ``standard_normal(shape)`` is the stream of
    ``np.random.randn(*shape)``, ``random(shape)`` that of ``np.random.rand(*shape)``."""

    def standard_normal(self, size=None):
        return numpy.random.standard_normal(size)

    def random(self, size=None):
        return numpy.random.random_sample(size)

    def integers(self, low, high=None, size=None):
        return numpy.random.randint(low, high, size)


def seeded_or_global_rng(seed: int | numpy.random.Generator | None = None):
    """``default_rng(seed)`` for an int or a Generator; for ``None``, numpy's global
    random state, as CS231n draws (``np.random.seed(231)`` in a notebook then fixes a
    net's initial weights and its dropout masks). The returned object has the Generator
    methods ``standard_normal``, ``random`` and ``integers``."""
    if seed is None:
        return _GlobalRandomState()
    return default_rng(seed)


def random_normal(rng: numpy.random.Generator, shape, dtype=numpy.float64, xp=None, scale=1.0):
    """Standard normal draws times ``scale``, of ``dtype``, on backend ``xp`` (default: chosen)."""
    a = (scale * rng.standard_normal(shape)).astype(dtype, copy=False)
    return to_xp(a, xp)


def random_uniform(rng: numpy.random.Generator, shape, dtype=numpy.float64, xp=None):
    """Uniform [0, 1) draws of ``dtype`` on backend ``xp`` (default: the chosen backend)."""
    a = rng.random(shape).astype(dtype, copy=False)
    return to_xp(a, xp)


_device_states: dict = {}  # array module -> its one re-seeded RandomState (uniform_draws)


def uniform_draws(seed, shape, dtype, xp):
    """Uniform [0, 1) draws of shape ``shape`` on backend ``xp``, made where they are used:
    on numpy from ``seeded_or_global_rng(seed)`` (float64 draws cast to ``dtype``, the
    CS231n stream); on a device by the device's own generator, so nothing is sent from
    the host (a dropout mask per step would otherwise be a transfer per step).

    On a device ``seed`` is read as on numpy: an int gives the same draws at every call
    (a generator re-seeded with it), a numpy Generator gives a new stream each call (the
    device generator is seeded with one integer drawn from it: reproducible from the
    Generator's seed, nothing else leaves the host), None the device's global state
    (``cupy.random.seed`` fixes it, as ``np.random.seed`` does on numpy). The device
    draws differ from numpy's for the same seed. They are float32 draws whatever
    ``dtype`` (half the bytes of float64, and 24 bits are plenty for a mask): like
    numpy's they do not depend on ``dtype``, so a float32 layer and its float64 check
    (gradcheck's fidelity test) see the same mask.
    """
    if xp is numpy:
        return seeded_or_global_rng(seed).random(shape).astype(dtype, copy=False)
    if seed is None:
        return xp.random.random_sample(shape, numpy.float32).astype(dtype, copy=False)
    if isinstance(seed, numpy.random.Generator):
        seed = int(seed.integers(2**63))
    state = _device_states.get(xp)
    if state is None:
        state = _device_states[xp] = xp.random.RandomState()
    state.seed(int(seed))
    return state.random_sample(shape, numpy.float32).astype(dtype, copy=False)
