"""The cross-products of a linear mixed model, and their structure.

Everything the penalized least squares problem needs from the rows is in six sums over
them: Z'WZ (sparse, q x q), Z'W[X y], X'WX, X'Wy, y'Wy and the log-determinant of the
prior weights (y here is the response minus the offset). :func:`weighted_crossproducts`
forms them from the rows, as :class:`~pylmer.linalg.pls.PLSWorkspace` does for a model in
memory; :class:`CrossProducts` holds them, adds those of two row sets (the rows split in
partitions give, summed, the cross-products of all rows) and keeps a subset of the
fixed-effects columns. A workspace built from them
(:meth:`~pylmer.linalg.pls.PLSWorkspace.from_crossproducts`) never sees a row: this is how
an out-of-core fit optimizes theta centrally.

The structural helpers (:func:`structural_pattern`, :func:`pattern_with_diagonal`,
:func:`observation_pairs`, :func:`csc_keys`) give the pattern of Z'WZ whatever the weights,
for the GLMM paths that reweight it in place.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sps
from scipy.linalg import solve_triangular

__all__ = ["CrossProducts", "csc_keys", "fitted_exactly", "least_squares_residual",
           "observation_pairs", "pattern_with_diagonal", "structural_pattern",
           "weighted_crossproducts"]


def fitted_exactly(resid: np.ndarray, Y: np.ndarray):
    """Whether X fits each column of Y exactly: its least squares residuals are rounding
    error, within 1e3 ulps of Y's largest value (nothing is left for a variance)."""
    rms = np.sqrt(np.mean(np.square(resid), axis=0))
    return rms <= 1e3 * np.finfo(float).eps * np.max(np.abs(Y), axis=0)


def least_squares_residual(X: np.ndarray, Y: np.ndarray, w: np.ndarray | None = None):
    """Y (n,) or (n, m) minus its weighted least squares fit on X, and the coefficients
    ((p,) or (m, p)).

    The penalized least squares fit of the residual has the same theta, u and residuals
    as that of Y, with beta moved by the coefficients. Taking them out first keeps
    ``y'Wy`` of the order of the residual sum of squares, so that ``pwrss = y'Wy - |cu|^2
    - |cbeta|^2`` loses no digits to a large mean (a response of 1e6 + noise lost 0.2 in
    the REML criterion). Two passes: the second takes what rounding left of X's part."""
    single = np.ndim(Y) == 1
    Y = np.asarray(Y, dtype=float).reshape(len(Y), -1)
    p = X.shape[1]
    if p == 0:
        coef = np.zeros((Y.shape[1], 0))
        return (Y[:, 0].copy(), coef[0]) if single else (Y.copy(), coef)
    sw = np.ones(len(X)) if w is None else np.sqrt(np.asarray(w, dtype=float))
    Q, R = np.linalg.qr(X * sw[:, None])
    resid, coef = Y.copy(), np.zeros((p, Y.shape[1]))
    for _ in range(2):
        step = solve_triangular(R, Q.T @ (resid * sw[:, None]))
        resid -= X @ step
        coef += step
    return (resid[:, 0], coef[:, 0]) if single else (resid, coef.T)


def weighted_crossproducts(X: np.ndarray, yy: np.ndarray, Zt: sps.spmatrix,
                           weights: np.ndarray | None = None):
    """``(ZtZ, ZtXy, XtX, Xty, yty, ldW)`` of rows ``X`` (n, p), ``yy`` (n,: the response
    minus the offset) and ``Zt`` (q, n), with prior ``weights`` folded in.

    ZtZ is a sorted csc matrix (q, q), ZtXy the dense (q, p + 1) ``Z'W[X y]``; ldW is the
    sum of the logs of the positive weights (0 without weights). The same products as
    lme4's ``merPredD`` forms once per fit.
    """
    if weights is not None:
        weights = np.asarray(weights, dtype=float)
        sw = np.sqrt(weights)
        Xw, yw = X * sw[:, None], yy * sw
        Ztw = sps.csc_matrix(Zt @ sps.diags(sw))
        ldW = float(np.sum(np.log(weights[weights > 0])))
    else:
        Xw, yw, Ztw = X, yy, Zt
        ldW = 0.0
    ZtZ = sps.csc_matrix(Ztw @ Ztw.T)
    ZtZ.sort_indices()
    ZtXy = np.asarray(Ztw @ np.column_stack([Xw, yw]))  # (q, p + 1)
    return ZtZ, ZtXy, Xw.T @ Xw, Xw.T @ yw, float(yw @ yw), ldW


@dataclass(frozen=True)
class CrossProducts:
    """The sums over rows that a linear mixed model's fit needs (see the module's text).

    The response is taken about a shift ``c`` (the weighted mean of its rows): sums of a
    response of 1e6 + noise would otherwise carry the mean into y'Wy and lose its last
    digits. Two sets of rows combine exactly to the mean of both (Chan's rule for
    variances), through the first-order sums ``Z'W1``, ``X'W1`` and ``1'W1``.

    Attributes
    ----------
    n : int
        The number of rows (zero-weight rows included, as lme4 counts them).
    ZtZ : scipy.sparse.csc_matrix, (q, q)
    ZtXy : numpy.ndarray, (q, p + 1)
        ``Z'W[X y-c]``: the last column is Z'W(y - c).
    XtX : numpy.ndarray, (p, p)
    Xty : numpy.ndarray, (p,)
        X'W(y - c).
    yty : float
        (y - c)'W(y - c).
    ldW : float
        Sum of the logs of the positive prior weights (0 without weights).
    shift : float
        c.
    Zw, Xw, sw :
        Z'W1 (q,), X'W1 (p,) and 1'W1.
    """

    n: int
    ZtZ: sps.csc_matrix
    ZtXy: np.ndarray
    XtX: np.ndarray
    Xty: np.ndarray
    yty: float
    ldW: float
    shift: float = 0.0
    Zw: np.ndarray | None = None
    Xw: np.ndarray | None = None
    sw: float = 0.0

    @classmethod
    def from_rows(cls, X: np.ndarray, yy: np.ndarray, Zt: sps.spmatrix,
                  weights: np.ndarray | None = None) -> CrossProducts:
        """The cross-products of these rows (see :func:`weighted_crossproducts`), the
        response about its weighted mean."""
        w = np.ones(len(yy)) if weights is None else np.asarray(weights, dtype=float)
        sw = float(w.sum())
        c = float(w @ yy) / sw if sw > 0 else 0.0
        sums = weighted_crossproducts(X, yy - c, Zt, weights)
        return cls(X.shape[0], *sums, shift=c, Zw=np.asarray(Zt @ w).ravel(),
                   Xw=X.T @ w, sw=sw)

    @property
    def p(self) -> int:
        return self.XtX.shape[0]

    @property
    def q(self) -> int:
        return self.ZtZ.shape[0]

    def about(self, c: float) -> CrossProducts:
        """The same sums with the response taken about ``c`` instead."""
        d = self.shift - c
        ZtXy = self.ZtXy.copy()
        ZtXy[:, self.p] += d * self.Zw
        # y - c = (y - shift) + d: the cross term is d * 1'W(y - shift), zero at the mean
        return replace(self, ZtXy=ZtXy, Xty=self.Xty + d * self.Xw,
                       yty=self.yty + d * d * self.sw, shift=c)

    def spans_ones(self) -> bool:
        """Whether X's columns span the constant (an intercept, or a factor's
        indicators): then a response about c is the same model, beta moving by c along
        the constant."""
        if self.p == 0 or self.sw <= 0:
            return False
        gamma = np.linalg.solve(self.XtX, self.Xw)
        return bool(self.sw - gamma @ self.Xw <= 1e-8 * self.sw)

    def residual(self) -> tuple[CrossProducts, np.ndarray]:
        """The sums of the response's least squares residual from X, and the
        coefficients (:func:`least_squares_residual` from sums: a response about its
        mean first, where X spans the constant, so that y'Wy has lost no digits)."""
        xp = self if self.spans_ones() or not self.shift else self.about(0.0)
        if self.p == 0:
            return xp, np.zeros(0)
        coef = np.linalg.solve(xp.XtX, xp.Xty)
        ZtXy = xp.ZtXy.copy()
        ZtXy[:, self.p] -= ZtXy[:, : self.p] @ coef
        out = replace(xp, ZtXy=ZtXy, Xty=xp.Xty - xp.XtX @ coef,
                      yty=max(xp.yty - float(coef @ xp.Xty), 0.0))
        if xp.shift:  # c = X gamma c: beta moves by c gamma
            coef = coef + xp.shift * np.linalg.solve(xp.XtX, xp.Xw)
        return out, coef

    def __add__(self, other: CrossProducts) -> CrossProducts:
        """The cross-products of both row sets together."""
        if not isinstance(other, CrossProducts):
            return NotImplemented
        if (self.q, self.p) != (other.q, other.p):
            raise ValueError(f"cross-products of different models: q, p = {self.q}, "
                             f"{self.p} and {other.q}, {other.p}")
        sw = self.sw + other.sw
        c = (self.sw * self.shift + other.sw * other.shift) / sw if sw > 0 else 0.0
        a, b = self.about(c), other.about(c)
        ZtZ = sps.csc_matrix(a.ZtZ + b.ZtZ)
        ZtZ.sort_indices()
        return CrossProducts(a.n + b.n, ZtZ, a.ZtXy + b.ZtXy, a.XtX + b.XtX,
                             a.Xty + b.Xty, a.yty + b.yty, a.ldW + b.ldW, c,
                             a.Zw + b.Zw, a.Xw + b.Xw, sw)

    def select(self, keep: np.ndarray) -> CrossProducts:
        """Only the fixed-effects columns ``keep`` (those a rank check keeps)."""
        keep = np.asarray(keep, dtype=np.intp)
        columns = np.concatenate([keep, [self.p]])  # and Z'Wy
        return replace(self, ZtXy=np.ascontiguousarray(self.ZtXy[:, columns]),
                       XtX=np.ascontiguousarray(self.XtX[np.ix_(keep, keep)]),
                       Xty=self.Xty[keep].copy(), Xw=self.Xw[keep].copy())


def csc_keys(A: sps.csc_matrix) -> np.ndarray:
    """``column * nrows + row`` of each stored entry of a CSC matrix: increasing where its
    indices are sorted, so that ``searchsorted`` finds the slot of an (i, j) entry."""
    cols = np.repeat(np.arange(A.shape[1], dtype=np.int64), np.diff(A.indptr))
    return cols * A.shape[0] + A.indices


def observation_pairs(Zt: sps.csc_matrix):
    """Every ordered pair (a, b) of an observation's non-zeros in Zt (a = b included):
    ``(obs, row_a, row_b, z_a z_b)``, grouped by the observations' number of non-zeros.

    The products of these pairs, weighted by the observations' weights, are Z'WZ: the
    workspace's reweighting and the compiled PIRLS loop both accumulate them, each into
    its own storage of Z'WZ."""
    counts = np.diff(Zt.indptr)
    obs, first, second, prod = [], [], [], []
    for k in np.unique(counts):
        if k == 0:
            continue
        cols = np.flatnonzero(counts == k)
        at = Zt.indptr[cols][:, None] + np.arange(k)[None, :]
        rows, vals = Zt.indices[at], Zt.data[at]
        a, b = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
        obs.append(np.repeat(cols, k * k))
        first.append(rows[:, a.ravel()].ravel())
        second.append(rows[:, b.ravel()].ravel())
        prod.append((vals[:, a.ravel()] * vals[:, b.ravel()]).ravel())
    return tuple(np.concatenate(x) for x in (obs, first, second, prod))


def structural_pattern(Zt: sps.spmatrix) -> sps.csc_matrix:
    """The pattern of Zt Zt' from Zt's stored entries alone (values: counts of products),
    sorted: no product that cancels or underflows to zero is missing from it."""
    ones = sps.csc_matrix(Zt, copy=True)
    ones.data = np.ones_like(ones.data, dtype=float)
    P = sps.csc_matrix(ones @ ones.T)
    P.sort_indices()
    return P


def pattern_with_diagonal(A: sps.spmatrix) -> sps.csc_matrix:
    """The pattern of A + I (sorted CSC): A's stored entries, those whose values are zero
    or cancel included, and every diagonal entry. Its values are positive (A's entries
    count 1), so that the sum drops nothing; only the pattern is meant."""
    ones = sps.csc_matrix(A, copy=True)
    ones.data = np.ones_like(ones.data, dtype=float)
    pattern = sps.csc_matrix(ones + sps.identity(A.shape[0], format="csc"))
    pattern.sort_indices()
    return pattern
