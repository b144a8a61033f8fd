"""l1_loss and l2_loss: gradients (property-based), values against PyTorch and by hand,
dtype, purity, errors."""

import numpy as np
import pytest
from hypothesis import given

from gradcheck import check_loss
from gradcheck import strategies as S
from layers import l1_loss, l2_loss
from tests.helpers import host, on


@given(S.l1_loss_inputs())
def test_l1_gradients(xp, case):
    (x, y), _ = on(xp, case)
    check_loss(l1_loss, x, y)


@given(S.l2_loss_inputs())
def test_l2_gradients(xp, case):
    (x, y), _ = on(xp, case)
    check_loss(l2_loss, x, y)


def test_values_by_hand(xp):
    x = xp.asarray([[1.0, -2.0], [0.5, 3.0]])
    y = xp.asarray([[0.0, 0.0], [0.5, 1.0]])
    loss, dx = l1_loss(x, y)  # |1| + |-2| + 0 + |2| over 4 elements
    assert float(loss) == pytest.approx(5 / 4)
    np.testing.assert_allclose(host(dx), [[0.25, -0.25], [0.0, 0.25]])
    loss, dx = l2_loss(x, y)  # 1 + 4 + 0 + 4 over 4, no 1/2
    assert float(loss) == pytest.approx(9 / 4)
    np.testing.assert_allclose(host(dx), [[0.5, -1.0], [0.0, 1.0]])


@pytest.mark.parametrize("shape", [(7,), (4, 3), (2, 3, 5)])
def test_match_torch(shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(shape), rng.standard_normal(shape)
    for ours, ref in ((l1_loss, torch.nn.functional.l1_loss),
                      (l2_loss, torch.nn.functional.mse_loss)):
        tx = torch.tensor(x, requires_grad=True)
        t_loss = ref(tx, torch.tensor(y))  # reduction="mean" over all elements
        t_loss.backward()
        loss, dx = ours(x, y)
        assert float(loss) == pytest.approx(t_loss.item(), rel=1e-12)
        np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("fn", [l1_loss, l2_loss])
def test_dtype_and_purity(xp, fn):
    rng = np.random.default_rng(1)
    x = xp.asarray(rng.standard_normal((5, 3)).astype(np.float32))
    y = xp.asarray(rng.standard_normal((5, 3)).astype(np.float32))
    xb, yb = host(x).copy(), host(y).copy()
    loss, dx = fn(x, y)
    assert dx.dtype == np.float32 and np.asarray(host(loss)).dtype == np.float32
    assert np.array_equal(host(x), xb) and np.array_equal(host(y), yb)


@pytest.mark.parametrize("fn", [l1_loss, l2_loss])
def test_errors(xp, fn):
    name = fn.__name__
    with pytest.raises(ValueError, match=rf"{name}: y must have shape \(3, 2\) \(the shape "
                                         r"of x\); got \(3,\)"):
        fn(xp.zeros((3, 2)), xp.zeros(3))
    with pytest.raises(TypeError, match=f"{name}: inputs must share one floating dtype"):
        fn(xp.zeros(3, dtype=xp.float32), xp.zeros(3))
    with pytest.raises(TypeError, match=f"{name}: y must be a floating-point .or integer. "
                                        "array; got dtype bool"):
        fn(xp.zeros(3), xp.zeros(3, dtype=bool))
    with pytest.raises(ValueError, match=f"{name}: x holds no examples"):
        fn(xp.zeros((0, 2)), xp.zeros((0, 2)))
    # integer targets are cast to the predictions' dtype (the kit's integer-param rule)
    x = xp.asarray([0.5, -1.0, 2.0])
    loss, dx = fn(x, xp.asarray([1, 0, 2]))
    ref, dref = fn(x, xp.asarray([1.0, 0.0, 2.0]))
    assert float(loss) == float(ref) and bool((dx == dref).all())
