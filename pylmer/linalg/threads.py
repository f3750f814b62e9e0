"""One BLAS thread while optimizing.

An evaluation of a small model does a few tiny matrix products; a multi-threaded BLAS
handing 36 x 36 products to a second thread that is busy elsewhere turns 40 microseconds
into milliseconds (measured on sleepstudy with the other core loaded). The optimizer's
loop therefore runs with numpy's BLAS limited to one thread; large dense work (the SciPy
fallback backend) keeps all threads.
"""

from __future__ import annotations

import contextlib
from functools import lru_cache

__all__ = ["single_threaded_blas"]


@lru_cache(maxsize=1)
def _controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()  # inspects the loaded BLAS libraries once


def single_threaded_blas(enabled: bool = True):
    """Context manager limiting BLAS to one thread (a no-op when ``enabled`` is False)."""
    if not enabled:
        return contextlib.nullcontext()
    return _controller().limit(limits=1, user_api="blas")
