"""The model's structure for an out-of-core fit, from pass 1's level sample.

The sample (rows of the data holding every level of every factor) goes through the same
steps as data in memory: :func:`~pylmer.formula.frame.model_frame`,
:func:`~pylmer.design.fixed.fixed_design` and :func:`~pylmer.design.random.mkReTrms`, so X's
columns and names, the contrasts, the grouping factors' levels, the terms' order and
``Lambdat``, ``Lind``, ``theta`` and ``lower`` are lme4's for the whole data. The checks
that count rows (lme4's rank, scale and grouping-factor checks) are made later, on the
totals of pass 2. :class:`OutOfCoreFormula` is the resulting
:class:`~pylmer.lformula.LFormula`: the structure and the number of observations, and no
rows.

Formula functions whose value depends on the whole column (``scale()``, ``poly()``,
``ns()``, ``bs()``, ``mean()`` and the other reductions, ``cut(x, 3)``) cannot be
evaluated one partition at a time: they are refused with an error naming the term.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import scipy.sparse as sps

from ..control import LmerControl
from ..design.fixed import FixedDesign, fixed_design
from ..design.random import ReTrms, mkReTrms
from ..exceptions import FormulaError
from ..formula.bars import MixedFormula
from ..formula.evaluate import FUNCTIONS, Evaluator, data_names
from ..formula.frame import ModelFrame
from ..formula.rexpr import BinOp, Call, FormulaSyntaxError, Node, Paren, UnaryOp, deparse, parse
from ..lformula import LFormula
from ..results.outofcore import rows_not_kept
from .partition import FrameSpec, partition_frame

__all__ = ["OutOfCoreFormula", "build_structure", "formula_nodes", "model_columns",
           "refuse_codes_of_factors", "refuse_stateful", "refuse_whole_column_functions",
           "without_rows"]

# functions of a whole column, besides the reductions (mean, sd, ...): their constants
# (centre and scale, polynomial coefficients, knots) come from every row
WHOLE_COLUMN = ("scale", "poly", "ns", "bs")
# functions giving a factor's level codes, which depend on the levels in the whole column
CODES = ("as.numeric", "as.double", "as.integer")


def _calls(node: Node):
    """Every call in an expression, outermost first."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Call):
            yield n
            stack.extend(v for _, v in n.kwargs)
            stack.extend(n.args)
        elif isinstance(n, BinOp):
            stack.extend([n.right, n.left])
        elif isinstance(n, UnaryOp):
            stack.append(n.operand)
        elif isinstance(n, Paren):
            stack.append(n.inner)


def formula_nodes(formula: MixedFormula, weights: str | None,
                  offset: str | None) -> dict[str, Node]:
    """Every expression the model evaluates, by where it is written (for errors)."""
    out: dict[str, Node] = {deparse(formula.response): formula.response}
    for terms in (formula.terms, *(t.terms for t in formula.random)):
        for node, label in zip(terms.variables, terms.labels):
            out.setdefault(label, node)
    for node in formula.offsets:
        out[f"offset({deparse(node)})"] = node
    for what, text in (("weights", weights), ("offset", offset)):
        if text is not None:
            try:
                out[f"{what}={text!r}"] = parse(text)
            except FormulaSyntaxError as exc:
                raise FormulaError(f"{what}={text!r} is not a column name or an R expression "
                                   f"of columns: {exc}") from None
    return out


def _whole_column_error(call: str, where: str) -> FormulaError:
    return FormulaError(
        f"{call} (in {where!r}) needs the whole column: an out-of-core fit evaluates the "
        "formula one partition at a time, where its value would differ from partition to "
        "partition. Compute it as a column of the Dask DataFrame first (e.g. "
        "ddf['x_s'] = (ddf['x'] - ddf['x'].mean()) / ddf['x'].std() in place of "
        "scale(x)) and use that column, or fit lmer(formula, ddf.compute()) if the data "
        "fit in memory")


def refuse_whole_column_functions(nodes: dict[str, Node]) -> None:
    """The formula's functions of a whole column (``scale()``, ``poly()``, ``ns()``,
    ``bs()``, ``mean()``, ``sd()``, ``quantile()``, ...) are refused, by name."""
    for where, node in nodes.items():
        for call in _calls(node):
            fn = FUNCTIONS.get(call.fn)
            if call.fn in WHOLE_COLUMN or (fn is not None and fn.group == "reduction"):
                raise _whole_column_error(f"{call.fn}()", where)


def refuse_stateful(keys: tuple[str, ...]) -> None:
    """Calls that computed constants from a partition's column (``cut(x, 3)``'s breaks,
    found while evaluating) are refused."""
    if keys:
        raise _whole_column_error(keys[0], keys[0])


def refuse_codes_of_factors(nodes: dict[str, Node], sample: pd.DataFrame) -> None:
    """``as.numeric(f)`` of a factor gives its level codes, which depend on the levels of
    the whole column: refused (the sample tells which arguments are factors)."""
    ev = Evaluator(sample)
    for where, node in nodes.items():
        for call in _calls(node):
            if call.fn in CODES and call.args and ev.evaluate(call.args[0]).kind == "factor":
                raise FormulaError(
                    f"{deparse(call)} (in {where!r}) gives a factor's level codes, which "
                    "depend on the levels of the whole column: an out-of-core fit cannot "
                    "evaluate it one partition at a time. Add the codes as a column of the "
                    "Dask DataFrame first (e.g. with a Categorical column's .cat.codes + 1)")


def model_columns(formula: MixedFormula, nodes: dict[str, Node],
                  columns: list[str]) -> list[str]:
    """The data columns the model reads, in order (each partition is read for these
    only); a name that is not a column is an error listing the data's columns."""
    names: list[str] = []
    for node in nodes.values():
        names += [c for c in data_names(node) if c not in names]
    for term in formula.random:
        names += [g for g in term.group if g not in names]
    unknown = [c for c in names if c not in columns]
    if unknown:
        shown = ", ".join(map(str, columns[:20])) + (" ..." if len(columns) > 20 else "")
        raise FormulaError(f"unknown column {unknown[0]!r}: the Dask DataFrame has columns: "
                           f"{shown}")
    return names


def build_structure(formula: MixedFormula, sample: pd.DataFrame, weights: str | None,
                    offset: str | None, contrasts, control: LmerControl
                    ) -> tuple[ModelFrame, FixedDesign, ReTrms]:
    """The model frame of the level sample and the whole data's X recipe (every column)
    and random-effects structure; the checks that count rows are left for the totals."""
    fr = partition_frame(sample, FrameSpec(formula, weights, offset))
    fixed = fixed_design(formula, fr, contrasts=contrasts, check_rankX="ignore",
                         check_scaleX="ignore")
    quiet = replace(control, check_nlev_gtr_1="ignore", check_nobs_vs_nlev="ignore",
                    check_nlev_gtreq_5="ignore", check_nobs_vs_nRE="ignore")
    return fr, fixed, mkReTrms(formula.random, fr, quiet)


def _no_rows(factor: pd.Categorical) -> pd.Categorical:
    return pd.Categorical.from_codes(np.zeros(0, dtype=np.int64),
                                     categories=factor.categories, ordered=factor.ordered)


def without_rows(fr: ModelFrame, fixed: FixedDesign, re: ReTrms, keep: np.ndarray,
                 dropped: int, missing: dict[str, int]
                 ) -> tuple[ModelFrame, FixedDesign, ReTrms]:
    """The structure with no rows: what a fitted model keeps (the levels, recipes and
    transforms' state, for predictions on new data), X's kept columns ``keep``."""
    empty = np.zeros(0, dtype=np.int64)
    fr = replace(fr, data=fr.data.iloc[:0], rows=empty, response=np.zeros(0),
                 weights=None if fr.weights is None else np.zeros(0),
                 offset=None if fr.offset is None else np.zeros(0), response_factor=None,
                 n_dropped=dropped, variables={k: v.take(empty) for k, v in
                                               fr.variables.items()},
                 data_index=None, missing_counts=dict(missing))
    names = list(fixed.plan.colnames)
    fixed = replace(fixed, X=np.zeros((0, len(keep))), colnames=tuple(names[j] for j in keep),
                    dropped=tuple(c for j, c in enumerate(names) if j not in set(keep)),
                    keep=np.asarray(keep, dtype=np.int64))
    flist = {name: _no_rows(f) for name, f in re.flist.items()}
    terms = tuple(replace(t, factor=flist[t.group_name], mm=np.zeros((0, t.nc)))
                  for t in re.terms)
    re = replace(re, Zt=sps.csc_matrix((re.q, 0)), flist=flist, terms=terms)
    return fr, fixed, re


@dataclass(frozen=True)
class OutOfCoreFormula(LFormula):
    """The :class:`~pylmer.lformula.LFormula` of an out-of-core fit: the whole data's
    structure (formula, X's recipe and column names, ``reTrms`` with the levels,
    ``Lambdat``, ``Lind``, ``theta``, ``lower``) and its number of observations ``n``,
    without rows: ``X``, ``y``, ``weights``, ``offset`` and ``rows`` raise
    :class:`~pylmer.exceptions.NotAvailableError`.

    Attributes
    ----------
    nobs : int
        Complete rows (the observations).
    npartitions : int
        Partitions of the Dask DataFrame.
    """

    nobs: int = 0
    npartitions: int = 0

    @property
    def n(self) -> int:
        return self.nobs

    @property
    def X(self) -> np.ndarray:
        raise rows_not_kept("the model matrix X")

    @property
    def y(self) -> np.ndarray:
        raise rows_not_kept("the response y")

    @property
    def weights(self) -> np.ndarray | None:
        raise rows_not_kept("the prior weights")

    @property
    def offset(self) -> np.ndarray | None:
        raise rows_not_kept("the offset")

    @property
    def rows(self) -> np.ndarray:
        raise rows_not_kept("the rows used")

    def X_frame(self) -> pd.DataFrame:
        raise rows_not_kept("X_frame()")

    def __str__(self) -> str:
        rt = self.reTrms
        lines = [
            f"Formula: {self.formula}",
            f"Observations: {self.n}"
            + (f" ({self.fr.n_dropped} incomplete rows dropped)" if self.fr.n_dropped else "")
            + f", out of core: {self.npartitions} partitions, rows not kept",
            f"Response: {self.fr.response_name}",
            f"Fixed effects X: {self.n} x {len(self.X_colnames)}: "
            + ", ".join(self.X_colnames),
        ]
        if self.fixed.dropped:
            lines.append("  dropped (rank deficient): " + ", ".join(self.fixed.dropped))
        lines.append(f"Random effects: q = {rt.q}, {len(rt.theta)} theta parameters")
        for (grp, cols), nl in zip(rt.cnms, rt.nl):
            lines.append(f"  {grp:<12} {nl:>6} levels  columns: {', '.join(cols)}")
        lines.append("theta: " + ", ".join(rt.theta_names))
        return "\n".join(lines)
