"""The Solver on a device (the CuPy stand-in, tests/fake_cupy.py): at most one host sync per
print_every window, the same numbers as on numpy, and divergence found within a window
still named at its first bad step with the model rolled back to the step before it."""

import sys

import numpy as np
import pytest

from nets import (BertMLM, CharRNNLM, FullyConnectedNet, ResidualConvNet, Seq2SeqTransformer,
                  TransformerLM)
from optim import Solver, TrainingDivergedError
from tests import fake_cupy
from tests.tiny_models import Poison


@pytest.fixture
def cp(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy)
    fake_cupy.reset_counts()
    return fake_cupy


def _data(seed=0, n=200, d=12, c=4):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(np.float32)
    y = rng.integers(0, c, n)
    return {"X_train": X, "y_train": y, "X_val": X[:40], "y_val": y[:40]}


def _solver(backend, model_wrap=None, **kw):
    model = FullyConnectedNet([10, 8], input_dim=12, num_classes=4, seed=0).to(backend)
    if model_wrap is not None:
        model = model_wrap(model)
    settings = dict(update_rule="adam", batch_size=20, num_epochs=2, print_every=5,
                    verbose=False, seed=0, num_train_samples=40)
    return Solver(model, _data(), **{**settings, **kw})


def train_syncs(solver, cp=fake_cupy, **kw):
    """``solver.train(**kw)``, counting host syncs: (those outside the accuracy checks and
    the one scan of the params at the start, those in the accuracy checks, steps taken)."""
    in_acc = [0]
    check = solver.check_accuracy

    def counted(*a, **k):
        before = cp.syncs()
        try:
            return check(*a, **k)
        finally:
            in_acc[0] += cp.syncs() - before

    solver.check_accuracy = counted
    cp.reset_counts()
    solver.train(**kw)
    return cp.syncs() - in_acc[0] - 1, in_acc[0], solver.iteration


@pytest.mark.parametrize("clip", [None, 1.0])
def test_at_most_one_sync_per_print_every_window(cp, clip):
    solver = _solver("cupy", grad_clip=clip)
    syncs, _, steps = train_syncs(solver, cp)
    assert steps == 20
    # reads: after step 1 (the first accuracy check), then every print_every = 5 steps
    # (epoch ends at 10 and 20 fall on them); the first step's labels are checked by
    # the loss (2 syncs) until check_accuracy has checked the whole of y_train
    assert syncs <= 1 + steps // 5 + 2, syncs
    assert isinstance(solver.model.params["W1"], cp.ndarray)


@pytest.mark.parametrize("clip", [None, 0.15])
def test_same_histories_as_on_numpy(cp, clip):
    host, dev = _solver("numpy", grad_clip=clip), _solver("cupy", grad_clip=clip)
    host.train()
    dev.train()
    assert all(type(v) is float for v in dev.loss_history)  # Python floats, as CS231n
    assert dev.loss_history == host.loss_history
    assert dev.lr_history == host.lr_history
    assert dev.grad_norm_history == host.grad_norm_history
    if clip is not None:
        norms = dev.grad_norm_history  # some steps clipped, some not
        assert min(norms) < clip < max(norms)
    for k, w in host.model.params.items():
        np.testing.assert_array_equal(cp.asnumpy(dev.model.params[k]), w)


@pytest.mark.parametrize("what", ["loss", "b2"])
def test_divergence_inside_a_window_names_its_first_bad_step(cp, tmp_path, what):
    """Step 13 is inside the window 11..15: it is found at step 15, named as step 13, and
    the model, configs and histories are those after step 12, as on numpy."""
    runs = {}
    for backend in ("numpy", "cupy"):
        solver = _solver(backend, lambda m: Poison(m, 13, what),
                         checkpoint_name=str(tmp_path / backend / "run"))
        with pytest.raises(TrainingDivergedError) as info:
            solver.train()
        runs[backend] = solver, info.value
    (host, he), (dev, de) = runs["numpy"], runs["cupy"]
    assert (de.epoch, de.iteration, de.parameter) == (he.epoch, he.iteration, he.parameter) \
        == (2, 13, what)
    assert de.checkpoint.endswith("run_epoch_1.npz")
    assert str(de).replace("cupy", "numpy") == str(he)
    assert dev.iteration == 12 and len(dev.loss_history) == 12
    assert dev.loss_history == host.loss_history
    for k, w in host.model.params.items():
        np.testing.assert_array_equal(cp.asnumpy(dev.model.params[k]), w)
    for p, c in host.optim_configs.items():
        d = dev.optim_configs[p]
        assert set(d) == set(c) and d["t"] == c["t"] == 12
        for k in ("m", "v"):
            np.testing.assert_array_equal(cp.asnumpy(d[k]), c[k])


def test_divergence_at_the_first_step_leaves_the_run_as_it_started(cp):
    """Adam's first step adds m, v and t to each config: a bad first step takes them away."""
    solver = _solver("cupy", lambda m: Poison(m, 1, "W1"))
    start = {k: cp.asnumpy(w) for k, w in solver.model.params.items()}
    configs = {p: dict(c) for p, c in solver.optim_configs.items()}
    with pytest.raises(TrainingDivergedError) as info:
        solver.train()
    assert (info.value.iteration, info.value.parameter) == (1, "W1")
    assert solver.iteration == 0 and solver.loss_history == []
    assert solver.optim_configs == configs
    for k, w in start.items():
        np.testing.assert_array_equal(cp.asnumpy(solver.model.params[k]), w)


def test_training_labels_are_checked_once_but_never_skipped_unchecked(cp):
    """The loss stops checking labels on the device only once the Solver has seen every
    training label in [0, C); a negative one (allowed by check_accuracy, where it marks
    a target not counted) keeps the per-minibatch check, which catches it."""
    data = _data()
    data["y_train"] = data["y_train"].copy()
    data["y_train"][-7] = -1
    model = FullyConnectedNet([10], input_dim=12, num_classes=4, seed=0).to("cupy")
    solver = Solver(model, data, batch_size=20, num_epochs=1, verbose=False, seed=0)
    with pytest.raises(ValueError, match="softmax_loss: y has value -1"):
        solver.train()
    assert solver.iteration > 1  # not the first minibatch: caught by the per-step check


def test_frozen_params_stay_put_on_the_device(cp):
    """model.frozen under the window: frozen params and their (absent) Adam state untouched,
    the others trained as on numpy."""
    runs = []
    for backend in ("numpy", "cupy"):
        solver = _solver(backend, num_epochs=1)
        solver.model.frozen = {"W1", "b1"}
        start = {k: cp.asnumpy(w) for k, w in solver.model.params.items()}
        solver.train()
        runs.append(solver)
        np.testing.assert_array_equal(cp.asnumpy(solver.model.params["W1"]), start["W1"])
        assert "m" not in solver.optim_configs["W1"] and "m" in solver.optim_configs["W2"]
    host, dev = runs
    assert dev.loss_history == host.loss_history
    for k, w in host.model.params.items():
        np.testing.assert_array_equal(cp.asnumpy(dev.model.params[k]), w)


def train_transfers(solver, cp=fake_cupy, **kw):
    """``solver.train(**kw)``, counting host-to-device transfers."""
    cp.reset_counts()
    solver.train(**kw)
    return cp.to_device()


@pytest.mark.parametrize("batch_size", [10, 20])
def test_the_data_move_to_the_device_once_not_per_minibatch(cp, batch_size):
    """The 4 arrays once, then per epoch its order and the subsample of each training
    accuracy check (after step 1 and at each epoch end), whatever the number of steps."""
    solver = _solver("cupy", batch_size=batch_size)
    assert train_transfers(solver, cp, max_epochs=1) == 4 + 1 + 2
    assert solver.iteration == 200 // batch_size
    X, y = solver.placement.data()[:2]  # resident, the float inputs in the params' dtype
    assert isinstance(X, cp.ndarray) and isinstance(y, cp.ndarray)
    assert X.dtype == solver.model.params["W1"].dtype
    assert train_transfers(solver, cp) == 1 + 1  # epoch 2: the data are there already


def _ids(rng, masked=False):
    X, y = rng.integers(1, 8, (200, 6)), rng.integers(0, 8, (200, 6))
    return X, (np.where(rng.random(y.shape) < 0.3, y, -1) if masked else y)


def _images(rng):
    return rng.standard_normal((200, 3, 8, 8)).astype(np.float32), rng.integers(0, 4, 200)


def _pairs(rng):
    """Source ids (PAD after a random length >= 1) and targets [y..., EOS, PAD...]."""
    X = rng.integers(3, 8, (200, 6))
    X[np.arange(6) >= rng.integers(1, 7, (200, 1))] = 0
    y = rng.integers(3, 8, (200, 6))
    y[:, -1] = 2
    return X, y


# name -> (a small net on the host, its data): every kind of check a step makes
NETS = {
    "char-rnn": (lambda: CharRNNLM("abcdefgh", wordvec_dim=4, hidden_dim=8, cell_type="rnn",
                                   seed=0), _ids),
    "gpt": (lambda: TransformerLM(8, embed_dim=8, num_heads=2, num_layers=1, max_len=6,
                                  dropout=0.1, seed=0), _ids),
    "bert": (lambda: BertMLM(8, max_len=6, embed_dim=8, num_heads=2, num_layers=1, seed=0),
             lambda rng: _ids(rng, masked=True)),
    "fc-batchnorm-dropout": (lambda: FullyConnectedNet([10, 8], input_dim=3 * 8 * 8,
                                                       num_classes=4, seed=0,
                                                       normalization="batchnorm",
                                                       dropout_keep_ratio=0.8), _images),
    "resnet-spatial-batchnorm": (lambda: ResidualConvNet(input_dim=(3, 8, 8), num_filters=4,
                                                         num_blocks=1, num_classes=4, seed=0),
                                 _images),
    "seq2seq": (lambda: Seq2SeqTransformer(8, 8, max_src_len=6, max_tgt_len=6, embed_dim=8,
                                           num_heads=2, num_enc_layers=1, num_dec_layers=1,
                                           seed=0), _pairs),
}


def _net_solver(name, bad_id_at=None, **kw):
    build, data = NETS[name]
    X, y = data(np.random.default_rng(0))
    if bad_id_at is not None:
        X[bad_id_at, 2] = 8  # one id past the vocabulary
    settings = dict(batch_size=10, num_epochs=1, print_every=5, verbose=False, seed=0,
                    num_train_samples=40, grad_clip=5.0)
    return Solver(build().to("cupy"), {"X_train": X, "y_train": y, "X_val": X[:40],
                                       "y_val": y[:40]}, **{**settings, **kw})


@pytest.mark.parametrize("name", sorted(NETS))
def test_no_net_reads_back_per_step(cp, name):
    """Token ids, targets and labels checked once per dataset (the nets and embeddings
    check each minibatch against it: ``layers.validate.range_known``), normalisations
    and dropout sync-free: what is left is the Solver's one read per window."""
    solver = _net_solver(name)
    syncs, _, steps = train_syncs(solver, cp)
    assert steps == 20
    # one read per window (after step 1, then every 5 steps), the ranges of X_train and
    # y_train once each, and the labels' check in the first step's loss
    assert syncs <= 1 + steps // 5 + 2 + 2, syncs


def test_an_all_padding_source_is_refused_before_the_first_step(cp):
    """Seq2Seq's row check (a device read) runs once on the whole dataset, not per step."""
    build, data = NETS["seq2seq"]
    X, y = data(np.random.default_rng(0))
    X[150] = 0  # one source row all PAD, far from the first minibatch
    solver = Solver(build().to("cupy"), {"X_train": X, "y_train": y, "X_val": X[:40],
                                         "y_val": y[:40]}, batch_size=10, num_epochs=1,
                    verbose=False, seed=0)
    with pytest.raises(ValueError, match="every source needs at least one non-PAD token"):
        solver.train()
    assert solver.iteration == 0


def test_a_bad_token_id_is_still_caught_at_its_minibatch(cp):
    """A range that fails the check vouches for nothing: each minibatch is checked
    itself, and the error names the bad id, as on numpy."""
    solver = _net_solver("char-rnn", bad_id_at=-7)
    with pytest.raises(ValueError, match=r"CharRNNLM.loss: X has value 8; values must be "
                                         r"in \[0, V = 8\)"):
        solver.train()
    assert solver.iteration > 0  # not the first minibatch
