"""Caches that know which forward made them, and the checks every backward makes with them.

A forward decorated with ``@forward_layer`` returns its cache as a ``Cache``: a plain
tuple of the parts its backward needs (so a CS231n-style sandwich still unpacks its
sub-caches, ``fc_cache, relu_cache = cache``), tagged with the forward's name and the
shape and dtype of each output. A backward decorated with ``@backward_of("x_forward")``
checks, before its body runs:

- ``cache`` is a ``Cache`` made by ``x_forward`` (else ``TypeError``: None, a hand-made
  tuple, or the cache of another layer, e.g. the naive conv's given to the fast backward);
- each upstream gradient (``dout``; ``dnext_h`` and ``dnext_c`` for an LSTM step) is an
  array (``TypeError``), of a floating dtype (``TypeError`` for integer, bool, complex),
  with the shape of the output it belongs to (``ValueError``); one of another floating
  dtype is cast to the output's (float32 dout on a float64 cache gives float64 grads).

Every message names the backward, the argument, what it got and what it needs. The cache
stays opaque: its contents are each layer's own business. One decorator pair, one place
where these rules live; a new layer gets them by decorating its two functions.
"""

from __future__ import annotations

import functools
import inspect

from . import validate as v
from .backend import is_array, numpy

__all__ = ["Cache", "forward_layer", "backward_of"]


class Cache(tuple):
    """A forward's cache: the tuple of its parts, plus ``layer`` (the forward's name) and
    ``outs`` (a (shape, dtype) pair per output, for the backward's dout checks)."""

    def __new__(cls, parts=(), layer: str = "", outs: tuple = ()):
        self = super().__new__(cls, parts)
        self.layer, self.outs = layer, outs
        return self

    def __reduce__(self):  # copy/pickle keep the tag
        return (Cache, (tuple(self), self.layer, self.outs))

    def __repr__(self):
        return f"<cache of {self.layer or 'an unknown layer'}: {len(self)} parts>"


def forward_layer(forward):
    """Decorate a forward returning ``(out_1, ..., out_k, cache_tuple)``: the cache comes
    back as a ``Cache`` tagged with the forward's name and the outputs' shapes/dtypes."""
    name = forward.__name__

    @functools.wraps(forward)
    def tagged(*args, **kwargs):
        try:
            *outs, parts = forward(*args, **kwargs)
        except (TypeError, ValueError) as err:
            raise (_prefixed(name, err) or err) from None
        return (*outs, Cache(parts, name, tuple((o.shape, o.dtype) for o in outs)))

    return tagged


def _prefixed(fn: str, err: Exception) -> Exception | None:
    """A TypeError/ValueError raised by a layer that ``fn`` calls (a sandwich's parts),
    with ``fn: `` in front so the message names the function the user called too; None
    for any other exception, or one that names ``fn`` already."""
    if type(err) in (TypeError, ValueError) and not str(err).startswith(fn + ":"):
        return type(err)(f"{fn}: {err}").with_traceback(err.__traceback__)
    return None


def _describe(cache) -> str:
    if isinstance(cache, Cache):
        return f"the cache of {cache.layer or 'an unknown layer'}"
    if isinstance(cache, tuple):
        return "a plain tuple (not made by a layerkit forward)"
    return type(cache).__name__


def check_cache(fn: str, cache, forwards: tuple[str, ...]) -> Cache:
    """``cache`` if one of ``forwards`` made it, else a TypeError naming ``fn``."""
    if isinstance(cache, Cache) and cache.layer in forwards:
        return cache
    made_by = " or ".join(forwards)
    raise TypeError(f"{fn}: cache must be the cache that {made_by} returned; got "
                    f"{_describe(cache)}")


def check_dout(fn: str, name: str, dout, shape: tuple, dtype):
    """An upstream gradient of ``shape``, floating, cast to ``dtype`` when it differs."""
    need = f"of shape {v._shape(tuple(shape))} (the forward's output)"
    if not is_array(dout):
        raise TypeError(f"{fn}: {name} must be a floating-point array {need}; got "
                        f"{type(dout).__name__}")
    if dout.dtype.kind != "f":  # bool 'b', integers 'i'/'u', complex 'c', objects 'O'
        raise TypeError(f"{fn}: {name} must be a floating-point array {need}; got dtype "
                        f"{dout.dtype}")
    if tuple(dout.shape) != tuple(shape):
        raise ValueError(f"{fn}: {name} must have shape {v._shape(tuple(shape))}, the shape "
                         f"of the forward's output; got {v._shape(tuple(dout.shape))}")
    return dout if dout.dtype == dtype else dout.astype(dtype)


def backward_of(*forwards: str):
    """Decorate a backward ``(dout_1, ..., dout_k, cache)`` of the forward(s) named: the
    cache and every dout are checked (and douts cast) before the body runs."""
    def wrap(backward):
        fn = backward.__name__
        sig = inspect.signature(backward)
        dout_names = list(sig.parameters)[:-1]

        @functools.wraps(backward)
        def checked(*args, **kwargs):
            if kwargs:  # backward(dout=..., cache=...): put them in order
                args = sig.bind(*args, **kwargs).args
            if len(args) != len(dout_names) + 1:
                raise TypeError(f"{fn} takes {', '.join(dout_names)} and cache; got "
                                f"{len(args)} arguments")
            cache = args[-1]
            if not (type(cache) is Cache and cache.layer in forwards):
                check_cache(fn, cache, forwards)  # raises
            douts = [d if type(d) is numpy.ndarray and d.dtype == dtype and d.shape == shape
                     else check_dout(fn, n, d, shape, dtype)  # the checks, and the cast
                     for n, d, (shape, dtype) in zip(dout_names, args, cache.outs)]
            try:
                return backward(*douts, cache)
            except (TypeError, ValueError) as err:
                raise (_prefixed(fn, err) or err) from None

        return checked
    return wrap
