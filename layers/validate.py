"""Input checks shared by every layer (public: the nets, the Solver and the data loaders
check their arguments with the same helpers, so every error reads the same way).

Each error names the function, the argument, the shape (or dtype, or key) it got and what
it needs, so a user never has to decode a broadcasting error from deep inside numpy.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from numbers import Integral, Real
from types import MappingProxyType
from typing import Any, Mapping

from .backend import get_xp, is_array, numpy, to_numpy

# set by labels_checked(): the labels argument ``y`` was range-checked by the caller
_labels_checked = contextvars.ContextVar("layerkit_labels_checked", default=False)


@contextlib.contextmanager
def labels_checked(checked: bool = True):
    """Within this block, skip the range check of an integer argument named ``y`` (a
    loss's labels) when it lives on a device: the caller checked every label of its
    dataset once (the Solver does, against the classes the model scores), and on a GPU
    the check is two host syncs per call. dtype and shape checks stay; numpy is checked
    as always (a host check costs no sync)."""
    token = _labels_checked.set(bool(checked))
    try:
        yield
    finally:
        _labels_checked.reset(token)



# set by inputs_checked(): the caller ran the model's check_inputs on the whole dataset
_inputs_checked = contextvars.ContextVar("layerkit_inputs_checked", default=False)


@contextlib.contextmanager
def inputs_checked(checked: bool = True):
    """Within this block, a net may skip the value checks of its input ``X`` that read a
    device array back (``Model.check_inputs``: e.g. "every source has a real token"):
    the caller ran them once on the whole dataset the minibatches come from (the Solver
    does, on a device). See ``inputs_were_checked``."""
    token = _inputs_checked.set(bool(checked))
    try:
        yield
    finally:
        _inputs_checked.reset(token)


def inputs_were_checked(X) -> bool:
    """True when ``X`` lives on a device inside ``inputs_checked()``: its per-call value
    checks may be skipped. Always False on numpy (a host check costs no sync)."""
    return _inputs_checked.get() and get_xp(X) is not numpy


# set by range_known(): id(array) -> (array, lo, hi), values its caller measured
_known_ranges = contextvars.ContextVar("layerkit_known_ranges",
                                      default=MappingProxyType({}))  # never written: set anew


@contextlib.contextmanager
def range_known(a, lo: int, hi: int):
    """Within this block, index checks of the array ``a`` (this very object, wherever it
    is passed on: a net's X reaches its embedding unchanged) take its values to lie in
    [lo, hi], bounds its caller measured once on the whole dataset ``a`` was gathered
    from, instead of reading ``a``'s min and max back (two host syncs on a device). A
    check the bounds do not pass reads ``a`` itself, so an error names a value ``a``
    really holds, at the minibatch that holds it."""
    token = _known_ranges.set({**_known_ranges.get(), id(a): (a, int(lo), int(hi))})
    try:
        yield
    finally:
        _known_ranges.reset(token)


def value_range(a, low: int = 0, high: int | None = None) -> tuple[int, int]:
    """(min, max) of the integer array ``a``: the bounds ``range_known`` vouches for when
    they lie in [low, high) (no read), else ``a``'s own, read in one transfer."""
    known = _known_ranges.get().get(id(a))
    if (known is not None and known[0] is a and low <= known[1] <= known[2]
            and (high is None or known[2] < high)):
        return known[1], known[2]
    lo, hi = to_numpy(get_xp(a).stack([a.min(), a.max()])).tolist()
    return int(lo), int(hi)


def _shape(shape: tuple) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def array(fn: str, name: str, a: Any, *, ndim: int | tuple[int, ...] | None = None,
          min_ndim: int | None = None, floating: bool = True, what: str | None = None):
    """Check that ``a`` is an ndarray of the right rank and kind; return it.

    ``what`` describes the expected layout for the message, e.g. "(N, C, H, W)".
    """
    need = f" {what}" if what else ""
    if not is_array(a):
        raise TypeError(f"{fn}: {name} must be a numpy or cupy array{need}; got {type(a).__name__}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if a.ndim not in allowed:
            ranks = " or ".join(str(r) for r in allowed)
            raise ValueError(
                f"{fn}: {name} must be {ranks}-D{need}; got shape {_shape(a.shape)}"
            )
    if min_ndim is not None and a.ndim < min_ndim:
        raise ValueError(
            f"{fn}: {name} must have at least {min_ndim} dimensions{need}; "
            f"got shape {_shape(a.shape)}"
        )
    xp = get_xp(a)
    if floating and not xp.issubdtype(a.dtype, xp.floating):
        raise TypeError(f"{fn}: {name} must be a floating-point array; got dtype {a.dtype}")
    return a


def float_param(fn: str, name: str, a: Any, like: Any, *, ndim: int | tuple[int, ...] | None = None,
                what: str | None = None):
    """A parameter array (gamma, beta, w, b, ...) as a floating array of the data's dtype.

    The integer-parameter rule of the CS231n compatibility contract: CS231n's layers take
    integer parameters (the ConvolutionalNetworks notebook passes
    ``gamma = np.asarray([3, 4, 5])`` to ``spatial_batchnorm_forward``), so an integer
    ``a`` is cast (a new array; the caller's is left alone) to the floating dtype of
    ``like``, the layer's data input (``x``), which must already be a floating array.
    A floating ``a`` is returned as it is (a dtype that differs from ``like``'s is left
    for ``same_dtype`` to report). Booleans, complex numbers, strings and objects stay a
    ``TypeError`` naming ``fn`` and ``name``; ``ndim``/``what`` are checked as ``array``
    does.

    Use: ``gamma = v.float_param(fn, "gamma", gamma, x, ndim=1, what="(D,)")``.
    """
    array(fn, name, a, ndim=ndim, what=what, floating=False)
    xp = get_xp(a)
    if xp.issubdtype(a.dtype, xp.floating):
        return a
    if xp.issubdtype(a.dtype, xp.integer):  # bool is not an integer dtype for numpy/cupy
        return a.astype(like.dtype)
    raise TypeError(f"{fn}: {name} must be a floating-point (or integer) array; "
                    f"got dtype {a.dtype}")


def integer_array(fn: str, name: str, a: Any, *, shape: tuple | None = None,
                  high: int | None = None, high_name: str = "", what: str | None = None):
    """Check an index/label array: integer dtype, optional exact shape, values in [0, high).

    Out-of-range values matter on a GPU: cupy wraps them silently instead of raising.
    """
    need = f" {what}" if what else ""
    if not is_array(a):
        raise TypeError(f"{fn}: {name} must be an integer array{need}; got {type(a).__name__}")
    xp = get_xp(a)
    if not xp.issubdtype(a.dtype, xp.integer):
        raise TypeError(f"{fn}: {name} must be an integer array{need}; got dtype {a.dtype}")
    if shape is not None and tuple(a.shape) != tuple(shape):
        raise ValueError(
            f"{fn}: {name} must have shape {_shape(tuple(shape))}{need}; got {_shape(a.shape)}"
        )
    trusted = name == "y" and xp is not numpy and _labels_checked.get()
    if high is not None and a.size and not trusted:
        lo, hi = value_range(a, 0, high)
        if lo < 0 or hi >= high:
            bad = lo if lo < 0 else hi
            limit = f"{high_name} = {high}" if high_name else str(high)
            raise ValueError(f"{fn}: {name} has value {bad}; values must be in [0, {limit})")
    return a


def shape(fn: str, name: str, a, expected: tuple, what: str | None = None):
    """Check ``a.shape == expected``; ``None`` in ``expected`` matches any size."""
    ok = a.ndim == len(expected) and all(e is None or e == s for s, e in zip(a.shape, expected))
    if not ok:
        shown = _shape(tuple("*" if e is None else e for e in expected))
        why = f" {what}" if what else ""
        raise ValueError(f"{fn}: {name} must have shape {shown}{why}; got {_shape(a.shape)}")
    return a


def same_dtype(fn: str, **arrays):
    """All floating arrays given must share one dtype (float32 in means float32 out)."""
    dtypes = {n: a.dtype for n, a in arrays.items() if a is not None}
    if len(set(dtypes.values())) > 1:
        first, want = next(iter(dtypes.items()))
        odd = ", ".join(f"{n} is {d}" for n, d in dtypes.items() if d != want)
        raise TypeError(f"{fn}: inputs must share one floating dtype; {first} is {want} but "
                        f"{odd}")


def keys(fn: str, name: str, d: Any, required: tuple[str, ...]):
    """Check that the param dict ``d`` has every key in ``required``."""
    if not isinstance(d, Mapping):
        raise TypeError(f"{fn}: {name} must be a dict; got {type(d).__name__}")
    missing = [k for k in required if k not in d]
    if missing:
        raise ValueError(
            f"{fn}: {name} is missing key(s) {missing}; it needs {list(required)}, "
            f"got {sorted(d)}"
        )
    return d


def choice(fn: str, name: str, value: Any, allowed: tuple):
    """Check that ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{fn}: {name} must be one of {allowed}; got {value!r}")
    return value


def integer(fn: str, name: str, value: Any, minimum: int = 0) -> int:
    """An integer setting (a stride, a group count, a number of heads) as a Python int.

    Any integer type counts (``np.int64(2)`` as well as ``2``); ``True``, floats, None and
    strings are a ``TypeError``; a value below ``minimum`` is a ``ValueError``.
    """
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{fn}: {name} must be an integer >= {minimum}; got "
                        f"{type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{fn}: {name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def number(fn: str, name: str, value: Any, *, low: float | None = None,
           high: float | None = None, low_open: bool = False, why: str = "") -> float:
    """A real setting (eps, momentum, a keep probability) as a Python float.

    A Python float keeps float32 arithmetic in float32 (a numpy float64 scalar would
    promote it). NaN, inf, bools, strings and None are refused; ``low``/``high`` bound the
    value (``low_open``: strictly above ``low``). ``why`` ends the message.
    """
    if low is not None and high is not None:
        bounds = f" in {'(' if low_open else '['}{low:g}, {high:g}]"
    elif low is not None:
        bounds = f" {'>' if low_open else '>='} {low:g}"
    else:
        bounds = "" if high is None else f" <= {high:g}"
    why = f" ({why})" if why else ""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{fn}: {name} must be a number{bounds}{why}; got "
                        f"{type(value).__name__} {value!r}")
    f = float(value)
    ok = math.isfinite(f) and (low is None or (f > low if low_open else f >= low)) and \
        (high is None or f <= high)
    if not ok:
        finite = "" if math.isfinite(f) else "finite "
        raise ValueError(f"{fn}: {name} must be a {finite}number{bounds}{why}; got {value!r}")
    return f


def nonempty(fn: str, name: str, a, why: str):
    """Refuse an empty batch (N = 0) where the result would be a mean over no examples."""
    if a.shape[0] == 0:
        raise ValueError(f"{fn}: {name} holds no examples (shape {_shape(a.shape)}); {why}")
    return a


def nonnegative(fn: str, name: str, a):
    """Refuse an array with a negative or NaN entry (a variance); one host sync."""
    if a.size and not bool((a >= 0).all()):
        bad = get_xp(a).asarray(a)[~(a >= 0)][:1]
        raise ValueError(f"{fn}: {name} must be >= 0 everywhere (a variance); it holds "
                         f"{float(bad[0])!r}")
    return a


# --- the keys of the norm layers' param dicts (bn_param, ln_param, gn_param) -------------


def eps(fn: str, dname: str, d: Mapping, default: float = 1e-5) -> float:
    """``d['eps']`` (or ``default``): a finite number > 0."""
    return number(fn, f"{dname}['eps']", d.get("eps", default), low=0, low_open=True,
                  why="it keeps a constant feature finite")


def momentum(fn: str, dname: str, d: Mapping, default: float = 0.9) -> float:
    """``d['momentum']`` (or ``default``): a number in [0, 1]."""
    return number(fn, f"{dname}['momentum']", d.get("momentum", default), low=0, high=1,
                  why="running = momentum * running + (1 - momentum) * batch")


def running_stat(fn: str, dname: str, d: Mapping, key: str, x, size: int, letter: str,
                 used: bool = True):
    """``d[key]``, a running mean or variance: None when absent, else a (size,) floating
    array (an integer one cast to x's dtype); ``running_var`` must be >= 0 everywhere.

    ``used``: whether this call reads the statistic (test mode) or only updates it (train
    mode). On a device the sign check is a host sync, so it runs only where the value is
    used: a train step on a GPU does not wait on it, and a bad variance is still refused
    before it can make an output. numpy checks every call (on the host it costs no sync).
    """
    r = d.get(key)
    if r is None:
        return None
    name = f"{dname}[{key!r}]"
    r = float_param(fn, name, r, x, ndim=1, what=f"({letter},)")
    if r.shape[0] != size:
        shape(fn, name, r, (size,), f"({letter},) with {letter} = {size} from x")
    if key == "running_var" and (used or get_xp(r) is numpy):
        nonnegative(fn, name, r)
    return r
