"""The CuPy stand-in (tests/fake_cupy.py) catches what a GPU run would: numpy/cupy mixing,
implicit conversion to numpy, and host transfers hidden in a computation (counted)."""

import sys

import numpy as np
import pytest

from layers import affine_backward, affine_forward, backend, relu_forward
from tests import fake_cupy


@pytest.fixture
def cp(monkeypatch):
    """The stand-in as `cupy` for one test (the rest of the default run never sees it)."""
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy)
    fake_cupy.reset_counts()
    return fake_cupy


def test_get_xp_sees_the_stand_in_as_cupy(cp):
    x = cp.asarray(np.ones((2, 3)))
    assert backend.get_xp(x) is cp and backend.is_array(x)
    assert not isinstance(x, np.ndarray)
    assert isinstance(cp.zeros(3), cp.ndarray) and isinstance(x.sum(), cp.ndarray)  # 0-d
    assert isinstance(np.exp(x), cp.ndarray)  # numpy functions dispatch to the device


def test_implicit_conversion_to_numpy_is_refused(cp):
    x = cp.ones((2, 2))
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(x)
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.testing.assert_allclose(x, np.ones((2, 2)))
    np.testing.assert_allclose(cp.asnumpy(x), np.ones((2, 2)))  # the explicit transfer


@pytest.mark.parametrize("mix", [
    lambda cp, a, h: a + h,
    lambda cp, a, h: h * a,
    lambda cp, a, h: np.maximum(a, h),
    lambda cp, a, h: np.concatenate([a, h]),
    lambda cp, a, h: cp.where(a > 0, a, h),
    lambda cp, a, h: a.__setitem__(slice(None), h),
    lambda cp, a, h: backend.get_xp(a, h),
], ids=["op", "rop", "ufunc", "np-function", "cp-function", "setitem", "get_xp"])
def test_mixing_with_numpy_is_refused(cp, mix):
    with pytest.raises(TypeError):
        mix(cp, cp.ones(3), np.ones(3))


def test_a_planted_mix_in_a_layer_call_is_caught(cp):
    """A numpy weight with a device input (a net that forgot to move one param)."""
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)
    out, cache = affine_forward(cp.asarray(x), cp.asarray(w), cp.asarray(b))  # all on device
    assert isinstance(out, cp.ndarray)
    affine_backward(cp.ones_like(out), cache)
    with pytest.raises(TypeError, match="numpy array"):
        affine_forward(cp.asarray(x), w, cp.asarray(b))


def test_host_transfers_are_counted(cp):
    """A layer on device data reads nothing back; a float() hidden in code is one sync."""
    x = cp.asarray(np.linspace(-1, 1, 12).reshape(3, 4))
    before = cp.syncs()
    out, _ = relu_forward(x)
    s = (out * out).sum()
    assert cp.syncs() == before  # device-side all the way
    float(s)
    assert cp.syncs() == before + 1

    def hidden_sync(a):  # a planted host sync: the kind the Solver must not do per step
        return a / int(a.max().item() > 0) if bool(a.any()) else a

    hidden_sync(x)
    assert cp.syncs() == before + 3
    cp.asnumpy(x), x.get(), x.tolist()
    assert cp.syncs() == before + 6
