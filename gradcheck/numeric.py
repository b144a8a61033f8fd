"""The four numerical-gradient functions of the CS231n assignments, call-compatible.

Each perturbs the array it is given *in place* (f reads x by reference, as the notebooks
expect) and restores every element it touched before returning, also when f raises.
They work on numpy and cupy arrays alike (no ``np.nditer``, which cupy lacks).
"""

from __future__ import annotations

import numpy as np

from layers.backend import get_xp, to_scalar


def rel_error(x, y):
    """max |x - y| / max(1e-8, |x| + |y|), elementwise, as a Python float."""
    xp = get_xp(x, y)
    x = xp.asarray(x)
    y = xp.asarray(y)
    return to_scalar(xp.max(xp.abs(x - y) / xp.maximum(1e-8, xp.abs(x) + xp.abs(y))))


def eval_numerical_gradient(f, x, verbose=True, h=1e-5):
    """Centred-difference gradient of a scalar function f at x.

    Inputs:
    - f: callable taking x (read by reference) and returning a scalar
    - x: float array, perturbed in place one element at a time and restored
    - verbose: print each index and its numerical derivative
    - h: step

    Returns:
    - grad: array of x's shape and dtype
    """
    xp = get_xp(x)
    grad = xp.zeros_like(x)
    for ix in np.ndindex(*x.shape):
        old = x[ix].copy()
        try:
            x[ix] = old + h
            fxph = to_scalar(f(x))
            x[ix] = old - h
            fxmh = to_scalar(f(x))
        finally:
            x[ix] = old
        grad[ix] = (fxph - fxmh) / (2 * h)
        if verbose:
            print(ix, to_scalar(grad[ix]))
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """Centred-difference gradient of sum(f(x) * df) for an array-valued f.

    Inputs:
    - f: callable taking x (read by reference) and returning an array
    - x: float array, perturbed in place and restored
    - df: upstream gradient, the shape of f(x)
    - h: step

    Returns:
    - grad: array of x's shape and dtype
    """
    xp = get_xp(x, df)
    grad = xp.zeros_like(x)
    for ix in np.ndindex(*x.shape):
        old = x[ix].copy()
        try:
            x[ix] = old + h
            pos = f(x).copy()  # copy: f may return a view that the restore would change
            x[ix] = old - h
            neg = f(x).copy()
        finally:
            x[ix] = old
        grad[ix] = ((pos - neg) * df).sum() / (2 * h)
    return grad


def grad_check_sparse(f, x, analytic_grad, num_checks=10, h=1e-5, seed=None):
    """Compare ``analytic_grad`` with centred differences at ``num_checks`` random elements.

    Prints one line per sample and returns the list of relative errors. ``seed`` (an
    addition to the CS231n signature) fixes which elements are sampled.
    """
    rng = np.random.default_rng(seed)
    errors = []
    for _ in range(num_checks):
        ix = tuple(int(rng.integers(m)) for m in x.shape)
        old = x[ix].copy()
        try:
            x[ix] = old + h
            fxph = to_scalar(f(x))
            x[ix] = old - h
            fxmh = to_scalar(f(x))
        finally:
            x[ix] = old
        grad_numerical = (fxph - fxmh) / (2 * h)
        grad_analytic = to_scalar(analytic_grad[ix])
        denom = abs(grad_numerical) + abs(grad_analytic)
        rel = abs(grad_numerical - grad_analytic) / denom if denom > 0 else 0.0
        errors.append(rel)
        print(f"numerical: {grad_numerical:f} analytic: {grad_analytic:f}, "
              f"relative error: {rel:e}")
    return errors
