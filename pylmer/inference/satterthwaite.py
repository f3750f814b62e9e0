"""Satterthwaite's degrees of freedom for the fixed effects of an LMM (lmerTest's method).

As lmerTest: the variance parameters are ``varpar = (theta, sigma)``; their asymptotic
covariance is ``A = 2 H^{-1}``, H the Hessian of the (REML or ML) deviance as a function of
``varpar`` (not profiled over sigma); for each coefficient j,
``df_j = 2 V_jj^2 / (g' A g)`` with ``g`` the gradient of ``V_jj = [sigma^2 (RX'RX)^{-1}]_jj``
with respect to ``varpar``. Derivatives are central finite differences with Richardson
extrapolation (numDeriv, which lmerTest uses, does the same).

A hypothesis ``L beta = 0`` of several rows is lmerTest's ``contestMD``: the
eigen-decomposition of ``Var(L beta)`` gives independent one-df directions, each with its
Satterthwaite df, and the F statistic's df is made from them (``get_Fstat_ddf``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..exceptions import PylmerError
from ..lazy import stats
from ..objective import LmerDevfun

__all__ = ["SatterthwaitePieces", "satterthwaite", "satterthwaite_pieces"]



class _VarparFunctions:
    """Deviance and vcov(beta) as functions of (theta, sigma): the devfun's snapshots at
    theta, on a devfun of its own (the model's is frozen with it)."""

    def __init__(self, model):
        lf = model.lf
        self.REML = model.REML
        self.n, self.p = lf.n, lf.X.shape[1]
        self.devfun = LmerDevfun(lf, REML=model.REML, theta0=lf.reTrms.theta)

    def deviance(self, varpar: np.ndarray) -> float:
        return self.devfun.snapshot(varpar[:-1], factor=False).criterion(
            self.n, self.p, self.REML, sigma=varpar[-1])

    def vcov(self, varpar: np.ndarray) -> np.ndarray:
        """vcov(beta) = sigma^2 (RX'RX)^{-1} at (theta, sigma), flattened."""
        RXinv = np.linalg.inv(self.devfun.snapshot(varpar[:-1], factor=False).RX)
        return (varpar[-1] ** 2 * RXinv @ RXinv.T).ravel()


def _steps(x: np.ndarray, d: float) -> np.ndarray:
    # numDeriv: d relative to |x|, eps = 1e-4 absolute where x is (nearly) zero
    return np.where(np.abs(x) >= 1.78e-5, d * np.abs(x), 1e-4)


def _extrapolate(estimate, h: float, rounds: int = 4):
    """Richardson extrapolation of a central difference (error O(h^2)) over step halvings,
    as numDeriv does (r = 4, v = 2)."""
    table = [np.asarray(estimate(h / 2**k), dtype=float) for k in range(rounds)]
    for m in range(1, rounds):
        factor = 4.0**m
        table = [(factor * table[k + 1] - table[k]) / (factor - 1)
                 for k in range(len(table) - 1)]
    return table[0]


def _jacobian(f, x: np.ndarray) -> np.ndarray:
    """numDeriv's ``jacobian`` (Richardson, d = 1e-4)."""
    h = _steps(x, 1e-4)
    columns = []
    for i in range(len(x)):
        def central(step, i=i):
            up, down = x.copy(), x.copy()
            up[i] += step
            down[i] -= step
            return (np.asarray(f(up)) - np.asarray(f(down))) / (2 * step)

        columns.append(_extrapolate(central, h[i]))
    return np.column_stack(columns)


def _hessian(f, x: np.ndarray) -> np.ndarray:
    """numDeriv's ``hessian`` (``genD``: d = 0.1, four Richardson rounds halving the step).

    Diagonal: second differences; off-diagonal: the second difference along e_i + e_j less
    the two diagonal terms, each extrapolated over the same step halvings.
    """
    n = len(x)
    h = _steps(x, 0.1)
    fx = f(x)

    def shifted(steps):
        return f(x + steps)

    diag = np.empty((n, 4))
    for k in range(4):
        hk = h / 2**k
        for i in range(n):
            e = np.zeros(n)
            e[i] = hk[i]
            diag[i, k] = (shifted(e) - 2 * fx + shifted(-e)) / hk[i] ** 2
    H = np.empty((n, n))
    for i in range(n):
        H[i, i] = _richardson_rows(diag[i])
        for j in range(i):
            rows = np.empty(4)
            for k in range(4):
                hk = h / 2**k
                e = np.zeros(n)
                e[i], e[j] = hk[i], hk[j]
                rows[k] = (shifted(e) - 2 * fx + shifted(-e) - diag[i, k] * hk[i] ** 2
                           - diag[j, k] * hk[j] ** 2) / (2 * hk[i] * hk[j])
            H[i, j] = H[j, i] = _richardson_rows(rows)
    return H


def _richardson_rows(values: np.ndarray) -> float:
    table = list(values)
    for m in range(1, len(values)):
        factor = 4.0**m
        table = [(factor * table[k + 1] - table[k]) / (factor - 1)
                 for k in range(len(table) - 1)]
    return float(table[0])


def varpar_covariance(model):
    """lmerTest's A: the asymptotic covariance of (theta, sigma), twice the inverse Hessian
    of the deviance at the estimates. Returns (the functions of varpar, varpar, A)."""
    funcs = _VarparFunctions(model)
    varpar = np.concatenate([model.theta, [model.sigma()]])
    return funcs, varpar, 2.0 * np.linalg.pinv(_hessian(funcs.deviance, varpar))


@dataclass(frozen=True)
class SatterthwaitePieces:
    """What lmerTest's Satterthwaite tests of a fit are made of: ``V`` = vcov(beta), ``jac``
    its derivatives with respect to varpar (p x p x k: lmerTest's ``Jac_list``), ``A`` the
    asymptotic covariance of varpar, and ``beta``."""

    V: np.ndarray
    jac: np.ndarray
    A: np.ndarray
    beta: np.ndarray

    def variance_df(self, L: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """lmerTest's ``contest1D`` for each row l of L: Var(l'beta) and its Satterthwaite
        df ``2 Var^2 / (g'A g)``, g the gradient of Var(l'beta) with respect to varpar."""
        L = np.atleast_2d(L)
        var = np.einsum("mi,ij,mj->m", L, self.V, L)
        grad = np.einsum("mi,ijk,mj->mk", L, self.jac, L)
        return var, 2.0 * var**2 / np.einsum("mk,kl,ml->m", grad, self.A, grad)

    def ftest(self, L: np.ndarray) -> tuple[float, int, float]:
        """lmerTest's ``contestMD`` of ``L beta = 0``: (F, NumDF, DenDF).

        Var(L beta) = P diag(d) P'; its q positive eigenvalues (the rank of L) give q
        independent t statistics along the rows of P'L, whose mean square is F. A row of
        L that is a combination of the others adds no direction."""
        d, P = np.linalg.eigh(L @ self.V @ L.T)
        d, P = d[::-1], P[:, ::-1]  # decreasing, as R's eigen()
        q = int(np.sum(d > max(np.sqrt(np.finfo(float).eps) * d[0], 0.0)))
        if q == 0:
            raise PylmerError("the hypothesis has no estimable direction (Var(L beta) = 0)")
        PtL = P[:, :q].T @ L
        F = float(np.sum((PtL @ self.beta) ** 2 / d[:q]) / q)
        _, nu = self.variance_df(PtL)
        return F, q, _fstat_ddf(nu)


def _fstat_ddf(nu: np.ndarray) -> float:
    """lmerTest's ``get_Fstat_ddf``: the df of the mean of q squared t statistics with df
    nu, by matching the F's expectation ``E = sum nu/(nu - 2)``; equal nu give their mean
    (the moment match is biased down then), any nu <= 2 gives 2 (no finite mean)."""
    if len(nu) == 1:
        return float(nu[0])
    if np.all(np.abs(np.diff(nu)) < 1e-8):
        return float(np.mean(nu))
    if np.any(nu <= 2):
        return 2.0
    E = np.sum(nu / (nu - 2))
    return float(2 * E / (E - len(nu)))


def satterthwaite_pieces(model) -> SatterthwaitePieces:
    """The Satterthwaite pieces of an LMM fit (lmerTest's ``as_lmerModLmerTest``)."""
    if model.isGLMM():
        raise PylmerError("Satterthwaite degrees of freedom are for linear mixed models; "
                          "GLMM coefficients use z tests")
    funcs, varpar, A = varpar_covariance(model)
    p = funcs.p
    jac = _jacobian(funcs.vcov, varpar).reshape(p, p, -1)
    return SatterthwaitePieces(model.vcov().to_numpy(), jac, A, np.asarray(model.beta))


def satterthwaite(model) -> pd.DataFrame:
    """Fixed-effects table with Satterthwaite df (lmerTest's ``summary(m)$coefficients``).

    Returns
    -------
    DataFrame
        Estimate, Std. Error, df, t value, Pr(>|t|), indexed by coefficient name.
    """
    pieces = satterthwaite_pieces(model)
    beta = model.fixef()
    v, df = pieces.variance_df(np.eye(len(beta)))
    t = beta.to_numpy() / np.sqrt(v)
    p = 2.0 * stats.t.sf(np.abs(t), df)
    return pd.DataFrame({"Estimate": beta.to_numpy(), "Std. Error": np.sqrt(v), "df": df,
                         "t value": t, "Pr(>|t|)": p}, index=beta.index)
