"""One BLAS thread while optimizing.

An evaluation of a small model does a few tiny matrix products; a multi-threaded BLAS
handing 36 x 36 products to a second thread that is busy elsewhere turns 40 microseconds
into milliseconds (measured on sleepstudy with the other core loaded). The optimizer's
loop therefore runs with numpy's BLAS limited to one thread, and lends all threads back to
the one large dense call that pays for them (:func:`all_blas_threads`: the dense Cholesky
of a blocked factor's block). The SciPy fallback backend keeps all threads throughout.

BLAS thread counts are process-wide, so the limit is shared: the first context to enter
sets it, the last to leave restores it, whatever threads they run in (bootMer's workers
enter and leave in any order).
"""

from __future__ import annotations

import contextlib
import threading
from functools import lru_cache

__all__ = ["all_blas_threads", "single_threaded_blas"]

_lock = threading.Lock()
_holders = 0
_saved: list = []


@lru_cache(maxsize=1)
def _controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()  # inspects the loaded BLAS libraries once


def _blas_libraries() -> list:
    return [lib for lib in _controller().lib_controllers if lib.user_api == "blas"]


@contextlib.contextmanager
def _one_thread():
    # threadpoolctl's own limit() context does not take effect when entered in a second
    # thread after one was entered and left in the first; setting the counts directly does
    global _holders, _saved
    with _lock:
        if _holders == 0:
            _saved = [(lib, lib.num_threads) for lib in _blas_libraries()]
            for lib, _ in _saved:
                lib.set_num_threads(1)
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                for lib, threads in _saved:
                    lib.set_num_threads(threads)
                _saved = []


@contextlib.contextmanager
def all_blas_threads():
    """Inside the one-thread limit, the BLAS threads it saved, for one large dense call.

    Only while a single context holds the limit (bootMer's workers share it and stay on one
    thread each). Threads for the call alone, not the whole evaluation: on a machine whose
    two cores are one core's two hyperthreads, a BLAS thread that spins after its call
    slows the single-threaded work that follows (a crossed design's evaluation: 24 ms with
    threads throughout, 16 ms on one thread)."""
    with _lock:
        saved = list(_saved) if _holders == 1 else []
        for lib, threads in saved:
            lib.set_num_threads(threads)
    try:
        yield
    finally:
        with _lock:
            for lib, _ in saved:
                lib.set_num_threads(1)


def single_threaded_blas(enabled: bool = True):
    """Context manager limiting BLAS to one thread (a no-op when ``enabled`` is False)."""
    if not enabled:
        return contextlib.nullcontext()
    return _one_thread()
