"""Every public layer function against bad input: the cases are generated from the
registry (gradcheck.badinput), so a new layer is covered by registering it.

Each bad call must raise the expected exception type with a message that names the
function and the argument; each valid near-miss (integer parameters, a float32 dout on a
float64 cache, an empty batch where a layer of zero rows is well defined) must give
finite, right results. The geometry helpers that are not layers have their own table.
"""

import re

import numpy as np
import pytest

import layers as L
from gradcheck.badinput import generate
from gradcheck.registry import REGISTRY, exported_layer_functions
from nets import FullyConnectedNet, ThreeLayerConvNet

CASES = generate()


def _names_in(message: str, names) -> list[str]:
    """The names missing from ``message`` (each as a whole word)."""
    return [n for n in names if not re.search(rf"(?<!\w){re.escape(n)}(?!\w)", message)]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case):
    if case.expect is None:
        case.run()  # valid: the case asserts its own result
        return
    with pytest.raises(Exception) as info:
        case.run()
    err = info.value
    assert type(err) is case.expect, \
        f"{case.id}: expected {case.expect.__name__}, got {type(err).__name__}: {err}"
    missing = _names_in(str(err), case.names)
    assert not missing, f"{case.id}: the message does not name {missing}: {err}"


def test_every_registered_layer_declares_its_layout():
    missing = [n for n, s in REGISTRY.items() if not s.layout]
    assert not missing, (f"registered without a layout (see LayerSpec.layout), so the "
                         f"bad-input suite cannot vary their shapes: {missing}")


def test_the_cases_cover_every_exported_layer_function():
    covered = {c.id.split(":")[1].split("-")[0] for c in CASES}
    names = {f.__name__ for f in exported_layer_functions().values()}
    assert names <= covered, f"no bad-input case for {sorted(names - covered)}"


# --- the public helpers that are not layers ---------------------------------------------

X4 = np.random.default_rng(0).standard_normal((2, 3, 5, 5))
COLS = L.im2col(X4, 3, 3, 1, 1)  # (2, 3, 3, 3, 5, 5)

HELPERS = [
    # (id, call, exception, names in the message)
    ("conv_output_shape-pad_negative", lambda: L.conv_output_shape(5, 5, 3, 3, 1, pad=-1),
     ValueError, ("conv_output_shape", "pad")),
    ("conv_output_shape-HH_zero", lambda: L.conv_output_shape(5, 5, 0, 3), ValueError,
     ("conv_output_shape", "HH")),
    ("conv_output_shape-stride_zero", lambda: L.conv_output_shape(5, 5, 3, 3, 0), ValueError,
     ("conv_output_shape", "stride")),
    ("conv_output_shape-stride_float", lambda: L.conv_output_shape(5, 5, 3, 3, 1.5),
     TypeError, ("conv_output_shape", "stride")),
    ("conv_output_shape-H_None", lambda: L.conv_output_shape(None, 5, 3, 3), TypeError,
     ("conv_output_shape", "H")),
    ("conv_output_shape-no_tiling", lambda: L.conv_output_shape(6, 6, 3, 3, 2), ValueError,
     ("conv_output_shape", "stride")),
    ("im2col-3d", lambda: L.im2col(X4[0], 3, 3), ValueError, ("im2col", "x")),
    ("im2col-list", lambda: L.im2col(X4.tolist(), 3, 3), TypeError, ("im2col", "x")),
    ("im2col-HH_zero", lambda: L.im2col(X4, 0, 3), ValueError, ("im2col", "HH")),
    ("col2im-x_shape_mismatch", lambda: L.col2im(COLS, (2, 3, 6, 6), 1, 1), ValueError,
     ("col2im", "x_shape")),
    ("col2im-channels_mismatch", lambda: L.col2im(COLS, (2, 4, 5, 5), 1, 1), ValueError,
     ("col2im", "x_shape")),
    ("col2im-x_shape_3", lambda: L.col2im(COLS, (2, 3, 5), 1, 1), TypeError,
     ("col2im", "x_shape")),
    ("col2im-cols_5d", lambda: L.col2im(COLS[0], (2, 3, 5, 5), 1, 1), ValueError,
     ("col2im", "cols")),
    ("positional_encoding-T_negative", lambda: L.positional_encoding(-1, 4), ValueError,
     ("positional_encoding", "T")),
    ("positional_encoding-D_bool", lambda: L.positional_encoding(4, True), TypeError,
     ("positional_encoding", "D")),
    ("positional_encoding-T_float", lambda: L.positional_encoding(4.0, 4), TypeError,
     ("positional_encoding", "T")),
    ("set_threads-zero", lambda: L.set_threads(0), ValueError, ("set_threads",)),
]


@pytest.mark.parametrize("cid, call, exc, names", HELPERS, ids=[h[0] for h in HELPERS])
def test_helper_bad_input(cid, call, exc, names):
    with pytest.raises(exc) as info:
        call()
    missing = _names_in(str(info.value), names)
    assert not missing, f"{cid}: the message does not name {missing}: {info.value}"


def test_helper_valid_calls_are_right():
    assert L.conv_output_shape(5, 5, 3, 3, 1, 1) == (5, 5)
    assert L.conv_output_shape(np.int64(7), 7, 3, 3, 2) == (3, 3)
    back = L.col2im(np.ones_like(COLS), X4.shape, 1, 1)
    assert back.shape == X4.shape
    assert back[0, 0, 2, 2] == 9 and back[0, 0, 0, 0] == 4  # windows over each pixel
    assert L.positional_encoding(np.int64(3), 4).shape == (3, 4)
    assert L.positional_encoding(0, 4).shape == (0, 4)


# --- nets: an empty batch gives empty scores, and a loss over it is an error -------------


@pytest.mark.parametrize("make, X", [
    (lambda: FullyConnectedNet([6], input_dim=4, num_classes=3, seed=0,
                               normalization="batchnorm"), np.zeros((0, 4))),
    (lambda: ThreeLayerConvNet(input_dim=(1, 6, 6), num_filters=2, filter_size=3,
                               hidden_dim=5, num_classes=3), np.zeros((0, 1, 6, 6))),
])
def test_nets_on_an_empty_batch(make, X):
    model = make()
    assert model.loss(X).shape == (0, 3)  # scores of no examples
    with pytest.raises(ValueError, match="holds no examples"):
        model.loss(X, np.zeros(0, np.int64))  # a mean over no examples: never NaN


# --- the tagged cache stays a tuple ---------------------------------------------------------


def test_a_sandwich_cache_unpacks_into_usable_sub_caches_and_survives_copies():
    import copy
    import pickle

    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((4, 5)), rng.standard_normal((5, 3)), rng.standard_normal(3)
    out, cache = L.affine_relu_forward(x, w, b)
    fc_cache, relu_cache = cache  # CS231n's layer_utils unpack it like this
    dout = rng.standard_normal(out.shape)
    da = L.relu_backward(dout, relu_cache)
    by_hand = L.affine_backward(da, fc_cache)
    for c in (cache, copy.deepcopy(cache), pickle.loads(pickle.dumps(cache))):
        for g, h in zip(L.affine_relu_backward(dout, c), by_hand):
            np.testing.assert_array_equal(g, h)
    with pytest.raises(TypeError, match="affine_backward: cache must be the cache that "
                                        "affine_forward returned; got the cache of "
                                        "relu_forward"):
        L.affine_backward(da, relu_cache)
