"""Kenward-Roger adjusted covariance and degrees of freedom (pbkrtest's method).

The marginal covariance is ``Sigma = sum_k gamma_k G_k + sigma^2 I``, one ``G_k = Z E_k Z'``
per element of each random term's covariance matrix (pbkrtest's ``LMM_Sigma_G``). Every
quantity pbkrtest forms with n x n matrices is formed here with q x q ones, through the
Woodbury identity ``Sigma^{-1} = (I - K) / sigma^2``, ``K = Z Lambda M^{-1} Lambda' Z'``,
``M = Lambda' Z'Z Lambda + I``:

- ``PP_k = -X' S G_k S X``, ``QQ_rs = X' S G_r S G_s S X`` (S = Sigma^{-1});
- ``Ktrace_rs = tr(G_r S G_s S)``; expected information
  ``IE_rs = Ktrace_rs - 2 tr(Phi QQ_rs) + tr(Phi PP_r Phi PP_s)``, ``W = 2 IE^{-1}``;
- ``Phi_A = Phi + 2 Phi (sum_rs W_rs (QQ_rs - PP_r Phi PP_s)) Phi``,

then pbkrtest's ``Lb_ddf`` for each coefficient, and for a hypothesis ``L beta = 0`` of
several rows pbkrtest's ``KRmodcomp`` (``.KR_adjust``): the Wald F from ``Phi_A``, its
denominator df and the scaling that makes the scaled F approximately F-distributed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..exceptions import PylmerError
from ..lazy import stats

__all__ = ["KRPieces", "kenward_roger", "kr_pieces"]


def _components(model):
    """E_k (q x q) with G_k = Z E_k Z', one for each lower-triangle element of each term's
    covariance, in pbkrtest's order (the residual's identity is handled apart)."""
    rt = model.lf.reTrms
    q = rt.q
    E = []
    for k, term in enumerate(rt.terms):
        nc, nl = term.nc, term.nl
        lo = int(rt.Gp[k])
        for j in range(nc):
            for i in range(j, nc):
                block = np.zeros((nc, nc))
                block[i, j] = block[j, i] = 1.0
                Ek = np.zeros((q, q))
                Ek[lo: lo + nc * nl, lo: lo + nc * nl] = np.kron(np.eye(nl), block)
                E.append(Ek)
    return E


@dataclass(frozen=True)
class KRPieces:
    """What every Kenward-Roger quantity of a fit is made of: ``Phi`` = vcov(beta),
    ``PhiA`` = pbkrtest's adjusted covariance (``vcovAdj``), and the ``PP`` matrices and
    ``W`` (twice the inverse expected information) that ``Lb_ddf`` needs."""

    Phi: np.ndarray
    PhiA: np.ndarray
    PP: tuple
    W: np.ndarray

    def ddf(self, L: np.ndarray) -> float:
        """pbkrtest's ``Lb_ddf``: the Kenward-Roger df of the hypothesis ``L beta = 0``
        (one row per restriction)."""
        return _kr_adjust(_full_row_rank(np.atleast_2d(L)), self.Phi, self.PP, self.W)[1]

    def ftest(self, L: np.ndarray, beta: np.ndarray) -> tuple[float, int, float, float]:
        """pbkrtest's ``KRmodcomp(m, L)`` test of ``L beta = 0``: (F, NumDF, DenDF,
        F scaling), F the Wald statistic with the adjusted covariance over the rank of L
        (pbkrtest's ``FtestU``); the test refers ``scaling * F`` to F(NumDF, DenDF)."""
        L = _full_row_rank(np.atleast_2d(L))
        q, ddf, A2 = _kr_adjust(L, self.Phi, self.PP, self.W)
        # pbkrtest: no scaling where the df are (nearly) 2, the scale's pole
        scaling = 1.0 if abs(ddf - 2) < 0.01 else ddf * (1 - A2 / q) / (ddf - 2)
        Lb = L @ beta
        F = float(Lb @ np.linalg.solve(L @ self.PhiA @ L.T, Lb)) / q
        return F, q, ddf, scaling


def kr_pieces(model) -> KRPieces:
    """The Kenward-Roger pieces of a REML LMM fit (pbkrtest's ``vcovAdj`` and the
    matrices of ``Lb_ddf``)."""
    if model.isGLMM():
        raise PylmerError("Kenward-Roger is for linear mixed models")
    if not model.REML:
        raise PylmerError("Kenward-Roger needs a REML fit (as pbkrtest): refit with REML=True")
    lf = model.lf
    rt = lf.reTrms
    X = lf.X
    Z = rt.Zt.T.toarray() if rt.q * lf.n <= 5e7 else None
    if Z is None:
        raise PylmerError("Kenward-Roger is implemented for models with q * n <= 5e7")
    sigma2 = model.sigma() ** 2
    Lambda = model.getME("Lambda").toarray()
    ZL = Z @ Lambda
    M = ZL.T @ ZL + np.eye(rt.q)
    Minv = np.linalg.inv(M)
    # S = Sigma^{-1} = (I - K)/sigma^2,  K = ZL M^{-1} ZL'
    ZtZ, ZtX, XtX = Z.T @ Z, Z.T @ X, X.T @ X
    ZtZL, XtZL = Z.T @ ZL, X.T @ ZL

    def inner(A_ZL, B_ZL):  # A' K B given A'ZL and ZL'B
        return A_ZL @ Minv @ B_ZL

    # first powers: A' S B
    B = (ZtZ - inner(ZtZL, ZtZL.T)) / sigma2
    C = (ZtX - inner(ZtZL, XtZL.T)) / sigma2
    # second powers: A' S^2 B = A'(I - 2K + K^2)B / sigma^4
    KK = Minv @ (ZL.T @ ZL) @ Minv  # for K^2 = ZL KK ZL'
    B2 = (ZtZ - 2 * inner(ZtZL, ZtZL.T) + ZtZL @ KK @ ZtZL.T) / sigma2**2
    C2 = (ZtX - 2 * inner(ZtZL, XtZL.T) + ZtZL @ KK @ XtZL.T) / sigma2**2
    D2 = (XtX - 2 * inner(XtZL, XtZL.T) + XtZL @ KK @ XtZL.T) / sigma2**2
    T1 = np.trace(Minv @ (ZL.T @ ZL))
    T2 = np.trace(Minv @ (ZL.T @ ZL) @ Minv @ (ZL.T @ ZL))
    trace_S2 = (lf.n - 2 * T1 + T2) / sigma2**2

    E = _components(model)
    nr = len(E)
    ng = nr + 1  # the residual variance last
    Phi = model.vcov().to_numpy()

    # PP_k = -X'S G_k S X; for the residual G = I: -X'S^2 X
    PP = [-(C.T @ Ek @ C) for Ek in E] + [-D2]

    def QQ(r, s):
        if r < nr and s < nr:
            return C.T @ E[r] @ B @ E[s] @ C
        if r < nr:  # X'S G_r S S X
            return C.T @ E[r] @ C2
        if s < nr:
            return C2.T @ E[s] @ C
        # X'S^3 X = X'S^2 S X: S^3 via one more Woodbury step
        return _cube(X, ZL, Minv, KK, sigma2, XtZL, XtX)

    def Ktrace(r, s):
        if r < nr and s < nr:
            return np.trace(E[r] @ B @ E[s] @ B)
        if r < nr:
            return np.trace(E[r] @ B2)
        if s < nr:
            return np.trace(E[s] @ B2)
        return trace_S2

    Q = {(r, s): QQ(r, s) for r in range(ng) for s in range(r, ng)}
    IE = np.empty((ng, ng))
    for r in range(ng):
        for s in range(r, ng):
            IE[r, s] = IE[s, r] = (Ktrace(r, s) - 2 * np.sum(Phi * Q[(r, s)])
                                   + np.sum((Phi @ PP[r]) * (PP[s] @ Phi)))
    ev = np.linalg.eigvalsh(IE)
    W = 2 * (np.linalg.inv(IE) if np.min(np.abs(ev)) > 1e-10 else np.linalg.pinv(IE))
    W = (W + W.T) / 2
    U = np.zeros_like(Phi)
    for r in range(ng):
        for s in range(ng):
            key = (r, s) if r <= s else (s, r)
            Qrs = Q[key] if r <= s else Q[key].T
            U += W[r, s] * (Qrs - PP[r] @ Phi @ PP[s])
    PhiA = Phi + 2 * Phi @ U @ Phi
    return KRPieces(Phi, PhiA, tuple(PP), W)


def kenward_roger(model) -> pd.DataFrame:
    """Fixed effects with Kenward-Roger SE, df, t and p (lmerTest's ``ddf = "Kenward-Roger"``)."""
    kr = kr_pieces(model)
    beta = model.fixef()
    rows = []
    for j in range(len(beta)):
        L = np.zeros((1, len(beta)))
        L[0, j] = 1.0
        df = kr.ddf(L)
        se = float(np.sqrt((L @ kr.PhiA @ L.T)[0, 0]))
        t = beta.iloc[j] / se
        rows.append((beta.iloc[j], se, df, t, 2 * stats.t.sf(abs(t), df)))
    return pd.DataFrame(rows, index=beta.index,
                        columns=["Estimate", "Std. Error", "df", "t value", "Pr(>|t|)"])


def _cube(X, ZL, Minv, KK, sigma2, XtZL, XtX):
    """X' Sigma^{-3} X = X'(I - K)^3 X / sigma^6, with K^2, K^3 through q x q products."""
    ZLtZL = ZL.T @ ZL
    K1 = XtZL @ Minv @ XtZL.T
    K2 = XtZL @ KK @ XtZL.T
    K3 = XtZL @ Minv @ ZLtZL @ Minv @ ZLtZL @ Minv @ XtZL.T
    return (XtX - 3 * K1 + 3 * K2 - K3) / sigma2**3


def _full_row_rank(L: np.ndarray) -> np.ndarray:
    """pbkrtest's ``force_full_rank``: a row-rank deficient L is replaced by an orthonormal
    basis of its row space (the same hypothesis)."""
    q = np.linalg.matrix_rank(L)
    if q == L.shape[0]:
        return L
    Q, _ = np.linalg.qr(L.T)
    return Q[:, :q].T


def _kr_adjust(L, V0, PP, W) -> tuple[int, float, float]:
    """pbkrtest's ``Lb_ddf`` / ``.KR_adjust`` for a full-row-rank L: (q, the Kenward-Roger
    df, A2). A1 and A2 are the two traces of Kenward and Roger (1997) that measure how
    much the variance parameters' uncertainty inflates the Wald statistic's variance."""
    Theta = L.T @ np.linalg.solve(L @ V0 @ L.T, L)
    ThetaV0 = Theta @ V0
    A1 = A2 = 0.0
    n = len(PP)
    for i in range(n):
        ui = ThetaV0 @ PP[i] @ V0
        for j in range(i, n):
            e = 1.0 if i == j else 2.0
            uj = ThetaV0 @ PP[j] @ V0
            A1 += e * W[i, j] * np.trace(ui) * np.trace(uj)
            A2 += e * W[i, j] * np.sum(ui * uj.T)
    q = L.shape[0]
    B = (A1 + 6 * A2) / (2 * q)
    g = ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2)
    c1 = g / (3 * q + 2 * (1 - g))
    c2 = (q - g) / (3 * q + 2 * (1 - g))
    c3 = (q + 2 - g) / (3 * q + 2 * (1 - g))
    V0_ = 1 + c1 * B
    V1 = 1 - c2 * B
    V2 = 1 - c3 * B
    V0_ = 0.0 if abs(V0_) < 1e-10 else V0_
    # pbkrtest's .divZero: 0/0 (both below 1e-14) is taken as 1
    ratio = 1.0 if abs(1 - A2 / q) < 1e-14 and abs(V1) < 1e-14 else (1 - A2 / q) / V1
    rho = (ratio**2) * V0_ / (q * V2)
    return q, float(4 + (q + 2) / (q * rho - 1)), float(A2)
