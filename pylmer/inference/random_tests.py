"""Tests and fits by groups of a model's random part: lmerTest's ``ranova`` and lme4's
``lmList``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..control import LmerControl
from ..design.fixed import rank_pivot
from ..exceptions import PylmerError
from ..formula.bars import parse_mixed_formula
from ..lazy import stats
from ..lformula import lFormula
from ..validate import check_model
from .refit import update

__all__ = ["lmList", "ranova"]


def _reductions(term) -> list[tuple[str, str | None]]:
    """(row label, reduced term or None for "removed") for one random term, as lmerTest's
    ``reduce.terms = TRUE``: each slope of a term with an intercept is taken out in turn
    (``Days in (Days | Subject)``); a term with an intercept alone, or without one, is
    removed."""
    t = term.terms
    labels = list(t.term_labels)
    if not t.intercept or not labels:
        return [(str(term), None)]
    out = []
    for drop in labels:
        rest = [lab for lab in labels if lab != drop]
        lhs = " + ".join(rest) if rest else "1"
        out.append((f"{drop} in {term}", f"({lhs} | {term.group_name})"))
    return out


def ranova(model) -> pd.DataFrame:
    """Likelihood-ratio tests of the random-effect terms (R: lmerTest's ``ranova(m)``).

    Each term is reduced (a slope taken out of ``(Days | Subject)``) or removed (an
    intercept-only term) and the model refitted with the same REML setting; the log
    likelihoods are REML ones for a REML fit, as lmerTest's.

    Returns
    -------
    DataFrame
        Rows ``<none>`` and one per reduction; columns npar, logLik, AIC, LRT, Df,
        Pr(>Chisq).
    """
    check_model(model)
    if model.isGLMM():
        raise PylmerError("ranova is lmerTest's test for linear mixed models; for a GLMM "
                          "compare fits with and without a term by anova(m0, m)")
    formula = parse_mixed_formula(model.formula)
    terms = list(formula.random)
    fixed = f"{model.lf.fr.response_name} ~ {formula.fixed_rhs}"

    def row(label, m):
        ll = m.logLik(REML=m.isREML())
        npar = len(m.fixef()) + len(m.theta) + 1
        return label, npar, float(ll), -2.0 * float(ll) + 2 * npar

    rows = [row("<none>", model)]
    for k, term in enumerate(terms):
        for label, reduced in _reductions(term):
            others = [str(t) for j, t in enumerate(terms) if j != k]
            random = others + ([reduced] if reduced else [])
            if not random:
                raise PylmerError(f"removing {term} leaves no random effects: lmerTest "
                                  "compares such a model with lm(), which pylmer does not fit")
            rows.append(row(label, update(model, formula=" + ".join([fixed, *random]))))
    table = pd.DataFrame(rows, columns=["term", "npar", "logLik", "AIC"]).set_index("term")
    full_ll, full_npar = table["logLik"].iloc[0], table["npar"].iloc[0]
    lrt = 2.0 * (full_ll - table["logLik"])
    df = full_npar - table["npar"]
    table["LRT"] = lrt.where(df > 0)
    table["Df"] = df.where(df > 0)
    table["Pr(>Chisq)"] = [np.nan if not d > 0 else stats.chi2.sf(max(x, 0.0), d)
                           for x, d in zip(table["LRT"], table["Df"])]
    return table.rename_axis(None)


def lmList(formula: str, data) -> pd.DataFrame:
    """One least-squares fit per group (R: lme4's ``coef(lmList(y ~ x | g, data))``): a
    row of coefficients per level of the grouping factor, in its level order; a
    coefficient a group's rows cannot estimate (a column zero or aliased there) is NaN,
    as R's NA."""
    if not isinstance(formula, str):
        raise TypeError(f"formula must be a string 'y ~ x | g', got {type(formula).__name__}")
    if formula.count("|") != 1:
        raise PylmerError(f"lmList needs a formula 'y ~ x | g', got {formula!r}")
    model_part, group = (part.strip() for part in formula.split("|"))
    # X and y of every row by lmer's own formula machinery (a random term on the group);
    # lme4's checks of that term's levels are a mixed model's, not a per-group fit's, and
    # X's rank is each group's to judge (R's lm gives NA there)
    lf = lFormula(f"{model_part} + (1 | {group})", data, control=LmerControl(
        check_nobs_vs_nlev="ignore", check_nlev_gtr_1="ignore",
        check_nobs_vs_nRE="ignore", check_rankX="ignore"))
    factor = lf.reTrms.flist[group]
    codes = np.asarray(factor.codes)
    rows = []
    for level in range(len(factor.categories)):
        X, y = lf.X[codes == level], np.asarray(lf.y)[codes == level]
        coef = np.full(X.shape[1], np.nan)
        rank, pivot = rank_pivot(X)
        keep = np.sort(pivot[:rank])
        coef[keep] = np.linalg.lstsq(X[:, keep], y, rcond=None)[0]
        rows.append(coef)
    return pd.DataFrame(rows, index=[str(c) for c in factor.categories],
                        columns=list(lf.X_colnames))
