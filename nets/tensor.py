"""``Tensor``: an array with a gradient, the operations between layers (elementwise with
broadcasting, matmul, reductions, reshapes, indexing) with their backwards, and the
reverse-mode machinery (topological ``backward`` with accumulation, ``no_grad``).
``nets.autograd`` lifts the kit's layer pairs onto it; see its docstring."""

from __future__ import annotations

import contextlib
import math
from typing import Callable

import numpy as np

from layers.backend import get_xp, is_array, scatter_add

__all__ = ["Tensor", "no_grad", "is_grad_enabled", "unbroadcast"]

_grad_enabled = True


def is_grad_enabled() -> bool:
    """False inside ``no_grad()``."""
    return _grad_enabled


@contextlib.contextmanager
def no_grad():
    """Within this block operations record no graph (inference, optimizer steps)."""
    global _grad_enabled
    old, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = old


class _Node:
    """One recorded operation: its input Tensors, the shapes/dtypes of its outputs (the
    outputs themselves are not held, so no cycle keeps big arrays alive), and
    ``backward(douts) -> one gradient (or None) per input``."""

    __slots__ = ("inputs", "out_meta", "backward", "name")

    def __init__(self, inputs, outs, backward, name):
        self.inputs = inputs
        self.out_meta = [(o.shape, o.dtype, get_xp(o)) for o in outs]
        self.backward = backward
        self.name = name


class Tensor:
    """An array (numpy or cupy) with an optional gradient.

    Attributes:
    - data: the array (never copied: ``Tensor(a).data is a``; operations never write it)
    - grad: None until a backward reaches this leaf; then an array of data's shape
    - requires_grad: whether a backward should compute ``grad``
    """

    __array_ufunc__ = None  # ndarray <op> Tensor defers to Tensor's reflected operator

    def __init__(self, data, requires_grad: bool = False):
        if isinstance(data, Tensor):
            raise TypeError("Tensor: data must be an array, not a Tensor (use .data)")
        if not is_array(data):
            data = np.asarray(data)
            if data.dtype == object:
                raise TypeError(f"Tensor: data must be a numeric array; got {data!r}")
        if requires_grad and data.dtype.kind != "f":
            raise TypeError(f"Tensor: only floating-point data can require a gradient; "
                            f"got dtype {data.dtype}")
        self.data = data
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._node: _Node | None = None  # the operation that made this Tensor, if recorded
        self._index = 0  # which output of that operation

    # --- array-like attributes ---------------------------------------------------------
    shape = property(lambda self: tuple(self.data.shape))
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)
    is_leaf = property(lambda self: self._node is None)

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({self.data!r}{grad})"

    def item(self) -> float:
        return float(self.data)

    def numpy(self):
        return self.data

    def detach(self) -> "Tensor":
        """The same data, cut from the graph."""
        return Tensor(self.data)

    def zero_grad(self) -> None:
        self.grad = None

    # --- backward ----------------------------------------------------------------------
    def backward(self, grad=None) -> None:
        """Accumulate d(self)/d(leaf) · grad into every leaf that requires a gradient.

        Inputs:
        - grad: array of self's shape (the upstream gradient); None for a one-element
          Tensor (a loss), which seeds 1
        """
        if not self.requires_grad:
            raise RuntimeError("backward: this Tensor does not require grad (no leaf "
                               "with requires_grad=True reaches it, or it was made "
                               "under no_grad)")
        xp = get_xp(self.data)
        if grad is None:
            if self.data.size != 1:
                raise ValueError(f"backward: grad can be omitted only for a one-element "
                                 f"output; this one has shape {self.shape}")
            grad = xp.ones_like(self.data)
        else:
            grad = _as_array(grad)
            if tuple(grad.shape) != self.shape:
                raise ValueError(f"backward: grad must have the output's shape {self.shape}; "
                                 f"got {tuple(grad.shape)}")
        if self._node is None:
            _accumulate(self, grad)
            return
        node_grads = {id(self._node): _slot(self._node, self._index, grad)}
        leaves: dict[int, list] = {}  # id -> [Tensor, summed gradient]
        for node in _topological(self._node):
            douts = node_grads.pop(id(node), None)
            if douts is None:  # nothing flows here (all its outputs' gradients unused)
                continue
            douts = [g if g is not None else m[2].zeros(m[0], dtype=m[1])
                     for g, m in zip(douts, node.out_meta)]
            for t, g in zip(node.inputs, node.backward(douts)):
                if g is None or not isinstance(t, Tensor) or not t.requires_grad:
                    continue
                if t._node is None:
                    entry = leaves.setdefault(id(t), [t, None])
                    entry[1] = g if entry[1] is None else entry[1] + g
                else:
                    slots = node_grads.setdefault(id(t._node), [None] * len(t._node.out_meta))
                    old = slots[t._index]
                    slots[t._index] = g if old is None else old + g
        for t, g in leaves.values():
            _accumulate(t, g)

    # --- operators ---------------------------------------------------------------------
    def __add__(self, other):
        return _binary(self, other, "add")

    def __radd__(self, other):
        return _binary(other, self, "add")

    def __sub__(self, other):
        return _binary(self, other, "sub")

    def __rsub__(self, other):
        return _binary(other, self, "sub")

    def __mul__(self, other):
        return _binary(self, other, "mul")

    def __rmul__(self, other):
        return _binary(other, self, "mul")

    def __truediv__(self, other):
        return _binary(self, other, "div")

    def __rtruediv__(self, other):
        return _binary(other, self, "div")

    def __matmul__(self, other):
        return _matmul(self, other)

    def __rmatmul__(self, other):
        return _matmul(other, self)

    def __neg__(self):
        return _record("neg", -self.data, (self,), lambda g: (-g,))

    def __pow__(self, p):
        """Elementwise power by a Python number (the exponent gets no gradient)."""
        if isinstance(p, Tensor) or not isinstance(p, (int, float)):
            raise TypeError(f"Tensor.__pow__: the exponent must be a Python number; "
                            f"got {type(p).__name__}")
        x = self.data
        return _record("pow", x ** p, (self,), lambda g: (g * (p * x ** (p - 1)),))

    def exp(self):
        out = get_xp(self.data).exp(self.data)
        return _record("exp", out, (self,), lambda g: (g * out,))

    def log(self):
        x = self.data
        return _record("log", get_xp(x).log(x), (self,), lambda g: (g / x,))

    def tanh(self):
        out = get_xp(self.data).tanh(self.data)
        return _record("tanh", out, (self,), lambda g: (g * (1 - out * out),))

    def abs(self):
        """|x|; the gradient is sign(x) (0 at 0, as PyTorch)."""
        x = self.data
        xp = get_xp(x)
        return _record("abs", xp.abs(x), (self,), lambda g: (g * xp.sign(x),))

    def sum(self, axis=None, keepdims: bool = False):
        """Sum over ``axis`` (int, tuple or None for all); the gradient is broadcast back."""
        shape = self.shape
        axes = _axes(axis, len(shape))

        def backward(g):
            if not keepdims:
                g = g.reshape(tuple(1 if i in axes else n for i, n in enumerate(shape)))
            return (get_xp(g).broadcast_to(g, shape),)
        return _record("sum", self.data.sum(axis=axis, keepdims=keepdims), (self,), backward)

    def mean(self, axis=None, keepdims: bool = False):
        """Mean over ``axis``; the sum scaled by 1/count in data's dtype."""
        count = math.prod(self.shape[i] for i in _axes(axis, self.ndim))
        return self.sum(axis, keepdims) * (1.0 / count)

    def reshape(self, *shape):
        """A view of new shape (one entry may be -1); ``reshape(a, b)`` or ``reshape((a, b))``."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        old = self.shape
        return _record("reshape", self.data.reshape(shape), (self,),
                       lambda g: (g.reshape(old),))

    def transpose(self, *axes):
        """Permute the axes (reverse them when none are given), as ndarray.transpose."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        axes = axes or tuple(range(self.ndim))[::-1]
        inverse = tuple(int(i) for i in np.argsort(axes))
        return _record("transpose", self.data.transpose(axes), (self,),
                       lambda g: (g.transpose(inverse),))

    @property
    def T(self):
        return self.transpose()

    def __getitem__(self, index):
        """Indexing as numpy's (slices, ints, integer and bool arrays); the gradient is
        scattered back, repeated indices accumulating."""
        if isinstance(index, Tensor):
            index = index.data
        elif isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        x = self.data

        def backward(g):
            out = get_xp(g).zeros(x.shape, dtype=g.dtype)
            if _is_basic(index):  # slices and ints: each element picked at most once
                out[index] = g  # our own new array
                return (out,)
            return (scatter_add(out, index, g),)
        return _record("getitem", x[index], (self,), backward)


# --- the machinery ------------------------------------------------------------------------


def _as_array(a):
    """The array of a Tensor; arrays and Python numbers as they are (a Python float stays
    "weak" so float32 * 2.0 is float32); anything else through np.asarray."""
    if isinstance(a, Tensor):
        return a.data
    if is_array(a) or isinstance(a, (int, float)):
        return a
    return np.asarray(a)


def _accumulate(t: Tensor, g) -> None:
    """t.grad += g, as a new array (the previous grad may be held by a caller)."""
    if tuple(g.shape) != t.shape:
        raise RuntimeError(f"backward: a gradient of shape {tuple(g.shape)} reached a "
                           f"Tensor of shape {t.shape}")
    t.grad = g if t.grad is None else t.grad + g


def _slot(node: _Node, index: int, g) -> list:
    slots = [None] * len(node.out_meta)
    slots[index] = g
    return slots


def _topological(root: _Node) -> list[_Node]:
    """Nodes reachable from root, each before the nodes that made its inputs (so a node's
    gradients are complete when it is processed: the diamond case)."""
    order, visited = [], set()
    stack = [(root, False)]
    while stack:  # iterative post-order DFS: deep graphs (long sequences) need no recursion
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in visited:  # marked on visit, not on push: else post-order breaks
            continue
        visited.add(id(node))
        stack.append((node, True))
        for t in node.inputs:
            parent = t._node if isinstance(t, Tensor) else None
            if parent is not None and id(parent) not in visited:
                stack.append((parent, False))
    return order[::-1]


def _record(name: str, out, inputs: tuple, backward: Callable, n_out: int = 1):
    """Wrap the output array(s) of an operation in Tensors and record the operation if
    gradients are on and an input requires one. ``backward(g)`` for one output gets the
    array; for several it gets the list."""
    outs = list(out) if n_out > 1 else [out]
    wanted = _grad_enabled and any(isinstance(t, Tensor) and t.requires_grad for t in inputs)
    tensors = [Tensor(o) for o in outs]
    if wanted:
        node = _Node(inputs, outs, (lambda gs: backward(gs[0])) if n_out == 1 else backward,
                     name)
        for i, t in enumerate(tensors):
            t.requires_grad, t._node, t._index = True, node, i
    return tensors[0] if n_out == 1 else tuple(tensors)


def _is_basic(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, slice)) for p in parts)


def _axes(axis, ndim: int) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    axis = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(a % ndim for a in axis)


def unbroadcast(g, shape):
    """Sum g over the axes that broadcasting added or stretched, to get ``shape`` back."""
    shape = tuple(shape)
    if tuple(g.shape) == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                      if n == 1 and g.shape[lead + i] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape)


def _binary(a, b, op: str):
    """a <op> b with numpy broadcasting; either side may be an array or a number."""
    x, y = _as_array(a), _as_array(b)
    if op == "add":
        out = x + y
        grads = lambda g: (g, g)  # noqa: E731
    elif op == "sub":
        out = x - y
        grads = lambda g: (g, -g)  # noqa: E731
    elif op == "mul":
        out = x * y
        grads = lambda g: (g * y, g * x)  # noqa: E731
    else:
        out = x / y
        grads = lambda g: (g / y, -g * x / (y * y))  # noqa: E731
    shapes = [getattr(x, "shape", ()), getattr(y, "shape", ())]
    wants = [isinstance(t, Tensor) and t.requires_grad for t in (a, b)]

    def backward(g):
        ga, gb = grads(g)
        return tuple(unbroadcast(gi, s) if w else None
                     for gi, s, w in zip((ga, gb), shapes, wants))
    return _record(op, out, (a, b), backward)


def _matmul(a, b):
    """a @ b with numpy's rules: 1-D operands are promoted and the added axis removed,
    batch axes broadcast."""
    x, y = _as_array(a), _as_array(b)
    out = x @ y
    xs, ys = tuple(x.shape), tuple(y.shape)

    def backward(g):
        x2 = x[None, :] if x.ndim == 1 else x  # (.., n, k)
        y2 = y[:, None] if y.ndim == 1 else y  # (.., k, m)
        g2 = g
        if x.ndim == 1:
            g2 = g2[..., None, :] if y.ndim > 1 else g2[..., None]
        if y.ndim == 1:
            g2 = g2[..., None]
        gx = g2 @ y2.swapaxes(-1, -2)
        gy = x2.swapaxes(-1, -2) @ g2
        gx = gx.reshape(gx.shape[:-2] + (gx.shape[-1],)) if x.ndim == 1 else gx
        gy = gy[..., 0] if y.ndim == 1 else gy
        return unbroadcast(gx, xs), unbroadcast(gy, ys)
    return _record("matmul", out, (a, b), backward)
