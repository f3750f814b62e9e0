"""lme4's printed form of fitted models: ``print(VarCorr(m))`` (:func:`format_varcorr`),
``print(m)`` (:func:`format_lmermod`, for lmerMod and glmerMod) and the shared pieces of
``print(summary(m))`` (see :mod:`pylmer.results.summary`), built on R's layout rules in
:mod:`pylmer.results.rprint`; R's ``printCoefmat`` (:func:`print_coefmat`) and
``print.anova`` (:class:`AnovaTable`, what ``anova()`` returns), lme4's
``print(ranef(m))`` (:func:`format_ranef`), and the HTML that notebooks show for a model,
its summary and its variance components (:func:`html_lmermod`, :func:`pylmer.results.summary.html_summary`,
:func:`html_varcorr`).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import pandas as pd

from .rprint import (
    DIGITS,
    SIGNIF_LEGEND,
    WIDTH,
    cat_fill,
    format_number,
    format_pval,
    formula_deparse,
    formula_lines,
    print_matrix,
    print_named,
    r_format,
    r_name_tag,
    r_round,
    signif_symbol,
    zapsmall,
)

__all__ = ["format_varcorr", "format_lmermod", "header_lines", "varcorr_lines",
           "coefmat_cells", "print_coefmat", "format_anova", "AnovaTable", "lrt_table",
           "format_ranef", "html_lmermod", "html_pre", "html_table",
           "html_varcorr", "html_varcorr_table"]


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
    """Whether ``m`` is a GLMM (a glmerMod)."""
    return m.isGLMM()


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


# =========================================================================== coefficient tables


def coefmat_cells(x: pd.DataFrame, digits: int = max(3, DIGITS - 2),
                  cs_ind: Sequence[int] | None = None, tst_ind: Sequence[int] | None = None,
                  zap_ind: Sequence[int] = (), has_p: bool | None = None,
                  signif_stars: bool = True, na_print: str = "NA", nan_is_na: bool = False
                  ) -> tuple[list[list[str]], list[str], bool]:
    """The cells of R's ``printCoefmat(x, digits, cs.ind, tst.ind, zap.ind, has.Pvalue,
    na.print)``: (cells, column labels, whether significance stars were added).

    Column indices are 0-based. ``cs_ind=None`` and ``tst_ind=None`` are R's defaults
    (estimates ``1:k`` and the statistic ``k + 1``). A NaN is R's NaN (printed "NaN"), or,
    with ``nan_is_na=True``, R's NA (printed ``na_print``), as in anova tables.
    """

    labels = [str(c) for c in x.columns]
    xm = np.array(x.to_numpy(dtype=float, na_value=np.nan), dtype=float)
    nr, nc = xm.shape
    if has_p is None:
        has_p = nc >= 4 and labels[-1][:3] in ("Pr(", "p-v")
    k = nc - int(has_p) - (1 if tst_ind is None else len(tst_ind))
    cs_ind = list(range(k)) if cs_ind is None else list(cs_ind)
    tst_ind = [k] if tst_ind is None else list(tst_ind)
    cells = [["" for _ in range(nc)] for _ in range(nr)]
    isna = np.isnan(xm)
    ok = ~isna
    for j in zap_ind:
        xm[:, j] = zapsmall(xm[:, j], digits)

    def put(cols: list[int], texts: list[str]) -> None:  # a column-major block, as R's
        for n, text in enumerate(texts):
            cells[n % nr][cols[n // nr]] = text

    if cs_ind and nr:
        acs = np.abs(xm[:, cs_ind])
        finite = acs[np.isfinite(acs)]
        if finite.size:
            nonzero = finite[finite != 0]
            digmin = 1 + (math.floor(math.log10(nonzero.min())) if nonzero.size else 0)
            dec = max(1, digits - digmin)
            put(cs_ind, r_format(r_round(xm[:, cs_ind].T, dec).ravel(), digits,
                                 na=nan_is_na))
    dig_tst = max(1, min(5, digits - 1))
    if tst_ind and nr:
        put(tst_ind, r_format(r_round(xm[:, tst_ind].T, dig_tst).ravel(), digits,
                              na=nan_is_na))
    p_col = nc - 1 if has_p else None
    for j in range(nc):
        if j not in cs_ind and j not in tst_ind and j != p_col:
            put([j], r_format(xm[:, j], digits, na=nan_is_na))
    # a non-zero value shown as zero (or a zero shown otherwise) is formatted again, all
    # such values together with one digit less
    okp = ok.copy()
    okp[:, tst_ind] = False
    if has_p:
        okp[:, -1] = False
    redo = []
    for j in range(nc):  # column-major, as R's Cf[okP]
        for i in range(nr):
            if okp[i, j]:
                try:
                    shown_zero = float(cells[i][j]) == 0
                except ValueError:
                    continue
                if (xm[i, j] == 0) != shown_zero:
                    redo.append((i, j))
    if redo:
        texts = r_format([xm[i, j] for i, j in redo], max(1, digits - 1))
        for (i, j), text in zip(redo, texts):
            cells[i][j] = text
    for i, j in zip(*np.nonzero(isna)):
        cells[i][j] = na_print if nan_is_na else "NaN"
    stars = False
    if has_p and ok[:, -1].any():
        pv = xm[:, -1]
        okrows = np.flatnonzero(ok[:, -1])
        for i, text in zip(okrows, format_pval(pv[okrows], dig_tst)):
            cells[i][-1] = text
        stars = signif_stars and bool(np.any(pv[okrows] < 0.1))
        if stars:
            symbols = [signif_symbol(v) for v in pv]
            w = max(len(sym) for sym in symbols)
            for row, sym in zip(cells, symbols):
                row.append(sym.ljust(w))  # format(): a common width, left-justified
            labels.append("")
    return cells, labels, stars


def signif_legend_lines() -> list[str]:
    """printCoefmat's legend under a table with significance stars."""
    return ["---", "Signif. codes:  " + SIGNIF_LEGEND]


def print_coefmat(x: pd.DataFrame, digits: int = max(3, DIGITS - 2), *,
                  signif_legend: bool = True, **kwargs) -> list[str]:
    """R's ``printCoefmat``: the printed lines (see :func:`coefmat_cells` for the
    arguments), with the significance legend when stars are shown."""
    cells, labels, stars = coefmat_cells(x, digits, **kwargs)
    lines = print_matrix(cells, [str(r) for r in x.index], labels, right=True)
    if stars and signif_legend:
        lines += signif_legend_lines()
    return lines


# =========================================================================== anova tables

ANOVA_DIGITS = max(DIGITS - 2, 3)  # print.anova's default digits


def anova_columns(colnames: Sequence[str]) -> dict:
    """How R's ``print.anova`` treats the columns: a p-value last ("Pr(" or "P("), test
    statistics ("... value", F, Cp, Chisq) rounded, the rest zapped (columns ending in
    "Df" are not)."""
    cn = [str(c) for c in colnames]
    nc = len(cn)
    has_p = bool(nc) and (cn[-1].startswith("Pr(") or cn[-1].startswith("P("))
    tst = [j for j, c in enumerate(cn) if c[1:7] == " value"]
    tst += [j for j, c in enumerate(cn) if c in ("F", "Cp", "Chisq")]
    zap = [j for j in range(nc - 1 if has_p else nc)
           if j not in tst and not cn[j].endswith("Df")]
    return {"has_p": has_p, "tst_ind": tst, "zap_ind": zap}


def anova_cells(table: pd.DataFrame, digits: int = ANOVA_DIGITS, signif_stars: bool = True):
    """:func:`coefmat_cells` as ``print.anova`` calls printCoefmat: NaN is NA, printed
    blank (``na.print = ""``)."""
    return coefmat_cells(table, digits, cs_ind=[], signif_stars=signif_stars, na_print="",
                         nan_is_na=True, **anova_columns(table.columns))


def format_anova(table: pd.DataFrame, heading: Sequence[str] = (),
                 digits: int = ANOVA_DIGITS, signif_stars: bool = True) -> str:
    """R's ``print.anova``: the heading, then the table as ``printCoefmat`` prints it (all
    columns, in blocks no wider than 80 characters as R's), missing values blank, p-values
    ``format.pval``'ed, significance stars and their legend."""
    lines = "\n".join(heading).split("\n") if heading else []
    cells, labels, stars = anova_cells(table, digits, signif_stars)
    lines += print_matrix(cells, [str(r) for r in table.index], labels, right=True)
    if stars:
        lines += signif_legend_lines()
    return "\n".join(lines)


class AnovaTable(pd.DataFrame):
    """What :func:`pylmer.anova` returns: a pandas DataFrame that prints as R prints the
    anova table (``print.anova``: the heading, R's number formatting, blanks for missing
    values, significance stars and legend); ``heading`` holds the heading lines.

    Frames derived from it (rows, columns) keep the heading and the printing; a frame
    with non-numeric columns prints as pandas prints it.
    """

    _metadata: ClassVar[list[str]] = ["heading"]

    @property
    def _constructor(self):
        return AnovaTable

    def _prints_as_r(self) -> bool:
        return len(self.columns) > 0 and all(
            pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t)
            for t in self.dtypes)

    def format(self, digits: int = ANOVA_DIGITS, signif_stars: bool = True) -> str:
        """The printed table (R: ``print(anova(...), digits, signif.stars)``)."""
        return format_anova(self, getattr(self, "heading", ()) or (), digits, signif_stars)

    def __repr__(self) -> str:
        if not self._prints_as_r():
            return pd.DataFrame(self).__repr__()
        return self.format()

    def __str__(self) -> str:
        return self.__repr__()

    def _repr_html_(self) -> str:
        if not self._prints_as_r():
            return pd.DataFrame(self)._repr_html_()
        heading = list(getattr(self, "heading", ()) or ())
        cells, labels, stars = anova_cells(self)
        out = html_pre(heading) if heading else ""
        out += html_table(cells, labels, [str(r) for r in self.index], cls="pylmer-anova")
        if stars:
            out += html_pre(signif_legend_lines())
        return out


def _with_heading(table: pd.DataFrame, heading: Sequence[str]) -> AnovaTable:
    out = AnovaTable(table)
    out.heading = tuple(heading)
    return out


def lrt_table(table: pd.DataFrame, models: dict) -> AnovaTable:
    """lme4's likelihood-ratio table with its heading: "Data: <name>" (when the data's
    name is known: lme4 prints the call's data argument), "Models:" and each model's
    formula as lme4 deparses it, in the table's row order.

    The models are named as the table's rows (``anova(..., model_names=)``, m1, m2, ...
    by default), where R names them after the call's arguments."""
    names = [str(n) for n in table.index]
    first = models[names[0]]
    data_name = getattr(first.lf, "data_name", None)
    heading = [f"Data: {data_name}"] if data_name else []
    heading.append("Models:")
    for name in names:
        heading += [f"{name}: {part}" for part in formula_deparse(models[name].formula)]
    return _with_heading(table, heading)


# =========================================================================== ranef


def data_frame_lines(frame: pd.DataFrame, digits: int = DIGITS) -> list[str]:
    """``print(<data.frame>)``: numeric columns each formatted as one vector (``digits``
    significant), right-justified under their names; row names left-justified."""
    columns = []
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col):
            columns.append(r_format(col.to_numpy(dtype=float, na_value=np.nan), digits,
                                    na=True))
        else:
            columns.append(["NA" if pd.isna(v) else str(v) for v in col])
    cells = [[c[i] for c in columns] for i in range(len(frame))]
    return print_matrix(cells, [str(r) for r in frame.index], [str(c) for c in frame.columns],
                        right=True)


def format_ranef(re, digits: int = DIGITS) -> str:
    """lme4's ``print(ranef(m))``: each grouping factor's conditional modes as a data
    frame under its ``$name`` tag, then (with ``condVar``) "with conditional variances
    for “g” ..."."""
    if not len(re):
        return "named list()"
    lines: list[str] = []
    for group, frame in re.items():
        lines.append(r_name_tag(str(group)))
        lines += data_frame_lines(frame, digits)
        lines.append("")
    postvar = getattr(re, "postVar", None) or {}
    with_pv = [str(g) for g in re if g in postvar]
    if with_pv:  # cat(..., "\n") ends the line with a blank
        lines.append("with conditional variances for "
                     + " ".join(f"\u201c{g}\u201d" for g in with_pv) + " ")
    return "\n".join(lines)


# =========================================================================== HTML


def _esc(text) -> str:
    return html.escape(str(text), quote=False)


def html_pre(lines: Sequence[str]) -> str:
    return "<pre>" + _esc("\n".join(lines)) + "</pre>"


def html_table(cells: Sequence[Sequence[str]], colnames: Sequence[str],
               rownames: Sequence[str] | None = None, left: Sequence[int] = (),
               caption: str | None = None, cls: str | None = None) -> str:
    """An escaped HTML ``<table>`` of already formatted cells (padding stripped); columns
    in ``left`` are left-aligned, the others right-aligned as numbers."""
    out = [f'<table class="{_esc(cls)}">' if cls else "<table>"]
    if caption:
        out.append(f'<caption style="text-align: left">{_esc(caption)}</caption>')
    head = ([""] if rownames is not None else []) + [str(c) for c in colnames]
    out.append("<thead><tr>" + "".join(f"<th>{_esc(h)}</th>" for h in head)
               + "</tr></thead><tbody>")
    for i, row in enumerate(cells):
        tds = [f"<th>{_esc(rownames[i])}</th>"] if rownames is not None else []
        for j, cell in enumerate(row):
            align = "left" if j in left else "right"
            tds.append(f'<td style="text-align: {align}">{_esc(str(cell).strip())}</td>')
        out.append("<tr>" + "".join(tds) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def html_varcorr_table(vc, digits: int, comp: Sequence[str], caption: str | None) -> str:
    cells, labels = varcorr_matrix(vc, digits, comp)
    return html_table(cells, labels, left=(0, 1), caption=caption, cls="pylmer-varcorr")


def html_varcorr(vc, digits: int = max(3, DIGITS - 2),
                 comp: Sequence[str] = ("Std.Dev.",)) -> str:
    """``print(VarCorr(m))`` as an HTML table."""
    return html_varcorr_table(vc, digits, comp, None)


def html_lmermod(m, data_name: str | None = None, digits: int = max(3, DIGITS - 3)) -> str:
    """``print(m)`` as HTML: the header lines as text, the variance components and the
    fixed-effects estimates as tables."""
    out = html_pre(header_lines(m, data_name) + aictab_lines(m, 4))
    out += html_varcorr_table(m.VarCorr(), digits, ("Std.Dev.",), "Random effects:")
    out += html_pre(ngrps_lines(m.ngrps(), m.nobs()))
    fe = m.fixef()
    if len(fe):
        cells = [[v] for v in r_format(fe.to_numpy(), digits)]
        out += html_table(cells, ["Estimate"], list(fe.index), caption="Fixed Effects:",
                          cls="pylmer-coef")
    else:
        out += html_pre(["No fixed effect coefficients"])
    trailing = fit_warning_lines(m) + convergence_lines(m.optinfo, summary=True)
    if trailing:
        out += html_pre(trailing)
    return out
