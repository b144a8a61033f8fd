"""Input checks shared by every layer.

Each error names the function, the argument, the shape (or dtype, or key) it got and what
it needs, so a user never has to decode a broadcasting error from deep inside numpy.
"""

from __future__ import annotations

from typing import Any, Mapping

from .backend import get_xp, is_array


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
    if high is not None and a.size:
        lo, hi = int(a.min()), int(a.max())
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
        listed = ", ".join(f"{n} is {d}" for n, d in dtypes.items())
        raise TypeError(f"{fn}: inputs must share one floating dtype; {listed}")


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
