"""lmerTest's least-squares means: ``ls_means(m, which, level, ddf, pairwise)``.

For each fixed term made only of factors, the mean of every combination of its levels,
averaged over the other factors with equal weights and with numeric covariates at their
means: the estimated marginal means of :func:`~pylmer.inference.emmeans.emmeans`, but with
lmerTest's Satterthwaite df (or Kenward-Roger) and lmerTest's table layout (row names
``VarietyGolden Rain:nF0``, columns Estimate, Std. Error, df, t value, lower, upper,
Pr(>|t|)). ``pairwise=True`` gives the unadjusted differences of each term's means
(lmerTest's ``difflsmeans``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import PylmerError
from ..lazy import stats
from ..validate import check_model
from .emmcontrast import contrast
from .emmeans import emmeans
from .padjust import two_sided_p

__all__ = ["difflsmeans", "ls_means"]

_DDF = {"Satterthwaite": "satterthwaite", "Kenward-Roger": "kenward-roger"}


def _factor_terms(model) -> list[tuple[str, list[str]]]:
    """The fixed terms whose variables are all factors, as (label, their data columns)."""
    fr = model.lf.fr
    plan = model.lf.fixed.plan
    out = []
    for label, term in zip(plan.terms.term_labels, plan.terms.terms):
        names = [plan.terms.labels[i] for i in term]
        if names and all(fr.variables[v].kind == "factor" and v in fr.data.columns
                         for v in names):
            out.append((label, names))
    return out


def _table(estimate, se, df, names, level) -> pd.DataFrame:
    t = estimate / se
    q = stats.t.ppf((1 + level) / 2, df)
    return pd.DataFrame({"Estimate": estimate, "Std. Error": se, "df": df, "t value": t,
                         "lower": estimate - q * se, "upper": estimate + q * se,
                         "Pr(>|t|)": two_sided_p(t, df)}, index=pd.Index(names))


def ls_means(model, which: str | list[str] | None = None, level: float = 0.95,
             ddf: str = "Satterthwaite", pairwise: bool = False) -> pd.DataFrame:
    """Least-squares means of the factor terms of an LMM (R: ``lmerTest::ls_means``).

    Parameters
    ----------
    model : LmerMod
        A fitted linear mixed model.
    which : str or list of str, optional
        Terms to give (``"nF"``, ``"Variety:nF"``); default all factor terms.
    level : float
        Confidence level of the intervals ``lower``, ``upper``.
    ddf : {"Satterthwaite", "Kenward-Roger"}
        The df method, as lmerTest.
    pairwise : bool
        Give the pairwise differences of each term's means instead (lmerTest's
        ``ls_means(m, pairwise = TRUE)`` / ``difflsmeans``), unadjusted.

    Returns
    -------
    DataFrame
        Estimate, Std. Error, df, t value, lower, upper, Pr(>|t|); rows named as
        lmerTest names them.
    """
    check_model(model)
    if model.isGLMM():
        raise PylmerError("ls_means is lmerTest's, for linear mixed models; use emmeans(m, "
                          "specs) for a GLMM")
    if ddf not in _DDF:
        raise PylmerError(f"ddf={ddf!r}: use 'Satterthwaite' or 'Kenward-Roger'")
    if not isinstance(pairwise, bool):
        raise TypeError(f"pairwise must be True or False, got {pairwise!r}")
    terms = _factor_terms(model)
    wanted = [which] if isinstance(which, str) else which
    if wanted is not None:
        labels = [label for label, _ in terms]
        unknown = [w for w in wanted if w not in labels]
        if unknown:
            raise PylmerError(f"which={unknown}: not factor terms of the model; its factor "
                              f"terms are {labels}")
        terms = [t for t in terms if t[0] in wanted]
    if not terms:
        raise PylmerError("the model has no fixed terms made only of factors: ls_means has "
                          "nothing to average")
    parts = []
    for _, names in terms:
        emm = emmeans(model, names, level=level, lmer_df=_DDF[ddf],
                      pbkrtest_limit=np.iinfo(np.int64).max,
                      lmerTest_limit=np.iinfo(np.int64).max)
        rows = [":".join(f"{v}{emm[v].iloc[k]}" for v in names) for k in range(len(emm))]
        if not pairwise:
            parts.append(_table(emm["emmean"].to_numpy(), emm["SE"].to_numpy(),
                                emm["df"].to_numpy(), rows, level))
            continue
        diffs = contrast(emm, "pairwise", adjust="none")
        k = len(rows)
        names_ = [f"{rows[i]} - {rows[j]}" for i in range(k - 1) for j in range(i + 1, k)]
        parts.append(_table(diffs["estimate"].to_numpy(), diffs["SE"].to_numpy(),
                            diffs["df"].to_numpy(), names_, level))
    return pd.concat(parts)


def difflsmeans(model, which: str | list[str] | None = None, level: float = 0.95,
                ddf: str = "Satterthwaite") -> pd.DataFrame:
    """Pairwise differences of least-squares means (R: ``lmerTest::difflsmeans``):
    :func:`ls_means` with ``pairwise=True``."""
    return ls_means(model, which, level, ddf, pairwise=True)
