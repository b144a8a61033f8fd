"""No layer reads anything back from a device in its forward or backward: on a GPU each
read-back is a host sync that stalls the queue of work, every step. Counted on the CuPy
stand-in (tests/fake_cupy.py), for every registered layer."""

import sys

import numpy as np
import pytest

from gradcheck.registry import REGISTRY
from layers import batchnorm_forward, spatial_batchnorm_forward
from layers.backend import to_xp
from layers.validate import labels_checked
from tests import fake_cupy
from tests.test_conformance import run

# layers that check values on the host on purpose, and why
HOST_CHECKS = {
    "word_embedding": "token ids are range-checked every call: cupy would wrap a bad id "
                      "silently",
    "spatial_batchnorm_test_mode": "test mode uses the running variance, so it checks it "
                                   ">= 0 (one sync per evaluation call, not per step)",
}


@pytest.fixture
def cp(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy)
    fake_cupy.reset_counts()
    return fake_cupy


@pytest.mark.parametrize("name", sorted(set(REGISTRY) - set(HOST_CHECKS)))
def test_forward_and_backward_make_no_host_sync(cp, name):
    spec = REGISTRY[name]
    case = spec.make(np.random.default_rng(1), np.float32)
    inputs, dout = to_xp(case.inputs, cp), to_xp(case.dout, cp)
    cp.reset_counts()
    with labels_checked():  # a loss's labels: checked once per dataset by the Solver
        run(spec, inputs, dout)
    assert cp.syncs() == 0


@pytest.mark.parametrize("layer, shape", [(batchnorm_forward, (8, 3)),
                                          (spatial_batchnorm_forward, (4, 3, 2, 2))])
def test_batchnorm_checks_its_running_variance_where_test_mode_uses_it(cp, layer, shape):
    x = cp.asarray(np.random.default_rng(0).standard_normal(shape).astype(np.float32))
    C = shape[1]
    ones, zeros = cp.ones(C, np.float32), cp.zeros(C, np.float32)
    bn = {"mode": "train", "running_mean": zeros, "running_var": ones}
    cp.reset_counts()
    for _ in range(3):  # training steps: the running statistics are only updated
        layer(x, ones, zeros, bn)
    assert cp.syncs() == 0
    bad = {"mode": "test", "running_mean": zeros, "running_var": -ones}
    with pytest.raises(ValueError, match=r"running_var.*must be >= 0"):
        layer(x, ones, zeros, bad)
    with pytest.raises(ValueError, match=r"running_var.*must be >= 0"):  # numpy: always
        layer(np.ones(shape, np.float32), np.ones(C, np.float32), np.zeros(C, np.float32),
              {"mode": "train", "running_var": -np.ones(C, np.float32)})
