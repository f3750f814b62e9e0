"""Checks after a fit, as R users run them: lme4's ``hatvalues`` and ``cooks.distance``,
performance's ``check_overdispersion``, ``r2_nakagawa`` and ``icc``, and the model-set
tables of ``AIC(m1, m2, ...)`` / ``BIC(...)``.

The definitions are those of lme4 1.1-31 and performance 0.10.2 (with insight 0.19.0):
- hat values: the diagonal of ``H = CL'CL + CR'CR`` with ``CL = L^-1 P Lambda'Z'W^1/2``
  and ``CR = RX'^-1 (X'W^1/2 - RZX' CL)``, W the prior weights: fitted values are ``H y``,
  the random effects included;
- Cook's distance: ``(r / (1 - h))^2 h / (sigma^2 p)``, r the Pearson residuals, p the
  rank of X;
- overdispersion: Pearson chi-square on the residual df ``nobs - (p + length(theta))``;
- R2 and ICC: Nakagawa's variance decomposition; a term's variance is the mean over the
  observations of ``z_i' Sigma z_i``, z_i the term's columns of X.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sps

from ..exceptions import PylmerError, PylmerWarning, warn_user
from ..lazy import stats
from ..validate import check_model

__all__ = ["AIC", "BIC", "Anova", "check_overdispersion", "cooks_distance", "hatvalues", "icc",
           "r2_nakagawa", "rstudent"]

HAT_CHUNK = 4096  # observations per block of CL (q x chunk, dense)


def hatvalues(model) -> pd.Series:
    """Diagonal of the hat matrix, random effects included (R: lme4's ``hatvalues``).

    For a GLMM lme4 warns that "the hat matrix may not make sense for GLMMs", and so does
    this function; the prior weights are the only weights used, as lme4's."""
    check_model(model)
    if model.isGLMM():
        warn_user("the hat matrix may not make sense for GLMMs", PylmerWarning)
    X, Zt = model.getME("X"), sps.csc_matrix(model.getME("Zt"))
    sw = np.sqrt(model.getME("weights"))
    LtZt = sps.csc_matrix(model.getME("Lambdat") @ Zt)
    RX, RZX = model.getME("RX"), model.getME("RZX")
    n = X.shape[0]
    h = np.empty(n)
    for start in range(0, n, HAT_CHUNK):
        cols = slice(start, min(start + HAT_CHUNK, n))
        CL = np.asarray(model.factor.solve_L(
            (LtZt[:, cols] @ sps.diags(sw[cols])).toarray()))
        CR = np.linalg.solve(RX.T, (X[cols] * sw[cols, None]).T - RZX.T @ CL)
        h[cols] = np.sum(CL**2, axis=0) + np.sum(CR**2, axis=0)
    return _by_row(model, h, "hatvalues")


def cooks_distance(model) -> pd.Series:
    """Cook's distance from the hat values (R: lme4's ``cooks.distance.merMod``):
    ``(r / (1 - h))^2 h / (sigma^2 p)``, r the Pearson residuals, p the rank of X. It
    measures leverage and residual together, not the change of a refit without the
    observation."""
    fr = check_model(model).lf.fr
    h = fr.unpadded(hatvalues(model))
    r = fr.unpadded(model.residuals(type="pearson"))
    p = np.linalg.matrix_rank(model.getME("X"))
    with np.errstate(divide="ignore", invalid="ignore"):
        d = (r / (1.0 - h)) ** 2 * h / (model.sigma() ** 2 * p)
    d[np.isinf(d)] = np.nan  # as lme4: an observation with h = 1
    return _by_row(model, d, "cooks_distance")


def rstudent(model) -> pd.Series:
    """Studentized residuals (R: lme4's ``rstudent.merMod``).

    lme4's definition, the one of R's ``rstudent.glm`` with the hat values of
    :func:`hatvalues` (random effects included)::

        sign(d) * sqrt(d^2 + h r^2 / (1 - h)) / sigma

    d the deviance residuals, r the Pearson residuals, h the hat values, sigma the full
    fit's. For an LMM d = r = sqrt(w) (y - fitted), so this is ``r / (sigma sqrt(1 - h))``:
    the residual standardized by its leverage with the full fit's sigma, not a
    leave-one-out sigma. For a GLMM it is the same formula (and :func:`hatvalues` warns
    that the hat matrix may not make sense); with ``cbind(s, f)`` binomial responses
    lme4's hat values use the trials as prior weights, pylmer's use 1, so there the values
    differ from lme4's. An observation with h = 1 gets NaN (as lme4), with a warning.
    """
    fr = check_model(model).lf.fr
    h = fr.unpadded(hatvalues(model))
    d = fr.unpadded(model.residuals(type="deviance"))
    r = fr.unpadded(model.residuals(type="pearson"))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.sign(d) * np.sqrt(d**2 + h * r**2 / (1.0 - h)) / model.sigma()
    bad = ~np.isfinite(out)
    if bad.any():
        warn_user(f"rstudent: {int(bad.sum())} observation(s) with hat value 1 or more "
                  "have no studentized residual (NaN)", PylmerWarning)
        out[bad] = np.nan
    return _by_row(model, out, "rstudent")


def _by_row(model, values: np.ndarray, name: str) -> pd.Series:
    """Values of the fitted rows as the model's residuals are given: with
    ``na_action="exclude"`` the dropped rows are there as NaN (R's na.exclude)."""
    return model.lf.fr.padded(values, name)



def check_overdispersion(model) -> pd.Series:
    """Overdispersion of a Poisson or binomial GLMM (R: performance's
    ``check_overdispersion``): the Pearson chi-square, its ratio to the residual df, the
    df and the p-value of a chi-square test; a ratio well above 1 means more variation
    than the family allows."""
    check_model(model)
    if not model.isGLMM():
        raise PylmerError("check_overdispersion is for GLMMs (a Poisson or binomial model); "
                          "a linear mixed model estimates its residual variance")
    chisq = float(np.sum(model.residuals(type="pearson").to_numpy() ** 2))
    rdf = round(model.nobs() - model.logLik().df)
    return pd.Series({"chisq": chisq, "ratio": chisq / rdf, "rdf": rdf,
                      "p": float(stats.chi2.sf(chisq, rdf))}, name="overdispersion")


def _variances(model) -> tuple[float, float, float]:
    """(fixed, random, residual) variances of Nakagawa's decomposition."""
    X = model.getME("X")
    eta_fixed = X @ model.fixef().to_numpy()
    var_fixed = float(np.var(eta_fixed, ddof=1)) if len(eta_fixed) > 1 else 0.0
    names = list(model.fixef().index)
    vc = model.VarCorr()
    var_random = 0.0
    n = X.shape[0]
    for term, (group, columns) in zip(vc.terms, model.getME("cnms")):
        if len(model.getME("flist")[group].categories) >= n:  # observation-level: not a
            continue  # group's variance (insight counts it as dispersion)
        Z = np.column_stack([X[:, names.index(c)] if c in names else np.zeros(n)
                             for c in columns])
        Sigma = term.cov
        var_random += float(np.mean(np.einsum("ij,jk,ik->i", Z, Sigma, Z)))
    return var_fixed, var_random, _residual_variance(model)


def _residual_variance(model) -> float:
    if not model.isGLMM():
        return float(model.sigma() ** 2)
    family, link = model.family.family, model.family.link.name
    if family == "binomial":
        known = {"logit": np.pi**2 / 3, "probit": 1.0, "cloglog": np.pi**2 / 6}
        if link in known:
            return float(known[link])
    if family == "poisson" and link == "log":
        mu0 = np.exp(_null_intercept(model))
        if mu0 < 6:
            warn_user(f"mu of {mu0:.1f} is too close to zero, estimate of random effect "
                      "variances may be unreliable", PylmerWarning)
        return float(np.log1p(1.0 / mu0))
    raise PylmerError(f"r2_nakagawa / icc: the {family}({link}) family's distribution-"
                      "specific variance is not available (binomial with logit, probit "
                      "or cloglog links, Poisson with the log link)")


def _null_intercept(model) -> float:
    """The intercept of the null model: the same response, random terms and family, with
    fixed part 1 (insight's ``null_model``), refitted."""
    from .refit import update  # the fitting layer, through inference's own refit
    random = " + ".join(str(t.term) for t in model.lf.reTrms.terms)
    response = model.lf.fr.response_name
    null = update(model, formula=f"{response} ~ 1 + {random}")
    return float(null.fixef().iloc[0])


def r2_nakagawa(model) -> pd.Series:
    """Nakagawa's marginal and conditional R2 (R: performance's ``r2_nakagawa``)."""
    vf, vr, vres = _checked_variances(model)
    total = vf + vr + vres
    return pd.Series({"conditional": (vf + vr) / total, "marginal": vf / total},
                     name="r2_nakagawa")


def icc(model) -> pd.Series:
    """Intraclass correlation, adjusted (random / (random + residual)) and unadjusted
    (random / total) (R: performance's ``icc``)."""
    vf, vr, vres = _checked_variances(model)
    return pd.Series({"adjusted": vr / (vr + vres), "unadjusted": vr / (vf + vr + vres)},
                     name="icc")


def _checked_variances(model):
    check_model(model)
    vf, vr, vres = _variances(model)
    if vr < 1e-5:  # performance: NA for a singular fit
        raise PylmerError("the random effects' variance is (nearly) zero, a singular fit: "
                          "R2 and ICC are not defined (performance returns NA)")
    return vf, vr, vres


def AIC(*models, model_names=None) -> float | pd.DataFrame:
    """R's ``AIC``: of one model, its AIC; of several (``AIC(m1, m2)``), a table with
    one row per model, its df and AIC (rows ``m1``, ``m2``, ... or ``model_names``)."""
    return _criterion_table(models, "AIC", model_names)


def BIC(*models, model_names=None) -> float | pd.DataFrame:
    """R's ``BIC``, as :func:`AIC`."""
    return _criterion_table(models, "BIC", model_names)


def _criterion_table(models, criterion: str, model_names) -> float | pd.DataFrame:
    if not models:
        raise TypeError(f"{criterion}() needs at least one fitted model")
    for m in models:
        check_model(m)
    if len(models) == 1 and model_names is None:
        return getattr(models[0], criterion)()
    names = list(model_names) if model_names is not None else \
        [f"m{k + 1}" for k in range(len(models))]
    if len(names) != len(models):
        raise PylmerError(f"model_names has {len(names)} names for {len(models)} models")
    rows = [(m.logLik().df, getattr(m, criterion)()) for m in models]
    return pd.DataFrame(rows, columns=["df", criterion], index=names)


def Anova(model, type: int | str = 2) -> pd.DataFrame:
    """Wald chi-square tests of the fixed terms (R: car's ``Anova(m, type)`` with its
    default ``test.statistic = "Chisq"``), from ``vcov(m)``.

    Type 3 tests each term's coefficients = 0 in the model's own coding (with an
    ``(Intercept)`` row); type 2 tests each term after the terms that contain it, by car's
    construction: the hypothesis for the term and its relatives made orthogonal to the
    relatives' in the metric of ``vcov(m)``.

    Returns
    -------
    DataFrame
        One row per term; columns Chisq, Df, Pr(>Chisq).
    """
    check_model(model)
    kind = {2: 2, "2": 2, "II": 2, 3: 3, "3": 3, "III": 3}.get(type)
    if kind is None:
        raise PylmerError(f"type={type!r}: use 2 (or 'II') or 3 (or 'III')")
    fixed = model.lf.fixed
    b, V = model.fixef().to_numpy(), model.vcov().to_numpy()
    assign, p = np.asarray(fixed.assign), len(b)
    terms = fixed.plan.terms
    labels, varsets = list(terms.term_labels), [set(t) for t in terms.terms]
    identity = np.eye(p)
    rows = []
    if kind == 3 and np.any(assign == 0):
        rows.append(("(Intercept)", identity[assign == 0]))
    for k, label in enumerate(labels):
        own = np.flatnonzero(assign == k + 1)
        if len(own) == 0:  # every column dropped as rank deficient
            continue
        relatives = [j for j in range(len(labels)) if varsets[k] < varsets[j]]
        rel = np.flatnonzero(np.isin(assign, [j + 1 for j in relatives]))
        if kind == 3 or len(rel) == 0:
            L = identity[own]
        else:  # car's ConjComp: the part of [relatives, term] V-orthogonal to relatives
            Z, X = identity[np.concatenate([rel, own])].T, identity[rel].T
            Q, R = np.linalg.qr(Z.T @ V @ X, mode="complete")
            rank = int(np.sum(np.abs(np.diag(R)) > 1e-10 * np.abs(R).max()))
            L = (Z @ Q[:, rank:]).T
            L = L[~np.all(np.abs(L) < 1e-12, axis=1)]
        rows.append((label, L))
    out = []
    for label, L in rows:
        Lb = L @ b
        chisq = float(Lb @ np.linalg.solve(L @ V @ L.T, Lb))
        df = L.shape[0]
        out.append((label, chisq, df, float(stats.chi2.sf(chisq, df))))
    return pd.DataFrame([r[1:] for r in out], index=[r[0] for r in out],
                        columns=["Chisq", "Df", "Pr(>Chisq)"])
