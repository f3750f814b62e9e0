"""Type III F tests for the fixed terms of an LMM: lmerTest's ``anova(m)``.

Contrasts (lmerTest's ``get_contrasts_type3``): with X in treatment coding and rdX the
over-parameterized design (every level of every factor), ``L = (X^+ rdX)'``; the columns of
a term contained in a higher-order term are orthogonalized against that term's columns, and
the rows for X's columns give each term's hypothesis, mapped to the model's own contrast
coding. Each term is then tested by lmerTest's multi-df Satterthwaite F test
(``contestMD``): the eigen-decomposition of Var(L beta), one Satterthwaite df per
direction, and the F statistic's df from them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..design.fixed import fixed_design
from ..design.modelmatrix import term_columns, term_names
from ..exceptions import PylmerError
from .satterthwaite import _jacobian, varpar_covariance

__all__ = ["anova_type3"]


def _term_info(model):
    """Fixed terms (intercept aside) in model order: their labels (``recipe:temperature``)
    and the indices of their variables."""
    terms = model.lf.fixed.plan.terms
    return [(label, term) for label, term in zip(terms.term_labels, terms.terms)]


def _rdX(model, terms):
    """lmerTest's rank-deficient design: intercept, then ``~ 0 + term`` for every term
    (full coding of every factor, first factor varying fastest)."""
    lf = model.lf
    plan, n = lf.fixed.plan, lf.n
    columns, names = [np.ones(n)], ["(Intercept)"]
    for _, term in terms:
        codings, full = [plan.codings[i] for i in term], (True,) * len(term)
        columns.append(term_columns(codings, full, lf.fr.variables, n))
        names += term_names(codings, full)
    return np.column_stack(columns), names


def _type3_contrasts(model):
    """One contrast matrix (rows x p) for each fixed term, in the model's coding."""
    lf = model.lf
    terms = _term_info(model)
    factors = [name for name in lf.fixed.contrasts]
    treatment = fixed_design(lf.formula, lf.fr,
                             contrasts={f: "contr.treatment" for f in factors},
                             check_rankX="silent.drop.cols")
    X, Xnames = treatment.X, list(treatment.colnames)
    rdX, rdnames = _rdX(model, terms)
    L = np.linalg.pinv(X) @ rdX  # (p, p_rd)
    L = np.where(np.abs(L) < 1e-7 * np.max(np.abs(L)), 0.0, L).T  # zapsmall
    # columns of X belonging to each term
    assign = treatment.assign
    colmap = {label: list(np.flatnonzero(assign == k)) for k, (label, _) in
              enumerate(terms, start=1)}
    contained = {label: [other for other, ofs in terms if set(fs) < set(ofs)]
                 for label, fs in terms}
    for label, facs in sorted(terms, key=lambda t: -len(t[1])):
        if not contained[label]:
            continue
        cols = [c for other in contained[label] for c in colmap[other]]
        A = L[:, cols]
        Y = L[:, colmap[label]]
        coef, *_ = np.linalg.lstsq(A, Y, rcond=None)
        R = Y - A @ coef
        L[:, colmap[label]] = np.where(np.abs(R) < 1e-7 * max(np.max(np.abs(R)), 1e-300),
                                       0.0, R)
    keep = [rdnames.index(name) for name in Xnames]
    L = L[keep]
    # map from treatment coding to the model's coding
    mapping = np.linalg.pinv(X) @ lf.X
    mapping = np.where(np.abs(mapping) < 1e-7 * np.max(np.abs(mapping)), 0.0, mapping)
    out = {}
    for label, _ in terms:
        Lt = L[:, colmap[label]].T @ mapping
        out[label] = Lt[np.sum(np.abs(Lt), axis=1) > 1e-8]
    return out


def _ddf_F(nu: np.ndarray) -> float:
    """lmerTest's ``get_Fstat_ddf``."""
    if len(nu) == 1:
        return float(nu[0])
    if np.all(np.abs(np.diff(nu)) < 1e-8):
        return float(np.mean(nu))
    if np.any(nu <= 2):
        return 2.0
    E = np.sum(nu / (nu - 2))
    return float(2 * E / (E - len(nu)))


def anova_type3(model) -> pd.DataFrame:
    """lmerTest's ``anova(m)``: type III F tests with Satterthwaite's df (LMMs).

    A term none of whose columns are estimable (all dropped from a rank-deficient X, which
    the fit warned about) gets a row of NaN, as lmerTest's row of NA."""
    if model.isGLMM():
        raise PylmerError("anova(m) F tests are for linear mixed models; compare GLMMs with "
                         "anova(m1, m2)")
    funcs, varpar, A = varpar_covariance(model)
    p = model.lf.X.shape[1]

    def vcov_full(vp):
        ws = funcs.ws.set_theta(vp[:-1])
        RXinv = np.linalg.inv(ws.RX)
        return (vp[-1] ** 2 * RXinv @ RXinv.T).ravel()

    jac = _jacobian(vcov_full, varpar).reshape(p, p, -1)  # d vcov / d varpar_k
    V = model.vcov().to_numpy()
    beta = model.beta
    sigma2 = model.sigma() ** 2
    rows = []
    for label, L in _type3_contrasts(model).items():
        VL = L @ V @ L.T
        d, P = np.linalg.eigh(VL)
        order = np.argsort(d)[::-1]
        d, P = d[order], P[:, order]
        q = int(np.sum(d > max(np.sqrt(np.finfo(float).eps) * d[0], 0.0))) if len(d) else 0
        if q == 0:  # every column of the term was dropped (aliased): lmerTest's row of NA
            rows.append((label, *([np.nan] * 6)))
            continue
        PtL = (P.T @ L)[:q]
        t2 = (PtL @ beta) ** 2 / d[:q]
        F = float(np.sum(t2) / q)
        nu = np.empty(q)
        for m in range(q):
            g = np.einsum("i,ijk,j->k", PtL[m], jac, PtL[m])
            nu[m] = 2 * d[m] ** 2 / (g @ A @ g)
        ddf = _ddf_F(nu)
        rows.append((label, F * sigma2 * q, F * sigma2, q, ddf, F,
                     stats.f.sf(F, q, ddf)))
    table = pd.DataFrame(rows, columns=["term", "Sum Sq", "Mean Sq", "NumDF", "DenDF",
                                        "F value", "Pr(>F)"])
    return table.set_index("term").rename_axis(None)
