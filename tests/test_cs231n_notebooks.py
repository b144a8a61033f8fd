"""The public CS231n notebooks' check cells (2018-2024 versions), replayed against layerkit
with only their imports changed: every printed number within the bound the notebook
states, on every run.

The cells, their sources (notebook and year for each expectation) and the reading of the
bounds are in the ``tests/cs231n_cells`` package: FullyConnectedNets (2018-2020 and 2021),
BatchNormalization (2019), Dropout (2019, the ``dropout=`` keyword), ConvolutionalNetworks
(2019, the integer-gamma spatial batchnorm cell), RNN_Captioning (2018-2020) and
LSTM_Captioning (2019). The expected numbers are the notebooks' own (hard-coded arrays
and values printed from their seeded runs), never layerkit's.

Run: ``python -m pytest -q tests/test_cs231n_notebooks.py`` (add ``-m slow`` for the
fast-vs-naive convolution timing cell, ~10 s of naive convolution).
"""

import numpy as np
import pytest

from tests import cs231n_cells as cells

# The number of printed checks each replay covers: a cell that silently stops being
# checked fails here.
CHECKS = {"FullyConnectedNets": 49, "BatchNormalization": 45, "Dropout": 34,
          "ConvolutionalNetworks": 41, "RNN_Captioning": 30, "LSTM_Captioning": 15}


@pytest.fixture(scope="module")
def first_run():
    return {name: replay() for name, replay in cells.NOTEBOOKS.items()}


def _failures(checks):
    return "\n".join(c.describe() for c in checks if not c.ok())


@pytest.mark.parametrize("notebook", sorted(cells.NOTEBOOKS))
def test_every_check_cell_within_the_notebooks_bound(first_run, notebook):
    checks = first_run[notebook]
    assert len(checks) == CHECKS[notebook]
    failed = _failures(checks)
    assert not failed, f"{failed}\n({len(checks)} checks in {notebook})"


def test_the_same_cells_give_the_same_numbers_on_two_runs(first_run):
    # No kink decided by luck: a second replay prints exactly the same numbers.
    for name, replay in cells.NOTEBOOKS.items():
        again = replay()
        assert [c.name for c in again] == [c.name for c in first_run[name]]
        for a, b in zip(first_run[name], again):
            assert a.value == b.value, f"{name}: {a.name} is {a.value!r}, then {b.value!r}"


@pytest.mark.slow
def test_fast_layers_against_naive_timing_cell():
    checks = cells.convolutional_networks(with_naive_timing_cell=True)
    assert len(checks) == CHECKS["ConvolutionalNetworks"] + 4
    failed = _failures(checks)
    assert not failed, failed


def test_names_the_notebooks_and_their_helper_modules_import():
    # fast_layers' names, rnn_layers' sigmoid, and temporal_softmax_loss(verbose=)
    import layers
    from layers import (conv_backward_fast, conv_forward_fast, max_pool_backward_fast,
                        max_pool_forward_fast)

    assert layers.conv_forward_im2col is layers.conv_forward_strides is conv_forward_fast
    assert layers.conv_backward_im2col is layers.conv_backward_strides is conv_backward_fast
    assert (layers.max_pool_forward_reshape is layers.max_pool_forward_im2col
            is max_pool_forward_fast)
    assert (layers.max_pool_backward_reshape is layers.max_pool_backward_im2col
            is max_pool_backward_fast)
    for name in ("conv_forward_im2col", "conv_backward_strides", "max_pool_forward_reshape",
                 "max_pool_backward_im2col", "sigmoid"):
        assert name in layers.__all__
    np.testing.assert_allclose(layers.sigmoid(np.array([-800.0, 0.0, 2.0])),
                               [0.0, 0.5, 1 / (1 + np.exp(-2.0))], rtol=1e-15, atol=0)
