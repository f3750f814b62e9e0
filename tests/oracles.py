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


# --------------------------------------------------------------------------- PIRLS

def pirls(devfun, theta, beta, eta_start):
    """lme4's ``pwrssUpdate`` in NumPy, for the compiled loop (:mod:`pylmer._pirls`) to be
    compared with: (u, beta, eta, mu, devres, ldL2, pdev, iterations) at theta, beta fixed
    (given) or estimated (None), from ``eta_start`` (offset excluded). The step is solved
    densely ([Z Lambda, X]' W [Z Lambda, X] + diag(I, 0), :func:`weighted_normal_solve`);
    the response's own NumPy methods give mu, the weights and the deviance. Families with
    observed-information Laplace weights get ldL2 at those weights at the modes."""
    rt, X, response = devfun.lf.reTrms, devfun.lf.X, devfun.response
    theta = np.asarray(theta, dtype=float)
    Lt = np.zeros((devfun.ws.q, devfun.ws.q))
    Lt[rt.Lambdat.indices, np.repeat(np.arange(devfun.ws.q),
                                     np.diff(rt.Lambdat.indptr))] = theta[rt.Lind]
    ZL = rt.Zt.T.toarray() @ Lt.T
    q = ZL.shape[1]
    u_only = beta is not None
    offset = devfun.offset + (X @ beta if u_only else 0.0)
    M = ZL if u_only else np.column_stack([ZL, X])
    eta = eta_start + devfun.offset
    u, b = np.zeros(q), (np.asarray(beta, float) if u_only else np.zeros(X.shape[1]))
    oldpdev, mu = np.inf, None
    tol, noise, max_step = devfun.tol, devfun._noise, devfun._max_eta_step

    def point(u_, b_):
        e = offset + ZL @ u_ + (0.0 if u_only else X @ b_)
        total, m, d = response.deviance(e)
        return e, total + u_ @ u_, m, d

    for it in range(1, devfun.maxit + 1):
        w, z = response.working(eta, mu, offset)
        u_new, b_new, ldL2, _ = weighted_normal_solve(M, w, z, q)
        if u_only:
            b_new = b
        du, db, step = u_new - u, b_new - b, 1.0
        eta_new = offset + ZL @ u_new + (0.0 if u_only else X @ b_new)
        jump = np.max(np.abs(eta_new - eta))
        if max_step and jump > max_step:
            step = max_step / jump
        eta_new, pdev, mu_new, devres = point(u + step * du, b + step * db)
        if np.isfinite(oldpdev):
            halvings = 0
            while not (pdev <= oldpdev) and halvings < 10:
                step /= 2.0
                eta_new, pdev, mu_new, devres = point(u + step * du, b + step * db)
                halvings += 1
            if not np.isfinite(pdev) or pdev - oldpdev > max(tol, noise):
                raise RuntimeError("step halvings failed")
        u, b, eta, mu = u + step * du, b + step * db, eta_new, mu_new
        if pdev == 0.0 or abs((oldpdev - pdev) / pdev) < tol or abs(oldpdev - pdev) < noise:
            lw = response.laplace_weights(eta)
            if lw is not None:
                ldL2 = weighted_normal_solve(ZL, lw, np.zeros_like(lw), q)[2]
            return {"u": u, "beta": b, "eta": eta, "mu": mu, "devres": devres,
                    "ldL2": ldL2, "pdev": pdev, "iterations": it}
        oldpdev = pdev
    raise RuntimeError("no convergence")


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
