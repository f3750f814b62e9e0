"""Blocked Cholesky factorization for a leading diagonal block (MixedModels.jl's layout).

When the first random-effects term is scalar, its block of ``A = Lambda' Z'WZ Lambda`` is
diagonal (each observation belongs to one level). With ``A + I`` split as::

    [ D    A21' ]        L = [ D^(1/2)          0   ]
    [ A21  A22  ]            [ A21 D^(-1/2)   L22   ],   L22 L22' = A22 - A21 D^-1 A21'

the factorization is a diagonal, a sparse product and one dense Cholesky of the (small)
rest, done with numpy's BLAS. For crossed designs whose second factor is small this is
several times faster than a general sparse factorization (crossed 1e5 rows, 1e4 x 1e3
levels: 33 ms against CHOLMOD's 139 ms); :class:`~pylmer.linalg.pls.PLSWorkspace`
compares the operation counts of both at set-up and keeps the cheaper. The interface is
:class:`~pylmer.linalg.cholmod.SparseCholesky`'s.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sps
from scipy.linalg import lapack

__all__ = ["BlockCholesky"]

# Above this many products the pairs for L21 L21' take too much memory: use a sparse product.
MAX_PAIRS = 2e7


class BlockCholesky:
    """``A + I = L L'`` for A whose leading ``q1 x q1`` block is diagonal.

    Parameters
    ----------
    A : scipy.sparse.csc_matrix, (q, q)
        Symmetric, with sorted indices; its non-zero pattern is fixed from now on.
    q1 : int
        Size of the leading diagonal block.
    """

    backend = "blocked"
    ordering = "natural"

    def __init__(self, A: sps.csc_matrix, q1: int):
        A = sps.csc_matrix(A)
        self.q, self.q1 = A.shape[0], int(q1)
        q, q1 = self.q, self.q1
        rows = A.indices.astype(np.int64)
        cols = np.repeat(np.arange(q), np.diff(A.indptr))
        if np.any((rows < q1) & (cols < q1) & (rows != cols)):
            raise ValueError("the leading block is not diagonal")
        # where each stored value of A goes: the diagonal, A21 (sparse, fixed pattern), A22
        self._pos11 = np.flatnonzero((rows < q1) & (cols == rows))
        self._at11 = rows[self._pos11]
        lower21 = (rows >= q1) & (cols < q1)
        A21 = sps.csc_matrix((np.arange(1, lower21.sum() + 1, dtype=float),
                              (rows[lower21] - q1, cols[lower21])), shape=(q - q1, q1))
        A21.sort_indices()
        self._pos21 = np.flatnonzero(lower21)[A21.data.astype(np.int64) - 1]
        self._A21 = A21
        self._A21_cols = np.repeat(np.arange(q1), np.diff(A21.indptr))
        self._pairs = self._pair_map(A21, q - q1)
        block22 = (rows >= q1) & (cols >= q1)
        self._pos22 = np.flatnonzero(block22)
        self._at22 = (rows[block22] - q1) * (q - q1) + (cols[block22] - q1)
        self.factorize(A)

    @staticmethod
    def _pair_map(A21: sps.csc_matrix, q2: int):
        """For L21 L21' as one bincount: every pair of stored values sharing a column, with
        the slot of their product in the dense q2 x q2 result. None when there are too many
        pairs (then a sparse matrix product is used)."""
        counts = np.diff(A21.indptr)
        if np.sum(counts.astype(float) ** 2) > MAX_PAIRS:
            return None
        first, second = [], []
        for k in np.unique(counts):
            if k == 0:
                continue
            cols = np.flatnonzero(counts == k)
            at = A21.indptr[cols][:, None] + np.arange(k)[None, :]
            a, b = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
            first.append(at[:, a.ravel()].ravel())
            second.append(at[:, b.ravel()].ravel())
        first, second = np.concatenate(first), np.concatenate(second)
        slot = A21.indices[first].astype(np.int64) * q2 + A21.indices[second]
        return first, second, slot

    def _L21_L21t(self, L21: sps.csc_matrix) -> np.ndarray:
        q2 = self.q - self.q1
        if self._pairs is None:
            return (L21 @ L21.T).toarray()
        first, second, slot = self._pairs
        v = L21.data
        return np.bincount(slot, weights=v[first] * v[second],
                           minlength=q2 * q2).reshape(q2, q2)

    def factorize(self, A: sps.spmatrix) -> None:
        """Numeric factorization of ``A + I`` (same pattern as at construction)."""
        q, q1 = self.q, self.q1
        data = A.data
        d = np.ones(q1)
        d[self._at11] += data[self._pos11]
        self._sqrt_d = np.sqrt(d)
        L21 = self._A21.copy()
        L21.data = data[self._pos21] / self._sqrt_d[self._A21_cols]
        self._L21 = L21
        S = np.zeros((q - q1, q - q1))
        S.flat[self._at22] = data[self._pos22]
        S.flat[:: q - q1 + 1] += 1.0
        S -= self._L21_L21t(L21)
        L22, info = lapack.dpotrf(S, lower=1, clean=1, overwrite_a=1)
        if info != 0:
            raise np.linalg.LinAlgError("Lambda'Z'Z Lambda + I is not positive definite")
        self._L22 = L22

    def logdet(self) -> float:
        return 2.0 * float(np.sum(np.log(self._sqrt_d)) + np.sum(np.log(np.diagonal(self._L22))))

    def solve_L(self, B: np.ndarray) -> np.ndarray:
        """``L^{-1} B`` (the permutation is the identity)."""
        B = np.asarray(B, dtype=float)
        x1 = (B[: self.q1].T / self._sqrt_d).T
        rhs = B[self.q1:] - self._L21 @ x1
        x2, _ = lapack.dtrtrs(self._L22, rhs, lower=1)
        return np.concatenate([x1, x2])

    def solve_Lt(self, B: np.ndarray) -> np.ndarray:
        """``L'^{-1} B``."""
        B = np.asarray(B, dtype=float)
        y2, _ = lapack.dtrtrs(self._L22, B[self.q1:], lower=1, trans=1)
        y1 = ((B[: self.q1] - self._L21.T @ y2).T / self._sqrt_d).T
        return np.concatenate([y1, y2])

    def L(self) -> sps.csc_matrix:
        return sps.csc_matrix(sps.bmat([[sps.diags(self._sqrt_d), None],
                                        [self._L21, sps.csc_matrix(self._L22)]]))

    def seconds_estimate(self) -> float:
        return self.estimate(self._A21, self.q - self.q1)

    @staticmethod
    def estimate(A21: sps.spmatrix, q2: int) -> float:
        """Rough seconds of one refactorization, from operation counts at rates measured
        here: the products of L21 L21' (the sum over its columns of squared counts; about
        1.5e8/s by bincount, 1e8/s by a sparse product) and the dense Cholesky of the rest
        (q2^3 / 3 flops at about 2e10/s with numpy's BLAS)."""
        counts = np.diff(sps.csc_matrix(A21).indptr).astype(float)
        products = float(np.sum(counts * counts))
        rate = 1.5e8 if products <= MAX_PAIRS else 1e8
        return products / rate + q2**3 / 3.0 / 2e10

    def P(self) -> np.ndarray:
        return np.arange(self.q)
