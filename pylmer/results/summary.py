"""``summary(m)`` of a fitted linear or generalized linear mixed model, printed as lme4
prints it (:class:`LmerSummary`, :class:`GlmerSummary`)."""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd
from scipy.special import ndtr

from ..exceptions import PylmerError
from ..printing.format import (
    aictab_lines,
    coefmat_cells,
    convergence_lines,
    fit_warning_lines,
    header_lines,
    html_pre,
    html_table,
    html_varcorr_table,
    model_class,
    model_title,
    ngrps_lines,
    print_coefmat,
    signif_legend_lines,
    varcorr_lines,
)
from ..printing.rprint import (
    DIGITS,
    abbreviate,
    format_number,
    print_matrix,
    print_named,
    quantile7,
    r_format,
    r_round,
    zapsmall,
)

__all__ = ["LmerSummary", "GlmerSummary", "format_coefmat", "format_summary"]

COR_MAX = 12  # getOption("lme4.summary.cor.max")



DDF = ("lme4", "Satterthwaite", "Kenward-Roger")


class LmerSummary:
    """lme4's ``summary(lmerMod)``, or lmerTest's ``summary(lmerModLmerTest)`` with
    Satterthwaite's df: print it, or read its parts.

    Parameters
    ----------
    model : LmerMod
    data_name : str, optional
        The name printed on lme4's ``Data:`` line (R takes it from the call; a Python
        model does not know its data's name, so the line is left out unless given).
    ddf : {None, "lme4", "Satterthwaite", "Kenward-Roger"}
        None or "lme4": lme4's summary. "Satterthwaite": lmerTest's (R:
        ``summary(as_lmerModLmerTest(m))``): t-tests with Satterthwaite's df and their
        p-values, its title and class; the rest as lme4's.

    Attributes
    ----------
    coefficients : pandas.DataFrame
        Estimate, Std. Error and t value of the fixed effects; with
        ``ddf="Satterthwaite"`` Estimate, Std. Error, df, t value and Pr(>|t|).
    vcov : pandas.DataFrame
        Covariance matrix of the fixed effects.
    varcor : VarCorr
        Variance components (print it for lme4's table).
    sigma : float
        Residual standard deviation.
    residuals : pandas.Series or None
        Scaled Pearson residuals; ``residual_quantiles`` gives Min, 1Q, Median, 3Q, Max.
        None for an out-of-core fit, which keeps no rows (and prints no such block).
    logLik, AIC, BIC, deviance, df_resid, REMLcrit :
        Fit criteria (``REMLcrit`` is None for ML fits); ``AICtab`` holds those lme4 prints.
    ngrps : dict
        Levels of each grouping factor; ``nobs`` the number of observations.
    """

    def __init__(self, model, data_name: str | None = None, ddf: str | None = None):
        if ddf is None:
            ddf = "lme4"
        if ddf not in DDF:
            raise PylmerError(f"ddf must be None, 'lme4', 'Satterthwaite' or 'Kenward-Roger', "
                             f"not {ddf!r}")
        self.ddf = ddf
        self.model = model
        self.data_name = data_name if data_name is not None else getattr(
            model.lf, "data_name", None)
        self._title = model_title(model)  # as R's, with its trailing blank for ML fits
        self.objClass = model_class(model)
        if ddf != "lme4":  # lmerTest's title and class
            self._title += f". t-tests use {ddf}'s method"
            self.objClass = "lmerModLmerTest"
        self.methTitle = self._title.rstrip()
        self.REML = model.REML
        self.formula = model.formula
        self.sigma = model.sigma()
        self.varcor = model.VarCorr()
        self.vcov = model.vcov()
        self.logLik = model.logLik()
        self.AIC = model.AIC()
        self.BIC = model.BIC()
        self.deviance = model.deviance(REML=model.REML)  # lme4 1.1-31's value, no warning
        self.df_resid = model.df_residual()
        self.REMLcrit = model.REMLcrit() if model.REML else None
        self.ngrps = model.ngrps()
        self.nobs = model.nobs()
        self.optinfo = model.optinfo
        # an out-of-core fit keeps no rows, and so no residuals
        self.residuals = model.residuals(type="pearson", scaled=True) \
            if model.keeps_rows else None

    @cached_property
    def coefficients(self) -> pd.DataFrame:
        if self.ddf == "Satterthwaite":
            return self.model.satterthwaite()
        if self.ddf == "Kenward-Roger":
            return self.model.kenward_roger()
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
        """Min, 1Q, Median, 3Q, Max of the scaled residuals (R's ``quantile``, type 7);
        None without residuals (an out-of-core fit)."""
        if self.residuals is None:
            return None
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
        return html_summary(self)


class GlmerSummary(LmerSummary):
    """lme4's ``summary(glmerMod)``: print it, or read its parts.

    As :class:`LmerSummary`, with what differs for a GLMM:

    Attributes
    ----------
    coefficients : pandas.DataFrame
        Estimate, Std. Error, z value (t value for families with a dispersion parameter,
        such as Gamma, as lme4 labels it) and Pr(>|z|), the Wald p-value from the normal
        distribution for both labels, as lme4 computes it.
    family, link : str
        R's names of the family and link (``"binomial"``, ``"logit"``).
    useScale : bool
        Whether the family estimates a dispersion parameter (a "Residual" row in
        ``varcor``; ``sigma`` is 1 otherwise).
    deviance : float
        What lme4 prints as "deviance" under the title: -2 logLik (the Laplace or
        adaptive Gauss-Hermite deviance). The model's ``deviance()`` is the sum of squared
        deviance residuals, lme4's ``deviance(m)`` for a GLMM.
    residuals : pandas.Series
        Pearson residuals divided by sigma (lme4: ``residuals(m, "pearson", scaled =
        TRUE)``).
    nAGQ : int
        Quadrature points (0: beta from PIRLS; 1: the Laplace approximation).
    """

    def __init__(self, model, data_name: str | None = None):
        super().__init__(model, data_name)
        self.family = model.family.family
        self.link = model.family.link.name
        self.useScale = bool(model.family.estimates_dispersion)
        self.nAGQ = model.nAGQ
        self.deviance = -2.0 * float(self.logLik)

    @cached_property
    def coefficients(self) -> pd.DataFrame:
        est = self.model.fixef().to_numpy()
        se = np.sqrt(np.diag(self.vcov.to_numpy()))
        stat = est / se
        return pd.DataFrame({"Estimate": est, "Std. Error": se,
                             ("t value" if self.useScale else "z value"): stat,
                             "Pr(>|z|)": 2.0 * ndtr(-np.abs(stat))},
                            index=self.model.fixef().index)


def _dispersion_lines(m) -> list[str]:
    """glmmTMB's line for the families it estimates a dispersion of (nbinom2's theta,
    nbinom1's and beta's phi); lme4's glmer.nb shows theta in the family line instead."""
    family = getattr(m, "family", None)
    extra = getattr(family, "extra", None)
    if not isinstance(extra, float) or family.laplace != "exact":
        return []
    line = f"Dispersion parameter for {family.family} family (): {format_number(extra, 3)}"
    return ["", line]


def format_coefmat(coef: pd.DataFrame, digits: int, signif_stars: bool = True) -> list[str]:
    """R's ``printCoefmat`` with its default columns: estimates (Estimate, Std. Error and
    any further columns, such as lmerTest's df), a test statistic and, when the last column
    is a p-value ("Pr(..."), that p-value with significance stars and their legend.

    The estimate columns (``cs.ind``) are rounded together to the decimals that give the
    smallest of them ``digits`` significant digits, then formatted as one block; the
    statistic is rounded to ``dig.tst`` decimals; p-values are ``format.pval``'ed with
    ``dig.tst`` digits.
    """
    return print_coefmat(coef, digits, signif_stars=signif_stars)


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
    """lme4's ``print(summary(m))`` (``print.summary.merMod``; lmerTest's summary prints
    with it too)."""
    m = s.model
    lines = header_lines(m, s.data_name, s.objClass, title=s._title)
    lines.append("")
    lines += aictab_lines(m, 1)
    lines.append("")
    if show_resids and s.residuals is not None:
        lines.append("Scaled residuals: ")
        rq = zapsmall(s.residual_quantiles.to_numpy(), digits + 1)
        lines += print_named(r_format(rq, digits), ["Min", "1Q", "Median", "3Q", "Max"])
        lines.append("")
    lines.append("Random effects:")
    lines += varcorr_lines(s.varcor, digits, comp=("Variance", "Std.Dev."))
    lines += ngrps_lines(s.ngrps, s.nobs)
    lines += _dispersion_lines(m)
    p = len(s.coefficients)
    if p > 0:
        lines += ["", "Fixed effects:"]
        lines += format_coefmat(s.coefficients, digits)
        if correlation is None:
            correlation = p <= COR_MAX
            ddf_arg = "" if s.ddf == "lme4" else f"ddf={s.ddf!r}"
            if not correlation:
                lines += ["",
                          f"Correlation matrix not shown by default, as p = {p} > {COR_MAX}.",
                          f"Use print(m.summary({ddf_arg}).format(correlation=True))  or",
                          "    m.vcov()        if you need it",
                          ""]
        if correlation and p > 1:
            lines += _correlation_lines(s.vcov)
    lines += fit_warning_lines(m)
    lines += convergence_lines(s.optinfo, summary=False)
    return "\n".join(lines)


def html_summary(s, digits: int = max(3, DIGITS - 3)) -> str:
    """``print(summary(m))`` as HTML: the header, fit criteria and scaled residuals as
    text; the variance components and the coefficient table (R's formatting, stars) as
    tables; the correlation of the fixed effects and any warnings as text."""
    m = s.model
    head = header_lines(m, s.data_name, s.objClass, title=s._title) + [""]
    head += aictab_lines(m, 1)
    if s.residuals is not None:
        head += ["", "Scaled residuals: "]
        rq = zapsmall(s.residual_quantiles.to_numpy(), digits + 1)
        head += print_named(r_format(rq, digits), ["Min", "1Q", "Median", "3Q", "Max"])
    out = html_pre(head)
    out += html_varcorr_table(s.varcor, digits, ("Variance", "Std.Dev."), "Random effects:")
    out += html_pre(ngrps_lines(s.ngrps, s.nobs))
    trailing: list[str] = []
    p = len(s.coefficients)
    if p > 0:
        cells, labels, stars = coefmat_cells(s.coefficients, digits)
        out += html_table(cells, labels, list(s.coefficients.index), caption="Fixed effects:",
                          cls="pylmer-coef")
        if stars:
            trailing += signif_legend_lines()
        if p > COR_MAX:
            ddf_arg = "" if s.ddf == "lme4" else f"ddf={s.ddf!r}"
            trailing += [f"Correlation matrix not shown by default, as p = {p} > {COR_MAX}.",
                         f"Use print(m.summary({ddf_arg}).format(correlation=True))  or",
                         "    m.vcov()        if you need it"]
        elif p > 1:
            trailing += _correlation_lines(s.vcov)[1:]
    trailing += fit_warning_lines(m) + convergence_lines(s.optinfo, summary=False)
    if trailing:
        out += html_pre(trailing)
    return out
