"""``Module``, ``Parameter`` and ``Sequential``: PyTorch's way to hold a net's weights, over
``nets.autograd``; and ``ModuleNet``, which gives a module the kit's model contract
(``params`` + ``loss(X, y)``) so the Solver and ``check_net`` take it as they take any net.

Parameters are registered by assignment (``self.weight = Parameter(...)``), sub-modules
likewise; ``named_parameters()`` yields dotted names in registration order, as PyTorch's.
New weights are drawn on the host from a numpy Generator (``manual_seed`` seeds the
shared one; a module's ``seed=`` gives it its own) and moved to the chosen backend.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Iterator

import numpy as np

from layers.backend import default_rng, get_backend, get_xp, is_array, to_xp

from .autograd import Tensor, no_grad
from .base import Model

__all__ = ["Parameter", "Module", "Sequential", "ModuleNet", "manual_seed"]

_shared_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed the Generator that modules made without ``seed=`` draw their weights from."""
    global _shared_rng
    _shared_rng = np.random.default_rng(seed)


def init_rng(seed) -> np.random.Generator:
    """The module's own Generator for ``seed``, or the shared one for None."""
    return _shared_rng if seed is None else default_rng(seed)


def uniform(rng, shape, bound: float, dtype) -> "Parameter":
    """A Parameter drawn from U(-bound, bound) (PyTorch's default for Linear and Conv2d)."""
    a = rng.uniform(-bound, bound, shape).astype(dtype)
    return Parameter(to_xp(a, get_backend()))


def constant(shape, value: float, dtype) -> "Parameter":
    return Parameter(get_backend().full(shape, value, dtype=dtype))


class Parameter(Tensor):
    """A Tensor that a Module registers as a weight (``requires_grad=True`` by default)."""

    def __init__(self, data, requires_grad: bool = True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return f"Parameter(shape={self.shape}, dtype={self.dtype})"


class Module:
    """Base class: subclasses set Parameters and Modules as attributes in ``__init__``
    (after ``super().__init__()``) and define ``forward``.

    State besides parameters (batchnorm's running statistics) is exposed through
    ``_buffers()`` / ``_set_buffer(name, array)`` so ``state_dict`` and ``to`` see it.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before "
                                 f"assigning attributes")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):  # only called when normal lookup fails
        d = self.__dict__
        for store in ("_parameters", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # --- traversal ---------------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        yield from self._modules.items()

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        yield prefix, self
        for name, m in self._modules.items():
            yield from m.named_modules(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter) pairs; a Parameter shared by two modules comes once."""
        seen = set()
        for mod_name, m in self.named_modules(prefix):
            for name, p in m._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self) -> Iterator[Parameter]:
        for _, p in self.named_parameters():
            yield p

    def _buffers(self) -> dict:
        """Non-parameter state arrays of this module alone, by name (none by default)."""
        return {}

    def _set_buffer(self, name: str, value) -> None:
        raise KeyError(name)

    def named_buffers(self) -> Iterator[tuple[str, object]]:
        for mod_name, m in self.named_modules():
            for name, b in m._buffers().items():
                yield (f"{mod_name}.{name}" if mod_name else name), b

    # --- modes and gradients -------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        for _, m in self.named_modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def zero_grad(self) -> None:
        """Set every parameter's grad to None (PyTorch's default, set_to_none=True)."""
        for p in self.parameters():
            p.grad = None

    # --- state ---------------------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, object]":
        """Parameters and buffers as plain arrays by dotted name (not copies: nothing
        writes into them). ``numpy.savez(path, **module.state_dict())`` saves a checkpoint
        that ``numpy.load(path, allow_pickle=False)`` reads back."""
        out = OrderedDict((n, p.data) for n, p in self.named_parameters())
        out.update(self.named_buffers())
        return out

    def load_state_dict(self, state, strict: bool = True) -> None:
        """Take the arrays of ``state`` (a dict or an ``NpzFile``), cast to each
        parameter's dtype and moved to its backend. With ``strict``, the keys must match
        ``state_dict()``'s exactly; shapes must always match."""
        own = self.state_dict()
        keys = set(state.keys())
        if strict and keys != set(own):
            raise KeyError(f"load_state_dict: missing {sorted(set(own) - keys)}, "
                           f"unexpected {sorted(keys - set(own))}")
        params = dict(self.named_parameters())
        owners = {n: (m, b) for mn, m in self.named_modules()
                  for b in m._buffers() for n in [f"{mn}.{b}" if mn else b]}
        for name in own:
            if name not in keys:
                continue
            old, new = own[name], state[name]
            if tuple(np.shape(new)) != tuple(old.shape):
                raise ValueError(f"load_state_dict: {name} must have shape "
                                 f"{tuple(old.shape)}; got {tuple(np.shape(new))}")
            new = to_xp(np.asarray(new) if not is_array(new) else new, get_xp(old))
            new = new.astype(old.dtype, copy=False)
            if name in params:
                params[name].data = new
            else:
                mod, b = owners[name]
                mod._set_buffer(b, new)

    def to(self, backend=None, dtype=None) -> "Module":
        """Move every parameter and buffer to ``backend`` ('numpy', 'cupy', a module or
        None for the chosen one) and/or cast floating ones to ``dtype``; returns self."""
        def move(a):
            a = to_xp(a, backend) if backend is not None else a
            return a.astype(dtype) if dtype is not None and a.dtype.kind == "f" else a
        for p in self.parameters():
            p.data = move(p.data)
            p.grad = None if p.grad is None else move(p.grad)
        for _, m in self.named_modules():
            for b, a in m._buffers().items():
                m._set_buffer(b, move(a))
        return self

    def double(self) -> "Module":
        return self.to(dtype=np.float64)

    def float(self) -> "Module":
        return self.to(dtype=np.float32)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        lines = [f"({n}): " + repr(m).replace("\n", "\n  ") for n, m in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + ")" if not lines else head + "\n  " + "\n  ".join(lines) + "\n)"


class Sequential(Module):
    """Modules applied in order; children named "0", "1", ... as PyTorch's."""

    def __init__(self, *modules: Module):
        super().__init__()
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: argument {i} must be a Module; got "
                                f"{type(m).__name__}")
            setattr(self, str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i: int) -> Module:
        return list(self._modules.values())[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleNet(Model):
    """A module with the kit's model contract, for the Solver, ``check_net`` and the
    training command.

    - params: dict dotted name -> array, the module's parameters' data. ``loss`` points
      each Parameter at ``params[name]`` first (by reference, no copy), so the Solver's
      new arrays and check_net's in-place perturbations take effect.
    - loss(X, y=None): scores in eval mode with no graph; with labels, train mode, the
      module's output passed to ``loss_fn(out, y)`` (a Tensor loss; default
      ``cross_entropy``), one backward, and ``(loss, grads)`` keyed like params, plus
      the kit's L2 term ``0.5 * reg * sum(W ** 2)`` over the params with 2+ axes.
    """

    def __init__(self, module: Module, loss_fn=None, reg: float = 0.0):
        first = next(module.parameters(), None)
        super().__init__(first.dtype if first is not None else np.float32, reg=reg)
        if loss_fn is None:
            from .modules import cross_entropy
            loss_fn = cross_entropy
        self.module, self.loss_fn = module, loss_fn
        self._params = dict(module.named_parameters())
        self.params = {n: p.data for n, p in self._params.items()}

    def state_dicts(self) -> list[dict]:
        return [m.bn_param for _, m in self.module.named_modules() if hasattr(m, "bn_param")]

    def loss(self, X, y=None):
        for n, p in self._params.items():
            p.data = self.params[n]
        X = self._input(X)
        if y is None:
            self.module.eval()
            with no_grad():
                return self.module(X).data
        self.module.train()
        self.module.zero_grad()
        loss = self.loss_fn(self.module(X), y)
        loss.backward()
        xp = get_xp(loss.data)
        grads = {n: p.grad if p.grad is not None else xp.zeros_like(p.data)
                 for n, p in self._params.items()}
        return self.regularize(loss.data, grads), grads

    def is_weight(self, name: str) -> bool:
        """Weight matrices and kernels get L2 (``reg``): the params with two or more axes
        (Linear, Conv2d, Embedding, LSTM and attention weights; not biases or norms)."""
        return self.params[name].ndim >= 2
