"""``summary(m)`` of a fitted linear mixed model, printed as lme4 prints it."""

from __future__ import annotations

import html
import math
from functools import cached_property

import numpy as np
import pandas as pd

from .format import (
    aictab_lines,
    convergence_lines,
    fit_warning_lines,
    header_lines,
    method_title,
    ngrps_lines,
    prints_as_reml,
    varcorr_lines,
)
from .rprint import (
    DIGITS,
    abbreviate,
    print_matrix,
    print_named,
    quantile7,
    r_format,
    r_round,
    zapsmall,
)

__all__ = ["LmerSummary", "format_coefmat", "format_summary"]

COR_MAX = 12  # getOption("lme4.summary.cor.max")


class LmerSummary:
    """lme4's ``summary(lmerMod)``: print it, or read its parts.

    Parameters
    ----------
    model : LmerMod
    data_name : str, optional
        The name printed on lme4's ``Data:`` line (R takes it from the call; a Python
        model does not know its data's name, so the line is left out unless given).

    Attributes
    ----------
    coefficients : pandas.DataFrame
        Estimate, Std. Error and t value of the fixed effects.
    vcov : pandas.DataFrame
        Covariance matrix of the fixed effects.
    varcor : VarCorr
        Variance components (print it for lme4's table).
    sigma : float
        Residual standard deviation.
    residuals : pandas.Series
        Scaled Pearson residuals; ``residual_quantiles`` gives Min, 1Q, Median, 3Q, Max.
    logLik, AIC, BIC, deviance, df_resid, REMLcrit :
        Fit criteria (``REMLcrit`` is None for ML fits); ``AICtab`` holds those lme4 prints.
    ngrps : dict
        Levels of each grouping factor; ``nobs`` the number of observations.
    """

    def __init__(self, model, data_name: str | None = None):
        self.model = model
        self.data_name = data_name if data_name is not None else getattr(
            model.lf, "data_name", None)
        self.methTitle = method_title(prints_as_reml(model)).rstrip()
        self.objClass = "lmerMod"
        self.REML = model.REML
        self.formula = model.formula
        self.sigma = model.sigma()
        self.varcor = model.VarCorr()
        self.vcov = model.vcov()
        self.logLik = model.logLik()
        self.AIC = model.AIC()
        self.BIC = model.BIC()
        self.deviance = model.deviance()
        self.df_resid = model.df_residual()
        self.REMLcrit = model.REMLcrit() if model.REML else None
        self.ngrps = model.ngrps()
        self.nobs = model.nobs()
        self.optinfo = model.optinfo
        self.residuals = model.residuals(type="pearson", scaled=True)

    @cached_property
    def coefficients(self) -> pd.DataFrame:
        est = self.model.fixef()
        se = np.sqrt(np.diag(self.vcov.to_numpy()))
        return pd.DataFrame({"Estimate": est.to_numpy(), "Std. Error": se,
                             "t value": est.to_numpy() / se}, index=est.index)

    @property
    def AICtab(self) -> pd.Series:
        """What lme4 prints under the title: the REML criterion, or AIC ... df.resid."""
        if self.REML:
            return pd.Series({"REML": self.REMLcrit})
        return pd.Series({"AIC": self.AIC, "BIC": self.BIC, "logLik": float(self.logLik),
                          "deviance": self.deviance, "df.resid": float(self.df_resid)})

    @property
    def residual_quantiles(self) -> pd.Series:
        """Min, 1Q, Median, 3Q, Max of the scaled residuals (R's ``quantile``, type 7)."""
        return pd.Series(quantile7(self.residuals.to_numpy()),
                         index=["Min", "1Q", "Median", "3Q", "Max"])

    @property
    def messages(self) -> tuple[str, ...]:
        """lme4's convergence messages (singular fit, gradient, Hessian)."""
        return tuple(getattr(self.optinfo, "messages", ()) or ())

    def format(self, digits: int = max(3, DIGITS - 3), correlation: bool | None = None,
               show_resids: bool = True) -> str:
        """The printed summary (R: ``print(summary(m), digits, correlation)``)."""
        return format_summary(self, digits=digits, correlation=correlation,
                              show_resids=show_resids)

    def __str__(self) -> str:
        return self.format()

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return "<pre>" + html.escape(self.format()) + "</pre>"


def format_coefmat(coef: pd.DataFrame, digits: int) -> list[str]:
    """R's ``printCoefmat`` for Estimate, Std. Error and a test statistic (no p-values).

    Estimates and standard errors are rounded together to the decimals that give the
    smallest of them ``digits`` significant digits, then formatted as one block; the
    statistic is rounded to ``dig.tst`` decimals.
    """
    xm = coef.to_numpy(dtype=float)
    p = xm.shape[0]
    cells = [["" for _ in range(3)] for _ in range(p)]
    coef_se = xm[:, :2]
    acs = np.abs(coef_se)
    finite = acs[np.isfinite(acs)]
    if finite.size:
        nonzero = finite[finite != 0]
        digmin = 1 + math.floor(math.log10(nonzero.min())) if nonzero.size else 1
        dec = max(1, digits - digmin)
        block = r_format(r_round(coef_se.T, dec).ravel(), digits)  # column-major, as R
        for j in range(2):
            for i in range(p):
                cells[i][j] = block[j * p + i]
    dig_tst = max(1, min(5, digits - 1))
    for i, text in enumerate(r_format(r_round(xm[:, 2], dig_tst), digits)):
        cells[i][2] = text
    # a non-zero estimate or standard error shown as zero is reformatted on its own
    for j in range(2):
        for i in range(p):
            x = xm[i, j]
            try:
                shown_zero = float(cells[i][j]) == 0
            except ValueError:
                continue
            if (x == 0) != shown_zero and not np.isnan(x):
                cells[i][j] = r_format([x], max(1, digits - 1))[0]
    for i in range(p):
        for j in range(3):
            if np.isnan(xm[i, j]):
                cells[i][j] = "NaN"
    return print_matrix(cells, list(coef.index), list(coef.columns), right=True)


def _correlation_lines(vcov: pd.DataFrame) -> list[str]:
    """lme4's "Correlation of Fixed Effects:" block (lower triangle, abbreviated names)."""
    v = vcov.to_numpy()
    p = v.shape[0]
    sd = np.sqrt(np.diag(v))
    corr = v / np.outer(sd, sd)
    np.fill_diagonal(corr, 1.0)
    names = list(vcov.index)
    text = r_format(r_round(corr.T.ravel(), 3), nsmall=3)  # column-major, as R
    cells = [[text[j * p + i] if i > j else "" for j in range(p - 1)] for i in range(1, p)]
    rows = abbreviate(names, 11)[1:]
    cols = abbreviate(names, 6)[:-1]
    return ["", "Correlation of Fixed Effects:"] + print_matrix(cells, rows, cols)


def format_summary(s: LmerSummary, digits: int = max(3, DIGITS - 3),
                   correlation: bool | None = None, show_resids: bool = True) -> str:
    """lme4's ``print(summary(m))`` (``print.summary.merMod``)."""
    m = s.model
    lines = header_lines(m, s.data_name, s.objClass)
    lines.append("")
    lines += aictab_lines(m, 1)
    lines.append("")
    if show_resids:
        lines.append("Scaled residuals: ")
        rq = zapsmall(s.residual_quantiles.to_numpy(), digits + 1)
        lines += print_named(r_format(rq, digits), ["Min", "1Q", "Median", "3Q", "Max"])
        lines.append("")
    lines.append("Random effects:")
    lines += varcorr_lines(s.varcor, digits, comp=("Variance", "Std.Dev."))
    lines += ngrps_lines(s.ngrps, s.nobs)
    p = len(s.coefficients)
    if p > 0:
        lines += ["", "Fixed effects:"]
        lines += format_coefmat(s.coefficients, digits)
        if correlation is None:
            correlation = p <= COR_MAX
            if not correlation:
                lines += ["",
                          f"Correlation matrix not shown by default, as p = {p} > {COR_MAX}.",
                          "Use print(m.summary().format(correlation=True))  or",
                          "    m.vcov()        if you need it",
                          ""]
        if correlation and p > 1:
            lines += _correlation_lines(s.vcov)
    lines += fit_warning_lines(m)
    lines += convergence_lines(s.optinfo, summary=False)
    return "\n".join(lines)
