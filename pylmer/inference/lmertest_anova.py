"""F tests of the fixed terms of one LMM: lmerTest's ``anova(m, type, ddf)``.

Each term's hypothesis matrix L (:mod:`.lmertest_contrasts`, by type) is tested as
lmerTest's ``contestMD`` does:

- ``ddf="Satterthwaite"``: F = (L beta)' Var(L beta)^{-1} (L beta) / q with Satterthwaite's
  denominator df (:meth:`.SatterthwaitePieces.ftest`);
- ``ddf="Kenward-Roger"``: pbkrtest's ``KRmodcomp``: the Wald F from the adjusted
  covariance, scaled, with Kenward and Roger's df (:meth:`.KRPieces.ftest`).

``Mean Sq = F sigma^2`` and ``Sum Sq = NumDF Mean Sq`` (with the unscaled F for
Kenward-Roger, as lmerTest). ``ddf="lme4"`` is lme4's own table (``anova(as(m,
"lmerMod"))``): sequential sums of squares ``(RX beta)^2`` by term, no df, no p-values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import PylmerError, PylmerWarning, warn_user
from ..lazy import stats
from ..printing.format import AnovaTable
from .kenward_roger import kr_pieces
from .lmertest_contrasts import lmertest_contrasts
from .satterthwaite import satterthwaite_pieces

__all__ = ["DDF_METHODS", "anova_type", "ddf_method", "lmertest_anova"]

DDF_METHODS = ("Satterthwaite", "Kenward-Roger", "lme4")
_TYPES = {"1": 1, "2": 2, "3": 3, "I": 1, "II": 2, "III": 3}
_ROMAN = {1: "I", 2: "II", 3: "III"}
_COLUMNS = ["Sum Sq", "Mean Sq", "NumDF", "DenDF", "F value", "Pr(>F)"]


def anova_type(type) -> int:
    """lmerTest's ``type``: 1, 2, 3 or "1", "2", "3", "I", "II", "III"."""
    is_integer = isinstance(type, (int, np.integer)) and not isinstance(type, bool)
    key = str(int(type)) if is_integer else type
    if not isinstance(key, str) or key not in _TYPES:
        raise PylmerError(f"type must be 1, 2 or 3 (or '1', '2', '3', 'I', 'II', 'III'), "
                          f"not {type!r}")
    return _TYPES[key]


def ddf_method(ddf) -> str:
    """lmerTest's ``ddf``: "Satterthwaite", "Kenward-Roger" or "lme4"."""
    if not isinstance(ddf, str) or ddf not in DDF_METHODS:
        raise PylmerError(f"ddf must be 'Satterthwaite', 'Kenward-Roger' or 'lme4', "
                          f"not {ddf!r}")
    return ddf


def lmertest_anova(model, type=3, ddf: str = "Satterthwaite") -> AnovaTable:
    """F tests of an LMM's fixed terms (R: ``lmerTest::anova(m, type, ddf)``).

    Parameters
    ----------
    model : LmerMod
        A linear mixed model fit (REML or ML; ``ddf="Kenward-Roger"`` needs REML).
    type : {3, 2, 1, "III", "II", "I", "3", "2", "1"}
        The hypotheses, in SAS's terms: type I sequential, type II each term adjusted for
        all terms that do not contain it, type III each term adjusted for all others
        (lmerTest's contrasts; see :mod:`pylmer.inference.lmertest_contrasts`).
    ddf : {"Satterthwaite", "Kenward-Roger", "lme4"}
        The F tests' denominator df (and, for Kenward-Roger, the adjusted covariance and
        the scaled F). "lme4" gives lme4's table instead, whatever ``type``: sequential
        sums of squares and F values, no df or p-values.

    Returns
    -------
    AnovaTable
        One row per fixed term: Sum Sq, Mean Sq, NumDF, DenDF, F value, Pr(>F) (lme4's
        table: npar, Sum Sq, Mean Sq, F value). A term with no estimable coefficient
        (all dropped from a rank-deficient X) gets a row of NaN, last, as lmerTest's NA
        row, with a :class:`~pylmer.PylmerWarning`.
    """
    kind, method = anova_type(type), ddf_method(ddf)
    if model.isGLMM():
        raise PylmerError("anova(m) F tests are for linear mixed models; test a GLMM's "
                          "fixed terms with Anova(m) (Wald chi-square tests), or compare "
                          "nested models with anova(m1, m2)")
    if method == "lme4":
        return _lme4_table(model)
    if method == "Kenward-Roger" and not model.REML:
        raise PylmerError("ddf='Kenward-Roger' needs a REML fit (as lmerTest and "
                          "pbkrtest): refit with REML=True, or use ddf='Satterthwaite'")
    test = _kenward_roger_test(model) if method == "Kenward-Roger" else \
        _satterthwaite_test(model)
    sigma2 = model.sigma() ** 2
    rows, untestable = [], []
    for label, L in lmertest_contrasts(model, kind).items():
        if L.shape[0] == 0:
            untestable.append(label)
            continue
        F, q, ddf_, scale = test(L)
        # lmerTest's mk_Ftable: the mean square from the unscaled F, the test on the scaled
        rows.append((label, F * sigma2 * q, F * sigma2, q, ddf_, F * scale,
                     float(stats.f.sf(F * scale, q, ddf_))))
    if untestable:
        warn_user(f"no coefficient of {', '.join(untestable)} is estimable (dropped for "
                  "rank deficiency): NaN in the anova table, as lmerTest's NA",
                  PylmerWarning)
        rows += [(label, *[np.nan] * 6) for label in untestable]
    table = pd.DataFrame([r[1:] for r in rows], index=[r[0] for r in rows],
                         columns=_COLUMNS)
    if not untestable:
        table["NumDF"] = table["NumDF"].astype(int)
    how = "Satterthwaite's" if method == "Satterthwaite" else "Kenward-Roger's"
    return _titled(table, f"Type {_ROMAN[kind]} Analysis of Variance Table with {how} method")


def _satterthwaite_test(model):
    pieces = satterthwaite_pieces(model)

    def test(L):
        return (*pieces.ftest(L), 1.0)
    return test


def _kenward_roger_test(model):
    pieces, beta = kr_pieces(model), np.asarray(model.beta)

    def test(L):
        return pieces.ftest(L, beta)
    return test


def _lme4_table(model) -> AnovaTable:
    """lme4's ``anova(m)`` of one model: the squares of ``RX beta`` (RX'RX = X'V^{-1}X
    sigma^2, in X's column order) are sequential sums of squares, summed by term."""
    ss = (model.getME("RX") @ np.asarray(model.beta)) ** 2
    assign = np.asarray(model.lf.fixed.assign)
    labels = model.lf.fixed.plan.terms.term_labels
    present = [k for k in dict.fromkeys(assign) if k > 0]  # lme4: unique(assign), no intercept
    npar = np.array([np.sum(assign == k) for k in present])
    sums = np.array([ss[assign == k].sum() for k in present])
    table = pd.DataFrame({"npar": npar, "Sum Sq": sums, "Mean Sq": sums / npar,
                          "F value": sums / npar / model.sigma() ** 2},
                         index=[labels[k - 1] for k in present])
    return _titled(table, "Analysis of Variance Table")


def _titled(table: pd.DataFrame, heading: str) -> AnovaTable:
    out = AnovaTable(table)
    out.heading = (heading,)
    return out
