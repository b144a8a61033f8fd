"""Shared fixtures. Hypothesis profile: HYPOTHESIS_PROFILE if set, else ``dev`` locally;
under CI hypothesis's own deterministic ``ci`` profile.

The ``xp`` fixture is the backend where the tests put their arrays: numpy, or cupy when
``LAYERKIT_BACKEND=cupy`` (run the whole suite that way on a GPU machine).
"""

import pytest

from gradcheck.strategies import load_profile
from layers import backend

PROFILE = load_profile()


def pytest_report_header(config):
    return [f"hypothesis profile: {PROFILE}; layerkit backend: {backend.backend_name()}"]


@pytest.fixture(scope="session")
def xp():
    """The array module tests run on (session-scoped: hypothesis rejects function scope)."""
    return backend.get_backend()


def pytest_collection_modifyitems(config, items):
    if backend.gpu_available():
        return
    skip = pytest.mark.skip(reason="needs cupy and a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter):
    """Print the gradient checker's self-test rates (planted bugs vs correct layers)."""
    from tests import test_gradcheck_corpus as corpus

    lines = corpus.corpus_summary()
    if lines:
        terminalreporter.write_sep("-", "gradcheck planted-bug corpus")
        for line in lines:
            terminalreporter.write_line(line)
