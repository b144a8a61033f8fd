"""Bad-input cases generated from the layer registry: every registered forward, backward
and loss, called with each kind of wrong argument, must raise the right exception with a
message that names the function and the argument; the near-misses that are valid (an
integer parameter, a float32 dout on a float64 cache, an empty batch where a layer of zero
rows is well defined) must give finite, right results.

Per registered layer, from its medium ``make`` case and its ``layout`` (see ``LayerSpec``):

- every array argument: None, a list, a Python scalar (TypeError); a bool and a complex
  version (TypeError); an integer version: a TypeError for the data input (the first
  floating array, which fixes the computation's dtype), else valid and equal to the same
  call with the integer values as floats (the CS231n integer-parameter rule); one axis
  more and one fewer (ValueError) unless the layout lets the rank vary; one more entry
  along each axis another argument must agree with (ValueError);
- label / token-id arrays: floats, bools, complex, a value out of range, a negative one;
- param dicts: None / list / scalar, each required key missing, bad values of the keys
  every such dict may hold (``KEY_CASES``);
- integer settings (G, num_heads): None, 2.5, True, "abc" (TypeError), 0 (ValueError), a
  numpy integer (valid, the same result);
- N = 0, as the registry says (``empty_batch``);
- each backward: every dout None / list / scalar / integer / bool / complex / one axis
  more / the wrong size; a dout of the other float dtype (valid, cast to the cache's);
  a cache that is None, a plain tuple, or another layer's.

A new layer gets all of this by registering (with its ``layout``).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .check import _arrays_in
from .families._base import REGISTRY, LayerSpec
from .layout import Axes, parse_layout, tied_letters

__all__ = ["BadCase", "generate", "KEY_CASES"]

TE, VE = TypeError, ValueError
_NAN = float("nan")

# bad values for the keys of the layers' param dicts: key -> [(id, value, exception)]
KEY_CASES: dict[str, list[tuple[str, Any, type]]] = {
    "mode": [("eval", "eval", VE)],
    "eps": [("zero", 0.0, VE), ("negative", -1.0, VE), ("nan", _NAN, VE), ("str", "abc", TE)],
    "momentum": [("negative", -0.1, VE), ("above_1", 1.5, VE), ("nan", _NAN, VE),
                 ("str", "abc", TE)],
    "p": [("zero", 0.0, VE), ("above_1", 1.5, VE), ("nan", _NAN, VE), ("bool", True, TE)],
    "stride": [("zero", 0, VE), ("float", 1.5, TE), ("bool", True, TE), ("none", None, TE)],
    "pad": [("negative", -1, VE), ("float", 0.5, TE)],
    "pool_height": [("zero", 0, VE), ("float", 2.0, TE)],
    "pool_width": [("zero", 0, VE), ("float", 2.0, TE)],
    "seed": [("str", "abc", TE), ("negative", -1, VE), ("float", 1.5, TE)],
}
# keys a dict may hold though the registered case leaves them out
OPTIONAL_KEYS = {"bn_param": ("eps", "momentum", "running_mean", "running_var"),
                 "ln_param": ("eps",), "gn_param": ("eps",), "dropout_param": ("seed",)}
# keys a layer reads nowhere (CS231n nets hand layernorm the dict they give batchnorm)
IGNORED_KEYS = {"ln_param": ("mode",)}
_RUNNING = ("running_mean", "running_var")


@dataclass
class BadCase:
    """One call: ``run()`` makes it; ``expect`` is the exception type (None: valid, and
    ``run`` asserts the result itself); the message must contain every string of
    ``names`` (the function's name, then the argument's)."""

    id: str
    run: Callable[[], Any]
    expect: type | None
    names: tuple[str, ...]


# --- helpers ---------------------------------------------------------------------------


def _is_float(a) -> bool:
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


def _fresh(args):
    """Copies of the dicts, so a train-mode forward never writes into the case."""
    return [{k: v for k, v in a.items()} if isinstance(a, dict) else a for a in args]


def _grow(a: np.ndarray, axis: int) -> np.ndarray:
    """``a`` with one more entry along ``axis`` (a copy of the first)."""
    return np.concatenate([a, a.take([0], axis=axis)], axis=axis)


def _finite(tree) -> bool:
    return all(not _is_float(a) or bool(np.isfinite(a).all()) for _, a in _arrays_in(tree))


def _same(a, b, what: str):
    la, lb = _arrays_in(a), _arrays_in(b)
    assert [n for n, _ in la] == [n for n, _ in lb], f"{what}: different results"
    for (n, x), (_, y) in zip(la, lb):
        assert x.dtype == y.dtype, f"{what}: {n} has dtype {x.dtype} vs {y.dtype}"
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12, err_msg=f"{what}: {n}")


class _Call:
    """One layer's valid call and what its cases vary."""

    def __init__(self, spec: LayerSpec, forward: Callable, backwards: tuple[Callable, ...]):
        self.spec, self.forward, self.backwards = spec, forward, backwards
        self.fn = forward.__name__
        case = spec.make(np.random.default_rng(0), np.float64)
        self.inputs, self.dout = tuple(case.inputs), case.dout
        params = list(inspect.signature(forward).parameters.values())
        self.names = [p.name for p in params[:len(self.inputs)]]
        self.defaults = {p.name: p.default for p in params}
        self.layout = parse_layout(spec.layout or "")
        self.data = next(i for i, a in enumerate(self.inputs) if _is_float(a))

    def call(self, args):
        return self.forward(*_fresh(args))

    def replaced(self, i: int, value, key: str | None = None):
        args = list(self.inputs)
        if key is None:
            args[i] = value
        else:
            args[i] = {**args[i], key: value}
            if value is _DROP:
                del args[i][key]
        return args

    def axes_of(self, name: str) -> Axes | None:
        return self.layout.get(name)

    def tied(self) -> set[str]:
        return tied_letters(self.layout)


_DROP = object()  # a marker: delete this key


# --- the cases -------------------------------------------------------------------------


def _expect(cid, run, exc, *names) -> BadCase:
    return BadCase(cid, run, exc, names)


def _array_cases(c: _Call, i: int, name: str, a: np.ndarray, key: str | None = None):
    """The cases of one floating array argument (or one array in a dict argument)."""
    label = name if key is None else f"{name}[{key!r}]"
    lay_name = name if key is None else f"{name}.{key}"
    fn, cid = c.fn, f"{c.fn}-{label}"
    at = (lambda v: c.replaced(i, v, key))  # noqa: E731
    out = []
    optional = key is None and c.defaults.get(name, inspect.Parameter.empty) is None
    if not optional:
        out.append(_expect(f"{cid}-None", lambda: c.call(at(None)), TE, fn, label))
    out.append(_expect(f"{cid}-list", lambda: c.call(at(a.tolist())), TE, fn, label))
    out.append(_expect(f"{cid}-scalar", lambda: c.call(at(1.0)), TE, fn, label))
    out.append(_expect(f"{cid}-bool", lambda: c.call(at(a > 0)), TE, fn, label))
    out.append(_expect(f"{cid}-complex", lambda: c.call(at(a + 1j)), TE, fn, label))
    ints = np.round(3 * a).astype(np.int64)
    if key is None and i == c.data:
        out.append(_expect(f"{cid}-int", lambda: c.call(at(ints)), TE, fn, label))
    else:
        def cast_rule():
            _same(c.call(at(ints)), c.call(at(ints.astype(a.dtype))),
                  f"{fn}: integer {label} vs the same values as floats")
        out.append(_expect(f"{cid}-int_is_cast", cast_rule, None, fn, label))
    ax = c.axes_of(lay_name)
    if ax is None or ax.broadcast:
        return out
    if ax.tail is None and not ax.lead:
        out.append(_expect(f"{cid}-rank+1", lambda: c.call(at(a[..., None])), VE, fn, label))
    if len(ax.letters) - ax.lead >= 1 and (ax.tail is None or len(ax.letters) > 1):
        fewer = a[(0,) * (ax.lead + 1)] if ax.lead else a[..., 0]
        out.append(_expect(f"{cid}-rank-1", lambda: c.call(at(fewer)), VE, fn, label))
    return out + _mismatch_cases(c, at, cid, label, a, ax)


def _mismatch_cases(c: _Call, at, cid: str, label: str, a: np.ndarray, ax: Axes | None):
    """One more entry along each axis another argument must agree with: a ValueError."""
    if ax is None:
        return []
    tied, out = c.tied(), []
    for axis, letter in enumerate(ax.letters):
        if letter in tied:
            grown = _grow(a, axis)
            out.append(_expect(f"{cid}-{letter}+1", (lambda g=grown: c.call(at(g))), VE,
                               c.fn, label))
    if ax.tail and ax.tail in tied and a.ndim > len(ax.letters):
        grown = _grow(a, a.ndim - 1)
        out.append(_expect(f"{cid}-{ax.tail}+1", lambda: c.call(at(grown)), VE, c.fn, label))
    return out


def _label_cases(c: _Call, i: int, name: str, a: np.ndarray):
    """Integer labels / token ids: other dtypes, out-of-range values, mismatched axes."""
    fn, cid = c.fn, f"{c.fn}-{name}"
    at = (lambda v: c.replaced(i, v))  # noqa: E731
    high = a.copy()
    high.flat[0] = a.max() + 10**6
    low = a.copy()
    low.flat[0] = -1
    out = [_expect(f"{cid}-None", lambda: c.call(at(None)), TE, fn, name),
           _expect(f"{cid}-list", lambda: c.call(at(a.tolist())), TE, fn, name),
           _expect(f"{cid}-float", lambda: c.call(at(a.astype(np.float64))), TE, fn, name),
           _expect(f"{cid}-bool", lambda: c.call(at(a > 0)), TE, fn, name),
           _expect(f"{cid}-complex", lambda: c.call(at(a + 0j)), TE, fn, name),
           _expect(f"{cid}-too_high", lambda: c.call(at(high)), VE, fn, name),
           _expect(f"{cid}-negative", lambda: c.call(at(low)), VE, fn, name),
           _expect(f"{cid}-rank+1", lambda: c.call(at(a[..., None])), VE, fn, name)]
    return out + _mismatch_cases(c, at, cid, name, a, c.axes_of(name))


def _mask_cases(c: _Call, i: int, name: str, a: np.ndarray):
    fn, cid = c.fn, f"{c.fn}-{name}"
    at = (lambda v: c.replaced(i, v))  # noqa: E731
    out = [_expect(f"{cid}-list", lambda: c.call(at(a.tolist())), TE, fn, name),
           _expect(f"{cid}-complex", lambda: c.call(at(a + 0j)), TE, fn, name)]
    return out + _mismatch_cases(c, at, cid, name, a, c.axes_of(name))


def _int_setting_cases(c: _Call, i: int, name: str, value: int):
    fn, cid = c.fn, f"{c.fn}-{name}"
    at = (lambda v: c.replaced(i, v))  # noqa: E731
    out = [_expect(f"{cid}-{tag}", (lambda b=bad: c.call(at(b))), exc, fn, name)
           for tag, bad, exc in [("None", None, TE), ("float", 2.5, TE), ("bool", True, TE),
                                 ("str", "abc", TE), ("zero", 0, VE)]]
    out.append(_expect(f"{cid}-numpy_int", lambda: _same(
        c.call(at(np.int64(value))), c.call(c.inputs), f"{fn}: np.int64 {name}"),
        None, fn, name))
    return out


def _template(c: _Call, i: int) -> dict:
    """The param dict after one valid call (a train-mode forward adds running stats)."""
    d = dict(c.inputs[i])
    args = list(c.inputs)
    args[i] = d
    c.forward(*args)
    return d


def _dict_cases(c: _Call, i: int, name: str, d: dict):
    fn, cid = c.fn, f"{c.fn}-{name}"
    at = (lambda v, key=None: c.replaced(i, v, key))  # noqa: E731
    if d and all(isinstance(v, np.ndarray) for v in d.values()):  # a dict of arrays
        out = [_expect(f"{cid}-None", lambda: c.call(at(None)), TE, fn, name),
               _expect(f"{cid}-list", lambda: c.call(at(list(d.values()))), TE, fn, name)]
        for key, a in d.items():
            out.append(_expect(f"{cid}-missing_{key}", (lambda k=key: c.call(at(_DROP, k))),
                               VE, fn, name))
            out += _array_cases(c, i, name, a, key)
        return out
    out = [_expect(f"{cid}-None", lambda: c.call(at(None)), TE, fn, name),
           _expect(f"{cid}-list", lambda: c.call(at([d])), TE, fn, name),
           _expect(f"{cid}-scalar", lambda: c.call(at(1.0)), TE, fn, name)]
    optional = OPTIONAL_KEYS.get(name, ())
    ignored = IGNORED_KEYS.get(name, ())
    for key in d:
        if key not in optional and key not in ignored:
            out.append(_expect(f"{cid}-missing_{key}", (lambda k=key: c.call(at(_DROP, k))),
                               VE, fn, name, repr(key)))
    for key in (*(k for k in d if k not in ignored), *(k for k in optional if k not in d)):
        label = f"{name}[{key!r}]"
        for tag, bad, exc in KEY_CASES.get(key, ()):
            out.append(_expect(f"{cid}-{key}_{tag}", (lambda k=key, b=bad: c.call(at(b, k))),
                               exc, fn, label))
        if key in _RUNNING:
            def running(tag, make, exc, k=key):
                return _expect(f"{cid}-{k}_{tag}",
                               lambda: c.call(at(make(_template(c, i)[k]), k)), exc, fn,
                               f"{name}[{k!r}]")
            out += [running("list", lambda r: r.tolist(), TE),
                    running("complex", lambda r: r + 0j, TE),
                    running("size+1", lambda r: _grow(r, 0), VE)]
            if key == "running_var":
                out.append(running("negative", lambda r: -1 - r, VE))
                out.append(running("nan", lambda r: r * np.nan, VE))
    return out


def _empty_batch_case(c: _Call):
    """N = 0 along every axis lettered N: an empty result or a clear error."""
    args = list(c.inputs)
    for j, (name, a) in enumerate(zip(c.names, c.inputs)):
        ax = c.axes_of(name)
        if ax and isinstance(a, np.ndarray):
            for i, letter in enumerate(ax.letters):
                if letter == "N":  # (a graph's (N, N) adjacency: both axes)
                    a = a.take([], axis=i)
            args[j] = a
    first = c.names[c.data]
    if c.spec.empty_batch == "error":
        return _expect(f"{c.fn}-empty_batch", lambda: c.call(args), VE, c.fn, first)

    def empty_ok():
        res = c.call(args)
        outs, cache = res[:-1], res[-1]
        full = c.call(c.inputs)[:-1]
        for o, f in zip(outs, full):
            assert o.shape == (0, *f.shape[1:]) and o.dtype == f.dtype, \
                f"{c.fn}: N = 0 gave an output of shape {o.shape}, {o.dtype}"
        for backward in c.backwards:
            grads = backward(*[np.zeros(o.shape, o.dtype) for o in outs], cache)
            grads = grads if isinstance(grads, tuple) else (grads,)
            slots = [a for a in args if _is_float(a) or
                     (isinstance(a, dict) and a and all(_is_float(v) for v in a.values()))]
            for g, a in zip(grads, slots):
                pairs = [(g[k], a[k]) for k in a] if isinstance(a, dict) else [(g, a)]
                for gk, ak in pairs:
                    assert gk.shape == ak.shape and not np.any(gk), \
                        f"{backward.__name__}: N = 0 must give zero gradients of the " \
                        f"inputs' shapes; got {gk.shape} for {ak.shape}"
    return _expect(f"{c.fn}-empty_batch", empty_ok, None, c.fn, first)


def _backward_cases(c: _Call, backward: Callable, foreign):
    """Wrong douts and caches for one backward of c's forward."""
    fn = backward.__name__
    dnames = list(inspect.signature(backward).parameters)[:-1]
    res = c.call(c.inputs)
    outs, cache = list(res[:-1]), res[-1]
    good = [np.full(o.shape, 0.5, o.dtype) for o in outs]
    out = []

    def with_dout(j, d):
        douts = list(good)
        douts[j] = d
        return lambda: backward(*douts, cache)

    for j, dn in enumerate(dnames):
        g = good[j]
        cid = f"{fn}-{dn}"
        for tag, bad, exc in [("None", None, TE), ("list", g.tolist(), TE), ("scalar", 0.5, TE),
                              ("int", g.astype(np.int64), TE), ("bool", g > 0, TE),
                              ("complex", g + 0j, TE), ("rank+1", g[..., None], VE),
                              ("size+1", _grow(g, g.ndim - 1), VE)]:
            out.append(_expect(f"{cid}-{tag}", with_dout(j, bad), exc, fn, dn))

        def cast(j=j):
            douts = list(good)
            douts[j] = good[j].astype(np.float32)
            _same(backward(*douts, cache), backward(*good, cache),
                  f"{fn}: a float32 dout on a float64 cache")
        out.append(_expect(f"{cid}-float32_is_cast", cast, None, fn, dn))
    for tag, bad in [("None", None), ("tuple", tuple(cache)), ("foreign", foreign)]:
        out.append(_expect(f"{fn}-cache-{tag}", (lambda b=bad: backward(*good, b)), TE, fn,
                           "cache"))

    def valid():
        res = c.call(c.inputs)
        grads = backward(*good, res[-1])
        assert _finite(res[:-1]) and _finite(grads), f"{fn}: a valid call gave nan or inf"
    out.append(_expect(f"{fn}-valid", valid, None, fn))
    return out


def _cases_of(c: _Call, foreign) -> list[BadCase]:
    out = []
    for i, (name, a) in enumerate(zip(c.names, c.inputs)):
        if isinstance(a, np.ndarray):
            kind = a.dtype.kind
            if kind == "f":
                out += _array_cases(c, i, name, a)
            elif kind in "iu":
                out += _label_cases(c, i, name, a)
            elif kind == "b":
                out += _mask_cases(c, i, name, a)
        elif isinstance(a, dict):
            out += _dict_cases(c, i, name, a)
        elif isinstance(a, (int, np.integer)) and not isinstance(a, bool):
            out += _int_setting_cases(c, i, name, a)
    out.append(_empty_batch_case(c))
    if c.spec.is_loss:
        def valid():
            assert _finite(c.call(c.inputs)), f"{c.fn}: a valid call gave nan or inf"
        out.append(_expect(f"{c.fn}-valid", valid, None, c.fn))
    for backward in c.backwards:
        out += _backward_cases(c, backward, foreign)
    return out


def _foreign_cache(spec: LayerSpec):
    """The cache of some other registered layer (relu's, or affine's for relu)."""
    other = REGISTRY["affine" if spec.forward is REGISTRY["relu"].forward else "relu"]
    case = other.make(np.random.default_rng(0), np.float64)
    return other.forward(*case.inputs)[-1]


def generate(registry: dict[str, LayerSpec] = REGISTRY) -> list[BadCase]:
    """Every case, for every registered layer: its forward with its backward and alternative
    backwards, and its naive pair where it has one. A (forward, backward) pair shared by
    two registry entries is generated once per entry (their cases differ: modes, sizes)."""
    out = []
    for name in sorted(registry):
        spec = registry[name]
        pairs = [(spec.forward, () if spec.is_loss else (spec.backward, *spec.alt_backwards))]
        if spec.naive:
            pairs.append((spec.naive[0], (spec.naive[1],)))
        foreign = None if spec.is_loss else _foreign_cache(spec)
        for forward, backwards in pairs:
            cases = _cases_of(_Call(spec, forward, backwards), foreign)
            out += [BadCase(f"{name}:{k.id}", k.run, k.expect, k.names) for k in cases]
    return out
