"""Opt-in: split a batch over Python threads in the fast conv layers (numpy only).

numpy runs copies and elementwise ufuncs on one core, and the im2col copy and the col2im
slice-adds are a third to a half of a conv's time here. They release the GIL, so two
Python threads, each on half of the batch, keep both cores busy through them; each
thread's GEMMs then run on a BLAS pinned to one thread, so the two never fight over
cores. It cut a conv's forward + backward by 21-44 % on 2 cores (benchmarks/README.md).

Off by default: while a split call runs it pins the process's BLAS (via threadpoolctl,
which scikit-learn, a layerkit dependency, brings) to one thread, which other threads of
the caller doing BLAS at that moment would feel. Turn it on with
``layers.set_threads(2)`` or ``LAYERKIT_THREADS=2``. Without threadpoolctl, on cupy
arrays, or for a batch too small to split, the layers run as one part, unchanged.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from .backend import get_xp, numpy

__all__ = ["set_threads", "get_threads", "batch_parts", "run_parts"]

_threads: int | None = None  # None: read LAYERKIT_THREADS
_pool: ThreadPoolExecutor | None = None
_controller = None
_lock = threading.Lock()


def set_threads(n: int | None) -> int:
    """Python threads the fast conv may split a batch over (1 = off; None = follow the
    LAYERKIT_THREADS environment variable). Returns the number now in effect."""
    global _threads
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"set_threads: n must be a positive int or None; got {n!r}")
    _threads = n
    return get_threads()


def get_threads() -> int:
    """The number of threads in effect (1 when the option is off or unavailable)."""
    n = _threads
    if n is None:
        raw = os.environ.get("LAYERKIT_THREADS", "1").strip() or "1"
        try:
            n = max(1, int(raw))
        except ValueError:
            raise ValueError(
                f"LAYERKIT_THREADS must be a positive integer; got {raw!r}") from None
    return n if n > 1 and _blas_controller() is not None else 1


def _blas_controller():
    global _controller
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _controller = False
        else:
            _controller = ThreadpoolController()
    return _controller or None


def batch_parts(N: int, *arrays, min_part: int = 4) -> list[slice]:
    """Slices that split a batch of N over the threads in effect: one slice (the whole
    batch) when the option is off, the arrays are not numpy, or N < 2 * min_part."""
    n = get_threads()
    if n == 1 or get_xp(*arrays) is not numpy or N < 2 * min_part:
        return [slice(0, N)]
    n = min(n, N // min_part)
    bounds = [N * k // n for k in range(n + 1)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def run_parts(fn: Callable[[int, slice], object], parts: list[slice]) -> list:
    """[fn(k, part) for each part], on the thread pool (BLAS pinned to one thread) when
    there is more than one part; exceptions propagate to the caller."""
    if len(parts) == 1:
        return [fn(0, parts[0])]
    global _pool
    with _lock:
        if _pool is None or _pool._max_workers < len(parts):
            _pool = ThreadPoolExecutor(max_workers=len(parts),
                                       thread_name_prefix="layerkit")
        pool = _pool
    with _blas_controller().limit(limits=1, user_api="blas"):
        futures = [pool.submit(fn, k, part) for k, part in enumerate(parts)]
        return [f.result() for f in futures]
