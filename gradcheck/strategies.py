"""Hypothesis strategies that draw valid inputs for layers, in general position.

Hypothesis's own ``arrays`` reuse one fill value for most elements; on a max-pool or a
relu that puts ties and kinks in nearly every example, and a correct layer fails its
gradient check for reasons that have nothing to do with its backward. The arrays drawn
here are *generic*: every value distinct, with a gap between any two values far larger
than the checker's step, and (where asked) at least ``low`` away from zero, the kink of
relu and friends. Each layer strategy returns a ``LayerCase``: the forward's positional
inputs and an upstream gradient, ready for ``check_layer(fwd, bwd, *case.inputs,
dout=case.dout)``.

Profiles: ``register_profiles()`` adds ``dev`` (few examples, no deadline: numerical
gradients are slow by design) and ``nightly`` (many examples); ``load_profile()`` picks
the one named by ``HYPOTHESIS_PROFILE``. Under CI (``CI`` set) hypothesis loads its own
deterministic ``ci`` profile, which is left as it is.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st

__all__ = [
    "LayerCase", "generic_arrays", "upstream", "seeds", "register_profiles", "load_profile",
    "affine_inputs", "relu_inputs", "softmax_loss_inputs", "svm_loss_inputs",
    "conv_geometry", "conv_inputs", "pool_inputs", "spatial_batchnorm_inputs",
    "spatial_groupnorm_inputs", "conv_sandwich_inputs",
    "attention_inputs", "multihead_attention_inputs",
    "recurrent_inputs", "token_ids", "word_embedding_inputs", "temporal_affine_inputs",
    "temporal_softmax_loss_inputs", "distillation_loss_inputs",
]


@dataclass
class LayerCase:
    """Inputs for one layer call: ``forward(*inputs)``; ``dout`` matches the output(s)."""

    inputs: tuple
    dout: Any = None
    info: dict | None = None


seeds = st.integers(min_value=0, max_value=2**32 - 1)


def _generic(rng: np.random.Generator, shape, low: float, high: float, signed: bool,
             dtype) -> np.ndarray:
    """Distinct values with magnitudes in [low, high]; neighbouring magnitudes differ by
    at least (high - low) / (2 n), and values of opposite sign by at least 2 low."""
    n = math.prod(shape)
    grid = (rng.permutation(n) + 0.25 + 0.5 * rng.random(n)) / n  # distinct, in (0, 1)
    mags = low + (high - low) * grid
    signs = rng.choice(np.array([-1.0, 1.0]), size=n) if signed else 1.0
    return (signs * mags).reshape(shape).astype(dtype)


@st.composite
def generic_arrays(draw, shape, *, low: float = 0.1, high: float = 1.0, signed: bool = True,
                   dtype=np.float64, salt: int = 0):
    """A strategy for one array of ``shape`` in general position (see the module doc).

    The values come from a seeded numpy Generator (hypothesis draws the seed and a scale),
    so arrays of any size cost one draw; the shrinker works on shapes and scale. Give
    each array of one case its own ``salt``: the shrinker drives every seed to 0, and
    unsalted arrays of one shape would then be equal (q == k == v).
    """
    scale = draw(st.sampled_from([1.0, 0.5, 2.0]))
    rng = np.random.default_rng([draw(seeds), salt])
    return _generic(rng, tuple(shape), low * scale, high * scale, signed, dtype)


def upstream(shape, dtype=np.float64):
    """An upstream gradient: generic, never constant (a constant dout makes the checks of
    batchnorm, layernorm and softmax vacuous)."""
    return generic_arrays(shape, low=0.1, high=1.0, dtype=dtype, salt=99)


def dims(lo: int = 1, hi: int = 4):
    return st.integers(min_value=lo, max_value=hi)


# --- layer strategies -----------------------------------------------------------------


@st.composite
def affine_inputs(draw, dtype=np.float64, max_side: int = 4):
    """x (N, d_1, ..., d_k) with k in 1..3, w (D, M), b (M,); dout (N, M)."""
    N = draw(dims(1, max_side))
    rest = draw(st.lists(dims(1, 3), min_size=1, max_size=3))
    M = draw(dims(1, max_side))
    D = math.prod(rest)
    x = draw(generic_arrays((N, *rest), dtype=dtype, salt=1))
    w = draw(generic_arrays((D, M), dtype=dtype, salt=2))
    b = draw(generic_arrays((M,), dtype=dtype, salt=3))
    return LayerCase((x, w, b), draw(upstream((N, M), dtype)))


@st.composite
def relu_inputs(draw, dtype=np.float64):
    """x of rank 1..4 with every |x| >= 0.1 (away from the kink at 0) and at least one
    positive element; dout like x."""
    shape = tuple(draw(st.lists(dims(1, 4), min_size=1, max_size=4)))
    x = draw(generic_arrays(shape, low=0.1, dtype=dtype))
    if not (x > 0).any():  # all negative: the gradient is 0 and the check vacuous
        x = -x
    return LayerCase((x,), draw(upstream(shape, dtype)))


@st.composite
def _scores_labels(draw, dtype, spread: float):
    N = draw(dims(1, 6))
    C = draw(dims(2, 6))
    x = draw(generic_arrays((N, C), low=0.0, high=spread, dtype=dtype, salt=1))
    y = np.asarray(draw(st.lists(st.integers(0, C - 1), min_size=N, max_size=N)),
                   dtype=np.int64)
    return x, y


@st.composite
def softmax_loss_inputs(draw, dtype=np.float64):
    """Scores (N, C) and labels (N,) in [0, C). The loss is smooth: no gap needed."""
    x, y = draw(_scores_labels(dtype, spread=3.0))
    return LayerCase((x, y))


@st.composite
def svm_loss_inputs(draw, dtype=np.float64):
    """Scores (N, C) and labels, with every margin x_j - x_y + 1 at least 1e-2 from the
    hinge (so a numerical step never crosses it); both active and inactive margins occur."""
    x, y = draw(_scores_labels(dtype, spread=2.0))
    margins = x - x[np.arange(len(y)), y][:, None] + 1
    margins[np.arange(len(y)), y] = 1.0
    assume(np.min(np.abs(margins)) > 1e-2)
    margins[np.arange(len(y)), y] = -1.0
    assume((margins > 0).any())  # at least one active hinge, else the gradient is all 0
    return LayerCase((x, y))


@st.composite
def distillation_loss_inputs(draw, dtype=np.float64):
    """Student and teacher scores (N, C) and a temperature T in [0.5, 8]. The loss is
    smooth everywhere: no gap needed. Teacher scores are spread wider (a confident
    teacher), the student's narrower, so the softened distributions differ."""
    N, C = draw(dims(1, 6)), draw(dims(2, 6))
    s = draw(generic_arrays((N, C), low=0.0, high=3.0, dtype=dtype, salt=1))
    t = draw(generic_arrays((N, C), low=0.0, high=8.0, dtype=dtype, salt=2))
    T = draw(st.sampled_from([0.5, 1.0, 2.0, 4.0, 8.0]))
    return LayerCase((s, t, T))


# --- profiles -------------------------------------------------------------------------


def register_profiles() -> None:
    """``dev``: 20 examples, no deadline. ``nightly``: 1000 examples, no deadline."""
    settings.register_profile("dev", deadline=None, max_examples=20,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile("nightly", deadline=None, max_examples=1000,
                              suppress_health_check=[HealthCheck.too_slow])


def load_profile() -> str:
    """Load ``HYPOTHESIS_PROFILE`` if set; else ``dev`` outside CI. Under CI (and no
    explicit choice) hypothesis's own deterministic ``ci`` profile stays loaded."""
    register_profiles()
    name = os.environ.get("HYPOTHESIS_PROFILE")
    if name is None and not os.environ.get("CI"):
        name = "dev"
    if name is not None:
        settings.load_profile(name)
    return name or "ci"


# --- conv / pool / spatial norms ----------------------------------------------------


def _tiling_sizes(kernel: int, stride: int, pad: int, max_side: int) -> list[int]:
    """Input sizes in [1, max_side] along which a window tiles: (n + 2 pad - kernel) is a
    non-negative multiple of stride."""
    return [n for n in range(1, max_side + 1)
            if n + 2 * pad >= kernel and (n + 2 * pad - kernel) % stride == 0]


@st.composite
def conv_geometry(draw, max_side: int = 7, max_kernel: int = 3, max_stride: int = 2,
                  max_pad: int = 2, all_padding_windows: bool = False):
    """(H, W, HH, WW, stride, pad) that tile: kernels may be non-square, H != W.

    Sizes are drawn from the ones that tile, so nothing is rejected (n = kernel always
    tiles). Unless ``all_padding_windows``, pad < min(HH, WW), so every window overlaps
    the image: with a 1x1 kernel, pad 1 and stride 2 on a 1x1 image every window sees
    only padding, the gradients of x and w are identically zero and a gradient check of
    that case could not fail."""
    HH, WW = draw(dims(1, max_kernel)), draw(dims(1, max_kernel))
    stride = draw(st.integers(1, max_stride))
    top = max_pad if all_padding_windows else min(max_pad, HH - 1, WW - 1)
    pad = draw(st.integers(0, top))
    H = draw(st.sampled_from(_tiling_sizes(HH, stride, pad, max_side)))
    W = draw(st.sampled_from(_tiling_sizes(WW, stride, pad, max_side)))
    return H, W, HH, WW, stride, pad


@st.composite
def conv_inputs(draw, dtype=np.float64, max_n: int = 2, max_c: int = 3, max_f: int = 3,
                max_side: int = 7, all_padding_windows: bool = False):
    """x (N, C, H, W), w (F, C, HH, WW), b (F,), conv_param {'stride', 'pad'} with a
    tiling geometry (stride 1-2, pad 0-2, kernels 1-3, not necessarily square; see
    ``conv_geometry``); dout (N, F, OH, OW). Small, so a full gradient check of 100
    examples stays quick."""
    H, W, HH, WW, stride, pad = draw(conv_geometry(max_side=max_side,
                                                   all_padding_windows=all_padding_windows))
    N, C, F = draw(dims(1, max_n)), draw(dims(1, max_c)), draw(dims(1, max_f))
    OH, OW = (H + 2 * pad - HH) // stride + 1, (W + 2 * pad - WW) // stride + 1
    x = draw(generic_arrays((N, C, H, W), dtype=dtype))
    w = draw(generic_arrays((F, C, HH, WW), dtype=dtype))
    b = draw(generic_arrays((F,), dtype=dtype))
    return LayerCase((x, w, b, {"stride": stride, "pad": pad}),
                     draw(upstream((N, F, OH, OW), dtype)))


@st.composite
def pool_inputs(draw, dtype=np.float64, max_n: int = 2, max_c: int = 3, max_side: int = 7):
    """x (N, C, H, W) tie-free, pool_param with pool sizes 1-3 and stride 1-3 (so windows
    may overlap, tile exactly or skip elements) whose geometry tiles; dout (N, C, OH, OW).

    x is generic (all values distinct, gaps far above the checker's step), so no window
    has a tie and the max is differentiable at every drawn point."""
    ph, pw = draw(dims(1, 3)), draw(dims(1, 3))
    stride = draw(st.integers(1, 3))
    H = draw(st.sampled_from(_tiling_sizes(ph, stride, 0, max_side)))
    W = draw(st.sampled_from(_tiling_sizes(pw, stride, 0, max_side)))
    N, C = draw(dims(1, max_n)), draw(dims(1, max_c))
    OH, OW = (H - ph) // stride + 1, (W - pw) // stride + 1
    x = draw(generic_arrays((N, C, H, W), dtype=dtype))
    param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    return LayerCase((x, param), draw(upstream((N, C, OH, OW), dtype)))


@st.composite
def spatial_batchnorm_inputs(draw, dtype=np.float64, mode: str = "train"):
    """x (N, C, H, W) with N*H*W >= 3, gamma and beta (C,), bn_param {'mode', 'eps'}
    (+ running stats of (C,) in test mode); dout like x.

    (With 2 values per channel the normalized output is +-1 whatever x is, so dx is only
    eps-sized rounding noise and a float32-vs-float64 comparison means nothing.)"""
    N, C, H, W = draw(dims(1, 3)), draw(dims(1, 3)), draw(dims(1, 3)), draw(dims(1, 3))
    assume(N * H * W >= 3)
    x = draw(generic_arrays((N, C, H, W), high=2.0, dtype=dtype))
    gamma = draw(generic_arrays((C,), low=0.5, high=1.5, dtype=dtype))
    beta = draw(generic_arrays((C,), dtype=dtype))
    bn_param = {"mode": mode, "eps": 1e-5}
    if mode == "test":
        bn_param["running_mean"] = draw(generic_arrays((C,), dtype=dtype))
        bn_param["running_var"] = draw(generic_arrays((C,), low=0.5, high=2.0,
                                                      signed=False, dtype=dtype))
    return LayerCase((x, gamma, beta, bn_param), draw(upstream((N, C, H, W), dtype)))


@st.composite
def spatial_groupnorm_inputs(draw, dtype=np.float64):
    """x (N, C, H, W) with C = G * (C // G) and at least three values per group (see
    spatial_batchnorm_inputs), gamma and beta (1, C, 1, 1), G, gn_param {'eps'}; dout
    like x."""
    N, G, per = draw(dims(1, 2)), draw(dims(1, 3)), draw(dims(1, 2))
    H, W = draw(dims(1, 3)), draw(dims(1, 3))
    assume(per * H * W >= 3)
    C = G * per
    x = draw(generic_arrays((N, C, H, W), high=2.0, dtype=dtype))
    gamma = draw(generic_arrays((1, C, 1, 1), low=0.5, high=1.5, dtype=dtype))
    beta = draw(generic_arrays((1, C, 1, 1), dtype=dtype))
    return LayerCase((x, gamma, beta, G, {"eps": 1e-5}), draw(upstream((N, C, H, W), dtype)))


@st.composite
def conv_sandwich_inputs(draw, dtype=np.float64, pool: bool = False, batchnorm: bool = False):
    """Inputs for conv_relu(_pool) / conv_bn_relu(_pool): x, w, b, [gamma, beta (F,)],
    conv_param, [bn_param (train)], [pool_param over the conv's (OH, OW)]; dout matches
    the sandwich's output.

    Channel 0 is kept alive so no check is vacuous (with every relu unit cut, all the
    gradients are identically zero): without batchnorm, x >= 0.1, w[0] >= 0 and b[0] > 0
    make every channel-0 output positive; with batchnorm, beta[0] > 0 makes channel 0's
    largest normalized value positive. Pool windows cover every conv output (stride <=
    pool size), so a live unit always reaches a pool output. (Before batchnorm the conv
    bias has an identically zero gradient whatever the inputs: batchnorm removes it.)"""
    case = draw(conv_inputs(dtype=dtype))
    x, w, b, conv_param = case.inputs
    N, F, OH, OW = case.dout.shape
    if batchnorm:
        # N*OH*OW >= 3: with 2 values per channel batchnorm's output is +-gamma whatever
        # the input, its gradient only eps-sized noise. More than one weight per filter:
        # batchnorm undoes any scaling of a filter, so a single weight's gradient is 0.
        assume(N * OH * OW >= 3 and w[0].size >= 2)
        gamma = draw(generic_arrays((F,), low=0.5, high=1.5, signed=False, dtype=dtype))
        beta = draw(generic_arrays((F,), dtype=dtype))
        beta[0] = abs(beta[0])
        inputs = [x, w, b, gamma, beta, conv_param, {"mode": "train"}]
    else:
        x = np.abs(x)  # generic arrays keep |values| >= low, so x >= 0.1 * scale
        w, b = w.copy(), b.copy()
        w[0], b[0] = np.abs(w[0]), abs(b[0])
        inputs = [x, w, b, conv_param]
    out_shape = (N, F, OH, OW)
    if pool:
        ph, pw, s = draw(st.sampled_from([
            (ph, pw, s) for ph in (1, 2) for pw in (1, 2) for s in (1, 2)
            if s <= min(ph, pw) and OH >= ph and OW >= pw
            and (OH - ph) % s == 0 and (OW - pw) % s == 0]))
        inputs.append({"pool_height": ph, "pool_width": pw, "stride": s})
        out_shape = (N, F, (OH - ph) // s + 1, (OW - pw) // s + 1)
    return LayerCase(tuple(inputs), draw(upstream(out_shape, dtype)))


# --- attention ------------------------------------------------------------------------


@st.composite
def _mask(draw, shape):
    """A bool mask with at least two True per row: a row attending to one key has a
    constant softmax, and its query gets no gradient at all."""
    rng = np.random.default_rng(draw(seeds))
    m = rng.random(shape) < 0.7
    first, second = rng.choice(shape[-1], size=2, replace=False)
    m[..., first] = True
    m[..., second] = True
    return m


@st.composite
def attention_inputs(draw, dtype=np.float64):
    """q (B..., S, d), k (B..., T, d), v (B..., T, dv), optional mask (S, T) or full."""
    lead = tuple(draw(st.lists(dims(1, 2), min_size=0, max_size=2)))
    S_, d, dv = (draw(dims(1, 3)) for _ in range(3))
    T_ = draw(dims(2, 3))  # T = 1 makes the softmax constant: dq = dk = 0
    q = draw(generic_arrays((*lead, S_, d), dtype=dtype, salt=1))
    k = draw(generic_arrays((*lead, T_, d), dtype=dtype, salt=2))
    v = draw(generic_arrays((*lead, T_, dv), dtype=dtype, salt=3))
    mask = draw(st.one_of(st.none(), _mask((S_, T_)), _mask((*lead, S_, T_))))
    return LayerCase((q, k, v, mask), draw(upstream((*lead, S_, dv), dtype)))


MHA_KEYS = ("Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo")


@st.composite
def multihead_attention_inputs(draw, dtype=np.float64):
    """query (N, S, E), key/value (N, T, E), params, num_heads dividing E, optional mask."""
    N, S_, T_ = draw(dims(1, 2)), draw(dims(1, 3)), draw(dims(2, 3))
    h = draw(st.sampled_from([1, 2]))
    E = h * draw(dims(1, 2))
    query = draw(generic_arrays((N, S_, E), dtype=dtype, salt=1))
    key = draw(generic_arrays((N, T_, E), dtype=dtype, salt=2))
    value = draw(generic_arrays((N, T_, E), dtype=dtype, salt=3))
    params = {k: draw(generic_arrays((E, E) if k[0] == "W" else (E,), dtype=dtype,
                                     salt=10 + i))
              for i, k in enumerate(MHA_KEYS)}
    mask = draw(st.one_of(st.none(), _mask((S_, T_))))
    return LayerCase((query, key, value, params, h, mask), draw(upstream((N, S_, E), dtype)))


# --- fully connected: dropout, batchnorm, layernorm, sandwiches -------------------------

__all__ += [
    "dropout_inputs", "batchnorm_inputs", "layernorm_inputs", "affine_relu_inputs",
    "affine_bn_relu_inputs", "affine_ln_relu_inputs",
]


@st.composite
def dropout_inputs(draw, dtype=np.float64, mode=None):
    """x of rank 1..3; dropout_param with a keep probability p in [0.2, 1], a mode
    ('train' mostly) and always a seed, so the forward is a fixed function of x."""
    shape = tuple(draw(st.lists(dims(1, 4), min_size=1, max_size=3)))
    x = draw(generic_arrays(shape, dtype=dtype, salt=1))
    p = draw(st.one_of(st.just(1.0), st.floats(0.2, 1.0)))
    if mode is None:
        mode = draw(st.sampled_from(["train", "train", "train", "test"]))
    seed = draw(seeds)
    # at least one element kept, else the check is vacuous (dropout_forward documents
    # its train mask as default_rng(seed).random(x.shape) < p)
    assume(mode == "test" or np.any(np.random.default_rng(seed).random(shape) < p))
    param = {"p": p, "mode": mode, "seed": seed}
    return LayerCase((x, param), draw(upstream(shape, dtype)))


@st.composite
def _norm_params(draw, D, dtype):
    """gamma (signed, away from 0) and beta, both (D,)."""
    gamma = draw(generic_arrays((D,), low=0.2, high=2.0, dtype=dtype, salt=4))
    beta = draw(generic_arrays((D,), dtype=dtype, salt=5))
    return gamma, beta


@st.composite
def batchnorm_inputs(draw, dtype=np.float64, mode=None):
    """x (N, D) with N >= 2 and every column non-constant (generic values are distinct,
    and far apart compared with sqrt(eps)); gamma, beta (D,); bn_param with a mode
    ('train' mostly; 'test' with drawn running statistics), sometimes eps and momentum.

    Below float64, N >= 3: with two examples xhat is +-1 whatever x, dx is a difference
    of nearly equal terms, and in float32 it is rounding noise (the fidelity test fails
    on a correct layer)."""
    N, D = draw(dims(2 if np.dtype(dtype) == np.float64 else 3, 5)), draw(dims(1, 4))
    x = draw(generic_arrays((N, D), dtype=dtype, salt=1))
    gamma, beta = draw(_norm_params(D, dtype))
    if mode is None:
        mode = draw(st.sampled_from(["train", "train", "train", "test"]))
    param = {"mode": mode}
    if draw(st.booleans()):
        param["eps"] = draw(st.sampled_from([1e-5, 1e-3]))
        param["momentum"] = draw(st.sampled_from([0.9, 0.5]))
    if mode == "test" or draw(st.booleans()):
        param["running_mean"] = draw(generic_arrays((D,), dtype=dtype, salt=6))
        param["running_var"] = draw(generic_arrays((D,), low=0.5, high=2.0, signed=False,
                                                   dtype=dtype, salt=7))
    return LayerCase((x, gamma, beta, param), draw(upstream((N, D), dtype)))


@st.composite
def layernorm_inputs(draw, dtype=np.float64):
    """x (N, D) with D >= 2 (D >= 3 below float64, as for batchnorm's N) and every row
    non-constant; gamma, beta (D,); ln_param."""
    N, D = draw(dims(1, 4)), draw(dims(2 if np.dtype(dtype) == np.float64 else 3, 5))
    x = draw(generic_arrays((N, D), dtype=dtype, salt=1))
    gamma, beta = draw(_norm_params(D, dtype))
    param = draw(st.sampled_from([{}, {"eps": 1e-5}, {"eps": 1e-3}]))
    return LayerCase((x, gamma, beta, dict(param)), draw(upstream((N, D), dtype)))


def _normalise(a, axis, eps=1e-5):
    """(a - mean) / sqrt(var + eps) along ``axis``: only used to keep drawn sandwich
    inputs away from relu's kink."""
    c = a - a.mean(axis=axis, keepdims=True)
    return c / np.sqrt((c * c).mean(axis=axis, keepdims=True) + eps)


@st.composite
def affine_relu_inputs(draw, dtype=np.float64):
    """affine_inputs whose pre-activations x @ w + b are all at least 1e-2 from 0, and
    not all negative."""
    case = draw(affine_inputs(dtype=dtype))
    x, w, b = case.inputs
    a = x.reshape(x.shape[0], -1) @ w + b
    assume(np.min(np.abs(a)) > 1e-2)
    assume(np.any(a > 0))  # some unit alive, else every gradient is 0 (a vacuous check)
    return case


@st.composite
def _affine_norm_relu(draw, dtype, axis, min_n, min_m):
    N, M = draw(dims(min_n, 4)), draw(dims(min_m, 4))
    rest = draw(st.lists(dims(1, 3), min_size=1, max_size=2))
    x = draw(generic_arrays((N, *rest), dtype=dtype, salt=1))
    w = draw(generic_arrays((math.prod(rest), M), dtype=dtype, salt=2))
    b = draw(generic_arrays((M,), dtype=dtype, salt=3))
    gamma, beta = draw(_norm_params(M, dtype))
    x2 = x.reshape(N, -1).astype(np.float64)
    if axis == 0:
        # batchnorm (b cancels): scale each column of w so its column of x @ w has a std
        # near 1, within a factor 4 (the rescaled values stay generic)
        std = (x2 @ w).std(axis=0)
        w = (w * np.clip(1.0 / np.maximum(std, 1e-12), 0.25, 4.0)).astype(dtype)
    a = x2 @ w + b  # (N, M)
    # The normaliser multiplies rounding noise by gamma / std: a float32 call stays within
    # a few ulps of the float64 one (the checker's fidelity test) only if no normalised
    # slice has a small std
    assume(np.min(a.std(axis=axis)) >= 0.8)
    pre = gamma * _normalise(a, axis) + beta  # the relu's input
    assume(np.min(np.abs(pre)) > 1e-2)  # off relu's kink
    assume(np.any(pre > 0))  # some unit alive, else every gradient is 0
    return (x, w, b, gamma, beta), draw(upstream((N, M), dtype))


@st.composite
def affine_bn_relu_inputs(draw, dtype=np.float64):
    """x (N, ...) with N >= 3 (with 2 examples batchnorm saturates at +-1 and its
    gradient is all rounding noise), w, b, gamma, beta and bn_param {'mode': 'train'}; every
    column of the affine output has a std of at least 0.8, and the relu input no value
    near 0."""
    inputs, dout = draw(_affine_norm_relu(dtype, axis=0, min_n=3, min_m=1))
    return LayerCase((*inputs, {"mode": "train"}), dout)


@st.composite
def affine_ln_relu_inputs(draw, dtype=np.float64):
    """As affine_bn_relu_inputs for layernorm: M >= 3 (with 2 features layernorm
    saturates at +-1 and its gradient vanishes), every row's std at least 0.8."""
    inputs, dout = draw(_affine_norm_relu(dtype, axis=1, min_n=1, min_m=3))
    return LayerCase((*inputs, {}), dout)

# --- recurrent ---
# Tiny sizes (N <= 3, T <= 4, D, H <= 4, V <= 6) keep hypothesis's 100 CI examples fast.
# Weights are drawn smaller than inputs (|w| <= 0.5) so the gates are not all saturated:
# a saturated tanh has a near-zero derivative and the check would test little.

_GATE_BLOCKS = {"rnn": 1, "gru": 3, "lstm": 4}


@st.composite
def recurrent_inputs(draw, cell: str = "lstm", seq: bool = True, dtype=np.float64,
                     max_side: int = 4):
    """Inputs of a recurrent step or sequence: ``cell`` in 'rnn', 'gru', 'lstm'.

    - seq=True: (x (N, T, D), h0 (N, H), Wx (D, kH), Wh (H, kH), b (kH,)), dout (N, T, H),
      T >= 1.
    - seq=False: (x (N, D), prev_h (N, H)[, prev_c (N, H) for lstm], Wx, Wh, b), dout
      next_h's (N, H) (and next_c's for lstm, as a tuple of two).
    k = 1 (rnn), 3 (gru), 4 (lstm).
    """
    k = _GATE_BLOCKS[cell]
    N = draw(dims(1, 3))
    T = draw(dims(1, max_side))
    D = draw(dims(1, max_side))
    H = draw(dims(1, max_side))
    x = draw(generic_arrays((N, T, D) if seq else (N, D), dtype=dtype, salt=1))
    state = [draw(generic_arrays((N, H), dtype=dtype, salt=2))]
    if cell == "lstm" and not seq:
        state.append(draw(generic_arrays((N, H), dtype=dtype, salt=3)))
    Wx = draw(generic_arrays((D, k * H), low=0.05, high=0.5, dtype=dtype, salt=4))
    Wh = draw(generic_arrays((H, k * H), low=0.05, high=0.5, dtype=dtype, salt=5))
    b = draw(generic_arrays((k * H,), low=0.05, high=0.5, dtype=dtype, salt=6))
    if seq:
        dout = draw(upstream((N, T, H), dtype))
    elif cell == "lstm":
        dout = (draw(upstream((N, H), dtype)),
                draw(generic_arrays((N, H), dtype=dtype, salt=98)))  # unlike dnext_h
    else:
        dout = draw(upstream((N, H), dtype))
    return LayerCase((x, *state, Wx, Wh, b), dout, {"N": N, "T": T, "D": D, "H": H})


def token_ids(shape, V: int):
    """An int64 array of ``shape`` with values in [0, V) (repeats allowed, and likely)."""
    n = math.prod(shape)
    return st.lists(st.integers(0, V - 1), min_size=n, max_size=n).map(
        lambda vals: np.asarray(vals, dtype=np.int64).reshape(shape))


@st.composite
def word_embedding_inputs(draw, dtype=np.float64):
    """x (N, T) token ids in [0, V), W (V, D); dout (N, T, D). Repeated ids are common
    (V <= 6), which is what tests the backward's accumulation."""
    N, T, V, D = draw(dims(1, 3)), draw(dims(1, 4)), draw(dims(1, 6)), draw(dims(1, 4))
    x = draw(token_ids((N, T), V))
    W = draw(generic_arrays((V, D), dtype=dtype, salt=1))
    return LayerCase((x, W), draw(upstream((N, T, D), dtype)))


@st.composite
def temporal_affine_inputs(draw, dtype=np.float64):
    """x (N, T, D), w (D, M), b (M,); dout (N, T, M)."""
    N, T, D, M = draw(dims(1, 3)), draw(dims(1, 4)), draw(dims(1, 4)), draw(dims(1, 6))
    x = draw(generic_arrays((N, T, D), dtype=dtype, salt=1))
    w = draw(generic_arrays((D, M), dtype=dtype, salt=2))
    b = draw(generic_arrays((M,), dtype=dtype, salt=3))
    return LayerCase((x, w, b), draw(upstream((N, T, M), dtype)))


@st.composite
def temporal_softmax_loss_inputs(draw, dtype=np.float64):
    """Scores x (N, T, V), targets y (N, T) in [0, V), and a bool mask (N, T) with at
    least one step set (an all-False mask has a zero loss and a zero gradient)."""
    N, T, V = draw(dims(1, 3)), draw(dims(1, 4)), draw(dims(2, 6))
    x = draw(generic_arrays((N, T, V), low=0.0, high=3.0, dtype=dtype, salt=1))
    y = draw(token_ids((N, T), V))
    flags = draw(st.lists(st.booleans(), min_size=N * T, max_size=N * T))
    mask = np.asarray(flags, dtype=bool).reshape(N, T)
    mask.flat[draw(st.integers(0, N * T - 1))] = True
    return LayerCase((x, y, mask))
