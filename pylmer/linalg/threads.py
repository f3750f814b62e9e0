"""One BLAS thread while optimizing.

An evaluation of a small model does a few tiny matrix products; a multi-threaded BLAS
handing 36 x 36 products to a second thread that is busy elsewhere turns 40 microseconds
into milliseconds (measured on sleepstudy with the other core loaded). The optimizer's
loop therefore runs with numpy's BLAS limited to one thread, and so does the blocked
factor's dense block (measured faster on one thread); only the SciPy fallback backend's
large dense factor keeps all threads.

BLAS thread counts are process-wide, so the limit is shared: the first context to enter
sets it, the last to leave restores it, whatever threads they run in (bootMer's workers
enter and leave in any order).
"""

from __future__ import annotations

import contextlib
import threading
from functools import lru_cache

__all__ = ["single_threaded_blas"]

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


def single_threaded_blas(enabled: bool = True):
    """Context manager limiting BLAS to one thread (a no-op when ``enabled`` is False)."""
    if not enabled:
        return contextlib.nullcontext()
    return _one_thread()
