"""``summary(m)`` of a fitted linear or generalized linear mixed model, printed as lme4
prints it (:class:`LmerSummary`, :class:`GlmerSummary`)."""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np
import pandas as pd
from scipy.special import ndtr

from ..exceptions import PylmerError
from .format import (
    aictab_lines,
    convergence_lines,
    fit_warning_lines,
    header_lines,
    model_class,
    model_title,
    ngrps_lines,
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

__all__ = ["LmerSummary", "GlmerSummary", "format_coefmat", "format_pval", "format_summary"]

COR_MAX = 12  # getOption("lme4.summary.cor.max")
EPS = float(np.finfo(float).eps)  # .Machine$double.eps, printCoefmat's eps.Pvalue
# symnum's cut points and symbols in printCoefmat, and their legend (R in a UTF-8 locale
# quotes the symbols with sQuote's typographic quotes)
SIGNIF_CUTS = (0.001, 0.01, 0.05, 0.1)
SIGNIF_SYMBOLS = ("***", "**", "*", ".", " ")
SIGNIF_LEGEND = " ".join(f"{cut} \u2018{sym}\u2019" for cut, sym in
                         zip(("0",) + SIGNIF_CUTS, SIGNIF_SYMBOLS)) + " 1"


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
    residuals : pandas.Series
        Scaled Pearson residuals; ``residual_quantiles`` gives Min, 1Q, Median, 3Q, Max.
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
        self.residuals = model.residuals(type="pearson", scaled=True)

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
        from .format import html_summary

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


def format_pval(pv, digits: int, eps: float = EPS) -> list[str]:
    """R's ``format.pval(pv, digits, eps)``: p-values of at least 1e-4 (1e-3 for
    ``digits = 1``) in fixed notation, smaller ones in scientific notation (each group
    formatted together), those below ``eps`` as "<2e-16"."""
    pv = np.asarray(pv, dtype=float)
    out = ["NA" if np.isnan(v) else "" for v in pv]
    ok = ~np.isnan(pv)
    is0 = ok & (pv < eps)
    rest = np.flatnonzero(ok & ~is0)
    rr: list[str] = []
    if rest.size:
        vals = pv[rest]
        expo = np.floor(np.log10(np.where(vals > 0, vals, 1e-50)))
        fixp = (expo >= -3) | ((expo == -4) & (digits > 1))
        for group in (fixp, ~fixp):
            if group.any():
                for i, text in zip(rest[group], r_format(vals[group], digits)):
                    out[i] = text
        rr = [out[i] for i in rest]
    if is0.any():
        dig = max(1, digits - 2)
        if rr:
            nc = max(len(t) for t in rr)
            if dig > 1 and dig + 6 > nc:
                dig = max(1, nc - 7)
            sep = "" if dig == 1 and nc <= 6 else " "
        else:
            sep = "" if dig == 1 else " "
        below = "<" + sep + r_format([eps], dig)[0]
        for i in np.flatnonzero(is0):
            out[i] = below
    return out


def _signif_symbol(p: float) -> str:
    """R's ``symnum(p, cutpoints = c(0, .001, .01, .05, .1, 1), na = FALSE)``."""
    if np.isnan(p):
        return ""
    for cut, symbol in zip(SIGNIF_CUTS, SIGNIF_SYMBOLS):
        if p <= cut:
            return symbol
    return SIGNIF_SYMBOLS[-1]


def format_coefmat(coef: pd.DataFrame, digits: int, signif_stars: bool = True) -> list[str]:
    """R's ``printCoefmat`` with its default columns: estimates (Estimate, Std. Error and
    any further columns, such as lmerTest's df), a test statistic and, when the last column
    is a p-value ("Pr(..."), that p-value with significance stars and their legend.

    The estimate columns (``cs.ind``) are rounded together to the decimals that give the
    smallest of them ``digits`` significant digits, then formatted as one block; the
    statistic is rounded to ``dig.tst`` decimals; p-values are ``format.pval``'ed with
    ``dig.tst`` digits.
    """
    xm = coef.to_numpy(dtype=float)
    p, nc = xm.shape
    labels = list(coef.columns)
    has_p = nc >= 4 and labels[-1][:3] in ("Pr(", "p-v")
    k = nc - has_p - 1  # cs.ind = 1:k, tst.ind = k + 1
    cells = [["" for _ in range(nc)] for _ in range(p)]
    coef_se = xm[:, :k]
    acs = np.abs(coef_se)
    finite = acs[np.isfinite(acs)]
    if finite.size:
        nonzero = finite[finite != 0]
        digmin = 1 + math.floor(math.log10(nonzero.min())) if nonzero.size else 1
        dec = max(1, digits - digmin)
        block = r_format(r_round(coef_se.T, dec).ravel(), digits)  # column-major, as R
        for j in range(k):
            for i in range(p):
                cells[i][j] = block[j * p + i]
    dig_tst = max(1, min(5, digits - 1))
    for i, text in enumerate(r_format(r_round(xm[:, k], dig_tst), digits)):
        cells[i][k] = text
    # a non-zero estimate shown as zero (or a zero shown otherwise) is reformatted alone
    for j in range(k):
        for i in range(p):
            x = xm[i, j]
            try:
                shown_zero = float(cells[i][j]) == 0
            except ValueError:
                continue
            if (x == 0) != shown_zero and not np.isnan(x):
                cells[i][j] = r_format([x], max(1, digits - 1))[0]
    for i in range(p):
        for j in range(nc):
            if np.isnan(xm[i, j]):
                cells[i][j] = "NaN"
    stars = False
    if has_p:
        pv = xm[:, -1]
        ok = ~np.isnan(pv)
        for i, text in zip(np.flatnonzero(ok), format_pval(pv[ok], dig_tst)):
            cells[i][-1] = text
        stars = signif_stars and bool(np.any(pv[ok] < 0.1))
        if stars:
            symbols = [_signif_symbol(v) for v in pv]
            w = max(len(sym) for sym in symbols)
            for row, sym in zip(cells, symbols):
                row.append(sym.ljust(w))  # format(): a common width, left-justified
            labels.append("")
    lines = print_matrix(cells, list(coef.index), labels, right=True)
    if stars:
        lines += ["---", "Signif. codes:  " + SIGNIF_LEGEND]
    return lines


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
