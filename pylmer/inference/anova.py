"""lme4's ``anova(m1, m2, ...)`` (likelihood-ratio tests between nested models) and, for one
LMM, lmerTest's F tests of its fixed terms."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import PylmerError, PylmerWarning, warn_user
from ..lazy import stats
from ..printing.format import lrt_table
from ..validate import check_model
from .lmertest_anova import lmertest_anova
from .refit import refit_ML

__all__ = ["anova"]


def anova(*models, model_names=None, type=None, ddf=None) -> pd.DataFrame:
    """Compare nested models by likelihood-ratio tests (R: ``anova(m1, m2, ...)``); for a
    single LMM, lmerTest's F tests of its fixed terms (R: ``lmerTest::anova(m, type,
    ddf)``).

    Parameters
    ----------
    *models : fitted models
        One LMM for its F tests, or two or more models to compare.
    model_names : list of str, optional
        Names of the compared models (R names them after the call's arguments).
    type : {3, 2, 1, "III", "II", "I", "3", "2", "1"}, optional
        One model only: the hypotheses of the F tests (type I sequential, type II, type
        III); None means 3, lmerTest's default.
    ddf : {"Satterthwaite", "Kenward-Roger", "lme4"}, optional
        One model only: the denominator df (None means "Satterthwaite"); "lme4" gives
        lme4's table of sequential sums of squares, without df or p-values. See
        :func:`pylmer.inference.lmertest_anova.lmertest_anova`.

    REML fits compared by likelihood ratio are refitted by maximum likelihood first, as
    lme4 does (with a :class:`~pylmer.PylmerWarning` saying so). Rows are ordered by the
    number of parameters; Chisq compares each model with the previous row.

    Returns
    -------
    DataFrame
        For several models lme4's columns: npar, AIC, BIC, logLik, deviance (-2 logLik),
        Chisq, Df, Pr(>Chisq). For one model lmerTest's: Sum Sq, Mean Sq, NumDF, DenDF,
        F value, Pr(>F), one row per fixed term.
    """
    for k, m in enumerate(models):
        check_model(m, f"model {k + 1}")
    if len(models) == 1:
        return lmertest_anova(models[0], type=3 if type is None else type,
                              ddf="Satterthwaite" if ddf is None else ddf)
    for name, value in (("type", type), ("ddf", ddf)):
        if value is not None:  # lmerTest silently ignores them; better say so
            raise PylmerError(f"{name}= applies to the F tests of a single model "
                              f"(anova(m, {name}=...)), not to a comparison of models")
    if len(models) < 2:
        raise PylmerError("anova needs a fitted model, or two or more models to compare")
    names = list(model_names) if model_names is not None else [
        f"m{k + 1}" for k in range(len(models))]
    if len(names) != len(models) or not all(isinstance(n, str) for n in names):
        raise PylmerError("model_names must be one string for every model")
    if len(set(names)) != len(names):
        raise PylmerError(f"model_names must be distinct, got {names}")
    nobs = {m.nobs() for m in models}
    if len(nobs) > 1:
        raise PylmerError(f"models were not all fitted to the same number of observations "
                         f"({sorted(nobs)}); compare models fitted to the same rows")
    responses = {m.lf.fr.response_name for m in models}
    if len(responses) > 1 or any(not np.array_equal(m.lf.y, models[0].lf.y) for m in models):
        raise PylmerError(f"models were not all fitted to the same response ({', '.join(sorted(responses))}); "
                          "a likelihood-ratio test compares models of one response on the same data")
    if any(m.isREML() for m in models):
        warn_user("refitting model(s) with ML (instead of REML)", PylmerWarning)
        models = tuple(refit_ML(m) for m in models)
    rows = []
    for name, m in zip(names, models):
        ll = m.logLik()
        rows.append((name, ll.df, m.AIC(), m.BIC(), float(ll), -2.0 * float(ll)))
    table = pd.DataFrame(rows, columns=["model", "npar", "AIC", "BIC", "logLik", "deviance"])
    table = table.sort_values("npar", kind="stable").set_index("model")
    table.index.name = None
    chisq = 2.0 * np.maximum(0.0, np.diff(table["logLik"].to_numpy()))
    df = np.diff(table["npar"].to_numpy())
    table["Chisq"] = np.concatenate([[np.nan], chisq])
    table["Df"] = pd.array(np.concatenate([[pd.NA], df]).tolist(), dtype="Int64")
    with np.errstate(invalid="ignore"):
        p = stats.chi2.sf(chisq, df)
    table["Pr(>Chisq)"] = np.concatenate([[np.nan], p])

    return lrt_table(table, dict(zip(names, models)))
