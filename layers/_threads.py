"""Split a batch over Python threads in the fast conv layers, spatial batchnorm and the
transformer block (numpy only).

numpy runs copies and elementwise ufuncs on one core, and the im2col copy and the col2im
adds are a third to a half of a conv's time here. They release the GIL, so two Python
threads, each on half of the batch, keep both cores busy through them; each thread's
GEMMs then run on a BLAS pinned to one thread, so the two never fight over cores. It cut
a conv's forward + backward by 20-40 % on 2 cores (benchmarks/README.md).

By default ("auto") a call splits when its work is large (at least ``AUTO_WORK``
elements of im2col columns: a fraction of a millisecond of hand-off and BLAS re-pinning
is then a few per cent) over as many parts as the process may use cores and BLAS
threads: a caller that limited BLAS to one thread (``threadpoolctl.threadpool_limits``,
as ``layerkit-train`` does for small nets) gets no split. While a split call runs it pins
the process's BLAS (via threadpoolctl, which scikit-learn, a layerkit dependency,
brings) to one thread, which other threads of the caller doing BLAS at that moment
would feel; ``layers.set_threads(1)`` or ``LAYERKIT_THREADS=1`` turns the split off,
``set_threads(n)`` forces n parts at every size. Without threadpoolctl, on cupy arrays,
or for a batch too small to split, the layers run as one part, unchanged.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from .backend import get_xp, numpy

__all__ = ["set_threads", "get_threads", "batch_parts", "run_parts"]

_threads: int | None = None  # None: read LAYERKIT_THREADS (unset or "auto": automatic)
AUTO_WORK = 2**19  # elements of work from which the automatic mode splits a call
_pool: ThreadPoolExecutor | None = None
_controller = None
_lock = threading.Lock()


def set_threads(n: int | None) -> int:
    """Python threads the fast conv splits a batch over (1 = off; n > 1: always n parts;
    None = follow the LAYERKIT_THREADS environment variable, automatic when it is unset
    or "auto"). Returns the number now in effect for a large call."""
    global _threads
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"set_threads: n must be a positive int or None; got {n!r}")
    _threads = n
    return get_threads()


def _setting() -> int | None:
    """The explicit thread count, or None for the automatic mode."""
    if _threads is not None:
        return _threads
    raw = os.environ.get("LAYERKIT_THREADS", "auto").strip().lower() or "auto"
    if raw == "auto":
        return None
    try:
        return max(1, int(raw))
    except ValueError:
        raise ValueError(f"LAYERKIT_THREADS must be a positive integer or 'auto'; "
                         f"got {raw!r}") from None


def _auto_threads() -> int:
    """Cores this process may use, capped by the BLAS threads it currently allows."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    blas = [lib.num_threads for lib in _blas_controller().lib_controllers
            if lib.user_api == "blas"]
    return max(1, min([cores, *blas]))


def get_threads() -> int:
    """The number of threads in effect for a large call (1 when the split is off or
    unavailable)."""
    if _blas_controller() is None:
        return 1
    n = _setting()
    return _auto_threads() if n is None else n


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


def batch_parts(N: int, *arrays, work: int = 0, min_part: int = 4) -> list[slice]:
    """Slices that split a batch of N over the threads in effect: one slice (the whole
    batch) when the split is off, the arrays are not numpy, N < 2 * min_part, or (in the
    automatic mode) ``work`` is below AUTO_WORK."""
    if get_xp(*arrays) is not numpy or N < 2 * min_part:
        return [slice(0, N)]
    if _setting() is None and work < AUTO_WORK:
        return [slice(0, N)]
    n = get_threads()
    if n == 1:
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
