"""Small helpers shared by the tests (not fixtures: hypothesis tests call them directly)."""

import numpy as np

from layers.backend import to_numpy, to_xp


def on(xp, case):
    """A LayerCase's inputs and dout moved to backend ``xp`` (strategies draw on the host)."""
    return to_xp(case.inputs, xp), to_xp(case.dout, xp)


def host(a):
    return np.asarray(to_numpy(a))
