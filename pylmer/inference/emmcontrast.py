"""Contrasts of estimated marginal means: R's ``emmeans::contrast`` and ``pairs``.

Within each ``by`` group the means are the k "levels" of a family; a method gives a
k x c matrix of coefficients (emmeans' ``.emmc`` functions), each column one contrast.
A contrast's linear function of beta is its coefficients times the means' rows, so its
SE and df come from the means' own covariance and df method. P-values are adjusted
within each by group with the method's default (emmeans' ``adjust`` attribute).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import PylmerError
from .emmeans import EMMGrid, _EMMInfo
from .padjust import adjust_p

__all__ = ["contrast", "pairs"]

_DEFAULT_ADJUST = {"pairwise": "tukey", "revpairwise": "tukey", "trt.vs.ctrl": "dunnettx",
                   "poly": "none", "consec": "sidak", "eff": "fdr", "del.eff": "fdr"}


def _pairwise(labels: list[str], reverse: bool = False) -> tuple[np.ndarray, list[str]]:
    """All pairs: mean_i - mean_j for i < j; reversed (emmeans' ``revpairwise``),
    mean_i - mean_j for i > j, i slowest."""
    k = len(labels)
    pairs_ = ([(j, i) for j in range(1, k) for i in range(j)] if reverse else
              [(i, j) for i in range(k - 1) for j in range(i + 1, k)])
    cols, names = [], []
    for i, j in pairs_:
        c = np.zeros(k)
        c[i], c[j] = 1.0, -1.0
        cols.append(c)
        names.append(f"{labels[i]} - {labels[j]}")
    return np.array(cols).T, names


def _trt_vs_ctrl(labels: list[str], ref: int) -> tuple[np.ndarray, list[str]]:
    k = len(labels)
    cols, names = [], []
    for i in range(k):
        if i == ref:
            continue
        c = np.zeros(k)
        c[ref], c[i] = -1.0, 1.0
        cols.append(c)
        names.append(f"{labels[i]} - {labels[ref]}")
    return np.array(cols).T, names


def _poly(labels: list[str]) -> tuple[np.ndarray, list[str]]:
    """emmeans' ``poly.emmc``: orthogonal polynomials in equally spaced levels, scaled to
    integers (linear -3 -1 1 3 for four levels)."""
    k = len(labels)
    degree = min(6, k - 1)
    x = np.arange(1, k + 1, dtype=float)
    Q, _ = np.linalg.qr(np.vander(x - x.mean(), degree + 1, increasing=True))
    cols = []
    for j in range(1, degree + 1):
        con = Q[:, j] * np.sign(Q[-1, j])
        con = con / np.min(con[con > 0.01 * np.max(np.abs(con))]) if np.any(con > 0) else con
        z = np.max(np.abs(con - np.round(con)))
        while z > 0.05:
            con = con / z
            z = np.max(np.abs(con - np.round(con)))
        cols.append(np.round(con))
    names = ["linear", "quadratic", "cubic", "quartic"] + [f"degree {d}" for d in range(5, 21)]
    return np.array(cols).T, names[:degree]


def _consec(labels: list[str]) -> tuple[np.ndarray, list[str]]:
    k = len(labels)
    cols, names = [], []
    for i in range(k - 1):
        c = np.zeros(k)
        c[i], c[i + 1] = -1.0, 1.0
        cols.append(c)
        names.append(f"{labels[i + 1]} - {labels[i]}")
    return np.array(cols).T, names


def _eff(labels: list[str]) -> tuple[np.ndarray, list[str]]:
    k = len(labels)
    M = np.eye(k) - 1.0 / k
    return M, [f"{lab} effect" for lab in labels]


def _coefficients(method, labels: list[str], raw: list[str], ref
                  ) -> tuple[np.ndarray, list[str], str]:
    if isinstance(method, str):
        if len(labels) < 2:
            raise PylmerError(f"method={method!r} compares means, and a group here has one "
                              f"mean ({labels[0]}): give specs with several levels, fewer "
                              "by variables, or a dict of coefficients")
        if method in ("pairwise", "revpairwise"):
            return (*_pairwise(labels, method == "revpairwise"), method)
        if method == "trt.vs.ctrl":
            return (*_trt_vs_ctrl(labels, _reference(ref, labels, raw)), method)
        if method == "poly":
            if len(labels) < 3:
                return (*_pairwise(labels)[:1], ["linear"], method)
            return (*_poly(labels), method)
        if method == "consec":
            return (*_consec(labels), method)
        if method == "eff":
            return (*_eff(labels), method)
        raise PylmerError(f"method={method!r}: use 'pairwise', 'revpairwise', 'trt.vs.ctrl', "
                          "'poly', 'consec', 'eff', or a dict of name -> coefficients")
    if isinstance(method, dict):
        names, cols = [], []
        for name, coef in method.items():
            c = np.asarray(coef, dtype=float)
            if c.shape != (len(labels),) or not np.all(np.isfinite(c)):
                raise PylmerError(f"method[{name!r}] must be {len(labels)} finite numbers, one "
                                  f"per mean ({', '.join(labels)})")
            names.append(str(name))
            cols.append(c)
        if not cols:
            raise PylmerError("method is an empty dict: give name -> coefficients")
        return np.array(cols).T, names, "custom"
    raise TypeError(f"method must be a string or a dict of coefficients, got "
                    f"{type(method).__name__}")


def _reference(ref, labels: list[str], raw: list[str]) -> int:
    if isinstance(ref, str):
        if ref in raw:
            return raw.index(ref)
        if ref not in labels:
            raise PylmerError(f"ref={ref!r} is not one of the means' levels {raw}")
        return labels.index(ref)
    if isinstance(ref, (int, np.integer)) and not isinstance(ref, bool) and \
            0 <= int(ref) < len(labels):
        return int(ref)
    raise PylmerError(f"ref must be a label or a 0-based position below {len(labels)}, "
                      f"got {ref!r}")


def _labels(keys: pd.DataFrame, specs: list[str]) -> list[str]:
    """emmeans' level labels: the specs' values joined by spaces, with the variable's name
    in front when a single variable's levels look like numbers (``nF0``), and in
    parentheses when a label holds an operator (``(3+)``)."""
    parts = []
    for c in specs:
        values = [str(v) for v in keys[c]]
        numeric = all(_is_number(v) for v in values)
        parts.append([f"{c}{v}" if numeric else v for v in values])
    labels = [" ".join(p) for p in zip(*parts)]
    return [f"({lab})" if any(op in lab for op in "+-*/") else lab for lab in labels]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def contrast(emm: EMMGrid, method="pairwise", adjust: str | None = None, by=None,
             ref=0) -> pd.DataFrame:
    """Contrasts of estimated marginal means (R: ``emmeans::contrast(emm, method, adjust)``).

    Parameters
    ----------
    emm : EMMGrid
        What :func:`emmeans` returned.
    method : str or dict
        ``"pairwise"`` (all pairs i < j, mean_i - mean_j), ``"revpairwise"``,
        ``"trt.vs.ctrl"`` (each mean less the ``ref`` mean), ``"poly"`` (orthogonal
        polynomials, integer-scaled as emmeans'), ``"consec"``, ``"eff"``, or a dict of
        contrast name -> one coefficient per mean of a by group.
    adjust : str, optional
        Multiplicity adjustment within each by group: ``"tukey"``, ``"sidak"``,
        ``"scheffe"``, ``"dunnettx"``, ``"holm"``, ``"hochberg"``, ``"hommel"``,
        ``"bonferroni"``, ``"BH"``, ``"BY"``, ``"fdr"`` or ``"none"``. Default: the
        method's, as emmeans (tukey for pairs, dunnettx for trt.vs.ctrl, none for poly).
        Tukey for other than pairwise comparisons becomes Sidak, as emmeans does.
    by : str or list of str, optional
        The groups within which means are contrasted; default: the means' own ``by``.
    ref : int or str
        For ``"trt.vs.ctrl"``: the control, by 0-based position or label.

    Returns
    -------
    DataFrame
        ``contrast``, the by variables, ``estimate``, ``SE``, ``df``, ``t.ratio`` (or
        ``z.ratio`` with df = inf) and ``p.value``. Estimates are on the link scale for a
        GLMM; on a response-scale grid, log-link and logit-link contrasts are
        back-transformed to ratios and odds ratios (``ratio`` / ``odds.ratio``), as
        emmeans does.
    """
    if not isinstance(emm, EMMGrid) or not isinstance(getattr(emm, "_emm", None), _EMMInfo):
        raise TypeError("contrast() takes the result of emmeans() itself (a selection or "
                        f"copy of it is a plain DataFrame), got {type(emm).__name__}")
    info: _EMMInfo = emm._emm
    by_names = info.by if by is None else ([by] if isinstance(by, str) else list(by))
    variables = info.specs + info.by
    unknown = [b for b in by_names if b not in variables]
    if unknown:
        raise PylmerError(f"by={unknown} are not variables of these means ({variables})")
    specs = [c for c in variables if c not in by_names]
    if not specs:
        raise PylmerError("by names every variable of the means: nothing is left to contrast")
    keys = info.keys
    groups = (keys[by_names].astype(str).agg("\x1f".join, axis=1).to_numpy()
              if by_names else np.zeros(len(keys), dtype=object))
    rows, estimate_rows = [], []
    family_sizes, group_ids = [], []
    chosen_adjust = None
    order = list(dict.fromkeys(groups))
    for g, group in enumerate(order):
        members = np.flatnonzero(groups == group)
        labels = _labels(keys.iloc[members], specs)
        raw = [" ".join(str(keys[c].iloc[m]) for c in specs) for m in members]
        M, names, kind = _coefficients(method, labels, raw, ref)
        default = _DEFAULT_ADJUST.get(kind, "none") if kind != "custom" else "none"
        chosen_adjust = adjust if adjust is not None else default
        if chosen_adjust == "tukey" and kind not in ("pairwise", "revpairwise"):
            chosen_adjust = "sidak"
        for j, name in enumerate(names):
            coef = M[:, j]
            rows.append((name, *[keys[b].iloc[members[0]] for b in by_names]))
            estimate_rows.append((members, coef))
            group_ids.append(g)
        family_sizes.append(len(members))
    L = np.array([coef @ info.L[members] for members, coef in estimate_rows])
    est = np.array([coef @ info.estimate[members] for members, coef in estimate_rows])
    ok = np.array([info.estimable[members][coef != 0].all() for members, coef in estimate_rows])
    se, df = info.inference.se_df(L, ok)
    t = est / se
    group_ids = np.array(group_ids)
    p = np.full(len(L), np.nan)
    for g in range(len(order)):
        sel = (group_ids == g) & ok
        if sel.any():
            rank = int(np.linalg.matrix_rank(L[sel])) if chosen_adjust == "scheffe" else 1
            p[sel] = adjust_p(t[sel], df[sel], chosen_adjust, family_sizes[g], rank)
    table = pd.DataFrame(rows, columns=["contrast", *by_names])
    for b in by_names:
        if isinstance(keys[b].dtype, pd.CategoricalDtype):
            table[b] = pd.Categorical(table[b], categories=keys[b].cat.categories)
    estimate_name = "estimate"
    model = info.model
    if info.type == "response" and model.isGLMM() and kind in ("pairwise", "revpairwise",
                                                               "trt.vs.ctrl", "consec"):
        link = model.family.link.name
        if link in ("log", "logit"):
            estimate_name = "ratio" if link == "log" else "odds.ratio"
            est = np.exp(est)
            se = se * est
            table["contrast"] = [name.replace(" - ", " / ") for name in table["contrast"]]
    statistic = "z.ratio" if np.all(np.isinf(df[ok])) else "t.ratio"
    for a in (est, se, t):
        a[~ok] = np.nan
    table[estimate_name], table["SE"], table["df"] = est, se, df
    if estimate_name != "estimate":
        table["null"] = 1.0
    table[statistic], table["p.value"] = t, p
    return table


def pairs(emm: EMMGrid, adjust: str | None = None, by=None, reverse: bool = False
          ) -> pd.DataFrame:
    """Pairwise comparisons of estimated marginal means (R: ``pairs(emm)``):
    :func:`contrast` with ``method="pairwise"`` (``"revpairwise"`` with
    ``reverse=True``)."""
    return contrast(emm, "revpairwise" if reverse else "pairwise", adjust=adjust, by=by)
