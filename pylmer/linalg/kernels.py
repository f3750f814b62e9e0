"""Compiled loops, with the flag saying whether they were built.

``pip install`` compiles ``_kernels.pyx`` (Cython). A source tree used without building
still works: the callers keep a NumPy way of doing the same work, slower, same numbers.
"""

from __future__ import annotations

try:  # pragma: no branch
    from ._kernels import accumulate_pairs, dense_pls, schur_downdate, weighted_normal_solve

    HAVE_KERNELS = True
except ImportError:  # pragma: no cover - a source tree that was never built
    accumulate_pairs = dense_pls = schur_downdate = weighted_normal_solve = None
    HAVE_KERNELS = False

__all__ = ["HAVE_KERNELS", "accumulate_pairs", "dense_pls", "schur_downdate",
           "weighted_normal_solve"]
