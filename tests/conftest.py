"""Shared fixtures. Hypothesis profile: HYPOTHESIS_PROFILE if set, else ``dev`` locally;
under CI hypothesis's own deterministic ``ci`` profile.

The ``xp`` fixture is the backend where the tests put their arrays: numpy, or cupy when
``LAYERKIT_BACKEND=cupy`` (run the whole suite that way on a GPU machine), or the CuPy
stand-in of tests/fake_cupy.py when ``LAYERKIT_BACKEND=fakecupy`` (CI's second run: it
catches numpy/cupy mixing and hidden host transfers without a GPU).
"""

import os
import sys

import pytest

from gradcheck.strategies import load_profile
from layers import backend

PROFILE = load_profile()

FAKE_CUPY = os.environ.get("LAYERKIT_BACKEND", "").strip().lower() == "fakecupy"
if FAKE_CUPY:
    from tests import fake_cupy

    fake_cupy.install()  # `import cupy` now gives the stand-in
    backend.set_backend("cupy")
    # commands the tests start in a subprocess cannot import the stand-in: numpy there
    os.environ["LAYERKIT_BACKEND"] = "numpy"


def pytest_report_header(config):
    fake = " (the CuPy stand-in, tests/fake_cupy.py)" if FAKE_CUPY else ""
    return [f"hypothesis profile: {PROFILE}; layerkit backend: {backend.backend_name()}"
            f"{fake}"]


@pytest.fixture(scope="session")
def xp():
    """The array module tests run on (session-scoped: hypothesis rejects function scope)."""
    return backend.get_backend()


def pytest_collection_modifyitems(config, items):
    if FAKE_CUPY:  # the stand-in run: the tests that take xp
        keep = [i for i in items if "xp" in getattr(i, "fixturenames", ())]
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep
    if backend.gpu_available():
        return
    skip = pytest.mark.skip(reason="needs cupy and a CUDA device")
    for item in items:
        # (not `"gpu" in item.keywords`: a checkout in a folder named gpu matches that)
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter):
    """Print the gradient checker's self-test rates (planted bugs vs correct layers)."""
    from tests import test_gradcheck_corpus as corpus

    lines = corpus.corpus_summary()
    if lines:
        terminalreporter.write_sep("-", "gradcheck planted-bug corpus")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture
def device(xp, monkeypatch):
    """A device backend for the tests that move runs between host and device: ``xp`` when
    it is one (the stand-in run, a GPU run), else the CuPy stand-in as ``cupy`` for this
    test only (the default run)."""
    if xp is not backend.numpy:
        return xp
    from tests import fake_cupy

    monkeypatch.setitem(sys.modules, "cupy", fake_cupy)
    fake_cupy.reset_counts()
    return fake_cupy
