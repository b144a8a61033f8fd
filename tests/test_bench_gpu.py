"""benchmarks/suite_gpu.py: every op of every side runs once (no timing here: speed is
measured by ``python -m benchmarks.harness gpu`` on a GPU machine, never by tests). The
"cupy" side runs on the CuPy stand-in, which also shows the training epoch keeps its
model and data on the device: no host transfer in a whole epoch."""

import sys

import numpy as np
import pytest

from benchmarks import suite_gpu
from tests import fake_cupy


@pytest.fixture
def small(monkeypatch):
    """The suite's workloads at test sizes (the timed sizes take seconds on a CPU)."""
    monkeypatch.setattr(suite_gpu, "CONV", (4, 3, 8, 8, 5, 3))
    monkeypatch.setattr(suite_gpu, "ATT", (2, 6, 8, 2))
    monkeypatch.setattr(suite_gpu, "EPOCH_N", 8)
    monkeypatch.setattr(suite_gpu, "EPOCH_BATCH", 4)


@pytest.fixture
def stand_in(monkeypatch):
    """``import cupy`` gives the stand-in for this test (CI's fakecupy run installs it
    for the whole session already)."""
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy)
    return fake_cupy


NAMES = [wl.name for wl in suite_gpu.WORKLOADS]


@pytest.mark.parametrize("name", NAMES)
def test_every_workload_has_the_three_sides_and_the_reference(name):
    wl = next(w for w in suite_gpu.WORKLOADS if w.name == name)
    assert tuple(wl.sides) == suite_gpu.SIDES and wl.reference == "torch_cuda"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("side", ["numpy", "cupy"])
def test_layerkit_side_runs_once(small, stand_in, name, side):
    wl = next(w for w in suite_gpu.WORKLOADS if w.name == name)
    (op,) = wl.sides[side]("float32").values()
    stand_in.reset_counts()
    out = op()
    if name != "conv_net_epoch":  # layer ops: the gradients, on the side's backend
        kind = stand_in.ndarray if side == "cupy" else np.ndarray
        assert isinstance(out[0], kind)
    assert stand_in.syncs() == 0  # no host read-back inside an op


def test_the_epoch_trains_on_the_device_without_a_transfer(small, stand_in):
    """The cupy epoch: model, data and optimizer state stay on the device; its params
    move (it trained) and no array comes back to the host."""
    (epoch,) = suite_gpu.WORKLOADS[-1].sides["cupy"]("float32").values()
    stand_in.reset_counts()
    epoch()
    assert stand_in.syncs() == 0 and stand_in.to_device() == 0


def test_the_cupy_side_computes_what_the_numpy_side_does(small, stand_in):
    """Same inputs, same layer calls: the device side times the same computation."""
    wl = next(w for w in suite_gpu.WORKLOADS if w.name == "attention")
    ref = wl.sides["numpy"]("float64")["fwd+bwd"]()
    dev = wl.sides["cupy"]("float64")["fwd+bwd"]()
    np.testing.assert_allclose(stand_in.asnumpy(dev[0]), ref[0], rtol=1e-10)


@pytest.mark.parametrize("name", NAMES)
def test_torch_cuda_side_runs_once(small, name):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device: the torch_cuda side runs on GPU machines")
    wl = next(w for w in suite_gpu.WORKLOADS if w.name == name)
    for op in wl.sides["torch_cuda"]("float32").values():
        op()
