"""The model contract every net follows (CS231n): a ``params`` dict of arrays, a ``dtype``,
and ``loss(X, y=None)``; plus moving a net between backends in one call."""

from __future__ import annotations

from types import ModuleType

import numpy as np

from layers.backend import is_array, to_xp

__all__ = ["Model"]


class Model:
    """Base class of the nets.

    Attributes:
    - params: dict of arrays, name -> array. ``loss`` reads it at every call and never
      replaces its arrays, so numerical gradient code may perturb them in place.
    - dtype: the floating dtype the params were made in (numpy scalar type, e.g.
      ``np.float32``); ``gradcheck.check_net`` sets it to ``np.float64`` while it swaps
      in float64 copies of the params.

    Subclasses implement ``loss(X, y=None)``: scores when ``y`` is None, else
    ``(loss, grads)`` with ``grads`` keyed like ``params``. A subclass that keeps other
    arrays (batchnorm running statistics) lists the dicts holding them in ``state_dicts``
    so that ``to`` moves them too.
    """

    def __init__(self, dtype=np.float32):
        dtype = np.dtype(dtype)
        if not np.issubdtype(dtype, np.floating):
            raise TypeError(f"{type(self).__name__}: dtype must be a floating type; "
                            f"got {dtype}")
        self.dtype = dtype.type
        self.params: dict = {}

    def loss(self, X, y=None):
        raise NotImplementedError

    def _input(self, X, like):
        """X as an array of ``like``'s dtype (no copy when it has it already): the nets
        compute in their params' dtype, so check_net's float64 copies get float64 X."""
        if not is_array(X):
            raise TypeError(f"{type(self).__name__}.loss: X must be a numpy or cupy array "
                            f"(N, d_1, ..., d_k); got {type(X).__name__}")
        return X.astype(like.dtype, copy=False)

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
