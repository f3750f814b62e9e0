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
    beta = np.linalg.solve(RX, cbeta)
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

