"""What an LMM's many responses share: the cross-products of the design, C's pattern and
its fill-reducing order, built once and handed to the compiled batch evaluation.

A response enters the profiled criterion only through ``Z'Wy``, ``X'Wy`` and ``y'Wy``.
Each response is first made orthogonal to X by weighted least squares: the penalized
fit of the residual has the same theta, u and residuals, and beta moves by the least
squares coefficients. This keeps ``y'Wy`` of the order of the residual sum of squares,
so ``pwrss = y'Wy - |cu|^2 - |cbeta|^2`` loses no digits to a large mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sps

from ..exceptions import PylmerError
from ..lformula import LFormula
from ..linalg.cholmod import SparseCholesky
from ..linalg.crossprod import csc_keys, fitted_exactly, least_squares_residual
from ..linalg.kernels import BatchLmm
from ..linalg.pls import BLOCKED_MAX_Q2

__all__ = ["BatchDesign", "batch_design"]


@dataclass(frozen=True)
class BatchDesign:
    """One design's compiled evaluation for a set of responses.

    Attributes
    ----------
    kernel : BatchLmm
        ``kernel.criterion(theta, resp)`` and ``kernel.solution(theta, resp)``.
    beta_shift : (m, p) ndarray
        The least squares coefficients taken out of each response (added back to beta).
    exact : (m,) bool ndarray
        Responses the fixed effects fit exactly: their residuals are rounding error (of
        the order of 1e3 ulps of the response), and the criterion is not defined.
    diagonal : (k,) bool ndarray
        Which elements of theta are diagonal elements of a term's factor.
    columns : list of (k,) int ndarrays
        For each column of each term's factor, the indices of its elements in theta (the
        diagonal first): the criterion does not change when a column changes sign.
    n, p : int
    """

    kernel: BatchLmm
    beta_shift: np.ndarray
    exact: np.ndarray
    diagonal: np.ndarray
    columns: list
    n: int
    p: int


def batch_design(lf: LFormula, Y: np.ndarray, REML: bool,
                 rows: np.ndarray | None = None) -> BatchDesign:
    """The batch evaluation of ``lf``'s design for the responses in the columns of Y
    (n x m, rows as ``lf``'s, or as ``lf``'s ``rows`` when given: the same model on those
    rows, where a level left without rows has no effect on the criterion)."""
    X, rt = lf.X, lf.reTrms
    w = np.ones(len(X)) if lf.weights is None else np.asarray(lf.weights, dtype=float)
    offset = None if lf.offset is None else np.asarray(lf.offset, dtype=float)
    Zt = sps.csc_matrix(rt.Zt)
    if rows is not None:
        X, w, Zt = X[rows], w[rows], sps.csc_matrix(Zt[:, rows])
        offset = None if offset is None else offset[rows]
    n, p = X.shape
    Y = np.asarray(Y, dtype=float)
    if offset is not None:
        Y = Y - offset[:, None]
    Yr, beta_shift = least_squares_residual(X, Y, w)
    ZtW = sps.csc_matrix(Zt @ sps.diags(w))
    ZtZ = sps.csc_matrix(ZtW @ Zt.T)
    ZtZ.sort_indices()
    k = len(rt.theta)
    pattern, perm = _pattern(ZtZ, rt.Lambdat, k)
    q = pattern.shape[0]
    pinv = np.empty(q, dtype=np.intp)
    pinv[perm] = np.arange(q)
    C = _permuted_upper(pattern, pinv)
    q1 = _blocked_q1(C, rt.Lambdat)
    terms = _terms(ZtZ, rt.Lambdat, rt.Lind, k, C, pinv)
    lt = _lambda_rows(rt.Lambdat, rt.Lind, pinv)
    diag_slot = (C.indptr[1:] - 1).astype(np.intp)
    ldW = float(np.sum(np.log(w[w > 0]))) if lf.weights is not None else 0.0
    WY = Yr * w[:, None]
    kernel = BatchLmm(C.indptr.astype(np.intp), C.indices.astype(np.intp), q1, *terms,
                      diag_slot, *lt, np.ascontiguousarray(ZtW @ X),
                      np.ascontiguousarray(X.T @ (X * w[:, None])),
                      np.ascontiguousarray((Zt @ WY).T), np.ascontiguousarray((X.T @ WY).T),
                      np.ascontiguousarray(np.einsum("ij,ij->j", Yr, WY)), float(n),
                      bool(REML), ldW, k)
    diagonal, columns = _theta_layout(lf)
    return BatchDesign(kernel, beta_shift, fitted_exactly(Yr, Y), diagonal, columns, n, p)


def _pattern(ZtZ: sps.csc_matrix, Lambdat: sps.csc_matrix, k: int):
    """C's structural pattern (``Lambda' Z'Z Lambda + I`` with every stored value of Z'Z
    and Lambda non-zero, so that nothing cancels) and a fill-reducing order of it."""
    ones = lambda A: sps.csc_matrix((np.ones(A.nnz), A.indices, A.indptr), shape=A.shape)
    q = ZtZ.shape[0]
    Lt = ones(Lambdat)
    pattern = sps.csc_matrix(Lt @ ones(ZtZ) @ Lt.T + sps.identity(q, format="csc"))
    pattern.sort_indices()
    if _is_scalar(Lambdat):  # lme4's order: the blocked layout keeps it
        return pattern, np.arange(q)
    return pattern, np.asarray(SparseCholesky(pattern).P(), dtype=np.intp)


def _is_scalar(Lambdat: sps.csc_matrix) -> bool:
    q = Lambdat.shape[0]
    return bool(np.array_equal(Lambdat.indptr, np.arange(q + 1))
                and np.array_equal(Lambdat.indices, np.arange(q)))


def _permuted_upper(pattern: sps.csc_matrix, pinv: np.ndarray) -> sps.csc_matrix:
    coo = pattern.tocoo()
    r, c = pinv[coo.row], pinv[coo.col]
    keep = r <= c
    C = sps.csc_matrix((np.ones(int(keep.sum())), (r[keep], c[keep])), shape=pattern.shape)
    C.sort_indices()
    return C


def _blocked_q1(C: sps.csc_matrix, Lambdat) -> int:
    """The leading diagonal block of the blocked layout, or 0 for the simplicial one: as
    the single-model workspace decides (scalar terms, a diagonal leading block at least as
    large as the dense rest)."""
    if not _is_scalar(Lambdat):
        return 0
    counts = np.diff(C.indptr)
    q = C.shape[0]
    rows = C.indices
    cols = np.repeat(np.arange(q), counts)
    off = rows != cols
    q1 = int(np.min(cols[off])) if off.any() else q
    # columns below q1 hold only their diagonal; the rest becomes one dense block
    q2 = q - q1
    if q2 < 1 or q2 > BLOCKED_MAX_Q2 or q1 < q2:
        return 0
    return q1


def _terms(ZtZ, Lambdat, Lind, k, C, pinv):
    """C's values as ``sum coef * theta[a] * theta[b]`` over C's slots."""
    q = C.shape[0]
    keys = csc_keys(C)
    basis = []
    for a in range(k):
        T = sps.csc_matrix(((Lind == a).astype(float), Lambdat.indices.copy(),
                            Lambdat.indptr.copy()), shape=Lambdat.shape)
        T.eliminate_zeros()
        basis.append(T)
    slots, ta, tb, coefs = [], [], [], []
    for a in range(k):
        for b in range(a, k):
            N = basis[a] @ ZtZ @ basis[b].T
            M = (N + N.T) if a != b else N
            M = sps.coo_matrix(M)
            r, c, v = pinv[M.row], pinv[M.col], M.data
            keep = (r <= c) & (v != 0.0)
            if not keep.any():
                continue
            key = c[keep].astype(np.int64) * q + r[keep]
            at = np.searchsorted(keys, key)
            if np.any(keys[np.minimum(at, len(keys) - 1)] != key):  # pragma: no cover
                raise PylmerError("internal: a product of Lambda'Z'Z Lambda is outside C")
            slots.append(at)
            ta.append(np.full(len(at), a))
            tb.append(np.full(len(at), b))
            coefs.append(v[keep])
    cat = lambda parts, dtype: np.ascontiguousarray(
        np.concatenate(parts) if parts else np.zeros(0), dtype=dtype)
    return (cat(slots, np.intp), cat(ta, np.intp), cat(tb, np.intp), cat(coefs, float))


def _lambda_rows(Lambdat, Lind, pinv):
    """``P Lambda'`` by rows: pointers, columns and theta indices."""
    q = Lambdat.shape[0]
    rows = pinv[Lambdat.indices]
    cols = np.repeat(np.arange(q), np.diff(Lambdat.indptr))
    order = np.lexsort((cols, rows))
    ptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=q))])
    return (ptr.astype(np.intp), cols[order].astype(np.intp),
            np.asarray(Lind, dtype=np.intp)[order])


def _theta_layout(lf: LFormula):
    """Which theta elements are diagonal, and theta's indices by factor column."""
    diagonal, columns, at = [], [], 0
    for _, names in lf.reTrms.cnms:
        d = len(names)
        index = {}
        for j in range(d):  # lme4's order: the lower triangle by columns
            for i in range(j, d):
                index[i, j] = at
                at += 1
        for j in range(d):
            columns.append(np.array([index[i, j] for i in range(j, d)], dtype=np.intp))
            diagonal.append(index[j, j])
    mask = np.zeros(at, dtype=bool)
    mask[diagonal] = True
    return mask, columns
