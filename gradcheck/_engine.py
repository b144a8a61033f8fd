"""The numerical side of a gradient check: finite differences with an error model.

For one element (or one direction u in fast mode) the checker evaluates the scalar
objective f at x, x ± h and x ± 2h, and forms

    d1 = (f(x+h) - f(x-h)) / 2h,  d2 = (f(x+2h) - f(x-2h)) / 4h,  n = (4 d1 - d2) / 3

(Richardson extrapolation: n is 4th-order accurate). Its error is bounded by

    rounding   ~ noise_ulps * eps * S / h   (S: magnitude of the terms summed into f)
    truncation ~ |d1 - d2|                  (an overestimate of n's own error)

and the analytic value a passes when |a - n| <= rtol * max(|a|, |n|) + atol +
safety * (rounding + truncation). The one-sided slopes L = (f(x) - f(x-h)) / h and
R = (f(x+h) - f(x)) / h tell a kink from a curve: on a smooth f, R - L = h f'' is tiny
and doubles with the step; across a kink it is the jump in slope, whatever the step.
A suspected kink is probed again with steps 10, 100 and 1000 times smaller: if the kink
is merely *near* x the small steps no longer cross it and the element gets the strict
check (so a wrong gradient next to a kink is still caught); if it is *at* x the analytic
value must lie between the one-sided derivatives (a valid subgradient).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .report import InputReport, Offender

EPS = float(np.finfo(np.float64).eps)


@dataclass
class Options:
    h: float = 1e-5  # relative step: h_i ~ h * max(1, |x_i|), rounded to a power of 2
    rtol: float = 1e-6
    atol: float = 0.0
    safety: float = 16.0  # multiplies the error estimates
    noise_ulps: float = 64.0  # rounding error of f, in units of eps * S
    kink_rtol: float = 1e-3  # slope jump (relative to the gradient scale) that means a kink
    refine: tuple = (1e-1, 1e-2, 1e-3)  # smaller steps tried at a suspected kink
    fast: bool = False
    num_probes: int = 4  # fast mode: random +-1 directions per input
    fast_rtol: float = 1e-8  # fast mode: analytic rounding allowance, times sum |a|
    num_checks: int | None = None  # full mode: sample this many elements per input
    top_k: int = 5


class Objective:
    """The scalar f evaluated at the current contents of the perturbed arrays."""

    def __init__(self, fn: Callable[[], float], scale: float):
        self.fn = fn
        self.scale = scale  # S in the rounding estimate
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return float(self.fn())


def _pow2(h: float) -> float:
    """The power of two nearest h: x +- h is then exact for most x."""
    return 2.0 ** round(math.log2(h))


def _stencil(obj: Objective, x, index, h: float, direction=None, base=None):
    """f at x + t*h (or x + t*h*direction), t in (1, -1, 2, -2); x is restored after."""
    vals = []
    try:
        for t in (1.0, -1.0, 2.0, -2.0):
            if direction is None:
                x[index] = base + t * h
            else:
                x[...] = base + (t * h) * direction
            vals.append(obj())
    finally:
        if direction is None:
            x[index] = base
        else:
            x[...] = base
    return vals


@dataclass
class _Point:
    n: float  # the numerical derivative
    tol: float  # its tolerance, before the rtol part
    kink: bool
    lo: float = 0.0  # one-sided slopes at a kink
    hi: float = 0.0


def _assess(f0, vals, h, opts: Options, S: float, gscale: float) -> _Point:
    fp1, fm1, fp2, fm2 = vals
    d1 = (fp1 - fm1) / (2 * h)
    d2 = (fp2 - fm2) / (4 * h)
    n = (4 * d1 - d2) / 3
    noise = opts.noise_ulps * EPS * S / h
    gap1 = (fp1 - 2 * f0 + fm1) / h  # R - L at step h
    gap2 = (fp2 - 2 * f0 + fm2) / (2 * h)  # R - L at step 2h
    thresh = opts.kink_rtol * gscale + opts.safety * noise
    kink = abs(gap1) > thresh or abs(gap2) > 2 * thresh
    tol = opts.safety * (noise + abs(d1 - d2))
    if not kink:
        return _Point(n, tol, False)
    L1, R1 = (f0 - fm1) / h, (fp1 - f0) / h
    L2, R2 = (f0 - fm2) / (2 * h), (fp2 - f0) / (2 * h)
    # the one-sided slopes have O(h f'') error: |L2 - L1| estimates it
    ktol = opts.safety * (noise + abs(L2 - L1) + abs(R2 - R1))
    return _Point(d1, ktol, True, min(L1, R1), max(L1, R1))


def _judge(a: float, p: _Point, opts: Options) -> tuple[bool, float, float]:
    """(passes, the numeric value to report, the tolerance)."""
    if not p.kink:
        tol = opts.rtol * max(abs(a), abs(p.n)) + opts.atol + p.tol
        return abs(a - p.n) <= tol, p.n, tol
    tol = opts.rtol * max(abs(a), abs(p.lo), abs(p.hi)) + opts.atol + p.tol
    return p.lo - tol <= a <= p.hi + tol, p.n, tol


def _point(obj, x, index, base, h, f0, opts, gscale, direction=None):
    """Assess one element or direction, refining the step at a suspected kink."""
    p = _assess(f0, _stencil(obj, x, index, h, direction, base), h, opts, obj.scale, gscale)
    for r in opts.refine:
        if not p.kink:
            break
        hr = _pow2(h * r)
        p = _assess(f0, _stencil(obj, x, index, hr, direction, base), hr, opts,
                    obj.scale, gscale)
    return p


def _record(rep: InputReport, offenders: list, idx, a, n, tol, ok):
    rep.checked += 1
    err = abs(a - n)
    rep.max_abs_error = max(rep.max_abs_error, err)
    rep.max_rel_error = max(rep.max_rel_error, err / max(abs(a) + abs(n), 1e-300))
    if not ok:
        rep.failed += 1
    offenders.append((err / tol if tol > 0 else (math.inf if err > 0 else 0.0),
                      Offender(tuple(int(i) for i in idx), a, n, tol)))


def _finish(rep: InputReport, offenders: list, opts: Options) -> InputReport:
    offenders.sort(key=lambda t: t[0], reverse=True)
    rep.top = [o for _, o in offenders[: opts.top_k]]
    rep.worst = rep.top[0] if rep.top else None
    return rep


def compare_elements(name, x, analytic, obj: Objective, opts: Options,
                     rng: np.random.Generator, indices=None) -> InputReport:
    """Elementwise check of ``analytic`` against f's derivative in x, element by element.

    ``x`` is the float64 array f reads (numpy or cupy); it is perturbed and restored.
    """
    shape = tuple(analytic.shape)
    if indices is None:
        if opts.num_checks is not None and opts.num_checks < analytic.size:
            flat = rng.choice(analytic.size, size=opts.num_checks, replace=False)
            indices = [np.unravel_index(int(i), shape) for i in np.sort(flat)]
            mode = "sampled"
        else:
            indices = list(np.ndindex(*shape))
            mode = "full"
    else:
        mode = "full"
    rep = InputReport(name, shape, mode)
    if not indices:
        return rep
    host = np.asarray(_host(x), dtype=np.float64)
    analytic = np.asarray(_host(analytic), dtype=np.float64)
    f0 = obj()
    gscale = max(float(np.max(np.abs(analytic))) if analytic.size else 0.0, 1e-300)
    offenders: list = []
    steps = []
    for idx in indices:
        base = float(host[idx])
        h = _pow2(opts.h * max(1.0, abs(base)))
        steps.append(h)
        p = _point(obj, x, idx, base, h, f0, opts, gscale)
        a = float(analytic[idx])
        ok, n, tol = _judge(a, p, opts)
        rep.kinks += int(p.kink)
        _record(rep, offenders, idx, a, n, tol, ok)
    rep.step = float(np.median(steps))
    return _finish(rep, offenders, opts)


def compare_fast(name, x, analytic, obj: Objective, opts: Options,
                 rng: np.random.Generator, to_device) -> InputReport:
    """Directional check: ``num_probes`` random +-1 directions u, <a, u> against f's
    derivative along u. A failing probe is localised by bisection of u's support, then
    the last small block is checked element by element, so the report names the index.

    ``x`` and ``analytic`` stay on their device (numpy or cupy): directions are drawn on
    the host and sent over, and only scalars (f's values, <a, u>) come back.
    """
    shape = tuple(analytic.shape)
    rep = InputReport(name, shape, "fast")
    if analytic.size == 0:
        return rep
    base = x.copy()
    h = _pow2(opts.h * max(1.0, float(abs(x).max())))
    rep.step = h
    f0 = obj()
    offenders: list = []
    located: list = []
    for p_i in range(opts.num_probes):
        u = rng.choice(np.array([-1.0, 1.0]), size=shape)
        fail, a, n, tol, kink = _probe(obj, x, base, to_device(u), analytic, h, f0, opts)
        rep.kinks += int(kink)
        _record(rep, offenders, (p_i,), a, n, tol, not fail)
        if fail and not located:
            located = _bisect(name, obj, x, base, u, analytic, h, f0, opts, to_device, rng)
    _finish(rep, offenders, opts)
    if located:  # name the element, not the probe
        rep.top = located[: opts.top_k]
        rep.worst = located[0]
        rep.note = (f"probe failed; bisection located {len(located)} bad element(s), "
                    f"worst at index {list(located[0].index)}")
    return rep


def _probe(obj, x, base, du, analytic, h, f0, opts):
    prod = analytic * du
    a = float(prod.sum())
    gscale = max(float(abs(prod).sum()), 1e-300)
    p = _point(obj, x, None, base, h, f0, opts, gscale, direction=du)
    if p.kink:  # a kink along u: one-sided slopes need not bound <a, u>; inconclusive
        return False, a, p.n, p.tol, True
    tol = opts.fast_rtol * gscale + opts.atol + p.tol
    return abs(a - p.n) > tol, a, p.n, tol, False


def _bisect(name, obj, x, base, u, analytic, h, f0, opts, to_device, rng):
    """Halve the support of u while the half keeps failing; check the last block fully."""
    support = np.arange(u.size)
    while support.size > 16:
        half = support[: support.size // 2]
        mask = np.zeros(u.size)
        mask[half] = 1.0
        fail, *_ = _probe(obj, x, base, to_device(u * mask.reshape(u.shape)), analytic, h,
                          f0, opts)
        support = half if fail else support[support.size // 2:]
    indices = [np.unravel_index(int(i), u.shape) for i in support]
    block = compare_elements(name, x, analytic, obj, opts, rng, indices=indices)
    return [o for o in block.top if o.error > o.tolerance]


def _host(x):
    return x.get() if hasattr(x, "get") and not isinstance(x, np.ndarray) else x
