"""Blocked Cholesky factorization for a leading diagonal block (MixedModels.jl's layout).

When the first random-effects term is scalar, its block of ``A = Lambda' Z'WZ Lambda`` is
diagonal (each observation belongs to one level). With ``A + I`` split as::

    [ D    A21' ]        L = [ D^(1/2)          0   ]
    [ A21  A22  ]            [ A21 D^(-1/2)   L22   ],   L22 L22' = A22 - A21 D^-1 A21'

the factorization is a diagonal, a product and one dense Cholesky of the (small) rest,
done with numpy's BLAS. For crossed designs whose second factor is small this is several
times faster than a general sparse factorization (crossed 1e5 rows, 1e4 x 1e3 levels:
33 ms against CHOLMOD's 139 ms; VerbAgg's 316 x 24 levels: 25 us against 235 us);
:class:`~pylmer.linalg.pls.PLSWorkspace` compares the operation counts of both at set-up
and keeps the cheaper. The interface is :class:`~pylmer.linalg.cholmod.SparseCholesky`'s.

L21 is kept sparse (its product L21 L21' by a compiled loop over the pairs of stored values
sharing a column) unless it is nearly full and small, as when every level of the first
factor meets every level of the second: then it is a dense array and L21 L21' one BLAS
product.
"""

from __future__ import annotations

import copy
from contextlib import nullcontext

import numpy as np
import scipy.sparse as sps
from scipy.linalg import lapack

from . import kernels
from .threads import all_blas_threads

__all__ = ["BlockCholesky"]

# L21 is stored dense when it has at most this many entries and its product by a dense
# BLAS call takes fewer operations than the pairs of stored values, times this factor
# (the loop over pairs is about this much slower per product than a matrix product).
DENSE21_MAX_SIZE = 1e6
# From this size the dense Cholesky of the rest runs on all BLAS threads (1,000: 6 against
# 10 ms on 2 cores).
DENSE_THREADS_MIN = 500
DENSE21_RATE_RATIO = 20.0


class BlockCholesky:
    """``A + I = L L'`` for A whose leading ``q1 x q1`` block is diagonal.

    Parameters
    ----------
    A : scipy.sparse.csc_matrix, (q, q)
        Symmetric, with sorted indices; its non-zero pattern is fixed from now on.
    q1 : int
        Size of the leading diagonal block.
    method : {"dense", "compiled"}, optional
        How L21 L21' is formed: a dense L21 and one BLAS product, or the compiled loop
        over the sparse L21. By default "dense" where :meth:`prefers_dense`, else
        "compiled".
    """

    backend = "blocked"
    ordering = "natural"

    METHODS = ("dense", "compiled")

    def __init__(self, A: sps.csc_matrix, q1: int, method: str | None = None):
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
        if method is None:
            method = "dense" if self.prefers_dense(A21, q - q1) else "compiled"
        if method not in self.METHODS:
            raise ValueError(f"method {method!r}: use one of {self.METHODS}")
        self.method = method
        if method == "dense":  # flat positions in a dense (q2, q1) array of each stored value
            self._at21 = A21.indices.astype(np.int64) * q1 + self._A21_cols
            # a full block (every level meets every level): A's values in row-major order
            self._full21 = None
            if A21.nnz == q1 * (q - q1):
                order = np.empty(A21.nnz, dtype=np.int64)
                order[self._at21] = np.arange(A21.nnz)
                self._full21 = self._pos21[order]
        else:
            self._kernel_pattern = (A21.indptr.astype(np.int32), A21.indices.astype(np.int32))
        block22 = (rows >= q1) & (cols >= q1)
        self._pos22 = np.flatnonzero(block22)
        self._at22 = (rows[block22] - q1) * (q - q1) + (cols[block22] - q1)
        self.factorize(A)

    @staticmethod
    def prefers_dense(A21: sps.spmatrix, q2: int) -> bool:
        """Whether L21 is better held as a dense array (see the module docstring)."""
        q1 = A21.shape[1]
        counts = np.diff(sps.csc_matrix(A21).indptr).astype(float)
        products = float(np.sum(counts * counts))
        return q1 * q2 <= DENSE21_MAX_SIZE and q1 * q2 * q2 <= DENSE21_RATE_RATIO * products

    def factorize(self, A: sps.spmatrix) -> None:
        """Numeric factorization of ``A + I`` (same pattern as at construction)."""
        q, q1 = self.q, self.q1
        data = A.data
        d = np.ones(q1)
        d[self._at11] += data[self._pos11]
        self._sqrt_d = np.sqrt(d)
        if self.method == "dense" and self._full21 is not None:
            L21 = data[self._full21].reshape(q - q1, q1) / self._sqrt_d
        elif self.method == "dense":
            L21 = np.zeros((q - q1, q1))
            L21.flat[self._at21] = data[self._pos21] / self._sqrt_d[self._A21_cols]
        else:
            L21 = self._A21.copy()
            L21.data = data[self._pos21] / self._sqrt_d[self._A21_cols]
        self._L21 = L21
        S = np.zeros((q - q1, q - q1))
        S.flat[self._at22] = data[self._pos22]
        S.flat[:: q - q1 + 1] += 1.0
        if self.method == "compiled":  # the lower triangle only, in place
            kernels.schur_downdate(S, *self._kernel_pattern, L21.data)
        else:
            S -= L21 @ L21.T
        # S's lower triangle is the upper triangle of its Fortran-ordered transpose: LAPACK
        # factors that in place as U'U, and L22 = U'
        with all_blas_threads() if S.shape[0] >= DENSE_THREADS_MIN else nullcontext():
            U, info = lapack.dpotrf(S.T, lower=0, clean=1, overwrite_a=1)
        if info != 0:
            raise np.linalg.LinAlgError("Lambda'Z'Z Lambda + I is not positive definite")
        self._U22 = U

    def logdet(self) -> float:
        return 2.0 * float(np.sum(np.log(self._sqrt_d)) + np.sum(np.log(np.diagonal(self._U22))))

    def solve_L(self, B: np.ndarray) -> np.ndarray:
        """``L^{-1} B`` (the permutation is the identity)."""
        B = np.asarray(B, dtype=float)
        x1 = (B[: self.q1].T / self._sqrt_d).T
        rhs = B[self.q1:] - self._L21 @ x1
        x2, _ = lapack.dtrtrs(self._U22, rhs, lower=0, trans=1)
        return np.concatenate([x1, x2])

    def solve_Lt(self, B: np.ndarray) -> np.ndarray:
        """``L'^{-1} B``."""
        B = np.asarray(B, dtype=float)
        y2, _ = lapack.dtrtrs(self._U22, B[self.q1:], lower=0)
        y1 = ((B[: self.q1] - self._L21.T @ y2).T / self._sqrt_d).T
        return np.concatenate([y1, y2])

    def solve_A(self, b: np.ndarray) -> np.ndarray:
        """``(A + I)^{-1} b``."""
        return self.solve_Lt(self.solve_L(b))

    def L(self) -> sps.csc_matrix:
        return sps.csc_matrix(sps.bmat([[sps.diags(self._sqrt_d), None],
                                        [sps.csc_matrix(self._L21),
                                         sps.csc_matrix(self._U22.T)]]))

    def copy(self) -> BlockCholesky:
        """The factor as it is now (each factorization makes new arrays: a shallow copy
        keeps these)."""
        return copy.copy(self)

    def seconds_estimate(self) -> float:
        return self.estimate(self._A21, self.q - self.q1)

    @staticmethod
    def estimate(A21: sps.spmatrix, q2: int) -> float:
        """Rough seconds of one refactorization, from operation counts at rates measured
        here: the products of L21 L21' (the sum over its columns of squared counts; about
        1e9/s by the compiled loop, 3e9/s as a dense product) and the dense Cholesky of the rest (q2^3 / 3 flops at about
        2e10/s with numpy's BLAS), plus about 15 us of calls."""
        counts = np.diff(sps.csc_matrix(A21).indptr).astype(float)
        products = float(np.sum(counts * counts))
        if BlockCholesky.prefers_dense(A21, q2):
            seconds = A21.shape[1] * q2 * q2 / 3e9
        else:
            seconds = products / 1e9
        return 15e-6 + seconds + q2**3 / 3.0 / 2e10

    def P(self) -> np.ndarray:
        return np.arange(self.q)
