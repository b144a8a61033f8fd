"""``layerkit-train --backend cupy`` on the CuPy stand-in (tests/fake_cupy.py): the model and
the optimizer state live on the device for the whole run, its checkpoints load anywhere,
and a run resumes across backends (a GPU run on a CPU and the other way round) to the
same params as a run never stopped. The stand-in has no CUDA device behind it, so the
test tells the CLI's GPU check that there is one."""

import sys

import numpy as np
import pytest

import layerkit.train as T
from layers import backend
from optim import load_checkpoint
from tests import fake_cupy

RUN = ["--hidden", "16", "--num-train", "200", "--batch-size", "20", "--no-track", "-q"]


@pytest.fixture
def cp(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy)
    monkeypatch.setattr(backend, "gpu_available", lambda: True)
    monkeypatch.setattr(backend, "_chosen", backend._chosen)  # --backend sets it: undone
    monkeypatch.chdir(tmp_path)
    return fake_cupy


def train(monkeypatch, *argv):
    """Run layerkit-train; returns the Solver it trained (caught as it is made)."""
    made = []
    make = T._solver

    def keep(*a, **k):
        made.append(make(*a, **k))
        return made[-1]

    monkeypatch.setattr(T, "_solver", keep)
    assert T.main([*RUN, *argv]) == 0
    return made[-1]


def params(run, name="model.npz"):
    return load_checkpoint(f"{run}/{name}")["params"]


def test_train_checkpoint_and_resume_across_backends(cp, monkeypatch):
    solver = train(monkeypatch, "--backend", "cupy", "--epochs", "2", "--out", "gpu")
    W1, optim = solver.model.params["W1"], solver.optim_configs["W1"]
    assert isinstance(W1, cp.ndarray) and W1.dtype == np.float32  # on the device throughout
    assert isinstance(optim["m"], cp.ndarray) and isinstance(optim["v"], cp.ndarray)
    train(monkeypatch, "--backend", "numpy", "--epochs", "3", "--out", "cpu")
    straight = params("cpu")
    cpu = load_checkpoint("cpu/checkpoints/fc_epoch_2.npz")
    gpu = load_checkpoint("gpu/checkpoints/fc_epoch_2.npz")  # loads on the host
    for k, w in cpu["params"].items():
        assert isinstance(gpu["params"][k], np.ndarray)
        np.testing.assert_allclose(gpu["params"][k], w, rtol=1e-5, atol=1e-6)
    # the device run goes on on the CPU, and a CPU run goes on on the device
    on_cpu = train(monkeypatch, "--resume", "gpu", "--backend", "numpy", "--epochs", "3")
    assert isinstance(on_cpu.model.params["W1"], np.ndarray)
    assert isinstance(on_cpu.optim_configs["W1"]["m"], np.ndarray)
    train(monkeypatch, "--backend", "numpy", "--epochs", "2", "--out", "cpu2")
    on_gpu = train(monkeypatch, "--resume", "cpu2", "--backend", "cupy", "--epochs", "3")
    assert isinstance(on_gpu.model.params["W1"], cp.ndarray)
    assert isinstance(on_gpu.optim_configs["W1"]["m"], cp.ndarray)
    for run in ("gpu", "cpu2"):
        for k, w in straight.items():
            np.testing.assert_allclose(params(run)[k], w, rtol=1e-5, atol=1e-6)
