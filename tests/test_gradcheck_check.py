"""check_layer / check_loss / check_net: reports, fast mode, purity, contract.

The checked arrays are made on the backend under test (``xp``): the checker perturbs them
where they live, so every verdict, index and error here holds on a device too."""

import warnings

import numpy as np
import pytest

from gradcheck import (ContractError, GradcheckPrecisionWarning, GradientCheckError,
                       MutationError, NondeterminismError, VacuousCheckWarning, check_layer,
                       check_loss, check_net)
from layers import affine_backward, affine_forward, relu_backward, relu_forward, softmax_loss
from layers.backend import to_xp
from tests.helpers import host


def _affine(seed=0, N=3, D=6, M=4, xp=np):
    r = np.random.default_rng(seed)
    return to_xp((r.standard_normal((N, D)), r.standard_normal((D, M)), r.standard_normal(M)),
                 xp)


def _one_wrong(index, delta=0.3):
    def bwd(dout, cache):
        dx, dw, db = affine_backward(dout, cache)
        dw = dw.copy()
        dw[index] += delta
        return dx, dw, db
    return bwd


def test_report_names_the_worst_element_in_the_inputs_own_shape(xp):
    with pytest.raises(GradientCheckError) as info:
        check_layer(affine_forward, _one_wrong((4, 2)), *_affine(xp=xp))
    rep = info.value.report
    assert rep["dw"].worst.index == (4, 2)
    assert rep["w"].failed == 1 and rep["x"].ok and rep["b"].ok
    assert "w[4, 2]" in str(info.value)
    w = rep["w"].worst
    assert abs(w.analytic - w.numeric) == pytest.approx(0.3, rel=1e-6)


def test_correct_layer_report_is_clean_and_counts_every_element(xp):
    rep = check_layer(affine_forward, affine_backward, *_affine(xp=xp))
    assert rep.ok
    assert [rep[n].checked for n in ("x", "w", "b")] == [18, 24, 4]
    assert rep["w"].max_rel_error < 1e-8


def test_fast_mode_finds_and_localises_one_wrong_element_among_thousands(xp):
    x, w, b = _affine(N=16, D=64, M=32, xp=xp)  # dw has 2048 elements
    bad = (37, 5)
    with pytest.raises(GradientCheckError) as info:
        check_layer(affine_forward, _one_wrong(bad, delta=0.01), x, w, b, fast=True)
    rep = info.value.report["w"]
    assert rep.mode == "fast" and rep.failed >= 1
    assert rep.worst.index == bad  # bisection names the element, not just the probe


def test_fast_mode_cost_grows_with_log_n_not_n(xp):
    calls = {"n": 0}

    def counted(x, w, b):
        calls["n"] += 1
        return affine_forward(x, w, b)

    x, w, b = _affine(N=8, D=128, M=64, xp=xp)  # 8192 weights
    with pytest.raises(GradientCheckError):
        check_layer(counted, _one_wrong((100, 3)), x, w, b, fast=True, num_probes=2)
    assert calls["n"] < 400  # full mode would need > 4 * 8192


def test_fast_mode_passes_correct_layers(xp):
    x, w, b = _affine(N=16, D=64, M=32, xp=xp)
    assert check_layer(affine_forward, affine_backward, x, w, b, fast=True).ok


def test_forward_that_writes_into_its_input_is_caught(xp):
    def relu_inplace(x):
        x[x < 0] = 0  # the classic CS231n mistake
        return x.copy(), x.copy()

    with pytest.raises(MutationError, match="forward wrote into its input"):
        check_layer(relu_inplace, relu_backward, xp.asarray([-1.0, 2.0, -3.0]))


def test_backward_that_writes_into_dout_is_caught(xp):
    def bwd(dout, cache):
        (x,) = cache  # relu_forward's cache holds x
        dout *= x > 0
        return dout

    with pytest.raises(MutationError, match="backward wrote into its dout"):
        check_layer(relu_forward, bwd, xp.asarray([-1.0, 2.0, -3.0]))


def test_backward_that_writes_into_its_cache_is_caught(xp):
    def bwd(dout, cache):
        (x,) = cache
        x[...] = 0
        return dout

    with pytest.raises(MutationError, match="backward wrote into its .*cache"):
        check_layer(relu_forward, bwd, xp.asarray([1.0, 2.0]))


def test_backward_that_is_not_reentrant_is_caught(xp):
    state = {"calls": 0}

    def bwd(dout, cache):
        (x,) = cache
        state["calls"] += 1
        return xp.where(x > 0, dout, 0) * (1 + 1e-3 * state["calls"])

    with pytest.raises(NondeterminismError, match="not reentrant"):
        check_layer(relu_forward, bwd, xp.asarray([1.0, 2.0]))


def test_wrong_number_or_shape_of_gradients_is_a_contract_error(xp):
    with pytest.raises(ContractError, match="returned 2 gradient"):
        check_layer(affine_forward, lambda d, c: affine_backward(d, c)[:2], *_affine(xp=xp))
    with pytest.raises(ContractError, match="has shape"):
        check_layer(affine_forward,
                    lambda d, c: (affine_backward(d, c)[0], xp.zeros(3), xp.zeros(4)),
                    *_affine(xp=xp))


def test_vacuous_check_warns(xp):
    with pytest.warns(VacuousCheckWarning, match="identically zero"):
        check_layer(relu_forward, relu_backward, -xp.linspace(1, 2, 6))
    x, w, b = _affine(xp=xp)
    with warnings.catch_warnings():  # one zero input among live ones is not vacuous
        warnings.simplefilter("error", VacuousCheckWarning)
        rep = check_layer(affine_forward, affine_backward, x * 0, w, b)
    assert rep["w"].note.startswith("gradient identically zero")


def test_upstream_gradient_is_random_not_ones(xp):
    seen = {}

    def bwd(dout, x):
        seen["dout"] = dout
        return relu_backward(dout, x)

    check_layer(relu_forward, bwd, xp.linspace(0.5, 1.0, 8))
    assert np.unique(host(seen["dout"])).size == 8


def test_float16_computation_passes_float64_check_but_fails_fidelity(xp):
    def sloppy_tanh(x):
        out = xp.tanh(x.astype(np.float16)).astype(x.dtype)  # silently low precision
        return out, x

    def bwd(dout, x):
        return dout * (1 - xp.tanh(x) ** 2)

    x = xp.linspace(-1, 1, 7).astype(np.float32)
    with pytest.warns(GradcheckPrecisionWarning):
        with pytest.raises(GradientCheckError):
            check_layer(sloppy_tanh, bwd, x)


def test_output_dtype_must_follow_the_inputs(xp):
    def promoting(x):
        out = x.astype(np.float64) * 2  # float32 in, float64 out: a hidden upcast
        return out, None

    with pytest.warns(GradcheckPrecisionWarning), pytest.raises(ContractError, match="dtype"):
        check_layer(promoting, lambda d, c: 2 * d, xp.ones(3, np.float32))


def test_check_loss_on_softmax(xp):
    r = np.random.default_rng(0)
    rep = check_loss(softmax_loss, *to_xp((r.standard_normal((5, 4)), r.integers(0, 4, 5)), xp))
    assert rep.ok and rep["x"].checked == 20


class TinyNet:
    """Softmax regression over relu features: W1, b1, W2, b2."""

    def __init__(self, seed=0, dtype=np.float64, swap=False, xp=np):
        r = np.random.default_rng(seed)
        self.dtype = dtype
        self.reg = 0.1
        self.swap = swap
        self.params = to_xp({"W1": r.standard_normal((3, 3)).astype(dtype),
                             "b1": r.standard_normal(3).astype(dtype),
                             "W2": r.standard_normal((3, 3)).astype(dtype),
                             "b2": r.standard_normal(3).astype(dtype)}, xp)

    def loss(self, X, y=None):
        p = self.params
        h, c1 = affine_forward(X.astype(p["W1"].dtype), p["W1"], p["b1"])  # params' dtype
        a, c2 = relu_forward(h)
        s, c3 = affine_forward(a, p["W2"], p["b2"])
        if y is None:
            return s
        loss, ds = softmax_loss(s, y)
        loss += 0.5 * self.reg * ((p["W1"] ** 2).sum() + (p["W2"] ** 2).sum())
        da, dW2, db2 = affine_backward(ds, c3)
        dX, dW1, db1 = affine_backward(relu_backward(da, c2), c1)
        grads = {"W1": dW1 + self.reg * p["W1"], "b1": db1,
                 "W2": dW2 + self.reg * p["W2"], "b2": db2}
        if self.swap:  # a planted bug: two same-shaped grads keyed to the wrong params
            grads["W1"], grads["W2"] = grads["W2"], grads["W1"]
        return loss, grads


def _data(xp=np):
    r = np.random.default_rng(1)
    return to_xp((r.standard_normal((5, 3)), r.integers(0, 3, 5)), xp)


def test_check_net_passes_a_correct_net_and_restores_float32_params(xp):
    net = TinyNet(dtype=np.float32, xp=xp)
    before = {k: v.copy() for k, v in net.params.items()}
    with pytest.warns(GradcheckPrecisionWarning):
        rep = check_net(net, *_data(xp))
    assert rep.ok and set(rep.inputs) == {"W1", "b1", "W2", "b2"}
    assert net.dtype == np.float32
    for k, v in net.params.items():
        assert isinstance(v, xp.ndarray) and v.dtype == np.float32
        np.testing.assert_array_equal(host(v), host(before[k]))


def test_check_net_names_both_params_of_swapped_gradients(xp):
    with pytest.raises(GradientCheckError) as info:
        check_net(TinyNet(swap=True, xp=xp), *_data(xp))
    assert {r.name for r in info.value.report.failed} == {"W1", "W2"}


def test_check_net_samples_elements_and_refuses_a_nondeterministic_loss(xp):
    net = TinyNet(xp=xp)
    rep = check_net(net, *_data(xp), num_checks=3)
    assert all(r.checked == 3 for r in rep.inputs.values())
    r = np.random.default_rng(0)
    original = net.loss
    net.loss = lambda X, y=None: (original(X, y)[0] + r.random() * 1e-3, original(X, y)[1])
    with pytest.raises(NondeterminismError, match="seed"):
        check_net(net, *_data(xp))


def test_checker_leaves_callers_arrays_untouched(xp):
    x, w, b = (a.astype(np.float32) for a in _affine(xp=xp))
    copies = [a.copy() for a in (x, w, b)]
    with pytest.warns(GradcheckPrecisionWarning):
        check_layer(affine_forward, affine_backward, x, w, b)
    for a, c in zip((x, w, b), copies):
        assert a.dtype == np.float32 and np.array_equal(host(a), host(c))


def test_a_blunt_checker_misses_bugs(xp):
    """The corpus must be able to fail: with a tolerance 1e6 times looser, a 5% error in
    one element goes unseen. (If this ever passes the bug, the rtol option is ignored.)"""
    from tests.test_gradcheck_corpus import affine_bwd_one_wrong_dw, _affine_inputs
    inputs = to_xp(_affine_inputs(np.float64), xp)
    check_layer(affine_forward, affine_bwd_one_wrong_dw, *inputs, rtol=1.0)
    with pytest.raises(GradientCheckError):
        check_layer(affine_forward, affine_bwd_one_wrong_dw, *inputs)


def test_device_arrays_give_the_same_verdict_and_index_as_numpy(device):
    x, w, b = _affine(N=16, D=64, M=32)
    bad = (37, 5)
    for fast in (True, False):
        with pytest.raises(GradientCheckError) as on_host:
            check_layer(affine_forward, _one_wrong(bad, 0.01), x, w, b, fast=fast)
        with pytest.raises(GradientCheckError) as on_gpu:
            check_layer(affine_forward, _one_wrong(bad, 0.01),
                        *to_xp((x, w, b), device), fast=fast)
        assert on_gpu.value.report["w"].failed == on_host.value.report["w"].failed
        assert on_gpu.value.report["w"].worst.index == on_host.value.report["w"].worst.index
