"""Datasets, all offline: nothing here downloads.

- ``load_digits()``: the 1,797 8x8 handwritten digits that scikit-learn ships (the default).
- ``load_cifar10(folder)``: the official "python version" batches (``data_batch_1`` ..
  ``data_batch_5``, ``test_batch``) from a local folder.
- ``load_mnist(folder)``: the four IDX files (optionally gzipped) from a local folder.
- ``split(X, y, num_val, num_test, seed)``: a seeded train/val/test split.
- ``subtract_mean(data)``: centre every split on the training set's mean image.
- ``get_data(name, ...)``: one call for the training command: load, split, centre.
- ``make_spiral``, ``make_moons``, ``make_circles``, ``make_xor``: toy 2-D classification
  sets generated in code from a seed (``TOY_DATASETS``), the first thing to train.

Images come back as float32 ``(N, C, H, W)`` scaled to [0, 1], labels as int64 ``(N,)``.

The CIFAR-10 batches are pickles. Unpickling an arbitrary file can run code, so they are
read by an unpickler that refuses every global except the few numpy functions that rebuild
an array: a file that tries anything else is rejected with ``pickle.UnpicklingError``.
"""

from __future__ import annotations

import gzip
import os
import pickle
import struct

import numpy as np

from layers import validate as v

__all__ = ["load_digits", "load_cifar10", "load_mnist", "read_idx", "split", "subtract_mean",
           "get_data", "DATASETS", "TOY_DATASETS", "make_spiral", "make_moons",
           "make_circles", "make_xor", "make_toy"]

TOY_DATASETS = ("spiral", "moons", "circles", "xor")
DATASETS = ("digits", "cifar10", "mnist", *TOY_DATASETS)


def load_digits(dtype=np.float32):
    """The scikit-learn digits: X (1797, 1, 8, 8) in [0, 1], y (1797,) in 0..9."""
    from sklearn.datasets import load_digits as _sk_digits  # ships the data; no download

    d = _sk_digits()
    X = (d.images / 16.0).astype(dtype)[:, None]  # pixel values are 0..16
    return X, d.target.astype(np.int64)


# --- CIFAR-10 ------------------------------------------------------------------------

# The globals a pickled numpy array needs (numpy 1.x and 2.x spell the module differently).
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("_codecs", "encode"),  # how Python 3 spells bytes in protocol-2 pickles (data only)
}


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """An unpickler for data files: builtins containers and numpy arrays, nothing else."""

    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refusing to load the global {module}.{name}: a CIFAR-10 batch holds only "
            "arrays, lists and strings, so this file is not one (or was tampered with)")


def _read_cifar_batch(path: str, dtype):
    with open(path, "rb") as f:
        # latin1 reads the Python 2 byte strings of the official files, as CS231n does
        batch = _ArrayOnlyUnpickler(f, encoding="latin1").load()
    if not isinstance(batch, dict):
        raise ValueError(f"{path}: a CIFAR-10 batch is a dict; got {type(batch).__name__}")
    batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in batch or "labels" not in batch:
        raise ValueError(f"{path}: a CIFAR-10 batch needs keys 'data' and 'labels'; got "
                         f"{sorted(batch)}")
    data = np.asarray(batch["data"])
    labels = np.asarray(batch["labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or data.shape[0] != labels.shape[0]:
        raise ValueError(f"{path}: data must be (N, 3072) with N labels; got data "
                         f"{data.shape} and {labels.shape[0]} labels")
    X = (data.reshape(-1, 3, 32, 32) / 255.0).astype(dtype)  # rows are R, G, B planes
    return X, labels


def load_cifar10(folder, dtype=np.float32):
    """CIFAR-10 from the official python batches in ``folder``.

    Returns X_train (50000, 3, 32, 32), y_train (50000,), X_test (10000, 3, 32, 32),
    y_test (10000,) (fewer if the batches are smaller); X in [0, 1].
    """
    paths = [os.path.join(folder, f"data_batch_{i}") for i in range(1, 6)]
    test = os.path.join(folder, "test_batch")
    missing = [p for p in paths + [test] if not os.path.isfile(p)]
    if missing:
        raise FileNotFoundError(
            f"CIFAR-10: {folder!r} lacks {[os.path.basename(p) for p in missing]}; it needs "
            "the official python batches data_batch_1..5 and test_batch (unpack "
            "cifar-10-python.tar.gz there; layerkit never downloads)")
    parts = [_read_cifar_batch(p, dtype) for p in paths]
    X_test, y_test = _read_cifar_batch(test, dtype)
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            X_test, y_test)


# --- MNIST (IDX) ---------------------------------------------------------------------

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4",
              0x0E: ">f8"}


def read_idx(path: str) -> np.ndarray:
    """One IDX file (gzipped if the name ends in .gz) as an array of its stored shape."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path}: not an IDX file (bad magic number {raw[:4]!r})")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{path}: the IDX header is cut short ({len(raw)} bytes; {ndim} "
                         f"dimensions need {4 + 4 * ndim})")
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    body = raw[4 + 4 * ndim:]
    need = int(np.prod(shape)) * dtype.itemsize
    if len(body) != need:
        raise ValueError(f"{path}: header says shape {shape} ({need} bytes of data); the "
                         f"file has {len(body)}")
    return np.frombuffer(body, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _find_idx(folder: str, stem: str) -> str:
    """``train-images-idx3-ubyte`` and its common spellings (``.`` for ``-``, ``.gz``)."""
    a, b = stem.rsplit("-", 2)[0], "-".join(stem.rsplit("-", 2)[1:])
    for name in (stem, f"{a}.{b}"):
        for ext in ("", ".gz"):
            path = os.path.join(folder, name + ext)
            if os.path.isfile(path):
                return path
    raise FileNotFoundError(f"MNIST: {folder!r} has no {stem}[.gz]; it needs the four IDX "
                            "files (layerkit never downloads)")


def load_mnist(folder, dtype=np.float32):
    """MNIST from ``folder``: X_train (60000, 1, 28, 28), y_train, X_test, y_test; X in [0, 1]."""
    out = []
    for prefix in ("train", "t10k"):
        X = read_idx(_find_idx(folder, f"{prefix}-images-idx3-ubyte"))
        y = read_idx(_find_idx(folder, f"{prefix}-labels-idx1-ubyte"))
        if X.ndim != 3 or y.ndim != 1 or X.shape[0] != y.shape[0]:
            raise ValueError(f"MNIST {prefix}: images must be (N, H, W) and labels (N,); got "
                             f"{X.shape} and {y.shape}")
        out += [(X / 255.0).astype(dtype)[:, None], y.astype(np.int64)]
    return tuple(out)


# --- splits and preprocessing --------------------------------------------------------


def split(X, y, num_val: int, num_test: int = 0, seed: int | None = 0) -> dict:
    """A seeded random split into X_train/y_train, X_val/y_val and (if num_test) X_test/y_test.

    Inputs:
    - X: (N, ...) inputs; y: (N,) labels
    - num_val, num_test: sizes of the validation and test parts; the rest is training data
    """
    N = X.shape[0]
    if y.shape[0] != N:
        raise ValueError(f"split: X has {N} examples but y has {y.shape[0]}")
    num_val, num_test = v.integer("split", "num_val", num_val, 0), \
        v.integer("split", "num_test", num_test, 0)
    if seed is not None:
        seed = v.integer("split", "seed", seed, 0)
    if num_val + num_test >= N:
        raise ValueError(f"split: num_val + num_test must leave training data; got "
                         f"{num_val} + {num_test} of N = {N}")
    order = np.random.default_rng(seed).permutation(N)
    val, test, train = np.split(order, [num_val, num_val + num_test])
    data = {"X_train": X[train], "y_train": y[train], "X_val": X[val], "y_val": y[val]}
    if num_test:
        data.update(X_test=X[test], y_test=y[test])
    return data


def subtract_mean(data: dict) -> dict:
    """A new dict with the training set's mean image subtracted from every X_* entry.

    The mean is returned under ``mean_image`` (shape of one example), so the same shift can
    be applied to new inputs.
    """
    mean = data["X_train"].mean(axis=0)
    out = {k: (v - mean if k.startswith("X_") else v) for k, v in data.items()}
    out["mean_image"] = mean
    return out


def get_data(name: str = "digits", folder: str | None = None, num_val: int | None = None,
             num_test: int | None = None, num_train: int | None = None, seed: int = 0,
             center: bool = True, dtype=np.float32) -> dict:
    """Load dataset ``name``, split it and (by default) subtract the training mean.

    digits: 1797 images split 1297 / 250 / 250 (train / val / test) by default.
    spiral, moons, circles, xor: toy 2-D points (X (N, 2)) generated from ``seed``,
    N = 1000 split 600 / 200 / 200 by default.
    cifar10, mnist: the official test set; num_val (default 1000 / 5000) is carved from the
    training files. ``num_train`` keeps only that many training examples (quick runs).
    """
    if name == "digits":
        X, y = load_digits(dtype)
        data = split(X, y, 250 if num_val is None else num_val,
                     250 if num_test is None else num_test, seed)
    elif name in TOY_DATASETS:
        X, y = make_toy(name, seed=seed, dtype=dtype)
        data = split(X, y, 200 if num_val is None else num_val,
                     200 if num_test is None else num_test, seed)
    elif name in ("cifar10", "mnist"):
        if folder is None:
            raise ValueError(f"{name} is read from local files: give the folder (--data-dir)")
        loader = load_cifar10 if name == "cifar10" else load_mnist
        X_tr, y_tr, X_te, y_te = loader(folder, dtype)
        default_val = 1000 if name == "cifar10" else 5000
        data = split(X_tr, y_tr, min(default_val, X_tr.shape[0] // 5)
                     if num_val is None else num_val, 0, seed)
        data.update(X_test=X_te, y_test=y_te)
    else:
        raise ValueError(f"dataset must be one of {DATASETS}; got {name!r}")
    if num_train is not None:
        num_train = v.integer("get_data", "num_train", num_train, 1)  # (0: a NaN mean image)
        data["X_train"], data["y_train"] = data["X_train"][:num_train], data["y_train"][:num_train]
    return subtract_mean(data) if center else data


# --- toy 2-D data ------------------------------------------------------------------------
# Each returns X (N, 2) of ``dtype`` (coordinates of order 1) and y (N,) int64, N =
# n_per_class * classes, examples in class order; the same seed gives the same points.


def _toy_out(parts, dtype):
    X = np.concatenate([p for p, _ in parts]).astype(dtype)
    y = np.concatenate([np.full(len(p), c, np.int64) for p, c in parts])
    return X, y


def make_spiral(n_per_class: int = 100, classes: int = 3, noise: float = 0.2, seed=0,
                dtype=np.float32):
    """CS231n's spiral: ``classes`` arms winding once around the origin, radius 0 to 1,
    angular noise ``noise`` (radians). Not linearly separable for any classes >= 2."""
    rng = np.random.default_rng(seed)
    r = np.linspace(0.0, 1.0, n_per_class)  # (n,)
    parts = []
    for c in range(classes):
        t = np.linspace(c * 4.0, (c + 1) * 4.0, n_per_class) + noise * rng.standard_normal(
            n_per_class)
        parts.append((np.c_[r * np.sin(t), r * np.cos(t)], c))
    return _toy_out(parts, dtype)


def make_moons(n_per_class: int = 250, noise: float = 0.1, seed=0, dtype=np.float32):
    """Two interleaved half circles (scikit-learn's layout: radius 1, the second moon
    shifted by (1, -0.5)), Gaussian noise of std ``noise``; centred on the origin."""
    rng = np.random.default_rng(seed)
    t = np.pi * rng.random(n_per_class)
    upper = np.c_[np.cos(t), np.sin(t)]
    t = np.pi * rng.random(n_per_class)
    lower = np.c_[1 - np.cos(t), 0.5 - np.sin(t)]
    parts = [(p + noise * rng.standard_normal(p.shape) - [0.5, 0.25], c)
             for c, p in enumerate([upper, lower])]
    return _toy_out(parts, dtype)


def make_circles(n_per_class: int = 250, factor: float = 0.5, noise: float = 0.08, seed=0,
                 dtype=np.float32):
    """Two concentric rings, radius 1 (class 0) and ``factor`` (class 1), Gaussian noise
    of std ``noise``."""
    rng = np.random.default_rng(seed)
    parts = []
    for c, radius in enumerate([1.0, factor]):
        t = 2 * np.pi * rng.random(n_per_class)
        ring = radius * np.c_[np.cos(t), np.sin(t)]
        parts.append((ring + noise * rng.standard_normal(ring.shape), c))
    return _toy_out(parts, dtype)


def make_xor(n_per_class: int = 250, noise: float = 0.0, seed=0, dtype=np.float32):
    """Points uniform in [-1, 1]^2, class 1 where the signs of x and y differ (XOR of the
    quadrants); ``noise`` moves points by Gaussian noise after labelling."""
    rng = np.random.default_rng(seed)
    parts = []
    for c in (0, 1):
        p = rng.uniform(0.05, 1.0, (n_per_class, 2))  # a margin of 0.1 between quadrants
        p *= rng.choice([-1.0, 1.0], (n_per_class, 1))  # same sign for x and y ...
        if c == 1:
            p[:, 1] *= -1  # ... or opposite signs
        parts.append((p + noise * rng.standard_normal(p.shape), c))
    return _toy_out(parts, dtype)


def make_toy(name: str, n: int = 1000, seed=0, dtype=np.float32):
    """The toy set ``name`` (one of TOY_DATASETS) with about ``n`` points in all."""
    makers = {"spiral": lambda: make_spiral(n // 3, seed=seed, dtype=dtype),
              "moons": lambda: make_moons(n // 2, seed=seed, dtype=dtype),
              "circles": lambda: make_circles(n // 2, seed=seed, dtype=dtype),
              "xor": lambda: make_xor(n // 2, seed=seed, dtype=dtype)}
    if name not in makers:
        raise ValueError(f"make_toy: name must be one of {TOY_DATASETS}; got {name!r}")
    return makers[name]()
