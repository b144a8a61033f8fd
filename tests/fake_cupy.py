"""A CuPy stand-in for CI machines without a GPU (test-only; the library never imports it).

It behaves like cupy where it matters for correctness, on the CPU:

- ``ndarray`` is its own type (a wrapper around a numpy array, not a subclass), so
  ``layers.backend.get_xp`` sees it as a cupy array and ``isinstance(a, numpy.ndarray)``
  is False;
- implicit conversion to numpy is refused: ``__array__`` raises TypeError, as cupy's does,
  so ``np.asarray(a)``, ``np.testing.assert_allclose(a, ...)`` and friends fail;
- mixing with numpy arrays in one call is refused (operators, ufuncs, ``numpy.*`` functions
  through ``__array_function__``, this module's functions, ``a[...] = numpy_array``);
- ``asnumpy``/``a.get()`` and ``asarray`` are the explicit transfers;
- every read back to the host is counted (``syncs()``): ``get``, ``asnumpy``, ``item``,
  ``tolist``, ``float()``, ``int()``, ``bool()``, ``repr``/``str``/``format``. Like cupy,
  reductions return 0-d arrays, so ``float(a.sum())`` is one counted sync;
- ``random.RandomState`` / ``random.random_sample`` / ``random.seed`` draw "on the device"
  (counted: ``device_draws()``), from another bit generator than numpy's (Philox), so a
  test that expects a device mask to equal the host's fails here as on a GPU.

``install()`` puts this module in ``sys.modules['cupy']`` (what ``layers.backend`` looks
up); tests/conftest.py does that when ``LAYERKIT_BACKEND=fakecupy``.
"""

from __future__ import annotations

import sys
from types import ModuleType

import numpy

_counts = {"syncs": 0, "to_device": 0, "device_draws": 0}


def syncs() -> int:
    """Device-to-host reads so far (each one a stall of the GPU stream on real cupy)."""
    return _counts["syncs"]


def to_device() -> int:
    """Explicit host-to-device transfers so far (asarray/array of host data)."""
    return _counts["to_device"]


def device_draws() -> int:
    """Random arrays drawn by the device's own generator (cupy.random) so far."""
    return _counts["device_draws"]


def reset_counts() -> None:
    for k in _counts:
        _counts[k] = 0


def _sync():
    _counts["syncs"] += 1


def _refuse(where: str):
    raise TypeError(f"fake cupy: {where} got a numpy.ndarray mixed with cupy arrays; "
                    "move it with cupy.asarray or cupy.asnumpy first (as cupy refuses it)")


def _unwrap(obj, where: str):
    """The numpy data behind fake arrays, recursively; a numpy.ndarray is refused."""
    if isinstance(obj, ndarray):
        return obj._a
    if isinstance(obj, numpy.ndarray):
        _refuse(where)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_unwrap(o, where) for o in obj)
    if isinstance(obj, dict):
        return {k: _unwrap(o, where) for k, o in obj.items()}
    return obj


def _wrap(obj):
    """numpy results as fake arrays; numpy scalars become 0-d arrays, as cupy returns."""
    if isinstance(obj, numpy.ndarray):
        return ndarray(obj)
    if isinstance(obj, numpy.generic):
        return ndarray(numpy.asarray(obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_wrap(o) for o in obj)
    return obj


def _call(fn, where, args, kwargs):
    return _wrap(fn(*_unwrap(args, where), **_unwrap(kwargs, where)))


class ndarray:  # noqa: N801 - cupy's spelling
    """A device array: numpy data that refuses to leave or mix without saying so."""

    __slots__ = ("_a",)
    __hash__ = None

    def __init__(self, a):
        if not isinstance(a, numpy.ndarray):
            raise TypeError(f"fake cupy: ndarray wraps a numpy.ndarray, got {type(a)}")
        self._a = a

    # --- the host boundary ---------------------------------------------------------------
    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use "
                        "`.get()` to construct a NumPy array explicitly.")

    def get(self):
        _sync()
        return self._a.copy()

    def item(self):
        _sync()
        return self._a.item()

    def tolist(self):
        _sync()
        return self._a.tolist()

    def __float__(self):
        _sync()
        return float(self._a)

    def __int__(self):
        _sync()
        return int(self._a)

    def __complex__(self):
        _sync()
        return complex(self._a)

    def __bool__(self):
        _sync()
        return bool(self._a)

    def __repr__(self):
        _sync()
        return f"fake_cupy.{self._a!r}"

    def __str__(self):
        _sync()
        return str(self._a)

    def __format__(self, spec):
        _sync()
        return format(self._a.item() if self._a.ndim == 0 else self._a, spec)

    # --- metadata lives on the host in cupy too: no sync ----------------------------------
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    T = property(lambda self: ndarray(self._a.T))

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(r) for r in self._a)

    def __getitem__(self, key):
        if isinstance(key, numpy.ndarray):  # cupy takes host index arrays (a transfer)
            _counts["to_device"] += 1
            return _wrap(self._a[key])
        if isinstance(key, tuple):
            key = tuple(k._a if isinstance(k, ndarray) else k for k in key)
        elif isinstance(key, ndarray):
            key = key._a
        return _wrap(self._a[key])

    def __setitem__(self, key, value):
        if isinstance(key, tuple):
            key = tuple(k._a if isinstance(k, ndarray) else k for k in key)
        elif isinstance(key, ndarray):
            key = key._a
        self._a[key] = _unwrap(value, "ndarray.__setitem__")

    def __copy__(self):
        return ndarray(self._a.copy())

    def __deepcopy__(self, memo):
        return ndarray(self._a.copy())

    def __reduce__(self):
        return (ndarray, (self._a,))

    def __getattr__(self, name):  # methods: reshape, astype, sum, max, copy, ...
        if name == "_a" or name.startswith("__"):  # no __array_interface__ to numpy
            raise AttributeError(name)
        attr = getattr(self._a, name)
        if callable(attr):
            return lambda *args, **kwargs: _call(attr, f"ndarray.{name}", args, kwargs)
        return _wrap(attr)

    # --- numpy's protocols: ufuncs and functions run here, and refuse numpy arrays ---------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        where = f"numpy.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
        return _call(getattr(ufunc, method), where, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return _call(func, f"numpy.{func.__name__}", args, kwargs)


def _binary(ufunc, reflected=False, inplace=False):
    def op(self, other):
        if isinstance(other, numpy.ndarray):
            _refuse(f"the operator {ufunc.__name__}")
        if not isinstance(other, (ndarray, numpy.generic, int, float, complex, bool)):
            return NotImplemented
        o = other._a if isinstance(other, ndarray) else other
        if inplace:
            ufunc(self._a, o, out=self._a)
            return self
        return _wrap(ufunc(o, self._a) if reflected else ufunc(self._a, o))
    return op


for _name, _uf in [("add", numpy.add), ("sub", numpy.subtract), ("mul", numpy.multiply),
                   ("truediv", numpy.true_divide), ("floordiv", numpy.floor_divide),
                   ("mod", numpy.remainder), ("pow", numpy.power), ("matmul", numpy.matmul),
                   ("and", numpy.bitwise_and), ("or", numpy.bitwise_or),
                   ("xor", numpy.bitwise_xor), ("lshift", numpy.left_shift),
                   ("rshift", numpy.right_shift)]:
    setattr(ndarray, f"__{_name}__", _binary(_uf))
    setattr(ndarray, f"__r{_name}__", _binary(_uf, reflected=True))
    setattr(ndarray, f"__i{_name}__", _binary(_uf, inplace=True))
for _name, _uf in [("lt", numpy.less), ("le", numpy.less_equal), ("eq", numpy.equal),
                   ("ne", numpy.not_equal), ("gt", numpy.greater),
                   ("ge", numpy.greater_equal)]:
    setattr(ndarray, f"__{_name}__", _binary(_uf))
for _name, _uf in [("neg", numpy.negative), ("pos", numpy.positive), ("abs", numpy.absolute),
                   ("invert", numpy.invert)]:
    setattr(ndarray, f"__{_name}__", (lambda uf: lambda self: _wrap(uf(self._a)))(_uf))


# --- the module: numpy's names, wrapped --------------------------------------------------


class _Ufunc:
    """A numpy ufunc as cupy's: calls and methods (``add.at``) on fake arrays only."""

    def __init__(self, uf):
        self._uf = uf
        self.__name__ = uf.__name__

    def __call__(self, *args, **kwargs):
        return _call(self._uf, f"cupy.{self.__name__}", args, kwargs)

    def __getattr__(self, name):
        attr = getattr(self._uf, name)
        if callable(attr):
            return lambda *a, **k: _call(attr, f"cupy.{self.__name__}.{name}", a, k)
        return attr


class _Namespace:
    """A numpy submodule (random, linalg, lib, lib.stride_tricks, fft) seen through cupy."""

    def __init__(self, mod, prefix):
        self._mod, self._prefix = mod, prefix

    def __getattr__(self, name):
        return _lift(getattr(self._mod, name), f"{self._prefix}.{name}")


def _lift(obj, where):
    if isinstance(obj, numpy.ufunc):
        return _Ufunc(obj)
    if isinstance(obj, ModuleType):
        return _Namespace(obj, where)
    if isinstance(obj, type) or not callable(obj):
        return obj  # dtypes (float32), finfo, constants (pi, inf, newaxis)
    return lambda *args, **kwargs: _call(obj, where, args, kwargs)


def asarray(a, dtype=None, order=None):
    """To the device: host data is a counted transfer; a device array passes (maybe cast)."""
    if isinstance(a, ndarray):
        return a if dtype is None or a.dtype == dtype else a.astype(dtype)
    _counts["to_device"] += 1
    return ndarray(numpy.array(a, dtype=dtype, order=order or "K"))


def array(a, dtype=None, copy=True, order="K", ndmin=0):
    if isinstance(a, ndarray):
        return ndarray(numpy.array(a._a, dtype=dtype, copy=copy, order=order, ndmin=ndmin))
    _counts["to_device"] += 1
    return ndarray(numpy.array(a, dtype=dtype, copy=True, order=order, ndmin=ndmin))


def asnumpy(a):
    """To the host: one counted sync for a device array; host data passes."""
    if isinstance(a, ndarray):
        return a.get()
    return numpy.asarray(a)


class _RandomState:
    """cupy.random.RandomState: uniform draws made on the device (no transfer)."""

    def __init__(self, seed=None):
        self.seed(seed)

    def seed(self, seed=None):
        self._g = numpy.random.Generator(numpy.random.Philox(seed))

    def random_sample(self, size=None, dtype=float):
        dtype = numpy.dtype(dtype)
        if dtype.char not in "fd":  # as cupy.random
            raise TypeError("cupy.random only supports float32 and float64")
        _counts["device_draws"] += 1
        return ndarray(numpy.asarray(self._g.random(size, dtype=dtype)))


class _Random(_Namespace):
    """cupy.random: a global RandomState behind seed/random_sample; the rest of
    numpy.random lifted as the other namespaces are."""

    RandomState = _RandomState

    def __init__(self):
        super().__init__(numpy.random, "cupy.random")
        self._global = _RandomState()

    def seed(self, seed=None):
        self._global.seed(seed)

    def random_sample(self, size=None, dtype=float):
        return self._global.random_sample(size, dtype)

    random = random_sample


random = _Random()


def get_array_module(*args):
    return sys.modules[__name__] if any(isinstance(a, ndarray) for a in args) else numpy


class cuda:  # noqa: N801 - cupy.cuda
    """No device behind the stand-in: gpu-marked tests stay skipped."""

    @staticmethod
    def is_available():
        return False

    class Device:
        """The current device; ``synchronize`` has nothing to wait for (numpy is eager)."""

        def synchronize(self):
            return None


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    return _lift(getattr(numpy, name), f"cupy.{name}")


def install() -> ModuleType:
    """Make ``import cupy`` give this module (and ``layers.backend`` see its arrays)."""
    mod = sys.modules[__name__]
    sys.modules["cupy"] = mod
    return mod
