"""Satterthwaite's degrees of freedom for the fixed effects of an LMM (lmerTest's method).

As lmerTest: the variance parameters are ``varpar = (theta, sigma)``; their asymptotic
covariance is ``A = 2 H^{-1}``, H the Hessian of the (REML or ML) deviance as a function of
``varpar`` (not profiled over sigma); for each coefficient j,
``df_j = 2 V_jj^2 / (g' A g)`` with ``g`` the gradient of ``V_jj = [sigma^2 (RX'RX)^{-1}]_jj``
with respect to ``varpar``. Derivatives are central finite differences with Richardson
extrapolation (numDeriv, which lmerTest uses, does the same).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..exceptions import PylmerError
from ..linalg.pls import PLSWorkspace, profiled_deviance

__all__ = ["satterthwaite"]



class _VarparFunctions:
    """Deviance and vcov(beta) as functions of (theta, sigma), on a private workspace."""

    def __init__(self, model):
        lf = model.lf
        rt = lf.reTrms
        self.REML = model.REML
        self.n, self.p = lf.n, lf.X.shape[1]
        self.ws = PLSWorkspace(lf.X, lf.y, rt.Zt, rt.Lambdat, rt.Lind, weights=lf.weights,
                               offset=lf.offset)

    def deviance(self, varpar: np.ndarray) -> float:
        ws = self.ws.set_theta(varpar[:-1])
        return float(profiled_deviance(ws.ldL2, ws.ldW, ws.ldRX2, ws.pwrss, self.n, self.p,
                                       self.REML, sigma=varpar[-1]))

    def vcov_diagonal(self, varpar: np.ndarray) -> np.ndarray:
        ws = self.ws.set_theta(varpar[:-1])
        RXinv = np.linalg.inv(ws.RX)
        return varpar[-1] ** 2 * np.sum(RXinv * RXinv, axis=1)


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


def satterthwaite(model) -> pd.DataFrame:
    """Fixed-effects table with Satterthwaite df (lmerTest's ``summary(m)$coefficients``).

    Returns
    -------
    DataFrame
        Estimate, Std. Error, df, t value, Pr(>|t|), indexed by coefficient name.
    """
    if model.isGLMM():
        raise PylmerError("Satterthwaite degrees of freedom are for linear mixed models; "
                         "GLMM coefficients use z tests")
    funcs, varpar, A = varpar_covariance(model)
    grad = _jacobian(funcs.vcov_diagonal, varpar)  # (p, nvarpar)
    beta = model.fixef()
    v = np.diag(model.vcov().to_numpy())
    df = 2.0 * v**2 / np.einsum("ji,ik,jk->j", grad, A, grad)
    t = beta.to_numpy() / np.sqrt(v)
    p = 2.0 * stats.t.sf(np.abs(t), df)
    return pd.DataFrame({"Estimate": beta.to_numpy(), "Std. Error": np.sqrt(v), "df": df,
                         "t value": t, "Pr(>|t|)": p}, index=beta.index)
