"""The model contract every net follows (CS231n): a ``params`` dict of arrays, a ``dtype``,
and ``loss(X, y=None)``; the L2 term, the dtype rule and moving a net between backends,
written once for every net."""

from __future__ import annotations

from types import ModuleType

import numpy as np

from layers.backend import is_array, to_xp
from layers.losses import softmax_loss

__all__ = ["Model"]


class Model:
    """Base class of the nets: it owns what every net shares, so a net writes only the
    composition of its layers.

    Attributes:
    - params: dict of arrays, name -> array. ``loss`` reads it at every call and never
      replaces its arrays, so numerical gradient code may perturb them in place.
    - dtype (read-only): the dtype the net computes in, which is its params' floating
      dtype (the constructor's ``dtype`` until params exist). There is one rule: a net
      computes in its params' dtype, and ``loss`` casts its input to it once, at the top
      (``self._input``); so float64 copies of the params (as ``check_net`` swaps in) make
      a float64 computation, and nothing else rewrites the dtype.
    - reg: the L2 strength, read at every call (``model.reg = 1.0`` takes effect).
    - frozen: a set of param names that training leaves unchanged (the Solver does not
      update them; a net may skip their gradients, and ``regularize`` skips what it skipped).

    L2 (``regularize``): ``0.5 * reg * sum(W ** 2)`` over the weight matrices, whose names
    ``is_weight`` declares once for every net: the last dotted part of the name starts
    with ``W`` (``W1``, ``W_embed``, ``blk1.Wq``); biases, gamma and beta are not.

    A subclass implements either ``loss(X, y=None)`` (scores when ``y`` is None, else
    ``(loss, grads)`` with ``grads`` keyed like ``params``), or the three pieces the
    default ``loss`` composes: ``forward(X, train)`` -> ``(scores, cache)``,
    ``backward(dscores, cache)`` -> grads, and optionally ``data_loss(scores, y)`` (softmax
    by default). A subclass that keeps other arrays (batchnorm running statistics) lists
    the dicts holding them in ``state_dicts`` so that ``to`` moves them and the Solver's
    checkpoints save them.
    """

    def __init__(self, dtype=np.float32, reg=0.0):
        dtype = np.dtype(dtype)
        if not np.issubdtype(dtype, np.floating):
            raise TypeError(f"{type(self).__name__}: dtype must be a floating type; "
                            f"got {dtype}")
        self._dtype = dtype.type
        self.params: dict = {}
        self.reg = reg
        self.frozen: set = set()  # names of params the Solver leaves unchanged

    @property
    def dtype(self):
        """The numpy scalar type of the params' floating dtype (e.g. ``np.float32``)."""
        for p in self.params.values():
            if is_array(p) and p.dtype.kind == "f":
                return p.dtype.type
        return self._dtype

    # --- the loss, composed --------------------------------------------------------------

    def loss(self, X, y=None):
        """Scores for X (``y`` None), else ``(loss, grads)``: the data loss plus the L2
        term, and grads keyed like ``params``."""
        X = self._input(X)
        scores, cache = self.forward(X, train=y is not None)
        if y is None:
            return scores
        loss, dscores = self.data_loss(scores, y)
        grads = self.backward(dscores, cache)
        return self.regularize(loss, grads), grads

    def forward(self, X, train: bool):
        raise NotImplementedError(f"{type(self).__name__} implements neither loss nor forward")

    def backward(self, dscores, cache) -> dict:
        raise NotImplementedError(f"{type(self).__name__} implements neither loss nor backward")

    def data_loss(self, scores, y):
        """``(loss, dscores)``: the mean softmax cross-entropy by default."""
        return softmax_loss(scores, y)

    def is_weight(self, name: str) -> bool:
        """Whether param ``name`` is a weight matrix (gets L2): see the class doc."""
        return name.rsplit(".", 1)[-1].startswith("W")

    def regularize(self, loss, grads: dict):
        """``loss + 0.5 * reg * sum(W ** 2)`` over the weight matrices; ``grads[W]`` is
        replaced by ``grads[W] + reg * W`` (a new array: a backward's arrays are not ours
        to write into). Reads ``self.reg`` now; returns the new loss."""
        reg = float(self.reg)
        if reg == 0.0:
            return loss
        for k, W in self.params.items():
            if self.is_weight(k) and k in grads:  # a frozen param's grad may be skipped
                loss = loss + 0.5 * reg * (W * W).sum()
                grads[k] = grads[k] + reg * W
        return loss

    def _input(self, X):
        """X as an array of the net's dtype (no copy when it has it already). Integer
        inputs (token ids) pass unchanged."""
        if not is_array(X):
            raise TypeError(f"{type(self).__name__}.loss: X must be a numpy or cupy array; "
                            f"got {type(X).__name__}")
        if X.dtype.kind in "iu":
            return X
        return X.astype(self.dtype, copy=False)

    def check_inputs(self, X) -> None:
        """Check the values of a whole input array X (a dataset) that ``loss`` would
        otherwise check on every minibatch at the cost of a host read on a device; raise
        ValueError naming what is wrong. The Solver calls it once per device dataset and
        then runs its steps inside ``layers.validate.inputs_checked()``, where ``loss``
        skips those checks (``layers.validate.inputs_were_checked(X)``). Nothing to check
        by default."""

    # --- state and backends ---------------------------------------------------------------

    def state_dicts(self) -> list[dict]:
        """Dicts besides ``params`` whose array values are state (none by default)."""
        return []

    def to(self, backend: ModuleType | str | None = None) -> "Model":
        """Move every param and state array to ``backend`` ('numpy', 'cupy', a module, or
        None for ``layers.backend.get_backend()``), in place; returns the model.

        The ``params`` dict itself stays the same object; its arrays are replaced by
        their copies on the new backend (no copy when they are there already).
        """
        for d in [self.params, *self.state_dicts()]:
            for k, v in d.items():
                if is_array(v):
                    d[k] = to_xp(v, backend)
        return self
