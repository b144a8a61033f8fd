"""One entry per layer: forward, backward, a strategy for valid inputs, a medium-size
example, the naive reference where one exists, and which inputs the layer is linear in.

The conformance suite (tests/test_conformance.py) runs every entry through the same
checks on every backend and dtype, and a test compares this registry with the public
names ``layers`` exports, so a new layer cannot skip the suite.

``make(rng, dtype)`` returns a ``LayerCase`` big enough (~1e4-1e5 elements) for memory
and layout tests; ``strategy(dtype)`` draws small ones for property-based checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import layers as L

from . import strategies as S
from .strategies import LayerCase


@dataclass(frozen=True)
class LayerSpec:
    name: str
    forward: Callable
    backward: Callable | None  # None for a loss: forward returns (loss, dx)
    strategy: Callable  # dtype -> hypothesis strategy of LayerCase
    make: Callable  # (Generator, dtype) -> LayerCase
    naive: tuple[Callable, Callable] | None = None  # (forward, backward) reference
    alt_backwards: tuple[Callable, ...] = ()  # other backwards that must agree
    linear: tuple[int, tuple[int, ...]] | None = None  # (i, zeroed): linear in input i
    kind: str = "layer"  # "layer" or "loss"
    extra: dict = field(default_factory=dict)

    @property
    def is_loss(self) -> bool:
        return self.kind == "loss"


def _normal(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def _affine_make(rng, dtype):
    x, w, b = _normal(rng, (64, 8, 16), dtype), _normal(rng, (128, 96), dtype), \
        _normal(rng, (96,), dtype)
    return LayerCase((x, w, b), _normal(rng, (64, 96), dtype))


def _relu_make(rng, dtype):
    x = _normal(rng, (64, 32, 16), dtype)
    return LayerCase((x,), _normal(rng, x.shape, dtype))


def _scores_make(rng, dtype):
    return LayerCase((_normal(rng, (256, 40), dtype), rng.integers(0, 40, 256)))


REGISTRY: dict[str, LayerSpec] = {}


def register(spec: LayerSpec) -> LayerSpec:
    if spec.name in REGISTRY:
        raise ValueError(f"layer {spec.name!r} registered twice")
    REGISTRY[spec.name] = spec
    return spec


register(LayerSpec("affine", L.affine_forward, L.affine_backward,
                   lambda dt: S.affine_inputs(dtype=dt), _affine_make, linear=(0, (2,))))
register(LayerSpec("relu", L.relu_forward, L.relu_backward,
                   lambda dt: S.relu_inputs(dtype=dt), _relu_make))
register(LayerSpec("softmax_loss", L.softmax_loss, None,
                   lambda dt: S.softmax_loss_inputs(dtype=dt), _scores_make, kind="loss"))
register(LayerSpec("svm_loss", L.svm_loss, None,
                   lambda dt: S.svm_loss_inputs(dtype=dt), _scores_make, kind="loss"))


def _attention_make(rng, dtype):
    q, k = _normal(rng, (8, 4, 32, 16), dtype), _normal(rng, (8, 4, 24, 16), dtype)
    v = _normal(rng, (8, 4, 24, 16), dtype)
    mask = rng.random((32, 24)) < 0.8
    return LayerCase((q, k, v, mask), _normal(rng, (8, 4, 32, 16), dtype))


def _mha_make(rng, dtype):
    E = 32
    params = {k: _normal(rng, (E, E) if k[0] == "W" else (E,), dtype) * 0.2
              for k in S.MHA_KEYS}
    x, kv = _normal(rng, (8, 24, E), dtype), _normal(rng, (8, 16, E), dtype)
    return LayerCase((x, kv, kv.copy(), params, 4, None), _normal(rng, (8, 24, E), dtype))


register(LayerSpec("attention", L.attention_forward, L.attention_backward,
                   lambda dt: S.attention_inputs(dtype=dt), _attention_make))
register(LayerSpec("multihead_attention", L.multihead_attention_forward,
                   L.multihead_attention_backward,
                   lambda dt: S.multihead_attention_inputs(dtype=dt), _mha_make))


# --- fully connected stack --------------------------------------------------------------


def _dropout_make(rng, dtype):
    x = _normal(rng, (64, 32, 16), dtype)
    return LayerCase((x, {"p": 0.7, "mode": "train", "seed": 3}), _normal(rng, x.shape, dtype))


def _norm_make(N, D):
    def make(rng, dtype):
        x = _normal(rng, (N, D), dtype)
        gamma, beta = 1 + 0.1 * _normal(rng, (D,), dtype), _normal(rng, (D,), dtype)
        return LayerCase((x, gamma, beta, {"mode": "train"}), _normal(rng, (N, D), dtype))
    return make


def _affine_norm_relu_make(rng, dtype):
    x, w, b = _normal(rng, (64, 4, 32), dtype), _normal(rng, (128, 96), dtype), \
        _normal(rng, (96,), dtype)
    gamma, beta = 1 + 0.1 * _normal(rng, (96,), dtype), _normal(rng, (96,), dtype)
    return LayerCase((x, w, b, gamma, beta, {"mode": "train"}), _normal(rng, (64, 96), dtype))


register(LayerSpec("dropout", L.dropout_forward, L.dropout_backward,
                   lambda dt: S.dropout_inputs(dtype=dt), _dropout_make, linear=(0, ())))
register(LayerSpec("batchnorm", L.batchnorm_forward, L.batchnorm_backward,
                   lambda dt: S.batchnorm_inputs(dtype=dt), _norm_make(256, 128),
                   alt_backwards=(L.batchnorm_backward_alt,)))
register(LayerSpec("layernorm", L.layernorm_forward, L.layernorm_backward,
                   lambda dt: S.layernorm_inputs(dtype=dt), _norm_make(128, 256)))
register(LayerSpec("affine_relu", L.affine_relu_forward, L.affine_relu_backward,
                   lambda dt: S.affine_relu_inputs(dtype=dt), _affine_make))
register(LayerSpec("affine_bn_relu", L.affine_bn_relu_forward, L.affine_bn_relu_backward,
                   lambda dt: S.affine_bn_relu_inputs(dtype=dt), _affine_norm_relu_make))
register(LayerSpec("affine_ln_relu", L.affine_ln_relu_forward, L.affine_ln_relu_backward,
                   lambda dt: S.affine_ln_relu_inputs(dtype=dt), _affine_norm_relu_make))

# --- recurrent ---


def _cell_make(cell: str, seq: bool):
    """A medium case: N=8, T=6, D=16, H=24; weights scaled so the gates are not saturated."""
    k = {"rnn": 1, "gru": 3, "lstm": 4}[cell]

    def make(rng, dtype):
        N, T, D, H = 8, 6, 16, 24
        x = _normal(rng, (N, T, D) if seq else (N, D), dtype)
        state = [_normal(rng, (N, H), dtype)] * (2 if cell == "lstm" and not seq else 1)
        state = [s * (j + 1) for j, s in enumerate(state)]  # h and c differ
        W = [(_normal(rng, s, dtype) * 0.2).astype(dtype) for s in
             [(D, k * H), (H, k * H), (k * H,)]]
        dout = _normal(rng, (N, T, H) if seq else (N, H), dtype)
        if cell == "lstm" and not seq:
            dout = (dout, _normal(rng, (N, H), dtype))
        return LayerCase((x, *state, *W), dout)
    return make


for _cell in ("rnn", "lstm", "gru"):
    for _seq in (False, True):
        _name = _cell if _seq else f"{_cell}_step"
        register(LayerSpec(
            _name, getattr(L, f"{_name}_forward"), getattr(L, f"{_name}_backward"),
            (lambda c, q: lambda dt: S.recurrent_inputs(c, seq=q, dtype=dt))(_cell, _seq),
            _cell_make(_cell, _seq)))


def _embedding_make(rng, dtype):
    x = rng.integers(0, 50, (16, 20))  # (N, T) ids with many repeats
    return LayerCase((x, _normal(rng, (50, 32), dtype)), _normal(rng, (16, 20, 32), dtype))


def _temporal_affine_make(rng, dtype):
    x, w, b = _normal(rng, (8, 12, 32), dtype), _normal(rng, (32, 40), dtype), \
        _normal(rng, (40,), dtype)
    return LayerCase((x, w, b), _normal(rng, (8, 12, 40), dtype))


def _temporal_loss_make(rng, dtype):
    x = _normal(rng, (16, 12, 60), dtype)
    return LayerCase((x, rng.integers(0, 60, (16, 12)), rng.random((16, 12)) < 0.7))


register(LayerSpec("word_embedding", L.word_embedding_forward, L.word_embedding_backward,
                   lambda dt: S.word_embedding_inputs(dtype=dt), _embedding_make,
                   linear=(1, ())))
register(LayerSpec("temporal_affine", L.temporal_affine_forward, L.temporal_affine_backward,
                   lambda dt: S.temporal_affine_inputs(dtype=dt), _temporal_affine_make,
                   linear=(0, (2,))))
register(LayerSpec("temporal_softmax_loss", L.temporal_softmax_loss, None,
                   lambda dt: S.temporal_softmax_loss_inputs(dtype=dt), _temporal_loss_make,
                   kind="loss"))

def registered_functions() -> set:
    """Every forward/backward/loss function object the registry covers."""
    fns = set()
    for s in REGISTRY.values():
        fns |= {s.forward, s.backward, *s.alt_backwards}
        if s.naive:
            fns |= set(s.naive)
    fns.discard(None)
    return fns


def exported_layer_functions() -> dict[str, Callable]:
    """The public layer functions of ``layers``: forwards, backwards and losses."""
    out = {}
    for name in L.__all__:
        fn = getattr(L, name)
        if callable(fn) and ("_forward" in name or "_backward" in name or
                             name.endswith("_loss")):
            out[name] = fn
    return out


__all__ = ["LayerSpec", "REGISTRY", "register", "registered_functions",
           "exported_layer_functions"]


# --- conv / pool / spatial norms ------------------------------------------------------


def _conv_make(rng, dtype):
    x, w, b = _normal(rng, (4, 3, 13, 11), dtype), _normal(rng, (6, 3, 3, 3), dtype), \
        _normal(rng, (6,), dtype)
    return LayerCase((x, w, b, {"stride": 2, "pad": 1}), _normal(rng, (4, 6, 7, 6), dtype))


def _pool_make(rng, dtype):
    x = _normal(rng, (8, 4, 12, 12), dtype)
    return LayerCase((x, {"pool_height": 2, "pool_width": 2, "stride": 2}),
                     _normal(rng, (8, 4, 6, 6), dtype))


def _overlapping_pool_make(rng, dtype):
    x = _normal(rng, (8, 4, 13, 13), dtype)
    return LayerCase((x, {"pool_height": 3, "pool_width": 3, "stride": 2}),
                     _normal(rng, (8, 4, 6, 6), dtype))


def _avg_pool_make(rng, dtype):
    return LayerCase((_normal(rng, (8, 8, 6, 6), dtype),), _normal(rng, (8, 8), dtype))


def _spatial_bn_make(mode):
    def make(rng, dtype):
        x = _normal(rng, (8, 4, 6, 6), dtype)
        gamma, beta = 1 + 0.1 * _normal(rng, (4,), dtype), _normal(rng, (4,), dtype)
        bn_param = {"mode": mode, "running_mean": _normal(rng, (4,), dtype),
                    "running_var": (1 + rng.random(4)).astype(dtype)}
        return LayerCase((x, gamma, beta, bn_param), _normal(rng, x.shape, dtype))
    return make


def _spatial_gn_make(rng, dtype):
    x = _normal(rng, (4, 6, 5, 5), dtype)
    gamma = 1 + 0.1 * _normal(rng, (1, 6, 1, 1), dtype)
    return LayerCase((x, gamma, _normal(rng, (1, 6, 1, 1), dtype), 3, {"eps": 1e-5}),
                     _normal(rng, x.shape, dtype))


def _sandwich_make(pool, batchnorm):
    def make(rng, dtype):
        x, w, b = _normal(rng, (4, 3, 8, 8), dtype), _normal(rng, (6, 3, 3, 3), dtype), \
            _normal(rng, (6,), dtype)
        inputs = [x, w, b]
        if batchnorm:
            inputs += [1 + 0.1 * _normal(rng, (6,), dtype), _normal(rng, (6,), dtype)]
        inputs.append({"stride": 1, "pad": 1})
        if batchnorm:
            inputs.append({"mode": "train"})
        side = 8
        if pool:
            inputs.append({"pool_height": 2, "pool_width": 2, "stride": 2})
            side = 4
        return LayerCase(tuple(inputs), _normal(rng, (4, 6, side, side), dtype))
    return make


register(LayerSpec("conv", L.conv_forward_fast, L.conv_backward_fast,
                   lambda dt: S.conv_inputs(dtype=dt), _conv_make,
                   naive=(L.conv_forward_naive, L.conv_backward_naive), linear=(0, (2,))))
register(LayerSpec("max_pool", L.max_pool_forward_fast, L.max_pool_backward_fast,
                   lambda dt: S.pool_inputs(dtype=dt), _pool_make,
                   naive=(L.max_pool_forward_naive, L.max_pool_backward_naive)))
register(LayerSpec("max_pool_overlapping", L.max_pool_forward_fast, L.max_pool_backward_fast,
                   lambda dt: S.pool_inputs(dtype=dt), _overlapping_pool_make,
                   naive=(L.max_pool_forward_naive, L.max_pool_backward_naive)))
register(LayerSpec("global_avg_pool", L.global_avg_pool_forward, L.global_avg_pool_backward,
                   lambda dt: S.pool_inputs(dtype=dt).map(lambda c: LayerCase(
                       c.inputs[:1], c.dout.mean(axis=(2, 3)))),
                   _avg_pool_make, linear=(0, ())))
register(LayerSpec("spatial_batchnorm", L.spatial_batchnorm_forward,
                   L.spatial_batchnorm_backward,
                   lambda dt: S.spatial_batchnorm_inputs(dtype=dt), _spatial_bn_make("train")))
register(LayerSpec("spatial_batchnorm_test_mode", L.spatial_batchnorm_forward,
                   L.spatial_batchnorm_backward,
                   lambda dt: S.spatial_batchnorm_inputs(dtype=dt, mode="test"),
                   _spatial_bn_make("test")))
register(LayerSpec("spatial_groupnorm", L.spatial_groupnorm_forward,
                   L.spatial_groupnorm_backward,
                   lambda dt: S.spatial_groupnorm_inputs(dtype=dt), _spatial_gn_make))
for _name, _pool, _bn in [("conv_relu", False, False), ("conv_relu_pool", True, False),
                          ("conv_bn_relu", False, True), ("conv_bn_relu_pool", True, True)]:
    register(LayerSpec(
        _name, getattr(L, _name + "_forward"), getattr(L, _name + "_backward"),
        lambda dt, p=_pool, n=_bn: S.conv_sandwich_inputs(dtype=dt, pool=p, batchnorm=n),
        _sandwich_make(_pool, _bn),
        # batchnorm makes the conv bias's gradient identically zero: by design, not a bug
        extra={"vacuous_inputs": ("b",)} if _bn else {}))
