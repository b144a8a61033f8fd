"""nets.BertMLM / BertPretraining / BertClassifier / CharRNNClassifier: whole-net gradient
checks (the heads, both poolings, padding, dropout, L2; float64 and float32), the MLM loss over the
chosen positions only, the padding mask, and frozen params (skipped gradients, unchanged
by the Solver while the others move)."""

import warnings

import numpy as np
import pytest

from gradcheck import GradcheckPrecisionWarning, check_net
from layerkit.transfer import copy_params, freeze_lower, fresh_dropout_masks, layer_decay
from nets import BertClassifier, BertMLM, BertPretraining, CharRNNClassifier
from nets.bert import IS_NEXT, NOT_NEXT
from optim import Solver

V, C = 9, 4
ARCH = {"max_len": 7, "embed_dim": 8, "num_heads": 2, "num_layers": 2, "ff_dim": 12}


def _scaled(model, scale=10.0):
    """Weights scaled up from the 0.02 init so attention, layernorm and GELU all carry
    gradients worth checking (as tests/test_transformer_lm.py does)."""
    for k, W in model.params.items():
        if k.split(".")[-1].startswith("W"):
            model.params[k] = (W * scale).astype(W.dtype)
    return model


def _tokens(rng, xp, pad=True):
    X = rng.integers(1, V, (3, 6))
    X[0, :3] = 4  # a repeated token: its embedding gradient accumulates
    if pad:
        X[1, 4:] = 0  # [PAD] (id 0) at the end of one sequence
    return xp.asarray(X)


def _mlm_targets(X, rng):
    y = np.full(X.shape, -1)
    y[0, [1, 4]] = rng.integers(1, V, 2)
    y[1, 2] = 3
    y[2, [0, 5]] = rng.integers(1, V, 2)
    return y


def _check(model, X, y, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GradcheckPrecisionWarning)
        return check_net(model, X, y, **options)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("dropout,reg", [(0.0, 0.0), (0.3, 0.2)])
def test_mlm_gradients(xp, dtype, dropout, reg):
    rng = np.random.default_rng(0)
    m = _scaled(BertMLM(V, dropout=dropout, reg=reg, dtype=dtype, seed=1, **ARCH))
    X = _tokens(rng, xp)
    _check(m, X, xp.asarray(_mlm_targets(X, rng)), fast=dtype == np.float32, num_checks=6)


def _pair_targets(X, rng):
    y = _mlm_targets(X, rng)
    y[:, 0] = [IS_NEXT, NOT_NEXT, IS_NEXT]  # the next-sentence label at [CLS]
    return y


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_pretraining_gradients(xp, dtype, pooling):
    rng = np.random.default_rng(8)
    m = _scaled(BertPretraining(V, pooling=pooling, dropout=0.2, reg=0.1, dtype=dtype,
                                seed=1, **ARCH))
    X = _tokens(rng, xp)
    _check(m, X, xp.asarray(_pair_targets(X, rng)), fast=dtype == np.float32,
           num_checks=6)


def test_pretraining_loss_is_masked_lm_plus_next_sentence():
    """BertPretraining's loss is BertMLM's loss of the same encoder on the same targets
    plus the mean cross-entropy of nsp_scores against the labels (class 1 = IS_NEXT),
    computed here in float64; the MLM scores and the encoder's params are BertMLM's."""
    rng = np.random.default_rng(9)
    m = _scaled(BertPretraining(V, dtype=np.float64, seed=1, **ARCH), 3.0)
    mlm = BertMLM(V, dtype=np.float64, seed=0, **ARCH)
    assert set(m.params) - set(mlm.params) == {"W_nsp", "b_nsp"}
    copy_params(m.params, mlm)
    X = _tokens(rng, np)
    y = _pair_targets(X, rng)
    y_mlm = y.copy()
    y_mlm[:, 0] = -1
    z = m.nsp_scores(X)  # (N, 2)
    logp = z - z.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    nsp = -logp[np.arange(3), [1, 0, 1]].mean()
    loss, _ = m.loss(X, y)
    assert abs(float(loss) - (float(mlm.loss(X, y_mlm)[0]) + nsp)) < 1e-12
    np.testing.assert_array_equal(m.loss(X), mlm.loss(X))


def test_pretraining_refuses_targets_without_their_codes():
    m = BertPretraining(V, seed=0, **ARCH)
    X = _tokens(np.random.default_rng(10), np)
    y = _mlm_targets(X, np.random.default_rng(10))
    with pytest.raises(ValueError, match=r"BertPretraining.loss: y\[:, 0\] must hold the "
                                         r"next-sentence codes .* got y\[:, 0\] in \[-1, "):
        m.loss(X, y)  # plain MLM targets: no pair labels
    y[:, 0] = IS_NEXT
    y[1, 3] = NOT_NEXT  # a code off the [CLS] column
    with pytest.raises(ValueError, match=r"y\[:, 1:\] >= -2"):
        m.loss(X, y)
    with pytest.raises(ValueError, match="BertMLM.loss: y has values in \\[-3, "):
        BertMLM(V, seed=0, **ARCH).loss(X, _pair_targets(X, np.random.default_rng(1)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_classifier_gradients(xp, dtype, pooling):
    rng = np.random.default_rng(1)
    m = _scaled(BertClassifier(V, C, pooling=pooling, dropout=0.2, reg=0.1, dtype=dtype,
                               seed=2, **ARCH))
    _check(m, _tokens(rng, xp), xp.asarray([0, 3, 1]), fast=dtype == np.float32,
           num_checks=6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_rnn_classifier_gradients(xp, dtype, pooling):
    rng = np.random.default_rng(2)
    m = CharRNNClassifier("abcdefgh", 3, wordvec_dim=5, hidden_dim=6, reg=0.1, dtype=dtype,
                          seed=0, pooling=pooling)
    _check(m, xp.asarray(rng.integers(0, 8, (3, 5))), xp.asarray([0, 2, 1]),
           fast=dtype == np.float32)


def test_mlm_loss_is_over_the_chosen_positions_only():
    """The loss equals the mean cross-entropy of the full scores (loss(X)) at the chosen
    positions, computed here in float64; targets elsewhere are ignored, and grads do not
    depend on the scores at unchosen positions."""
    rng = np.random.default_rng(3)
    m = _scaled(BertMLM(V, dtype=np.float64, seed=1, **ARCH), 3.0)
    X = _tokens(rng, np)
    y = _mlm_targets(X, rng)
    scores = m.loss(X)  # (N, T, V)
    n, t = np.nonzero(y >= 0)
    z = scores[n, t]
    logp = z - z.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    expected = -logp[np.arange(len(n)), y[n, t]].mean()
    loss, grads = m.loss(X, y)
    assert abs(float(loss) - expected) < 1e-12
    assert len(n) == 5  # chosen positions: 5 of 18


def test_padding_is_invisible():
    """[PAD] columns appended to a batch change neither the MLM scores at real positions
    nor a mean-pooled classifier's scores (the padding mask and the pooling weights)."""
    rng = np.random.default_rng(4)
    X = rng.integers(1, V, (2, 4))
    Xp = np.concatenate([X, np.zeros((2, 3), dtype=X.dtype)], axis=1)
    m = _scaled(BertMLM(V, dtype=np.float64, seed=1, **ARCH), 3.0)
    np.testing.assert_allclose(m.loss(Xp)[:, :4], m.loss(X), rtol=1e-10, atol=1e-12)
    c = _scaled(BertClassifier(V, C, dtype=np.float64, seed=1, **ARCH), 3.0)
    np.testing.assert_allclose(c.loss(Xp), c.loss(X), rtol=1e-10, atol=1e-12)


def test_bidirectional():
    """Unlike the causal LM, an early position's state depends on later tokens."""
    m = _scaled(BertMLM(V, dtype=np.float64, seed=1, **ARCH), 3.0)
    X = np.array([[2, 3, 4, 5]])
    X2 = X.copy()
    X2[0, 3] = 7
    assert np.abs(m.loss(X)[0, 0] - m.loss(X2)[0, 0]).max() > 1e-6


def test_frozen_lower_layers_skip_their_gradients():
    c = BertClassifier(V, C, seed=0, **ARCH)
    X, y = _tokens(np.random.default_rng(5), np), np.array([0, 1, 2])
    frozen = freeze_lower(c)
    assert "W_tok" in frozen and "blk1.Wq" in frozen and "blk2.Wq" not in frozen
    _, grads = c.loss(X, y)
    assert set(grads) == set(c.params) - frozen
    c.frozen = set(c.params) - {"W_cls", "b_cls"}
    assert set(c.loss(X, y)[1]) == {"W_cls", "b_cls", "lnf_gamma", "lnf_beta"}


@pytest.mark.parametrize("net", ["bert", "rnn"])
def test_frozen_params_unchanged_by_training_while_the_others_move(net):
    rng = np.random.default_rng(6)
    if net == "bert":
        model = BertClassifier(V, C, seed=0, reg=0.1, **ARCH)
        X = rng.integers(1, V, (40, 6))
    else:
        model = CharRNNClassifier("abcdefgh", C, wordvec_dim=5, hidden_dim=6, reg=0.1, seed=0)
        X = rng.integers(0, 8, (40, 6))
    y = rng.integers(0, C, 40)
    frozen = freeze_lower(model)
    before = {k: w.copy() for k, w in model.params.items()}
    solver = Solver(model, {"X_train": X, "y_train": y, "X_val": X, "y_val": y},
                    update_rule="adam", num_epochs=2, batch_size=10, verbose=False,
                    restore_best=False, seed=0)
    solver.train()
    for k, w in model.params.items():
        moved = not np.array_equal(w, before[k])
        assert moved == (k not in frozen), k
    assert all("m" not in solver.optim_configs[k] for k in frozen)  # rule never called


def test_solver_rejects_unknown_frozen_names():
    c = BertClassifier(V, C, seed=0, **ARCH)
    c.frozen = {"nope"}
    X = np.ones((4, 3), dtype=np.int64)
    s = Solver(c, {"X_train": X, "y_train": np.zeros(4, int), "X_val": X,
                   "y_val": np.zeros(4, int)}, verbose=False)
    with pytest.raises(ValueError, match="model.frozen names \\['nope'\\]"):
        s.train()


def test_layer_decay_scales_each_layer_down_from_the_head():
    c = BertClassifier(V, C, seed=0, **ARCH)  # two blocks
    scale = layer_decay(c, 0.5)
    assert scale is c.lr_scale
    assert scale["W_tok"] == scale["W_pos"] == 0.125
    assert {scale[k] for k in c.params if k.startswith("blk1.")} == {0.25}
    assert {scale[k] for k in c.params if k.startswith("blk2.")} == {0.5}
    assert not {"W_cls", "b_cls", "lnf_gamma", "lnf_beta"} & set(scale)  # full rate
    assert layer_decay(c, 1.0) == {} and c.lr_scale == {}
    with pytest.raises(ValueError, match="layer_decay: factor must be a finite number > 0; "
                                         "got 0"):
        layer_decay(c, 0)
    with pytest.raises(TypeError, match="layer_decay: model must be a BertClassifier; got "
                                        "BertMLM"):
        layer_decay(BertMLM(V, seed=0, **ARCH), 0.5)


def test_pretrained_encoder_carries_over():
    m = BertMLM(V, seed=3, **ARCH)
    c = BertClassifier(V, C, seed=0, **ARCH)
    copied = copy_params(m.params, c)
    assert sorted(copied) == sorted(m.params)
    assert set(c.params) - set(copied) == {"W_cls", "b_cls"}
    assert all(np.array_equal(c.params[k], m.params[k]) for k in copied)


def test_solver_accuracy_skips_unchosen_targets():
    m = BertMLM(V, seed=0, **ARCH)
    X = np.random.default_rng(7).integers(1, V, (5, 6))
    y = np.full(X.shape, -1)
    pred = m.loss(X).argmax(-1)
    y[:, 0] = pred[:, 0]  # right at one position per row, the rest not counted
    s = Solver(m, {"X_train": X, "y_train": y, "X_val": X, "y_val": y}, verbose=False)
    assert s.check_accuracy(X, y) == 1.0


def test_bad_input():
    m = BertMLM(V, **ARCH)
    X = np.ones((2, 3), dtype=np.int64)
    with pytest.raises(ValueError, match="BertMLM.loss: y chooses no position"):
        m.loss(X, np.full((2, 3), -1))
    with pytest.raises(ValueError, match="BertMLM.loss: y has values"):
        m.loss(X, np.full((2, 3), -2))
    with pytest.raises(ValueError, match="max_len"):
        m.loss(np.ones((1, 8), dtype=np.int64))
    with pytest.raises(ValueError, match="pooling"):
        BertClassifier(V, C, pooling="max", **ARCH)
    with pytest.raises(ValueError, match="num_classes"):
        BertClassifier(V, 1, **ARCH)
    with pytest.raises(ValueError, match="pad_id"):
        BertMLM(V, pad_id=V, **ARCH)


def test_fresh_dropout_masks_differ_per_step_and_repeat_per_seed():
    """A net built with an int seed draws the same dropout masks every call; after
    fresh_dropout_masks each call draws new ones, the same sequence for the same seed."""
    X = _tokens(np.random.default_rng(7), np)
    y = np.asarray([0, 3, 1])

    def losses(fresh):
        m = BertClassifier(V, C, dropout=0.3, seed=2, **ARCH)
        if fresh:
            fresh_dropout_masks(m, 5)
        return [float(m.loss(X, y)[0]) for _ in range(3)]

    fixed = losses(False)
    assert fixed[0] == fixed[1] == fixed[2]
    fresh = losses(True)
    assert len(set(fresh)) == 3 and fresh == losses(True)
    no_dropout = BertClassifier(V, C, seed=2, **ARCH)
    fresh_dropout_masks(no_dropout, 5)
    assert no_dropout.dropout_param == {}
