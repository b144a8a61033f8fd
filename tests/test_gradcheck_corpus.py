"""The checker tested against itself: planted bugs must all be caught, and correct but
tricky layers (kinks, float32, large magnitudes) must all pass.

The detection and false-alarm rates are printed at the end of the pytest run (see
conftest's terminal summary), in float64 and from float32 inputs.
"""

import numpy as np
import pytest

from gradcheck import GradcheckPrecisionWarning, GradientCheckError, check_layer, check_loss
from layers import (affine_backward, affine_forward, relu_backward, relu_forward,
                    softmax_loss, svm_loss)

RESULTS: dict[str, dict[str, list]] = {"bug": {}, "ok": {}}


def _rng(seed=0):
    return np.random.default_rng(seed)


# --- planted bugs: each is a backward (or loss) that is wrong in one way ----------------


def affine_bwd_one_wrong_dw(dout, cache):
    dx, dw, db = affine_backward(dout, cache)
    dw = dw.copy()
    dw[2, 1] += 0.05 * (abs(dw[2, 1]) + 0.1)  # one element of dw off by ~5%
    return dx, dw, db


def affine_bwd_transposed_w(dout, cache):
    x2, w, shape = cache
    dx = (dout @ w).reshape(shape)  # w used untransposed (w is square in this case)
    return dx, x2.T @ dout, dout.sum(0)


def affine_bwd_wrong_sign_db(dout, cache):
    dx, dw, db = affine_backward(dout, cache)
    return dx, dw, -db


def relu_bwd_leaky_everywhere(dout, cache):
    return dout.copy()  # passes gradient where x < 0 too


def relu_bwd_leaks_near_kink(dout, cache):
    (x,) = cache  # relu_forward's cache holds x
    return np.where(x > -1e-3, dout, 0)  # wrong only on (-1e-3, 0]: next to the kink


def softmax_missing_1_over_n(x, y):
    loss, dx = softmax_loss(x, y)
    return loss, dx * x.shape[0]


def softmax_missing_minus_1(x, y):
    loss, dx = softmax_loss(x, y)
    dx = dx.copy()
    dx[np.arange(len(y)), y] += 1.0 / len(y)  # forgot the -1 on the true class
    return loss, dx


def svm_wrong_sign(x, y):
    loss, dx = svm_loss(x, y)
    return loss, -dx


def _affine_inputs(dtype, square=False, seed=0):
    r = _rng(seed)
    D, M = (4, 4) if square else (6, 3)
    return (r.standard_normal((3, D)).astype(dtype), r.standard_normal((D, M)).astype(dtype),
            r.standard_normal(M).astype(dtype))


def _near_kink_x(dtype):
    # values straddling the kink, some within 1e-3 below it (where the planted bug lives)
    return np.array([[-0.5, -4e-4, 0.3], [-2e-4, 0.7, -1.2]], dtype=dtype)


def _scores(dtype, seed=1):
    r = _rng(seed)
    return r.standard_normal((4, 5)).astype(dtype), r.integers(0, 5, 4)


BUGS = {
    "affine: one wrong element of dw": lambda dt: (
        "layer", affine_forward, affine_bwd_one_wrong_dw, _affine_inputs(dt)),
    "affine: transposed weight in dx": lambda dt: (
        "layer", affine_forward, affine_bwd_transposed_w, _affine_inputs(dt, square=True)),
    "affine: wrong sign of db": lambda dt: (
        "layer", affine_forward, affine_bwd_wrong_sign_db, _affine_inputs(dt)),
    "relu: gradient passed where x < 0": lambda dt: (
        "layer", relu_forward, relu_bwd_leaky_everywhere,
        (_rng(2).standard_normal((3, 4)).astype(dt),)),
    "relu: gradient leaks just below the kink": lambda dt: (
        "layer", relu_forward, relu_bwd_leaks_near_kink, (_near_kink_x(dt),)),
    "softmax: missing 1/N": lambda dt: ("loss", softmax_missing_1_over_n, None, _scores(dt)),
    "softmax: missing -1 on the true class": lambda dt: (
        "loss", softmax_missing_minus_1, None, _scores(dt)),
    "svm: wrong sign": lambda dt: ("loss", svm_wrong_sign, None, _scores(dt)),
}


def _run(kind, fwd, bwd, inputs):
    if kind == "loss":
        return check_loss(fwd, *inputs)
    return check_layer(fwd, bwd, *inputs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", list(BUGS))
def test_planted_bug_is_caught(name, dtype):
    kind, fwd, bwd, inputs = BUGS[name](dtype)
    caught = False
    with pytest.warns(GradcheckPrecisionWarning) if dtype != np.float64 else _nullwarn():
        try:
            _run(kind, fwd, bwd, inputs)
        except GradientCheckError as e:
            caught = True
            message = str(e)
    RESULTS["bug"].setdefault(np.dtype(dtype).name, []).append((name, caught))
    assert caught, f"planted bug not caught: {name}"
    assert "analytic" in message and "numerical" in message


# --- correct but tricky: must pass -----------------------------------------------------


def max_pair_forward(x):
    """out[i] = max(x[i, 0], x[i, 1]); a local layer with ties, for the kink cases."""
    return np.maximum(x[:, 0], x[:, 1]), x


def max_pair_backward(dout, x):
    first = x[:, 0] >= x[:, 1]  # ties route to the first element, as max-pool does
    return np.stack([np.where(first, dout, 0), np.where(first, 0, dout)], axis=1)


def tanh_forward(x):
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, out):
    return dout * (1 - out * out)


def _relu_exact_zeros(dt):
    x = _rng(3).standard_normal((4, 5)).astype(dt)
    x[::2, ::2] = 0.0  # exact kinks
    return x


def _ties(dt):
    x = _rng(4).standard_normal((6, 2)).astype(dt)
    x[::2, 1] = x[::2, 0]  # exact ties in half the rows
    return x


def _svm_at_margin(dt):
    x, y = _scores(dt)
    j = (y + 1) % x.shape[1]
    x[np.arange(len(y)), j] = x[np.arange(len(y)), y] - 1.0  # margins exactly at 0
    return x, y


TRICKY = {
    "relu at exact zeros": lambda dt: ("layer", relu_forward, relu_backward,
                                       (_relu_exact_zeros(dt),)),
    "max with exact ties": lambda dt: ("layer", max_pair_forward, max_pair_backward,
                                       (_ties(dt),)),
    "svm with margins exactly at the hinge": lambda dt: ("loss", svm_loss, None,
                                                         _svm_at_margin(dt)),
    "affine with inputs scaled by 1e4": lambda dt: (
        "layer", affine_forward, affine_backward,
        tuple(a * dt(1e4) for a in _affine_inputs(dt))),
    "softmax with logits scaled by 1e4": lambda dt: (
        "loss", softmax_loss, None, (_scores(dt)[0] * dt(1e4), _scores(dt)[1])),
    "softmax with nearly constant logits": lambda dt: (
        "loss", softmax_loss, None,
        ((1.0 + 1e-6 * _scores(dt)[0]).astype(dt), _scores(dt)[1])),
    "tanh (curved) on large inputs": lambda dt: (
        "layer", tanh_forward, tanh_backward, ((3 * _rng(5).standard_normal((3, 4))).astype(dt),)),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", list(TRICKY))
def test_tricky_correct_case_passes(name, dtype):
    kind, fwd, bwd, inputs = TRICKY[name](dtype)
    alarm = False
    with pytest.warns(GradcheckPrecisionWarning) if dtype != np.float64 else _nullwarn():
        try:
            report = _run(kind, fwd, bwd, inputs)
        except GradientCheckError as e:
            alarm = True
            report = e
    RESULTS["ok"].setdefault(np.dtype(dtype).name, []).append((name, alarm))
    assert not alarm, f"false alarm on a correct layer ({name}):\n{report}"
    if "exact" in name or "ties" in name:
        assert sum(r.kinks for r in report.inputs.values()) > 0, "kinks were not recognised"


class _nullwarn:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def corpus_summary() -> list[str]:
    """Lines for the terminal summary: detection and false-alarm rates per dtype."""
    lines = []
    for dtype in ("float64", "float32"):
        bugs = RESULTS["bug"].get(dtype, [])
        oks = RESULTS["ok"].get(dtype, [])
        if not bugs and not oks:
            continue
        caught = sum(c for _, c in bugs)
        alarms = sum(a for _, a in oks)
        lines.append(f"{dtype}: planted bugs caught {caught}/{len(bugs)}"
                     f" ({100 * caught / max(len(bugs), 1):.0f}%), false alarms on correct "
                     f"layers {alarms}/{len(oks)} ({100 * alarms / max(len(oks), 1):.0f}%)")
    return lines
