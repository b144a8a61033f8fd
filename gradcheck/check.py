"""One-call gradient checks of a layer, a loss or a whole net.

    report = check_layer(affine_forward, affine_backward, x, w, b)
    report = check_loss(softmax_loss, scores, labels)
    report = check_net(model, X, y)

Each check runs in float64 whatever the input dtype (lower-precision inputs are upcast,
with one ``GradcheckPrecisionWarning``, and their own forward/backward is then compared
with the float64 one: a "fidelity" check that catches a float32 path that computes
something else). The upstream gradient is drawn at random from ``seed`` (never all ones:
for batchnorm or softmax the gradient of ``sum(out)`` is identically zero and such a check
could not fail). Besides the numbers, a check verifies the call contract: no input, dout or
cache written in place, gradients of the inputs' shapes, backward reentrant, output dtype
following the inputs. Failures raise a subclass of ``GradientCheckError`` (an
``AssertionError``) whose message names the input, the worst element's index, and the
analytic and numerical values there; ``.report`` holds the full ``GradcheckReport``.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any, Callable

import numpy as np

from layers.backend import get_xp, is_array, to_numpy

from ._engine import Objective, Options, compare_elements, compare_fast
from .report import (ContractError, GradcheckPrecisionWarning, GradcheckReport,
                     GradientCheckError, MutationError, NondeterminismError,
                     VacuousCheckWarning)

__all__ = ["check_layer", "check_loss", "check_net"]


def _is_float_array(a) -> bool:
    return is_array(a) and get_xp(a).issubdtype(a.dtype, get_xp(a).floating)


def _is_param_dict(d) -> bool:
    return isinstance(d, dict) and bool(d) and all(_is_float_array(v) for v in d.values())


def _arrays_in(obj, path="") -> list[tuple[str, Any]]:
    """Every array reachable through tuples, lists and dicts, with a path for messages."""
    if is_array(obj):
        return [(path or "value", obj)]
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _arrays_in(v, f"{path}[{k!r}]")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out += _arrays_in(v, f"{path}[{i}]")
    return out


class _Snapshot:
    """Copies of arrays, to prove later that nobody wrote into them."""

    def __init__(self, named_arrays):
        self.items = [(n, a, a.copy()) for n, a in named_arrays]

    def changed(self) -> list[str]:
        bad = []
        for name, a, saved in self.items:
            xp = get_xp(a)
            if a.shape != saved.shape or not bool(xp.array_equal(a, saved, equal_nan=True)):
                bad.append(name)
        return bad


def _names(fn, n) -> list[str]:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return [names[i] if i < len(names) else f"input{i}" for i in range(n)]


def _target_name(fn) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


def _upcast(inputs, slots):
    """float64 copies of the differentiable inputs; other inputs as they are."""
    out = list(inputs)
    low = []
    for i in slots:
        a = inputs[i]
        if isinstance(a, dict):
            out[i] = {k: v.astype(get_xp(v).float64) for k, v in a.items()}
            low += [v.dtype for v in a.values() if v.dtype != np.float64]
        else:
            out[i] = a.astype(get_xp(a).float64)  # always a copy: we perturb it
            if a.dtype != np.float64:
                low.append(a.dtype)
    return out, sorted({str(d) for d in low})


def _fresh(args):
    """Per-call shallow copies of pass-through dicts (bn_param...), so state written by a
    forward in train mode never accumulates in the caller's dict."""
    return [dict(a) if isinstance(a, dict) else a for a in args]


def _split(result, target):
    if not isinstance(result, tuple) or len(result) < 2:
        raise ContractError(f"{target} must return (out, ..., cache); got {type(result).__name__}")
    return list(result[:-1]), result[-1]


def _grads_list(grads, slots, args, target) -> list:
    if not isinstance(grads, tuple):
        grads = (grads,)
    if len(grads) != len(slots):
        raise ContractError(
            f"{target} backward returned {len(grads)} gradient(s); the forward has "
            f"{len(slots)} differentiable input(s)")
    for g, i in zip(grads, slots):
        want = args[i]
        if isinstance(want, dict):
            if not isinstance(g, dict) or set(g) != set(want):
                raise ContractError(f"{target}: gradient of a param dict must be a dict "
                                    f"with keys {sorted(want)}")
            pairs = [(g[k], want[k], k) for k in want]
        else:
            pairs = [(g, want, None)]
        for gk, wk, key in pairs:
            if not is_array(gk) or tuple(gk.shape) != tuple(wk.shape):
                shape = getattr(gk, "shape", type(gk).__name__)
                raise ContractError(f"{target}: gradient {i}{'' if key is None else [key]} "
                                    f"has shape {shape}; the input has {tuple(wk.shape)}")
    return list(grads)


def _named_inputs(call_args, names):
    out = []
    for a, n in zip(call_args, names):
        out += _arrays_in(a, f"input {n}")
    return out


def _run_pure(forward, backward, args, douts_fn, target, names):
    """forward, then backward twice, proving nothing given was written to."""
    call_args = _fresh(args)
    before = _Snapshot(_named_inputs(call_args, names))
    outs, cache = _split(forward(*call_args), target)
    if bad := before.changed():
        raise MutationError(f"{target} forward wrote into its {', '.join(bad)}")
    douts = douts_fn(outs)
    guard = _Snapshot(_named_inputs(call_args, names) + _arrays_in(cache, "cache")
                      + _arrays_in(tuple(douts), "dout"))
    grads = backward(*douts, cache)
    if bad := guard.changed():
        raise MutationError(f"{target} backward wrote into its {', '.join(bad)}")
    again = backward(*douts, cache)
    for (n, g1), (_, g2) in zip(_arrays_in(grads, "grad"), _arrays_in(again, "grad")):
        if not bool(get_xp(g1).array_equal(g1, g2, equal_nan=True)):
            raise NondeterminismError(f"{target} backward is not reentrant: two calls on "
                                      f"one cache gave different {n}")
    return outs, douts, grads


def check_layer(forward: Callable, backward: Callable, *inputs, dout=None, seed: int = 0,
                fast: bool = False, fidelity_rtol: float = 1e-3, wrt=None,
                **options) -> GradcheckReport:
    """Check ``backward`` against numerical gradients of ``forward``.

    Inputs:
    - forward: returns ``(out, cache)`` or ``(out_1, ..., out_k, cache)``
    - backward: ``backward(dout_1, ..., dout_k, cache)``, returning one gradient per
      differentiable input, in order: floating-point arrays, and dicts of float arrays
      (like multi-head attention's params). Integer arrays (labels, indices), bool masks,
      numbers and other dicts (bn_param) pass through undifferentiated.
    - inputs: the forward's positional arguments
    - dout: upstream gradient(s); drawn standard normal from ``seed`` when None
    - fast: check ``num_probes`` random directions per input instead of every element
    - wrt: positions of the inputs the backward differentiates (default: every float
      array and param dict); other float inputs (a regression target) pass through,
      upcast with the rest
    - options: h, rtol, atol, num_checks (sample elements), num_probes, ... (see Options)

    Returns a ``GradcheckReport``; raises ``GradientCheckError`` on a mismatch.
    """
    opts = Options(fast=fast, **options)
    target = _target_name(forward)
    names = _names(forward, len(inputs))
    floats = [i for i, a in enumerate(inputs) if _is_float_array(a) or _is_param_dict(a)]
    slots = floats if wrt is None else [i for i in floats if i in set(wrt)]
    if not slots:
        raise ValueError(f"check_layer: {target} has no floating-point array input to check")
    args64, low = _upcast(inputs, floats)
    rng = np.random.default_rng(seed)
    report = GradcheckReport(target, seed, "fast" if fast else "full")

    def draw(outs):
        if dout is not None:
            given = dout if isinstance(dout, (tuple, list)) else (dout,)
            return [g.astype(get_xp(g).float64) for g in given]
        return [_to_like(rng.standard_normal(o.shape), o) for o in outs]

    outs, douts, grads = _run_pure(forward, backward, args64, draw, target, names)
    grads = _grads_list(grads, slots, args64, target)

    def value():
        res = forward(*_fresh(args64))[:-1]
        return sum(float((o * d).sum()) for o, d in zip(res, douts))

    scale = sum(float(get_xp(o).abs(o * d).sum()) for o, d in zip(outs, douts))
    obj = Objective(value, scale)
    for i, g in zip(slots, grads):
        if isinstance(args64[i], dict):
            for k in args64[i]:
                _check_one(report, f"{names[i]}[{k!r}]", args64[i][k], g[k], obj, opts, rng)
        else:
            _check_one(report, names[i], args64[i], g, obj, opts, rng)
    if low:
        warnings.warn(f"{target}: inputs of dtype {', '.join(low)} were upcast to float64 "
                      "for the gradient check", GradcheckPrecisionWarning, stacklevel=2)
        _fidelity(report, forward, backward, inputs, slots, args64, douts, grads, target,
                  names, fidelity_rtol)
    return _conclude(report)


def _to_like(host_array, like):
    xp = get_xp(like)
    return host_array if xp is np else xp.asarray(host_array)


def _check_one(report, name, x, g, obj, opts, rng):
    g = g.astype(get_xp(g).float64, copy=False)  # stays on its device
    if opts.fast:
        rep = compare_fast(name, x, g, obj, opts, rng, lambda u: _to_like(u, x))
    else:
        rep = compare_elements(name, x, g, obj, opts, rng)
    if rep.checked and g.size and not bool(g.any()) and rep.max_abs_error == 0.0:
        rep.note = "gradient identically zero (here, or by symmetry)"
    report.inputs[name] = rep


def _warn_if_vacuous(report: GradcheckReport) -> None:
    """Every gradient zero: the check could only catch a backward that returns nonzero
    values, e.g. a dead relu, an all-inactive hinge, batchnorm with dout = ones."""
    reps = [r for r in report.inputs.values() if r.checked]
    if reps and all(r.note.startswith("gradient identically zero") for r in reps):
        warnings.warn(f"{report.target}: every gradient is identically zero here: this check "
                      "could not catch most bugs", VacuousCheckWarning, stacklevel=3)


def _fidelity(report, forward, backward, inputs, slots, args64, douts64, grads64, target,
              names, rtol):
    """Run the layer in its own (lower) precision: dtypes must follow the inputs, and the
    gradients must agree with the float64 ones as well as that precision allows.

    What "allows" means depends on the layer's conditioning (batchnorm over a nearly
    constant column amplifies rounding by 1/std), so it is measured, not guessed: the
    float64 backward is rerun on inputs perturbed by a few ulps of ``dtype``, and the
    allowance is ``rtol`` of the layer's largest gradient or 10x how far that moved the
    gradients, whichever is larger. The float64 check above judges correctness;
    this one catches a path that silently computes in lower precision than its inputs.
    """
    dtype = next(v.dtype for i in slots for v in
                 (inputs[i].values() if isinstance(inputs[i], dict) else [inputs[i]]))

    def cast_douts(outs):
        return [d.astype(dtype) for d in douts64]

    outs, _, grads = _run_pure(forward, backward, list(inputs), cast_douts, target, names)
    for k, o in enumerate(outs):
        if np.issubdtype(getattr(o, "dtype", np.int8), np.floating) and o.dtype != dtype:
            raise ContractError(f"{target}: inputs of dtype {dtype} gave output {k} of dtype "
                                f"{o.dtype}; dtype must follow the inputs", report)
    grads = _grads_list(grads, slots, list(inputs), target)
    moved = _perturbed_grads(forward, backward, args64, slots, douts64, dtype)
    triples = [(n, g, np.asarray(to_numpy(g), np.float64), np.asarray(to_numpy(b), np.float64),
                np.asarray(to_numpy(c), np.float64))
               for (n, g), (_, b), (_, c) in zip(_arrays_in(grads, "grad"),
                                                 _arrays_in(grads64, "grad"),
                                                 _arrays_in(moved, "grad"))]
    # Errors are judged against the layer's largest gradient: a gradient zero by
    # symmetry (an affine bias before batchnorm, dx of a layernorm over 2 features) is
    # pure cancellation noise of some ulps of the others. And against how far ulp-sized
    # input changes move the layer's gradients, which measures its conditioning.
    top = max((float(np.max(np.abs(b))) for *_, b, _ in triples if b.size), default=0.0)
    spread = max((float(np.max(np.abs(c - b))) for *_, b, c in triples if b.size),
                 default=0.0)
    for n, g, a, b, _ in triples:
        if g.dtype != dtype:
            raise ContractError(f"{target}: {n} has dtype {g.dtype}; the inputs are {dtype}",
                                report)
        if not b.size:
            continue
        allowed = max(rtol * top, 10 * spread)
        err = float(np.max(np.abs(a - b)))
        if err > allowed:
            raise GradientCheckError(
                f"{target}: the {dtype} backward disagrees with the float64 one: {n} differs "
                f"by {err:.2e} (allowed {allowed:.2e}: {rtol:.0e} of the layer's largest "
                f"gradient, or 10x how far {dtype}-ulp input changes move them)", report)
    report.notes.append(f"{dtype} path agrees with float64 (dtypes kept)")


def _perturbed_grads(forward, backward, args64, slots, douts64, dtype):
    """float64 gradients at inputs moved by about 4 ulps of ``dtype`` (seeded)."""
    rng = np.random.default_rng(12345)
    ulp = 4 * float(np.finfo(dtype).eps)

    def nudge(a):
        u = _to_like(rng.uniform(-ulp, ulp, a.shape), a)
        return a * (1 + u)

    moved = list(args64)
    for i in slots:
        a = args64[i]
        moved[i] = {k: nudge(v) for k, v in a.items()} if isinstance(a, dict) else nudge(a)
    cache = forward(*_fresh(moved))[-1]
    grads = backward(*douts64, cache)
    return list(grads) if isinstance(grads, tuple) else [grads]


def _conclude(report: GradcheckReport) -> GradcheckReport:
    _warn_if_vacuous(report)
    if not report.ok:
        raise GradientCheckError(report.failure_message(), report)
    return report


def check_loss(loss_fn: Callable, x, y, *rest, **options) -> GradcheckReport:
    """Check a loss ``(loss, dx) = loss_fn(x, y, *rest)``: dx against numerical d(loss)/dx.

    Options as for ``check_layer``; ``y`` (labels, or the float targets of a regression
    loss) and ``rest`` (e.g. the bool mask of ``temporal_softmax_loss``) pass through
    undifferentiated: a loss's gradient is on its first input only.
    """
    def backward(dloss, dx):
        return dx * dloss

    backward.__name__ = _target_name(loss_fn)
    return check_layer(loss_fn, backward, x, y, *rest, wrt=(0,), **options)


def check_net(model, X, y, *, seed: int = 0, fast: bool = False, params=None,
              **options) -> GradcheckReport:
    """Check every entry of ``model.params`` against numerical gradients of ``model.loss``.

    The model contract (CS231n): ``model.loss(X, y)`` returns ``(loss, grads)`` with grads
    keyed like ``model.params``, and reads the arrays in ``model.params`` at every call
    (the checker perturbs them in place). Params that are not float64 are replaced by
    float64 copies for the check, then restored; a net computes in its params' dtype
    (``nets.Model``), so that makes the whole check float64. ``params`` limits the check
    to some keys; ``num_checks`` samples that many elements of each param, so small
    biases are never drowned by big weights.
    """
    opts = Options(fast=fast, **options)
    target = type(model).__name__ + ".loss"
    rng = np.random.default_rng(seed)
    report = GradcheckReport(target, seed, "fast" if fast else "full")
    originals = dict(model.params)
    low = sorted({str(p.dtype) for p in originals.values()
                  if _is_float_array(p) and p.dtype != np.float64})
    try:
        for k, p in originals.items():
            if _is_float_array(p):
                model.params[k] = p.astype(get_xp(p).float64)
        if _is_float_array(X):
            X = X.astype(get_xp(X).float64)
        if low:
            warnings.warn(f"{target}: params of dtype {', '.join(low)} were upcast to "
                          "float64 for the gradient check", GradcheckPrecisionWarning,
                          stacklevel=2)
        guard = _Snapshot(_arrays_in(X, "input X") + _arrays_in(y, "input y")
                          + _arrays_in(model.params, "params"))
        loss, grads = model.loss(X, y)
        if bad := guard.changed():
            raise MutationError(f"{target} wrote into its {', '.join(bad)}")
        loss2, grads2 = model.loss(X, y)
        if float(loss) != float(loss2):
            raise NondeterminismError(
                f"{target} gave two losses for the same input ({float(loss)!r}, "
                f"{float(loss2)!r}): fix the model's seed (dropout?) before checking")
        keys = list(model.params) if params is None else list(params)
        missing = [k for k in keys if k not in grads]
        if missing or set(grads) - set(model.params):
            raise ContractError(f"{target}: grads keys {sorted(grads)} must equal params keys "
                                f"{sorted(model.params)}")
        scale = abs(float(loss)) + sum(
            float(get_xp(g).abs(model.params[k] * g).sum()) for k, g in grads.items())
        obj = Objective(lambda: float(model.loss(X, y)[0]), scale)
        for k in keys:
            _check_one(report, k, model.params[k], grads[k], obj, opts, rng)
    finally:
        model.params.update(originals)
    return _conclude(report)
