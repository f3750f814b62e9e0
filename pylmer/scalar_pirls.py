"""Set-up of the compiled PIRLS solver for scalar random-effects terms
(:class:`pylmer._pwrss.ScalarSolver`), and of the compiled response kernels.

With every term scalar, Lambda is diagonal and ``Lambda Z'WZ Lambda + I`` has the pattern
of Z'Z whatever theta and the weights are. This module builds, once per model, what the
compiled solver needs: Z by rows, the upper triangle C of the permuted pattern (the
permutation is the one the workspace's factorization chose: CHOLMOD's fill-reducing
ordering, or the identity of the blocked factor), and for every observation the pairs of
its non-zeros with their slot in C. The PIRLS loop (:mod:`pylmer._pirls`) then runs a whole
PIRLS without Python.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sps

from . import _pirls, _pwrss, _response
from .linalg import kernels
from .linalg.crossprod import csc_keys, observation_pairs, pattern_with_diagonal

OK, NOT_POSITIVE_DEFINITE = _pirls.OK, _pirls.NOT_POSITIVE_DEFINITE
HALVING_FAILED, NOT_CONVERGED = _pirls.HALVING_FAILED, _pirls.NOT_CONVERGED
FIXED_NOT_POSITIVE_DEFINITE = _pirls.FIXED_NOT_POSITIVE_DEFINITE

__all__ = ["build", "kind_of", "response_kernel", "MAX_FACTOR_FLOPS", "OK", "NOT_POSITIVE_DEFINITE",
           "FIXED_NOT_POSITIVE_DEFINITE", "HALVING_FAILED", "NOT_CONVERGED"]

# The loop's sparse Cholesky is simplicial and scalar: where the factor needs more
# multiply-adds than this (the sum of its squared column counts), the workspace's own
# factorization (supernodal CHOLMOD, or the blocked factor with BLAS) is kept.
MAX_FACTOR_FLOPS = 2e6

# From this many observations the response pass calls NumPy's vectorized exp and log
# between compiled passes; below, the C library's exp and log one value at a time are as
# fast as the calls' overhead (measured, binomial: 5.8 against 4.5 us at n = 250, 35 against
# 20 us at 2,000; Poisson: even at 250, 27 against 20 us at 4,000).
VECTOR_MIN_N = 256



def kind_of(family) -> int | None:
    """The response kernel's code for a family, or None where it has none."""
    return _response.KINDS.get((family.family, family.link.name))


def response_kernel(family, y, pw, dev0, llk, llf):
    """The compiled response kernel of a binomial(logit), poisson(log) or Gamma(log)
    response (None for other families); see :class:`pylmer._response.ResponseKernel`.
    Vectorized from ``VECTOR_MIN_N`` observations."""
    kind = kind_of(family)
    if kind is None:
        return None
    if family.family == "cumulative":
        kernel = _response.ResponseKernel(kind, *(np.ascontiguousarray(a, dtype=float)
                                                  for a in (y, pw, dev0, llk, llf)),
                                          link=_response.LINKS[family.link.name],
                                          n_bounds=len(family.levels) + 1)
        if family.thresholds is not None:
            kernel.set_bounds(family.bounds)
        return kernel
    vector = len(y) >= VECTOR_MIN_N
    return _response.ResponseKernel(kind, *(np.ascontiguousarray(a, dtype=float)
                                            for a in (y, pw, dev0, llk, llf)), vector=vector)


def build(ws):
    """A ``ScalarSolver`` for the workspace ``ws`` (reweightable, so that its Z'Z has the
    structural pattern; diagonal Lambda; its X); None where it does not apply (a term that
    is not scalar, or a factor too dense for it)."""
    if not ws.diagonal or not ws.reweightable:
        return None
    q, n = ws.q, ws.n
    perm = np.ascontiguousarray(ws.perm(), dtype=np.intp)
    pinv = np.empty(q, dtype=np.intp)
    pinv[perm] = np.arange(q)
    # the workspace's Z'Z has a slot for every product of Z's stored entries (those that
    # cancel too); add every diagonal entry (a level whose column of Z is zero gets its + 1)
    C, rows, cols = _upper_pattern(pattern_with_diagonal(ws.ZtZ), pinv)
    kernel_args = (np.ascontiguousarray(C.indptr, dtype=np.intp),
                   np.ascontiguousarray(C.indices, dtype=np.intp))
    # the workspace's blocked factor with a dense L21 (VerbAgg) stays blocked: its
    # Schur complement is one BLAS call, where a scalar sparse factor is much slower
    chol = getattr(ws, "chol", None)
    q1 = chol.q1 if getattr(chol, "backend", None) == "blocked" \
        and chol.method == "dense" else 0
    if q1 and np.any(np.diff(C.indptr)[:q1] != 1):  # the leading block must be diagonal
        q1 = 0
    if q1 == 0:
        _, Lp = kernels.symbolic(*kernel_args)
        counts = np.diff(Lp).astype(float)
        if float(np.sum(counts * counts)) > MAX_FACTOR_FLOPS:
            return None
    obs, slot, prod = _pair_slots(ws.Zt, C, pinv)
    Zt = ws.Zt  # CSC: column i holds observation i's non-zeros
    # Z'W z's terms, in the same interleaved order
    z_terms = _interleaved(np.repeat(np.arange(n), np.diff(Zt.indptr)), Zt.indices,
                           Zt.data)
    return _pwrss.ScalarSolver(
        n, Zt.indptr.astype(np.intp), Zt.indices.astype(np.intp),
        np.ascontiguousarray(Zt.data, dtype=float), *z_terms, obs, slot, prod, *kernel_args,
        rows, cols, perm, np.ascontiguousarray(ws.X, dtype=float), q1=q1)


def _upper_pattern(ZtZ: sps.csc_matrix, pinv: np.ndarray):
    """C, the upper triangle of ``P Z'Z P'`` (CSC, sorted), and the original row and column
    of each of its entries."""
    q = ZtZ.shape[0]
    r = ZtZ.indices.astype(np.intp)
    c = np.repeat(np.arange(q, dtype=np.intp), np.diff(ZtZ.indptr))
    keep = pinv[r] <= pinv[c]
    r, c = r[keep], c[keep]
    order = np.lexsort((pinv[r], pinv[c]))  # by permuted column, then row
    r, c = r[order], c[order]
    C = sps.csc_matrix((np.ones(len(r)), (pinv[r], pinv[c])), shape=(q, q))
    C.sort_indices()
    if C.nnz != len(r):  # pragma: no cover - Z'Z's pattern has no duplicates
        raise AssertionError("duplicate entries in the pattern of Z'Z")
    return C, r, c


def _pair_slots(Zt: sps.csc_matrix, C: sps.csc_matrix, pinv: np.ndarray):
    """For each observation, each pair (a, b) of its non-zeros with a before b in the
    permuted order (and a = b): the observation, the slot of (a, b) in C and z_a z_b."""
    q = C.shape[0]
    obs, first, second, prod = observation_pairs(Zt)
    pos_a, pos_b = pinv[first], pinv[second]
    take = pos_a <= pos_b  # (a, b) and (b, a) are the same slot of the upper triangle
    keys = csc_keys(C)
    key = pos_b[take].astype(np.int64) * q + pos_a[take]
    at = np.searchsorted(keys, key)
    if np.any(at >= len(keys)) or np.any(keys[np.minimum(at, len(keys) - 1)]
                                         != key):  # pragma: no cover
        raise AssertionError("a product of Z's entries has no slot in C")
    return _interleaved(obs[take], at, prod[take])


def _interleaved(obs, target, value):
    """Scatter-add terms ``out[target] += value * w[obs]`` reordered by (how many earlier
    terms share the target, target).

    Each target still sums its terms in observation order, so the sums are the same; but
    consecutive additions go to different targets instead of waiting on each other (in
    observation order a level's observations often follow one another)."""
    order = np.lexsort((obs, target))
    starts = np.flatnonzero(np.r_[True, np.diff(target[order]) != 0])
    rank = np.empty(len(target), dtype=np.int64)
    rank[order] = np.arange(len(target)) - np.repeat(starts,
                                                     np.diff(np.r_[starts, len(target)]))
    order = np.lexsort((target, rank))
    return (np.ascontiguousarray(obs[order], dtype=np.intp),
            np.ascontiguousarray(target[order], dtype=np.intp),
            np.ascontiguousarray(value[order], dtype=float))
