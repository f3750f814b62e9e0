"""R's ``model.matrix``: columns and names from terms and evaluated variables.

For each term, in R's order, each variable contributes a block of columns and the term's
columns are the row-wise products of the blocks, the first variable varying fastest
(``flo:hA, fmid:hA, fhi:hA, flo:hB``). A numeric variable is its column(s); a factor is
coded either by contrasts or by one indicator per level, by R's rule (``TermCode``,
Chambers & Hastie 1992, p. 38): factor F in term T is coded by contrasts when T without F
is empty or is contained in an earlier term; otherwise by indicators. Without an
intercept, the first factor of the first term that has one is coded by indicators.
A logical variable is a factor with levels FALSE, TRUE.

Columns are named as R names them: the variable's text, then the contrast column's name,
the level, the matrix column's name (``poly(x, 2)1``) or ``TRUE`` for a logical.

The :class:`DesignPlan` made on the training data is kept, so new data are coded with
the same levels, contrasts and columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..exceptions import FormulaError
from ..formula.rvalue import RVector
from ..formula.terms import Terms
from .contrasts import CONTRASTS, coding_matrix

__all__ = ["Coding", "DesignPlan", "plan_design", "term_columns", "term_names"]


@dataclass(frozen=True)
class Coding:
    """How one variable enters the model matrix.

    ``levels`` is empty for a numeric variable, whose columns are named by ``suffixes``
    (``("",)`` for a plain vector); a factor's ``contrast`` is its coding matrix and
    ``suffixes`` that matrix's column names.
    """

    label: str
    levels: tuple[str, ...]
    contrast_name: str | None
    contrast: np.ndarray | None
    suffixes: tuple[str, ...]

    @property
    def is_factor(self) -> bool:
        return bool(self.levels)

    def block(self, value: RVector, indicators: bool) -> np.ndarray:
        """The variable's columns for ``value`` (n rows)."""
        if not self.is_factor:
            x = value.values
            return x[:, None] if x.ndim == 1 else x
        codes = _codes(value)
        table = np.eye(len(self.levels)) if indicators else self.contrast
        table = np.vstack([table, np.full((1, table.shape[1]), np.nan)])  # NA row
        return table[np.where(codes >= 0, codes, len(self.levels))]

    def names(self, indicators: bool) -> list[str]:
        if not self.is_factor:
            return [self.label + s for s in self.suffixes]
        parts = self.levels if indicators else self.suffixes
        return [self.label + s for s in parts]


def _codes(value: RVector) -> np.ndarray:
    if value.kind == "logical":
        return np.where(np.isnan(value.values), -1, value.values).astype(np.int64)
    return value.values


@dataclass(frozen=True)
class DesignPlan:
    """A model matrix's recipe: terms, how each variable is coded, and the column names.

    Attributes
    ----------
    terms : Terms
    codings : dict of int to Coding
        By variable index.
    indicator : tuple of tuple of bool
        For each term and each of its variables, whether the variable is coded by
        indicators (True) or contrasts (False).
    colnames : tuple of str
    assign : numpy.ndarray of int
        R's ``attr(X, "assign")``: 0 for the intercept, k for the k-th term (1-based).
    contrasts : dict of str to str
        The contrasts of each factor (R's ``attr(X, "contrasts")``).
    """

    terms: Terms
    codings: Mapping[int, Coding]
    indicator: tuple[tuple[bool, ...], ...]
    colnames: tuple[str, ...]
    assign: np.ndarray
    contrasts: Mapping[str, str]

    @property
    def labels(self) -> list[str]:
        """The variables the matrix needs, by their R names."""
        return [self.terms.labels[i] for i in self.terms.used_variables()]

    def build(self, variables: Mapping[str, RVector], n: int) -> np.ndarray:
        """The model matrix of ``variables`` (training or new data, n rows)."""
        columns = [np.ones((n, 1))] if self.terms.intercept else []
        for term, flags in zip(self.terms.terms, self.indicator):
            columns.append(term_columns([self.codings[i] for i in term], flags, variables, n))
        if not columns:
            return np.zeros((n, 0))
        return np.ascontiguousarray(np.hstack(columns))


def term_columns(codings: list[Coding], indicators: tuple[bool, ...],
                 variables: Mapping[str, RVector], n: int) -> np.ndarray:
    """One term's columns: the row-wise products of its variables' blocks, the first
    variable varying fastest (R's order)."""
    block = np.ones((n, 1))
    for coding, full in zip(codings, indicators):
        part = coding.block(variables[coding.label], full)
        # new columns are (previous) x (this one), the previous ones varying fastest
        block = (block[:, :, None] * part[:, None, :]).reshape(
            n, block.shape[1] * part.shape[1], order="F")
    return block


def term_names(codings: list[Coding], indicators: tuple[bool, ...]) -> list[str]:
    """R's names of one term's columns (``flo:hA``), in :func:`term_columns`' order."""
    names = [""]
    for coding, full in zip(codings, indicators):
        names = [f"{a}:{b}" if a else b for b in coding.names(full) for a in names]
    return names


def _factor_coding(label: str, value: RVector, chosen: Mapping[str, str],
                   where: str) -> Coding:
    levels = ("FALSE", "TRUE") if value.kind == "logical" else value.levels
    if len(levels) < 2:
        shown = f" ({levels[0]!r})" if levels else ""
        raise FormulaError(
            f"factor {label!r} {where} has a single level in the data{shown}: contrasts can "
            "be applied only to factors with 2 or more levels; remove it from the formula")
    labels = list(levels)
    base = 1
    if value.contrasts is not None:  # C(): R calls the contrast function with the count
        name, options, how_many = value.contrasts
        base = int(dict(options).get("base", 1))
        labels = [str(k) for k in range(1, len(levels) + 1)]
    elif label in chosen:
        name = chosen[label]
    else:
        name = "contr.poly" if value.ordered else "contr.treatment"
    matrix, suffixes = coding_matrix(name, labels, base)
    if value.contrasts is not None and value.contrasts[2] is not None:
        how_many = value.contrasts[2]
        if not 1 <= how_many <= matrix.shape[1]:
            raise FormulaError(f"C(): how.many = {how_many} must be in 1..{matrix.shape[1]}")
        matrix, suffixes = matrix[:, :how_many], suffixes[:how_many]
    return Coding(label, tuple(levels), name, matrix, tuple(suffixes))


def _numeric_coding(label: str, value: RVector) -> Coding:
    x = value.values
    if x.ndim == 1:
        return Coding(label, (), None, None, ("",))
    k = x.shape[1]
    if value.colnames is not None:
        suffixes = tuple(value.colnames)
    else:
        suffixes = ("",) if k == 1 else tuple(str(j) for j in range(1, k + 1))
    return Coding(label, (), None, None, suffixes)


def _indicator_pattern(terms: Terms, is_factor: Mapping[int, bool]
                       ) -> list[tuple[bool, ...]]:
    """R's TermCode, then its no-intercept rule."""
    pattern: list[list[bool]] = []
    earlier: list[set[int]] = []
    for term in terms.terms:
        flags = []
        for i in term:
            rest = set(term) - {i}
            contrasts = not rest or any(rest <= prev for prev in earlier)
            flags.append(not contrasts)
        pattern.append(flags)
        earlier.append(set(term))
    if not terms.intercept:
        for flags, term in zip(pattern, terms.terms):
            first = next((k for k, i in enumerate(term) if is_factor[i]), None)
            if first is not None:
                flags[first] = True
                break
    return [tuple(f) for f in pattern]


def plan_design(terms: Terms, variables: Mapping[str, RVector],
                contrasts: Mapping[str, str] | None = None,
                where: str = "in the fixed part") -> DesignPlan:
    """The model matrix's recipe from the training variables (R: ``model.matrix(terms,
    frame, contrasts.arg)``); ``where`` names the part of the formula in errors."""
    chosen = dict(contrasts or {})
    for name, kind in chosen.items():
        if kind not in CONTRASTS:
            raise FormulaError(f"contrasts for {name!r}: {kind!r} is not supported; use one "
                               "of " + ", ".join(CONTRASTS))
    codings: dict[int, Coding] = {}
    for i in terms.used_variables():
        label = terms.labels[i]
        value = variables[label]
        if value.kind in ("factor", "logical") and not value.is_matrix:
            codings[i] = _factor_coding(label, value, chosen, where)
        else:
            codings[i] = _numeric_coding(label, value)
    pattern = _indicator_pattern(terms, {i: c.is_factor for i, c in codings.items()})
    names = ["(Intercept)"] if terms.intercept else []
    assign = [0] if terms.intercept else []
    factor_contrasts: dict[str, str] = {}
    for k, (term, flags) in enumerate(zip(terms.terms, pattern), start=1):
        used = [codings[i] for i in term]
        for coding in used:
            if coding.is_factor:
                factor_contrasts.setdefault(coding.label, coding.contrast_name)
        labels = term_names(used, flags)
        names += labels
        assign += [k] * len(labels)
    return DesignPlan(terms, codings, tuple(pattern), tuple(names),
                      np.asarray(assign, dtype=np.int64), factor_contrasts)
