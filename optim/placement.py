"""Where a Solver's data live: on the model's backend, moved there once.

On numpy nothing moves and every check runs where it is asked for (a host check costs no
sync). On a device (cupy) the four arrays of the dataset go to the device once (floating
inputs cast to the params' dtype on the way, fewer bytes to send), each epoch's order once
per epoch, and minibatches are gathered there. The value checks that would read a device
array back on every minibatch run once per dataset instead: the model's own
``check_inputs``, the range of integer inputs and targets (token ids; the layers then take
it from ``layers.validate.range_known``), and the labels against the classes the model
scores.
"""

from __future__ import annotations

import numpy as np

from layers.backend import get_xp, to_numpy, to_xp

from .step_stats import check_labels

__all__ = ["Placement"]


class Placement:
    """The data of ``solver`` (its X_train, y_train, X_val, y_val, read each time, so a
    reassigned attribute counts) on the backend of ``solver.model``'s params."""

    def __init__(self, solver):
        self.solver = solver
        self.reset()

    def reset(self):
        """Forget what was moved and checked (a fresh run)."""
        # id(y) -> (y, C, smallest label), ("ids", id(X)) -> (X, min, max) of token ids:
        # device datasets checked once
        self._seen = {}
        self._resident = None  # (key, host arrays, the same on the device): see data
        self._order_on = None  # (the epoch's host order, the same on the device)

    def xp(self):
        """The array module of the model's params (numpy for a model with none)."""
        params = self.solver.model.params
        return get_xp(*params.values()) if params else np

    def batch(self, X):
        """X on the model's backend; floating X cast to the params' float dtype (before
        the move: fewer bytes to send). No copy when it is there and of that dtype."""
        floats = [p.dtype for p in self.solver.model.params.values() if p.dtype.kind == "f"]
        if X.dtype.kind == "f" and floats and X.dtype != floats[0]:
            X = X.astype(floats[0])
        return to_xp(X, self.xp())

    def data(self):
        """(X_train, y_train, X_val, y_val) where the model is. On a device they are moved
        once, not per minibatch (and again only when the model or the data change), and
        the model's ``check_inputs`` runs on each X once; on numpy, the arrays as given."""
        s, xp = self.solver, self.xp()
        host = (s.X_train, s.y_train, s.X_val, s.y_val)
        if xp is np:
            return host
        key = (xp, *map(id, host))
        if self._resident is None or self._resident[0] != key:
            moved = tuple(self.batch(a) if i % 2 == 0 else to_xp(a, xp)
                          for i, a in enumerate(host))
            check = getattr(s.model, "check_inputs", None)  # (a Model's; duck nets)
            for X in moved[::2] if check is not None else ():
                check(X)  # the inputs' value checks, once per dataset: the steps skip them
            self._resident = (key, host, moved)  # host: keeps the ids in key alive
        return self._resident[2]

    def epoch_order(self, order):
        """The epoch's minibatch order ``order`` (host) where the model is (moved once
        per epoch)."""
        xp = self.xp()
        if xp is np:
            return order
        if self._order_on is None or self._order_on[0] is not order:
            self._order_on = (order, xp.asarray(order))
        return self._order_on[1]

    def id_range(self, X) -> tuple[int, int]:
        """(min, max) of an integer device dataset X (token ids, targets), read once, so
        the model's range checks of each minibatch gathered from it need no read
        (``layers.validate.range_known``); (0, -1), which vouches for nothing, for float
        or host X."""
        if X.dtype.kind not in "iu" or get_xp(X) is np or not X.size:
            return 0, -1
        seen = self._seen.get(("ids", id(X)))
        if seen is None or seen[0] is not X:
            lo, hi = (int(m) for m in to_numpy(get_xp(X).stack([X.min(), X.max()])))
            seen = self._seen[("ids", id(X))] = (X, lo, hi)
        return seen[1], seen[2]

    def check_labels(self, name, y, C) -> int:
        """``step_stats.check_labels`` once per device dataset and number of classes (a
        device read); host labels are checked at every call (that costs no sync, and
        keeps no array)."""
        if get_xp(y) is np:
            return check_labels(name, y, C)
        seen = self._seen.get(id(y))
        if seen is None or seen[0] is not y or seen[1] != C:
            seen = self._seen[id(y)] = (y, C, check_labels(name, y, C))
        return seen[2]
