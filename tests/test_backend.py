"""layers.backend: dispatch, moving data, the helpers whose spelling differs per backend."""

import ast
import pathlib
import sys
import types

import numpy as np
import pytest

from layers import backend

LAYERS = pathlib.Path(__file__).resolve().parents[1] / "layers"


def test_get_xp_is_numpy_for_numpy_and_non_arrays():
    assert backend.get_xp(np.ones(2), None, 3.0, {"a": 1}) is np


@pytest.fixture
def fake_cupy(monkeypatch):
    """A stand-in 'cupy' module: enough to test dispatch and the mixed-backend error on a
    machine without a GPU (the real thing is tested under the gpu marker)."""
    mod = types.ModuleType("cupy")

    class ndarray:  # noqa: N801 - mirrors cupy's name
        pass

    mod.ndarray = ndarray
    monkeypatch.setitem(sys.modules, "cupy", mod)
    return mod


def test_get_xp_dispatches_to_cupy_and_rejects_a_mix(fake_cupy):
    c = fake_cupy.ndarray()
    assert backend.get_xp(c, None) is fake_cupy
    with pytest.raises(TypeError, match="argument 0 is a numpy array and argument 1 is a cupy"):
        backend.get_xp(np.ones(2), c)


def test_backend_choice_from_code_and_environment(monkeypatch):
    monkeypatch.setattr(backend, "_chosen", None)
    monkeypatch.setenv("LAYERKIT_BACKEND", "numpy")
    assert backend.get_backend() is np and backend.backend_name() == "numpy"
    monkeypatch.setenv("LAYERKIT_BACKEND", "tpu")
    with pytest.raises(ValueError, match="LAYERKIT_BACKEND must be one of"):
        backend.get_backend()
    assert backend.set_backend("numpy") is np
    assert backend.backend_name() == "numpy"  # code wins over the environment
    with pytest.raises(ValueError, match="backend must be one of"):
        backend.set_backend("torch")
    monkeypatch.delenv("LAYERKIT_BACKEND")
    assert backend.set_backend(None) is np  # back to following the (now unset) environment


def test_to_numpy_and_to_xp_recurse_and_pass_non_arrays():
    tree = {"a": np.ones(2), "b": [np.zeros(1), (None, 3)], "c": "text"}
    out = backend.to_xp(tree, "numpy")
    assert out["a"] is tree["a"] and out["b"][1] == (None, 3) and out["c"] == "text"
    assert backend.to_numpy(tree)["b"][0] is tree["b"][0]


def test_windows_shape_values_and_read_only():
    x = np.arange(2 * 5 * 6, dtype=np.float32).reshape(2, 5, 6)
    v = backend.windows(x, (3, 2), (2, 2))
    assert v.shape == (2, 2, 3, 3, 2)  # OH = (5-3)//2+1, OW = (6-2)//2+1
    np.testing.assert_array_equal(v[1, 1, 2], x[1, 2:5, 4:6])
    assert v.dtype == np.float32 and not v.flags.writeable


def test_scatter_add_accumulates_repeats_and_leaves_target():
    target = np.zeros((3, 2))
    out = backend.scatter_add(target, np.array([0, 2, 0]), np.ones((3, 2)))
    np.testing.assert_array_equal(out, [[2, 2], [0, 0], [1, 1]])
    assert not target.any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_logsumexp_softmax_stable(dtype):
    x = np.array([-1e4, -5.0, 0.0, 5.0, 1e4], dtype)
    s = backend.sigmoid(x)
    assert s.dtype == dtype and np.isfinite(s).all()
    np.testing.assert_allclose(s[1:4], 1 / (1 + np.exp(-x[1:4].astype(np.float64))), rtol=1e-6)
    assert s[0] == 0.0 and s[-1] == 1.0
    lse = backend.logsumexp(np.array([[1e4, 1e4]], dtype))
    np.testing.assert_allclose(lse, [1e4 + np.log(2)], rtol=1e-6)
    p = backend.softmax(np.array([[1e4, 0.0]], dtype))
    np.testing.assert_allclose(p, [[1.0, 0.0]])


def test_default_rng_same_seed_same_draws():
    a = backend.random_normal(backend.default_rng(7), (3,), np.float32, xp="numpy")
    b = backend.random_normal(backend.default_rng(7), (3,), np.float32, xp="numpy")
    assert a.dtype == np.float32 and np.array_equal(a, b)
    g = np.random.default_rng(1)
    assert backend.default_rng(g) is g


def test_layer_modules_reach_numpy_only_through_the_backend():
    """A GPU-less CI cannot see a stray np.* call in a layer; this parse can. Only
    backend.py may import numpy or cupy."""
    offenders = []
    for path in sorted(LAYERS.glob("*.py")):
        if path.name == "backend.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [(node.module or "").split(".")[0]]
            else:
                continue
            offenders += [f"{path.name}:{node.lineno} imports {n}"
                          for n in names if n in ("numpy", "cupy", "cupyx", "scipy")]
    assert not offenders, "layer modules must use xp = get_xp(...): " + "; ".join(offenders)


@pytest.mark.gpu
def test_cupy_roundtrip_and_mixing_error():
    import cupy

    x = np.arange(6.0).reshape(2, 3)
    c = backend.to_xp(x, "cupy")
    assert isinstance(c, cupy.ndarray) and backend.get_xp(c) is cupy
    np.testing.assert_array_equal(backend.to_numpy(c), x)
    with pytest.raises(TypeError, match="different backends"):
        backend.get_xp(x, c)
