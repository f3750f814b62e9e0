"""lme4's printed form of fitted models: ``print(VarCorr(m))`` (:func:`format_varcorr`),
``print(m)`` (:func:`format_lmermod`, for lmerMod and glmerMod) and the shared pieces of
``print(summary(m))`` (see :mod:`pylmer.results.summary`), built on R's layout rules in
:mod:`pylmer.results.rprint`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .rprint import (
    DIGITS,
    WIDTH,
    cat_fill,
    format_number,
    formula_lines,
    print_matrix,
    print_named,
    r_format,
    r_round,
)

__all__ = ["format_varcorr", "format_lmermod", "header_lines", "varcorr_lines"]


def method_title(REML: bool) -> str:
    """lme4's ``methTitle`` for a linear mixed model."""
    return "Linear mixed model fit by " + ("REML" if REML else "maximum likelihood ")


def glmm_method_title(nAGQ: int) -> str:
    """lme4's ``methTitle`` for a generalized linear mixed model (nAGQ = 0 is called
    quadrature too, as lme4 does)."""
    how = ("(Laplace Approximation)" if nAGQ == 1 else
           f"(Adaptive Gauss-Hermite Quadrature, nAGQ = {nAGQ})")
    return "Generalized linear mixed model fit by maximum likelihood " + how


def is_glmm(m) -> bool:
    """Whether ``m`` is a GLMM (a glmerMod: it has a family)."""
    return getattr(m, "family", None) is not None


def model_class(m) -> str:
    """R's ``class(m)``: "glmerMod" or "lmerMod"."""
    return "glmerMod" if is_glmm(m) else "lmerMod"


def model_title(m) -> str:
    """lme4's ``methTitle(m@devcomp$dims)`` for either kind of model."""
    return glmm_method_title(m.nAGQ) if is_glmm(m) else method_title(prints_as_reml(m))


def prints_as_reml(m) -> bool:
    """lme4 records REML as the number of fixed effects (``dims[["REML"]]``), so a REML
    fit without fixed effects prints as a maximum likelihood fit."""
    return bool(m.REML) and len(m.fixef()) > 0


def strwrap(text: str, width: int, exdent: int = 0) -> list[str]:
    """R's ``strwrap(text, width, exdent = exdent)`` for one paragraph of plain words: a
    line is filled while its length stays below ``width``."""
    lines: list[list[str]] = [[]]
    used = 0
    limit = width
    for word in text.split():
        if lines[-1] and used + len(word) + 1 > limit:
            lines.append([])
            used = 0
            limit = width - exdent
        lines[-1].append(word)
        used += len(word) + 1
    return [" " * (exdent if k else 0) + " ".join(words) for k, words in enumerate(lines)]


def title_lines(mtit: str, cls: str, width: int = WIDTH) -> list[str]:
    """lme4's ``.prt.methTit``: "<title> ['<class>']", or, when that is wider than the
    console, the title wrapped with its class in brackets:
    ``cat(strwrap(mtit, width - 2, exdent = 2), " [", cls, "]", sep = "", fill = TRUE)``."""
    if len(mtit) + 5 + len(cls) <= width:
        return [f"{mtit} ['{cls}']"]
    lines: list[str] = []
    used = 0
    for item in strwrap(mtit, width - 2, exdent=2) + [" [", cls, "]"]:
        if lines and used + len(item) > width:  # cat(fill=) with sep = ""
            lines.append("")
            used = 0
        if not lines:
            lines.append("")
        lines[-1] += item
        used += len(item)
    return lines


def family_lines(family) -> list[str]:
    """lme4's ``.prt.family``: " Family: binomial  ( logit )"."""
    return cat_fill([" Family:", family.family, f" ( {family.link.name} )"])


def header_lines(m, data_name: str | None, cls: str | None = None,
                 title: str | None = None) -> list[str]:
    """``.prt.methTit``, ``.prt.family`` and ``.prt.call``: title (``model_title(m)``
    unless given), family (GLMMs), formula and (when known) data."""
    lines = title_lines(title or model_title(m), cls or model_class(m))
    if is_glmm(m):
        lines += family_lines(m.family)
    lines += formula_lines(m.formula)
    if data_name:
        lines += cat_fill(["   Data:", data_name])
    return lines


def aictab_lines(m, digits: int) -> list[str]:
    """``.prt.aictab``: the REML criterion, or the AIC BIC logLik deviance df.resid table,
    rounded to ``digits`` decimals.

    The "deviance" is lme4's ``devCrit``: for a GLMM -2 logLik (the Laplace / AGQ
    deviance), not ``deviance(m)``, the sum of squared deviance residuals.
    """
    if prints_as_reml(m):
        value = r_round(m.REMLcrit(), digits)
        return cat_fill(["REML criterion at convergence:", format_number(value)])
    loglik = float(m.logLik())
    dev = -2.0 * loglik if is_glmm(m) else m.deviance(REML=m.REML)  # lme4's deviance()
    values = [m.AIC(), m.BIC(), loglik, dev, float(m.df_residual())]
    rounded = r_round(np.array(values), digits)
    text = r_format(rounded)
    text[4] = r_format([rounded[4]])[0]
    return print_named(text, ["AIC", "BIC", "logLik", "deviance", "df.resid"])


def varcorr_matrix(vc, digits: int, comp: Sequence[str] = ("Std.Dev.",)):
    """lme4's ``formatVC``: the cells and column labels of the variance components table."""
    sds = [term.stddev for term in vc.terms]
    groups = [term.group for term in vc.terms]
    names = [list(term.columns) for term in vc.terms]
    if vc.sigma is not None:
        sds.append(np.array([vc.sigma]))
        groups.append("Residual")
        names.append([""])
    lens = [len(s) for s in sds]
    nr = sum(lens)
    flat = np.concatenate(sds)
    columns: list[list[str]] = [[], []]
    for g, cols in zip(groups, names):
        columns[0] += [g] + [""] * (len(cols) - 1)
        columns[1] += cols
    labels = ["Groups", "Name"]
    for c in comp:
        labels.append(c)
        columns.append(r_format(flat**2 if c == "Variance" else flat, digits))
    maxlen = max(lens)
    if maxlen > 1:
        dig = max(2, digits - 2)
        blocks = []
        for term in vc.terms:
            nc = len(term.columns)
            cc = r_format(r_round(term.corr, dig), nsmall=dig)
            block = [[cc[i * nc + j] if j < i else "" for j in range(nc)] for i in range(nc)]
            blocks += [row + [""] * (maxlen - nc) for row in block]
        blocks += [[""] * maxlen] * (nr - len(blocks))
        for j in range(maxlen - 1):
            labels.append("Corr" if j == 0 else "")
            columns.append([row[j] for row in blocks])
    cells = [[col[i] for col in columns] for i in range(nr)]
    return cells, labels


def varcorr_lines(vc, digits: int, comp: Sequence[str] = ("Std.Dev.",)) -> list[str]:
    cells, labels = varcorr_matrix(vc, digits, comp)
    return print_matrix(cells, [""] * len(cells), labels)


def format_varcorr(vc, digits: int = max(3, DIGITS - 2),
                   comp: Sequence[str] = ("Std.Dev.",)) -> str:
    """lme4's ``print(VarCorr(m))``: Groups, Name, Std.Dev. (and Corr) columns.

    ``comp=("Variance", "Std.Dev.")`` shows both, as ``summary()`` does.
    """
    return "\n".join(varcorr_lines(vc, digits, comp))


def ngrps_lines(ngrps: dict[str, int], nobs: int) -> list[str]:
    """``.prt.grps``: "Number of obs: 180, groups:  Subject, 18"."""
    groups = "; ".join(f"{g}, {k}" for g, k in ngrps.items())
    return cat_fill([f"Number of obs: {nobs}, groups: ", groups])


def fit_warning_lines(m) -> list[str]:
    """lme4's "fit warnings:" (the columns dropped from a rank-deficient X)."""
    dropped = len(m.lf.fixed.dropped)
    if not dropped:
        return []
    what = "column / coefficient" if dropped == 1 else "columns / coefficients"
    return ["fit warnings:",
            f"fixed-effect model matrix is rank deficient so dropping {dropped} {what}"]


def convergence_lines(optinfo, summary: bool) -> list[str]:
    """``.prt.warn``: the optimizer's code and lme4's convergence messages, if any."""
    conv = int(getattr(optinfo, "conv", 0) or 0)
    msgs = list(getattr(optinfo, "messages", ()) or ())
    if conv == 0 and not msgs:
        return []
    status = "(OK)" if conv == 0 else f"({optinfo.message})" if optinfo.message else ""
    convmsg = f"optimizer ({optinfo.optimizer}) convergence code: {conv} {status}"
    if summary:
        return [f"{convmsg} ; 0 optimizer warnings; {len(msgs)} lme4 warnings "]
    # cat(convmsg, msgs, sep = "\n"); cat("\n"): R's cat ends with a separator, and
    # writes one more for the empty msgs vector
    return [convmsg] + ("\n".join(msgs).split("\n") if msgs else [""]) + [""]


def format_lmermod(m, data_name: str | None = None, digits: int = max(3, DIGITS - 3)) -> str:
    """lme4's ``print(m)`` of a fitted lmerMod or glmerMod (``print.merMod``)."""
    lines = header_lines(m, data_name)
    lines += aictab_lines(m, 4)
    lines.append("Random effects:")
    lines += varcorr_lines(m.VarCorr(), digits)
    lines += ngrps_lines(m.ngrps(), m.nobs())
    fe = m.fixef()
    if len(fe):
        lines.append("Fixed Effects:")
        lines += print_named(r_format(fe.to_numpy(), digits), list(fe.index), gap=2)
    else:
        lines.append("No fixed effect coefficients")
    lines += fit_warning_lines(m)
    lines += convergence_lines(m.optinfo, summary=True)
    return "\n".join(lines)
