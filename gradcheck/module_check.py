"""One-call gradient check of a module, or of any function of Tensors, the way
``check_net`` checks a net:

    report = check_module(model, X)                       # every parameter
    report = check_module(lambda a, b: (a @ b).sum(), Tensor(A, requires_grad=True), B)
    report = check_module(lambda x: cross_entropy(model(x), y), X,
                          parameters=model.named_parameters())

Duck-typed, so ``gradcheck`` needs nothing from ``nets``: the parameters are what
``fn.named_parameters()`` yields (if fn has it), and the arguments with a ``.data`` float
array and ``requires_grad`` set are checked the same way. ``fn(*inputs)`` must return an
object with ``.data`` and ``.backward(grad)``. Everything runs in float64 (float
parameters and inputs are swapped for float64 copies during the check, then restored, as
are the ``.grad`` they had). A random upstream gradient (seeded) is pushed through one
``backward``; the numerical gradient of ``sum(fn(*inputs).data * dout)`` is taken by
perturbing each ``.data`` in place. ``fn`` must be deterministic: put dropout in eval
mode or give it a fixed mask.
"""

from __future__ import annotations

import warnings
from typing import Callable

import numpy as np

from layers.backend import get_xp

from ._engine import Objective, Options
from .check import _check_one, _conclude, _is_float_array, _target_name
from .report import (ContractError, GradcheckPrecisionWarning, GradcheckReport,
                     NondeterminismError)

__all__ = ["check_module"]


def _leaves(fn, inputs, parameters) -> list[tuple[str, object]]:
    """(name, object with .data/.grad) for every parameter of fn (or given) and every
    input that requires a gradient."""
    if parameters is not None:
        out = [p if isinstance(p, tuple) else (f"param {i}", p)
               for i, p in enumerate(parameters)]
    else:
        out = list(fn.named_parameters()) if hasattr(fn, "named_parameters") else []
    seen = {id(p) for _, p in out}
    for i, a in enumerate(inputs):
        if getattr(a, "requires_grad", False) and _is_float_array(getattr(a, "data", None)) \
                and id(a) not in seen:
            out.append((f"input {i}", a))
    return out


def check_module(fn: Callable, *inputs, dout=None, seed: int = 0, fast: bool = False,
                 params=None, parameters=None, **options) -> GradcheckReport:
    """Check the gradients ``fn``'s backward gives its parameters and Tensor inputs.

    Inputs:
    - fn: a module or any callable of Tensors returning a Tensor
    - inputs: fn's arguments: Tensors (checked when they require a gradient), arrays,
      anything else (passed as they are)
    - dout: upstream gradient of fn's output; drawn standard normal from ``seed`` if None
    - params: names (as ``named_parameters`` gives them, or "input i") to limit the check
    - parameters: the leaves fn uses besides its Tensor inputs, when fn is not a module
      itself (``parameters=model.named_parameters()`` for ``lambda x: loss(model(x), y)``):
      (name, Tensor) pairs or Tensors
    - fast, options: as ``check_layer`` (h, rtol, atol, num_checks, num_probes, ...)

    Returns a ``GradcheckReport``; raises ``GradientCheckError`` on a mismatch.
    """
    opts = Options(fast=fast, **options)
    target = _target_name(fn)
    rng = np.random.default_rng(seed)
    report = GradcheckReport(target, seed, "fast" if fast else "full")
    leaves = _leaves(fn, inputs, parameters)
    if params is not None:
        leaves = [(n, p) for n, p in leaves if n in set(params)]
    if not leaves:
        raise ValueError(f"check_module: {target} has no parameter and no input that "
                         "requires a gradient")
    # float64 everywhere: leaves and other float inputs (objects with .data, or arrays)
    holders = [p for _, p in leaves] + [
        a for a in inputs if _is_float_array(getattr(a, "data", None))
        and all(a is not p for _, p in leaves)]
    saved = [(h, h.data, getattr(h, "grad", None)) for h in holders]
    low = sorted({str(h.data.dtype) for h in holders if h.data.dtype != np.float64})
    args = [a.astype(get_xp(a).float64) if _is_float_array(a) else a for a in inputs]
    try:
        for h in holders:
            h.data = h.data.astype(get_xp(h.data).float64)  # a copy: it gets perturbed
            if hasattr(h, "grad"):
                h.grad = None
        if low:
            warnings.warn(f"{target}: data of dtype {', '.join(low)} was upcast to float64 "
                          "for the gradient check", GradcheckPrecisionWarning, stacklevel=2)
        out = fn(*args)
        if not hasattr(out, "backward") or not _is_float_array(getattr(out, "data", None)):
            raise ContractError(f"check_module: {target} must return a Tensor (with .data "
                                f"and .backward); got {type(out).__name__}")
        xp = get_xp(out.data)
        d = xp.asarray(rng.standard_normal(out.data.shape)) if dout is None else \
            xp.asarray(dout, dtype=xp.float64)
        out.backward(d)
        grads = {n: (p.grad if p.grad is not None else xp.zeros_like(p.data))
                 for n, p in leaves}

        def value():
            return float((fn(*args).data * d).sum())

        first, again = value(), value()
        if first != again:
            raise NondeterminismError(f"{target} gave two outputs for the same input: fix "
                                      "its randomness (dropout?) before checking")
        scale = abs(first) + sum(float(xp.abs(p.data * g).sum()) for (_, p), g in
                                 zip(leaves, grads.values()))
        obj = Objective(value, scale)
        for n, p in leaves:
            if tuple(grads[n].shape) != tuple(p.data.shape):
                raise ContractError(f"check_module: {n}.grad has shape "
                                    f"{tuple(grads[n].shape)}; the data {tuple(p.data.shape)}")
            _check_one(report, n, p.data, grads[n], obj, opts, rng)
    finally:
        for h, data, grad in saved:
            h.data = data
            if hasattr(h, "grad"):
                h.grad = grad
    return _conclude(report)
