"""NumPy versions of pylmer's compiled kernels, written for clarity: the tests compare the
compiled code with them."""

from __future__ import annotations

import numpy as np


def dense_pls(ws, theta) -> dict:
    """The penalized least squares quantities of a dense workspace at theta, by the
    formulas of :mod:`pylmer.linalg.pls` (dense NumPy products and Cholesky factors)."""
    theta = np.asarray(theta, dtype=float)
    Lt = np.zeros((ws.q, ws.q))
    rows = ws.Lambdat.indices
    cols = np.repeat(np.arange(ws.q), np.diff(ws.Lambdat.indptr))
    Lt[rows, cols] = theta[ws.Lind]
    L = np.linalg.cholesky(Lt @ ws.ZtZ_dense @ Lt.T + np.eye(ws.q))
    RZXcu = np.linalg.solve(L, Lt @ ws.ZtXy)
    RZX, cu = RZXcu[:, : ws.p], RZXcu[:, ws.p]
    RX = np.linalg.cholesky(ws.XtX - RZX.T @ RZX).T
    cbeta = np.linalg.solve(RX.T, ws.Xty - RZX.T @ cu)
    beta = np.linalg.solve(RX, cbeta) + ws.beta_shift  # the response's, not its residual's
    return {"L_dense": L, "RZX": RZX, "cu": cu, "RX": RX, "beta": beta,
            "ldL2": 2 * np.sum(np.log(np.diag(L))), "ldRX2": 2 * np.sum(np.log(np.diag(RX))),
            "pwrss": ws.yty - cu @ cu - cbeta @ cbeta}


def weighted_normal_solve(M, w, z, q):
    """(u, beta or the empty array, ldL2, diag(L) of the first q) for the system
    ``(M'WM + diag(1 for the first q, 0)) sol = M'Wz``."""
    A = M.T @ (M * w[:, None])
    A[np.arange(q), np.arange(q)] += 1.0
    L = np.linalg.cholesky(A)
    sol = np.linalg.solve(A, M.T @ (w * z))
    return sol[:q], sol[q:], 2 * np.sum(np.log(np.diag(L)[:q])), np.diag(L)[:q]



# --------------------------------------------------------------------------- ordinal

def cdf_parts(link: str, x):
    """(F(x), 1 - F(x), f(x), f'(x)) of a cumulative link's distribution (the compiled
    ``pylmer._families.cumulative_parts`` computes these one observation at a time)."""
    from scipy import special

    x = np.asarray(x, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        if link == "logit":
            F, S = special.expit(x), special.expit(-x)
            f = F * S
            return F, S, f, f * (S - F)
        if link == "probit":
            F, S = special.ndtr(x), special.ndtr(-x)
            f = np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)
            return F, S, f, np.where(np.isfinite(x), -x * f, 0.0)
        ex = np.exp(np.minimum(x, 700.0))
        S = np.exp(-ex)
        F = -np.expm1(-ex)
        f = np.where(np.isfinite(x), ex * S, 0.0)
        return F, S, f, np.where(np.isfinite(x), f * (1.0 - ex), 0.0)
