"""Penalized least squares for a linear mixed model (lme4's ``merPredD`` + ``lmerResp``).

The cross-products Z'Z, Z'X, Z'y, X'X, X'y, y'y (prior weights folded in, offset
removed) are formed once. For a given theta, with A = Lambda' Z'Z Lambda::

    P (A + I) P'  = L L'                 (q x q; sparse CHOLMOD or dense LAPACK)
    [RZX | cu]    = L^{-1} P Lambda' [Z'X | Z'y]
    RX' RX        = X'X - RZX' RZX       (p x p, dense)
    cbeta         = RX'^{-1} (X'y - RZX' cu),     beta = RX^{-1} cbeta
    pwrss         = y'y - |cu|^2 - |cbeta|^2      (penalized weighted RSS)
    u             = P' L'^{-1} (cu - RZX beta)

so an evaluation costs a refactorization and a few triangular solves, never O(n).
The profiled deviances are lme4's::

    ML    ldL2 - ldW + n (1 + log(2 pi pwrss / n))
    REML  ldL2 - ldW + ldRX2 + (n - p)(1 + log(2 pi pwrss / (n - p)))

Three ways to form A: all-scalar terms (Lambda diagonal: A = Z'Z * lambda lambda'), small
q (dense matrices) and large q (sparse products). Small q uses dense LAPACK throughout
(no scipy.sparse overhead per evaluation); large q uses :class:`SparseCholesky`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sps
from scipy.linalg import lapack

from . import kernels
from .blocked import BlockCholesky
from .cholmod import HAVE_CHOLMOD, SparseCholesky
from .crossprod import (
    CrossProducts,
    fitted_exactly,
    least_squares_residual,
    structural_pattern,
    weighted_crossproducts,
)
from .solution import DenseFactor, PLSSnapshot, profiled_deviance

__all__ = ["PLSWorkspace", "DENSE_MAX_Q"]

# Above this many random effects the sparse factorization wins over dense LAPACK
# (measured: q = 130, Exam, 0.2 ms sparse against several ms dense).
DENSE_MAX_Q = 64
# The blocked factorization factors the rest after a leading diagonal block densely: only
# while that rest is small enough for a dense Cholesky to be quick.
BLOCKED_MAX_Q2 = 2000
# Below this many flops, n (q + p + 1)^2, a dense cross-product beats the sparse updates.
DENSE_CROSSPRODUCT_FLOPS = 500_000


class PLSWorkspace:
    """Mutable workspace evaluating the penalized least squares problem at a theta.

    Parameters
    ----------
    X : (n, p) ndarray
    y : (n,) ndarray
    Zt : (q, n) sparse
    Lambdat : (q, q) csc, its stored values set through ``Lind``
    Lind : (nnz,) int ndarray, 0-based theta index of each stored value of Lambdat
    weights, offset : (n,) ndarrays or None
    backend : "cholmod" / "scipy" for the sparse path; ``dense`` forces a path.
    """

    def __init__(self, X, y, Zt, Lambdat, Lind, weights=None, offset=None,
                 backend=None, dense=None, reweightable=False):
        n, p = X.shape
        self.n, self.p = n, p
        self.q = Zt.shape[0]
        self.X = np.asarray(X, dtype=float)
        self.Zt = sps.csc_matrix(Zt)
        self.Zt.sort_indices()
        if self.Zt.indptr.dtype != self.Zt.indices.dtype:  # the compiled loops take one type
            self.Zt.indptr = self.Zt.indptr.astype(np.int64)
            self.Zt.indices = self.Zt.indices.astype(np.int64)
        # the pattern of Z'WZ does not depend on the (positive) weights: a GLMM reweights
        # into Z'Z's slots, which must include the products that happen to cancel. Its
        # values are set below, by the first reweighting (the small models' dense path
        # keeps Z'WZ in ZtZ_dense, and only the pattern here). An LMM's Z'WZ is formed with
        # its other cross-products, below.
        self.ZtZ = structural_pattern(self.Zt) if reweightable else None
        self.dense = (self.q <= DENSE_MAX_Q) if dense is None else bool(dense)
        # small models reweight through one dense product [Z X y]' W [Z X y]
        self.dense_crossproducts = bool(
            reweightable and self.dense
            and n * (self.q + p + 1) ** 2 <= DENSE_CROSSPRODUCT_FLOPS)
        self._pairs = self._pair_map() if reweightable and not self.dense_crossproducts \
            else None
        self._ZXy = (np.column_stack([self.Zt.T.toarray(), self.X, np.zeros(n)])
                     if self.dense_crossproducts else None)
        self.reweightable = bool(reweightable)
        self._partial = False
        yy = np.asarray(y, dtype=float) - (0.0 if offset is None else offset)
        # an LMM's response enters through its residual from X (beta moves back by the
        # shift); a GLMM's working response changes at every step and is used as it is
        self._beta_shift = np.zeros(p)
        if not reweightable:
            resid, self._beta_shift = least_squares_residual(
                self.X, yy, None if weights is None else np.asarray(weights, dtype=float))
            # an exact fit keeps its residual sum of squares of 0 (and lmer's error)
            yy = np.zeros_like(resid) if fitted_exactly(resid, yy) else resid
        self._set_crossproducts(yy, weights)
        self._init_factor(Lambdat, Lind, backend)

    @classmethod
    def from_crossproducts(cls, xp: CrossProducts, Lambdat, Lind, backend=None,
                           dense=None) -> PLSWorkspace:
        """A workspace from accumulated cross-products alone, no rows (an out-of-core fit:
        :class:`~pylmer.linalg.crossprod.CrossProducts` summed over partitions).

        Every LMM evaluation (:meth:`set_theta`, :meth:`deviance`, :meth:`snapshot`) works
        as on a workspace built from the rows; reweighting (a GLMM's PIRLS) needs the rows
        and is not available. ``xp.ZtZ`` is used as it is, not copied (it may be the
        largest object of a fit), and never changed.
        """
        self = cls.__new__(cls)
        self.n, self.p, self.q = int(xp.n), xp.p, xp.q
        self.X = self.Zt = None  # never held: the cross-products are all it needs
        self.dense = (self.q <= DENSE_MAX_Q) if dense is None else bool(dense)
        self.dense_crossproducts = self.reweightable = self._partial = False
        self._pairs = self._ZXy = None
        # Z'Z is taken, not copied (it is as large as the rest together); never changed
        self.ZtZ = sps.csc_matrix(xp.ZtZ)
        self.ZtZ.sort_indices()
        self.XtX = np.array(xp.XtX, dtype=float)
        # the residual response's sums, as the rows' workspace takes them
        xp, shift = xp.residual()
        self.ZtXy, self.Xty = np.array(xp.ZtXy, dtype=float), np.array(xp.Xty, dtype=float)
        self.yty, self.ldW = float(xp.yty), float(xp.ldW)
        self._beta_shift = shift
        self._init_factor(Lambdat, Lind, backend)
        return self

    def _init_factor(self, Lambdat, Lind, backend) -> None:
        """Lambda's template and the factorization's set-up, from the cross-products."""
        self.Lambdat = sps.csc_matrix(Lambdat, copy=True)
        self.Lind = np.asarray(Lind, dtype=np.int64)
        ncol_entries = np.diff(self.Lambdat.indptr)
        self.diagonal = bool(np.all(ncol_entries == 1)) and bool(
            np.all(self.Lambdat.indices == np.arange(self.q)))
        if self.dense:
            self._init_dense()
        else:
            self._init_sparse(backend)
        self.theta = None

    # ------------------------------------------------------------------ cross-products
    def _pair_map(self) -> np.ndarray:
        """For each observation, the slots in Z'Z of the pairs of its non-zeros in Zt.

        With these, Z'WZ for new weights is one compiled pass over Zt's columns: O(n k^2)
        for k non-zeros per row of Z, with no sparse matrix product, and one integer per
        pair held (the products are formed from Zt as they are summed).
        """
        Zt, ZtZ = self.Zt, self.ZtZ
        count = np.diff(Zt.indptr).astype(np.int64)
        slots = np.empty(int(count @ count),
                         dtype=np.int32 if ZtZ.nnz < 2**31 else np.int64)
        if kernels.pair_slots(Zt.indptr, Zt.indices, ZtZ.indptr, ZtZ.indices, slots):
            raise AssertionError("a product of Z's entries has no slot in Z'Z")  # pragma: no cover
        return slots

    def _set_crossproducts(self, yy, weights):
        X, Zt = self.X, self.Zt
        if self.dense_crossproducts:
            self._dense_crossproducts(yy, weights)
            return
        if self._pairs is not None:
            self._reweighted_crossproducts(yy, weights)
            return
        self.ZtZ, self.ZtXy, self.XtX, self.Xty, self.yty, self.ldW = \
            weighted_crossproducts(X, yy, Zt, weights)

    def _reweight_ZtZ(self, w):
        """Z'WZ by one compiled pass over the pair map."""
        w = np.ascontiguousarray(w, dtype=float)
        if w.shape != (self.n,):  # the compiled pass reads one weight per observation
            raise ValueError(f"weights of shape {w.shape}: need one per observation "
                             f"({self.n})")
        kernels.accumulate_products(self.ZtZ.data, self.Zt.indptr, self.Zt.data,
                                    self._pairs, w)

    def _reweighted_crossproducts(self, yy, weights):
        """The GLMM path: Z'WZ by the compiled pass over the pair map, the rest by dense products
        with W applied to one side (no sparse matrices are built)."""
        w = np.ones(self.n) if weights is None else np.asarray(weights, dtype=float)
        self._reweight_ZtZ(w)
        WXy = np.empty((self.n, self.p + 1))  # [X y] weighted, by rows
        np.multiply(self.X, w[:, None], out=WXy[:, : self.p])
        np.multiply(yy, w, out=WXy[:, self.p])
        self.ZtXy = np.asarray(self.Zt @ WXy)
        XtWXy = self.X.T @ WXy
        self.XtX = XtWXy[:, : self.p]
        self.Xty = XtWXy[:, self.p]
        self.yty = float(yy @ WXy[:, self.p])
        self.ldW = 0.0  # working weights are not prior weights: no log-det term

    def _dense_crossproducts(self, yy, weights):
        """All cross-products of a small model from one dense product."""
        q, p = self.q, self.p
        M = self._ZXy
        M[:, -1] = yy
        w = np.ones(self.n) if weights is None else np.asarray(weights, dtype=float)
        C = M.T @ (M * w[:, None])
        self.ZtZ_dense = C[:q, :q]
        self.ZtXy = C[:q, q:]
        self.XtX = C[q:q + p, q:q + p]
        self.Xty = C[q:q + p, -1]
        self.yty = float(C[-1, -1])
        self.ldW = 0.0

    def Z_dense(self) -> np.ndarray | None:
        """Z as a dense (n, q) array where the small-model path keeps one, else None."""
        return self._ZXy[:, : self.q] if self.dense_crossproducts else None

    def reweight(self, y, weights) -> PLSWorkspace:
        """New working response and weights (a GLMM's PIRLS step), same theta to follow.

        O(n) accumulation into the cross-products; the factorization's symbolic analysis is
        kept. Requires ``reweightable=True``.
        """
        if not self.reweightable:
            raise RuntimeError("this workspace was not built with reweightable=True")
        self._set_crossproducts(np.asarray(y, dtype=float), weights)
        if self.dense and not self.dense_crossproducts:
            self.ZtZ_dense = self.ZtZ.toarray()
        self.theta = None
        self._partial = False
        return self

    def solve_u(self, theta, z, w) -> np.ndarray:
        """PIRLS's step with beta fixed: the u minimizing
        ``|W^(1/2) (z - Z Lambda u)|^2 + |u|^2`` (X beta is already in z's offset).

        Only Z'WZ and Z'Wz are accumulated, then one factorization and one solve; ``ldL2``
        is set. The fixed-effects cross-products are left at their old weights, so
        :meth:`set_theta` refuses to run until the next :meth:`reweight`.
        """
        if not self.reweightable:
            raise RuntimeError("this workspace was not built with reweightable=True")
        self._partial, self.theta = True, None
        if self.dense_crossproducts:
            Z = self.Z_dense()
            ZtWZ, Ztwz = Z.T @ (Z * w[:, None]), Z.T @ (w * z)
        else:
            self._reweight_ZtZ(w)
            Ztwz = self.Zt @ (w * z)
        values = np.asarray(theta, dtype=float)[self.Lind]
        if self.dense:
            Lt = self.Lambdat_dense(values)
            if not self.dense_crossproducts:
                ZtWZ = self.ZtZ.toarray()
            L = self._factor_dense(Lt @ ZtWZ @ Lt.T)
            u, _ = lapack.dpotrs(L, Lt @ Ztwz, lower=1)
            return u
        self.Lambdat.data[:] = values
        if self.diagonal:  # Lambda's diagonal is its stored values, in column order
            self._set_A_diagonal(values)
            rhs = values * Ztwz
        else:
            self._A = self._sparse_A()
            rhs = self.Lambdat @ Ztwz
        self.chol.factorize(self._A)
        self.ldL2 = self.chol.logdet()
        return self.chol.solve_A(rhs)

    # ------------------------------------------------------------------ set-up
    def _init_dense(self):
        q = self.q
        if not self.dense_crossproducts:
            self.ZtZ_dense = self.ZtZ.toarray()
        cols = np.repeat(np.arange(q), np.diff(self.Lambdat.indptr))
        # position in a row-major q x q array of each stored value of Lambdat
        self._lt_flat = self.Lambdat.indices.astype(np.int64) * q + cols
        self._Lt = np.zeros((q, q))
        self._diag_flat = np.arange(q) * (q + 1)
        self.chol = None
        # Lambda' by rows, for the compiled evaluation: at[k] is the stored value's index
        rows = self.Lambdat.indices.astype(np.intp)
        order = np.lexsort((cols, rows))
        self._lt_rows = (np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=q))])
                         .astype(np.intp), cols[order].astype(np.intp), order.astype(np.intp))
        self._dense_pls = None  # the compiled evaluator, bound to the cross-products

    def _init_sparse(self, backend):
        Z = self.ZtZ
        if self.diagonal:
            # A has Z'Z's pattern: values of its own, Z'Z's index arrays
            self._A = sps.csc_matrix((Z.data.copy(), Z.indices, Z.indptr), shape=Z.shape)
            self._A_pair, self._A_nth = self._theta_pairs(Z)
            self._A_scale = None
            self._set_A_diagonal(self.Lambdat.data)
        else:
            self._A = self._sparse_A()
        if backend == "blocked":  # asked for (a model rebuilt from a blocked fit)
            shape = self._blocked_shape() if self.diagonal else None
            if shape is None:
                raise ValueError("the blocked factorization needs scalar terms whose first "
                                 "block is diagonal and larger than the rest")
            self.chol = BlockCholesky(self._A, shape[0])
            return
        shape = self._blocked_shape() if self.diagonal and backend is None else None
        if shape is not None and HAVE_CHOLMOD:
            # compare with METIS's factor first (its analysis alone: the first evaluation
            # factors whichever is kept): where the blocked factor is cheaper than that,
            # AMD (the larger factor on crossed designs) is not tried
            q1, seconds = shape
            metis = SparseCholesky(self._A, ordering="metis", factor=False)
            if seconds <= metis.seconds_estimate():
                del metis  # its analysis freed before the blocked factor is built
                self.chol = BlockCholesky(self._A, q1)
                return
            amd = SparseCholesky(self._A, ordering="amd", factor=False)  # the smaller
            self.chol = amd if amd.factor_nnz() <= metis.factor_nnz() else metis
            return
        self.chol = SparseCholesky(self._A, backend=backend, factor=False)
        if shape is not None and shape[1] <= self.chol.seconds_estimate():
            self.chol = None  # freed before the blocked factor is built
            self.chol = BlockCholesky(self._A, shape[0])

    def _blocked_shape(self):
        """(q1, estimated seconds) of a :class:`BlockCholesky`, or None where the leading
        diagonal block is not larger than the rest or the rest is too large to be dense.

        The estimates of both factorizations are from rates measured here; CHOLMOD's is
        the optimistic one (VerbAgg: 88 us estimated, 140-235 us measured, against 76 and
        97 us blocked)."""
        A = self._A
        rows = A.indices
        cols = np.repeat(np.arange(self.q), np.diff(A.indptr))
        off = rows != cols
        q1 = int(np.min(np.maximum(rows[off], cols[off]))) if off.any() else self.q
        q2 = self.q - q1
        if q2 < 1 or q2 > BLOCKED_MAX_Q2 or q1 < q2:
            return None
        return q1, BlockCholesky.estimate(A[q1:, :q1], q2)

    def _theta_pairs(self, Z):
        """For a diagonal Lambda: each stored entry (i, j) of Z'Z's pair of theta indices
        (of lambda_i and lambda_j) as one small code, and the number of thetas. Codes of
        one byte or two where the thetas allow: the codes are as long as Z'Z's non-zeros,
        which can be the largest arrays of a fit."""
        nth = int(self.Lind.max()) + 1 if len(self.Lind) else 1
        code = np.uint8 if nth * nth <= 2**8 else np.uint16 if nth * nth <= 2**16 \
            else np.int64
        lind = self.Lind.astype(code)
        pair = lind[Z.indices]
        pair *= code(nth)
        pair += np.repeat(lind, np.diff(Z.indptr))
        return pair, nth

    def _set_A_diagonal(self, lam):
        # PIRLS refactors at one theta several times: keep lambda_i lambda_j per theta;
        # lambda is theta[Lind], so lambda_i lambda_j is a product of two thetas
        if self._A_scale is None or not np.array_equal(self._A_scale[0], lam):
            t = np.zeros(self._A_nth)
            t[self.Lind] = lam
            self._A_scale = (lam.copy(), np.outer(t, t).ravel()[self._A_pair])
        np.multiply(self.ZtZ.data, self._A_scale[1], out=self._A.data)

    def _sparse_A(self):
        A = sps.csc_matrix(self.Lambdat @ self.ZtZ @ self.Lambdat.T)
        A.sort_indices()
        return A

    # ------------------------------------------------------------------ evaluation
    def set_theta(self, theta, profile_beta: bool = True) -> PLSWorkspace:
        """Solve the penalized least squares problem at ``theta``.

        ``profile_beta=False`` stops after the random-effects part (cu, RZX, L): enough for
        :meth:`u_at` with a given beta, as PIRLS needs when beta is fixed.
        """
        if self._partial:
            raise RuntimeError("the cross-products are partly updated (solve_u): call "
                               "reweight() before set_theta()")
        theta = np.asarray(theta, dtype=float)
        self.theta = theta.copy()
        values = theta[self.Lind]
        if self.dense:
            self._evaluate_compiled(values, profile_beta)
            return self
        RZXcu = self._decompose_sparse(values)
        self.RZX = RZXcu[:, : self.p]
        self.cu = RZXcu[:, self.p]
        if profile_beta:
            self._solve_fixed()
        return self

    def _evaluate_compiled(self, values, profile_beta):
        """The dense path in one compiled call (no BLAS call overhead for tiny matrices):
        L, RZX, cu and, with ``profile_beta``, what :meth:`_solve_fixed` gives the sparse
        path. The arrays are the compiled evaluator's, valid until the next evaluation
        (a snapshot copies them)."""
        p = self.p
        bound = self._dense_pls
        if bound is None or bound[0][0] is not self.ZtZ_dense or bound[0][1] is not \
                self.ZtXy or bound[0][2] is not self.XtX or bound[0][3] is not self.Xty:
            # new cross-products (reweighted): bound once, until the next reweight
            inputs = (self.ZtZ_dense, self.ZtXy, self.XtX, self.Xty)
            self._dense_pls = (inputs, kernels.DensePls(*self._lt_rows, *inputs))
        ev = self._dense_pls[1]
        info, ldL2, ldRX2, pwrss = ev.evaluate(values, self.yty)
        if info == 1:
            raise np.linalg.LinAlgError("Lambda'Z'Z Lambda + I is not positive definite")
        RZXcu = ev.RZXcu
        self.L_dense, self.ldL2 = ev.L, ldL2
        self.RZX, self.cu = RZXcu[:, :p], RZXcu[:, p]
        if not profile_beta:
            return
        if info == 2:
            raise np.linalg.LinAlgError(
                "the fixed-effects cross-product is not positive definite at this theta")
        self.RX, self.ldRX2, self.pwrss = ev.RX, ldRX2, pwrss
        self.beta = ev.beta + self._beta_shift

    def Lambdat_dense(self, values) -> np.ndarray:
        """Lambda' as a dense array, with these stored values (dense path only). It is the
        workspace's own buffer, valid until the next call."""
        self._Lt.flat[self._lt_flat] = values
        return self._Lt

    def _factor_dense(self, M):
        """L of ``M + I = L L'`` (M overwritten); sets ``L_dense`` and ``ldL2``."""
        M.flat[self._diag_flat] += 1.0
        L, info = lapack.dpotrf(M, lower=1, clean=1, overwrite_a=1)
        if info != 0:
            raise np.linalg.LinAlgError("Lambda'Z'Z Lambda + I is not positive definite")
        self.L_dense = L
        self.ldL2 = 2.0 * float(np.sum(np.log(np.diagonal(L))))
        return L

    def _decompose_sparse(self, values):
        self.Lambdat.data[:] = values
        if self.diagonal:
            self._set_A_diagonal(values)
        else:
            self._A = self._sparse_A()
        self.chol.factorize(self._A)
        self.ldL2 = self.chol.logdet()
        # a diagonal Lambda' scales rows: the same products as the sparse one, fewer calls
        rhs = values[:, None] * self.ZtXy if self.diagonal else self.Lambdat @ self.ZtXy
        return self.chol.solve_L(np.asarray(rhs))

    def _solve_fixed(self):
        p = self.p
        if p == 0:
            self.RX = np.zeros((0, 0))
            self.ldRX2 = 0.0
            self.beta = np.zeros(0)
            cbeta = np.zeros(0)
        else:
            RXtRX = self.XtX - self.RZX.T @ self.RZX
            RX, info = lapack.dpotrf(RXtRX, lower=0, clean=1)
            if info != 0:
                raise np.linalg.LinAlgError(
                    "the fixed-effects cross-product is not positive definite at this theta")
            self.RX = RX
            self.ldRX2 = 2.0 * float(np.sum(np.log(np.diagonal(RX))))
            rhs = self.Xty - self.RZX.T @ self.cu
            cbeta, _ = lapack.dtrtrs(RX, rhs, lower=0, trans=1)
            beta, _ = lapack.dtrtrs(RX, cbeta, lower=0)
            self.beta = beta + self._beta_shift
        self.pwrss = max(self.yty - float(self.cu @ self.cu) - float(cbeta @ cbeta), 0.0)

    # ------------------------------------------------------------------ results
    def deviance(self, REML: bool) -> float:
        """Profiled deviance (ML) or REML criterion at the current theta."""
        self._check_complete()
        return profiled_deviance(self.ldL2, self.ldW, self.ldRX2, self.pwrss, self.n, self.p,
                                 REML)

    def snapshot(self, factor: bool = True) -> PLSSnapshot:
        """The solution at the current theta, copied (see :class:`PLSSnapshot`); without
        the factor's copy if ``factor`` is False (criteria and RX alone)."""
        self._check_complete()
        copy = None
        if factor:
            copy = DenseFactor(self.L_dense.copy()) if self.dense else self.chol.copy()
        return PLSSnapshot(self.theta.copy(), self.beta.copy(), self.u().copy(),
                           self.RX.copy(), self.RZX.copy(), float(self.ldL2),
                           float(self.ldRX2), float(self.pwrss), float(self.ldW),
                           None if self.dense else self.chol.backend, copy)

    def u(self) -> np.ndarray:
        """Spherical random effects at the current theta and (profiled) beta."""
        return self.u_at(self.beta)

    def _check_complete(self) -> None:
        if self._partial:
            raise RuntimeError("the workspace was last used by solve_u (cu, RZX and the "
                               "fixed-effects part are stale): call reweight() and "
                               "set_theta() first")

    @property
    def beta_shift(self) -> np.ndarray:
        """The least squares coefficients taken out of the response (see __init__)."""
        return self._beta_shift

    def u_at(self, beta: np.ndarray) -> np.ndarray:
        """Conditional modes of u for a given beta: ``P' L'^{-1} (cu - RZX beta)`` (cu is
        the residual response's: beta is taken from the shift's)."""
        self._check_complete()
        v = self.cu - self.RZX @ (np.asarray(beta, dtype=float) - self._beta_shift)
        if self.dense:
            out, _ = lapack.dtrtrs(self.L_dense, v, lower=1, trans=1)
            return out
        return self.chol.solve_Lt(v)

    def wants_threads(self) -> bool:
        """Whether each evaluation does large dense work that a multi-threaded BLAS speeds
        up: only the SciPy fallback's dense factor of a large q. Everything else runs
        faster on one BLAS thread, and the blocked factor borrows all threads for its dense
        Cholesky alone (:func:`pylmer.linalg.threads.all_blas_threads`)."""
        return not self.dense and self.chol.backend == "scipy" and self.q > 500

    def L_diagonal(self) -> np.ndarray:
        """Diagonal of the factor L, in the original (unpermuted) order of the effects."""
        if self.dense:
            return np.diagonal(self.L_dense).copy()
        out = np.empty(self.q)
        out[self.chol.P()] = self.chol.L().diagonal()
        return out

    def perm(self) -> np.ndarray:
        """Fill-reducing permutation of the factor (identity on the dense path)."""
        return np.arange(self.q) if self.dense else self.chol.P()
