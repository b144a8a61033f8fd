"""A small reverse-mode autograd over the kit's own layer pairs (first order, as micrograd
and DeZero without ``create_graph``).

    x = Tensor(X)                                    # a constant
    w = Tensor(W, requires_grad=True)                # a leaf that wants its gradient
    out = apply(affine_forward, affine_backward, x, w, b)    # any layer pair, one line
    loss = apply_loss(softmax_loss, out, y)          # any (loss, dx) loss
    loss.backward()                                  # w.grad, b.grad now hold dL/dw, dL/db

Every hand-written ``X_forward`` / ``X_backward`` pair of ``layers`` becomes one node of
the graph through ``apply``: its forward runs on the raw arrays and keeps its cache, its
backward maps the upstream gradients to one gradient per differentiable input (float
arrays, and dicts of float arrays like multi-head attention's params). The elementwise,
matmul, reduction, shape and indexing operations below are the glue between layers
(residual sums, reshapes, slices); their backwards sum over broadcast axes.

Semantics follow PyTorch: gradients reach leaves only (``requires_grad=True`` and not the
output of an operation) and accumulate there (a new array ``grad + g``: an array a caller
holds is never written to); ``no_grad()`` records nothing. Unlike PyTorch the graph is not
freed by ``backward``: a second ``backward`` on the same output adds the same gradients
again (as ``retain_graph=True`` would). Everything runs on the array module of the data
(numpy or cupy), as the layers do.
"""

from __future__ import annotations

from typing import Callable

from layers.backend import is_array

from .tensor import Tensor, _as_array, _record, is_grad_enabled, no_grad

__all__ = ["Tensor", "apply", "apply_loss", "no_grad", "is_grad_enabled"]


def _is_float(a) -> bool:
    return is_array(a) and a.dtype.kind == "f"


def _unwrap(a):
    """(raw argument, whether it is a differentiable slot of a layer's backward)."""
    if isinstance(a, Tensor):
        return a.data, a.data.dtype.kind == "f"
    if isinstance(a, dict) and a and all(isinstance(v, Tensor) or _is_float(v)
                                         for v in a.values()):
        return {k: _as_array(v) for k, v in a.items()}, True
    return a, _is_float(a)


def apply(forward: Callable, backward: Callable, *args, **kwargs):
    """Run a layer pair as one differentiable operation.

    Inputs:
    - forward: ``forward(*args, **kwargs) -> (out_1, ..., out_k, cache)``
    - backward: ``backward(dout_1, ..., dout_k, cache)`` returning one gradient per
      differentiable input of the forward, in order (as every layer of ``layers``)
    - args: the forward's arguments; Tensors are passed as their ``.data``, dicts of
      Tensors (multi-head attention's params) as dicts of arrays. The differentiable
      inputs are the floating-point arrays and dicts of them, Tensors or not: a Tensor
      that requires grad receives its gradient; the gradients of plain arrays are dropped.
      Everything else (labels, masks, ``bn_param`` dicts, ints) passes through as it is,
      so ``bn_param`` receives its running statistics as with a direct call.
    - kwargs: keyword arguments, passed through (Tensors unwrapped, given no gradient)

    Returns the output Tensor (or a tuple of k Tensors).
    """
    raw, slots, inputs = [], [], []
    for a in args:
        r, diff = _unwrap(a)
        raw.append(r)
        if diff:
            slots.append(a)
    kw = {k: _as_array(v) if isinstance(v, Tensor) else v for k, v in kwargs.items()}
    name = getattr(forward, "__name__", "forward")
    res = forward(*raw, **kw)
    if not isinstance(res, tuple) or len(res) < 2:
        raise TypeError(f"apply: {name} must return (out, ..., cache); got "
                        f"{type(res).__name__}")
    outs, cache = list(res[:-1]), res[-1]
    # the graph's inputs: each Tensor, and each Tensor inside a dict slot
    for a in slots:
        inputs += list(a.values()) if isinstance(a, dict) else [a]

    def node_backward(douts):
        grads = backward(*douts, cache)
        grads = grads if isinstance(grads, tuple) else (grads,)
        if len(grads) != len(slots):
            raise TypeError(f"apply: {getattr(backward, '__name__', 'backward')} returned "
                            f"{len(grads)} gradient(s); {name} has {len(slots)} "
                            f"differentiable input(s)")
        flat = []
        for a, g in zip(slots, grads):
            flat += [g[k] for k in a] if isinstance(a, dict) else [g]
        return flat
    if len(outs) == 1:
        return _record(name, outs[0], tuple(inputs), lambda g: node_backward([g]))
    return _record(name, outs, tuple(inputs), node_backward, n_out=len(outs))


def apply_loss(loss_fn: Callable, x, *args) -> Tensor:
    """Lift a kit loss ``(loss, dx) = loss_fn(x, *args)`` (softmax_loss, svm_loss,
    temporal_softmax_loss...): a scalar Tensor whose backward sends ``dloss * dx`` to x.
    The other arguments (labels, masks) pass through."""
    rest = [_as_array(a) for a in args]

    def forward(xd):  # the other arguments are closed over: they get no gradient
        return loss_fn(xd, *rest)

    def backward(dloss, dx):
        return dx * dloss

    forward.__name__ = backward.__name__ = getattr(loss_fn, "__name__", "loss")
    return apply(forward, backward, x)

