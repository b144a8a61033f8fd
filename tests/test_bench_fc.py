"""benchmarks/suite_fc.py: every op of every side runs once (no timing here: speed is
measured by ``python -m benchmarks.harness fc``, never by tests)."""

import numpy as np
import pytest

from benchmarks import suite_fc


@pytest.mark.parametrize("wl", suite_fc.WORKLOADS, ids=lambda w: w.name)
def test_every_side_runs(wl):
    for side, setup in wl.sides.items():
        if side.startswith("torch"):
            pytest.importorskip("torch")
        ops = setup("float32")
        assert ops, f"{wl.name}/{side} has no ops"
        for fn in ops.values():
            fn()
    assert wl.reference in wl.sides


def test_batchnorm_sides_compute_the_same_gradients():
    """The alt and staged sides time the same computation, and torch agrees with it."""
    import layers

    x, gamma, beta, dout = suite_fc._np_arrays("float64", (16, 8), (8,), (8,), (16, 8))
    _, cache = layers.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    alt = layers.batchnorm_backward_alt(dout, cache)
    staged = layers.batchnorm_backward(dout, cache)
    for a, s in zip(alt, staged):
        np.testing.assert_allclose(a, s, rtol=1e-10, atol=1e-12)
    torch = pytest.importorskip("torch")
    tx, tg, tb, td = suite_fc._torch_tensors("float64", (16, 8), (8,), (8,), (16, 8),
                                             grad=(0, 1, 2))
    out = torch.nn.functional.batch_norm(tx, None, None, tg, tb, training=True, eps=1e-5)
    out.backward(td)
    for a, t in zip(alt, (tx.grad, tg.grad, tb.grad)):
        np.testing.assert_allclose(a, t.numpy(), rtol=1e-9, atol=1e-10)
