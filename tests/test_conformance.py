"""One suite for every registered layer x backend x dtype (see gradcheck/registry.py).

Per layer: the call contract of API.md (grads in the forward's input order, with the
inputs' shapes and dtype), no argument/dout/cache written, the gradient check, the same
results for non-contiguous inputs as for contiguous copies, fast == naive where both
exist, adjoint identities for linear layers, and float32 calls that allocate about half
of what their float64 twins do (no hidden float64 temporaries).
"""

import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradcheck import GradcheckPrecisionWarning, check_layer, check_loss
from gradcheck.check import _Snapshot, _arrays_in
from gradcheck.registry import REGISTRY, exported_layer_functions, registered_functions
from layers.backend import get_xp, to_numpy, to_xp

SPECS = sorted(REGISTRY)
DTYPES = [np.float32, np.float64]
DT_IDS = ["float32", "float64"]
TOL = {np.float32: dict(rtol=2e-5, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _is_float(a):
    return hasattr(a, "dtype") and np.issubdtype(a.dtype, np.floating)


def _slots(inputs):
    """Positions of the differentiable inputs: float arrays and dicts of them."""
    def differentiable(a):
        if isinstance(a, dict):
            return bool(a) and all(_is_float(v) for v in a.values())
        return _is_float(a)
    return [i for i, a in enumerate(inputs) if differentiable(a)]


def run(spec, inputs, dout=None, rng=None):
    """Forward and backward; returns (outputs, grads as a list, douts used, cache)."""
    args = [dict(a) if isinstance(a, dict) else a for a in inputs]
    if spec.is_loss:
        loss, dx = spec.forward(*args)
        return [loss], [dx], None, None
    res = spec.forward(*args)
    outs, cache = list(res[:-1]), res[-1]
    if dout is None:
        rng = rng or np.random.default_rng(0)
        dout = [to_xp(rng.standard_normal(o.shape).astype(o.dtype), get_xp(o)) for o in outs]
    douts = list(dout) if isinstance(dout, (list, tuple)) else [dout]
    grads = spec.backward(*douts, cache)
    return outs, list(grads) if isinstance(grads, tuple) else [grads], douts, cache


def _flat(grads):
    out = []
    for g in grads:
        out += list(g.values()) if isinstance(g, dict) else [g]
    return out


def test_every_exported_layer_function_is_registered():
    missing = [n for n, f in exported_layer_functions().items()
               if f not in registered_functions()]
    assert not missing, f"exported but not in gradcheck.registry: {missing}"


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("name", SPECS)
@given(data=st.data())
def test_contract_dtype_and_purity(xp, name, dtype, data):
    spec = REGISTRY[name]
    case = data.draw(spec.strategy(dtype))
    inputs, dout = to_xp(case.inputs, xp), to_xp(case.dout, xp)
    before = _Snapshot(_arrays_in(inputs, "input") + _arrays_in(dout, "dout"))
    outs, grads, douts, cache = run(spec, inputs, dout)
    assert not before.changed(), f"{name} wrote into {before.changed()}"
    for o in outs:
        assert o.dtype == dtype, f"{name}: {np.dtype(dtype).name} in, {o.dtype} out"
    slots = [0] if spec.is_loss else _slots(inputs)  # a loss's dx is on its first input
    assert len(grads) == len(slots), f"{name}: {len(grads)} grads for {len(slots)} inputs"
    for g, i in zip(grads, slots):
        want = inputs[i]
        pairs = [(g[k], want[k]) for k in want] if isinstance(want, dict) else [(g, want)]
        for gk, wk in pairs:
            assert gk.shape == wk.shape and gk.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("name", SPECS)
@given(data=st.data())
def test_gradient_check(xp, name, dtype, data):
    spec = REGISTRY[name]
    case = data.draw(spec.strategy(dtype))
    inputs, dout = to_xp(case.inputs, xp), to_xp(case.dout, xp)
    with warnings.catch_warnings():  # float32 cases are upcast on purpose here
        warnings.simplefilter("ignore", GradcheckPrecisionWarning)
        for arg in spec.extra.get("vacuous_inputs", ()):  # zero by design (see registry)
            warnings.filterwarnings("ignore", f"the gradient of {arg} is identically zero")
        if spec.is_loss:
            check_loss(spec.forward, *inputs)
        else:
            check_layer(spec.forward, spec.backward, *inputs, dout=dout)
            for alt in spec.alt_backwards:
                check_layer(spec.forward, alt, *inputs, dout=dout)


def _noncontiguous(a, how):
    """The same values as ``a`` in a non-contiguous layout."""
    xp = get_xp(a)
    if how == "fortran":
        return xp.asfortranarray(a) if a.ndim > 1 else a[::-1].copy()[::-1]
    if how == "strided":  # every other element of a buffer twice as long
        big = xp.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
        big[..., ::2] = a
        return big[..., ::2]
    raise ValueError(how)


@pytest.mark.parametrize("how", ["fortran", "strided"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("name", SPECS)
def test_noncontiguous_inputs_give_the_same_results(xp, name, dtype, how):
    spec = REGISTRY[name]
    case = spec.make(np.random.default_rng(1), dtype)
    inputs, dout = to_xp(case.inputs, xp), to_xp(case.dout, xp)
    ref_outs, ref_grads, douts, _ = run(spec, inputs, dout)
    odd = [(_noncontiguous(a, how) if _is_float(a) and a.ndim else a) for a in inputs]
    assert any(_is_float(a) and a.ndim and not a.flags.c_contiguous for a in odd)
    odd_douts = None if spec.is_loss else [_noncontiguous(d, how) for d in douts]
    outs, grads, _, _ = run(spec, odd, odd_douts)
    for a, b in zip(_flat(outs) + _flat(grads), _flat(ref_outs) + _flat(ref_grads)):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), **TOL[dtype])


@pytest.mark.parametrize("name", [n for n in SPECS if REGISTRY[n].naive])
@given(data=st.data())
def test_fast_equals_naive(xp, name, data):
    spec = REGISTRY[name]
    case = data.draw(spec.strategy(np.float64))
    inputs, dout = to_xp(case.inputs, xp), to_xp(case.dout, xp)
    outs, grads, douts, _ = run(spec, inputs, dout)
    naive = type(spec)(spec.name, spec.naive[0], spec.naive[1], spec.strategy, spec.make)
    n_outs, n_grads, _, _ = run(naive, inputs, douts)
    for a, b in zip(_flat(outs) + _flat(grads), _flat(n_outs) + _flat(n_grads)):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("name", [n for n in SPECS if REGISTRY[n].linear])
@given(data=st.data())
def test_adjoint_identity_of_linear_layers(xp, name, data):
    """For out = f(x) linear in x: <f(x), dout> == <x, dx>, no finite differences."""
    spec = REGISTRY[name]
    i, zeroed = spec.linear
    case = data.draw(spec.strategy(np.float64))
    inputs = list(to_xp(case.inputs, xp))
    for j in zeroed:
        inputs[j] = inputs[j] * 0
    outs, grads, douts, _ = run(spec, inputs, to_xp(case.dout, xp))
    lhs = sum(float((o * d).sum()) for o, d in zip(outs, douts))
    rhs = float((inputs[i] * grads[_slots(inputs).index(i)]).sum())
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-12)


def _peak_bytes(spec, case):
    tracemalloc.start()
    try:
        run(spec, case.inputs, case.dout)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name", SPECS)
def test_float32_allocates_about_half_of_float64(name):
    """numpy reports its buffers to tracemalloc: a hidden float64 temporary on a float32
    call shows up as a peak close to the float64 twin's."""
    spec = REGISTRY[name]
    c32 = spec.make(np.random.default_rng(2), np.float32)
    c64 = spec.make(np.random.default_rng(2), np.float64)
    p32, p64 = _peak_bytes(spec, c32), _peak_bytes(spec, c64)
    assert p32 <= 0.7 * p64, f"{name}: float32 peak {p32} B vs float64 {p64} B"


@pytest.mark.gpu
@pytest.mark.parametrize("name", SPECS)
def test_numpy_and_cupy_agree(name):
    import cupy

    spec = REGISTRY[name]
    case = spec.make(np.random.default_rng(3), np.float64)
    host = run(spec, case.inputs, case.dout)
    dev = run(spec, to_xp(case.inputs, cupy), to_xp(case.dout, cupy))
    for a, b in zip(_flat(host[0]) + _flat(host[1]), _flat(dev[0]) + _flat(dev[1])):
        np.testing.assert_allclose(to_numpy(b), to_numpy(a), rtol=1e-9, atol=1e-11)
