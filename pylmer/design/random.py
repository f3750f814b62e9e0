"""Random-effects structure: lme4's ``mkReTrms``.

Each term ``(lhs | g)`` gives a block of Z: one column per level of ``g`` and column of
the term's model matrix (level-major, lme4's ``KhatriRao(fac2sparse(g), t(mm))``).
Terms are ordered by decreasing number of levels (lme4's ``rev(order(nl))``, applied
only when some count increases), and ``Zt``, ``Lambdat``, ``Lind``, ``theta``, ``lower``,
``Gp``, ``flist`` and ``cnms`` follow that order, exactly as in lme4.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sps

from ..control import LmerControl
from ..exceptions import FormulaError, GroupingFactorWarning, PylmerError, warn_user
from ..formula.bars import RandomTerm
from ..formula.frame import ModelFrame
from ..formula.rvalue import as_factor, from_column
from . import covariance
from .modelmatrix import DesignPlan, plan_design

__all__ = ["ReTerm", "ReTrms", "check_levels", "grouping_factor", "mkReTrms", "term_model_matrix",
           "stacked_zt"]


@dataclass(frozen=True)
class ReTerm:
    """One random-effect term after evaluation.

    Attributes
    ----------
    term : RandomTerm
        The parsed term.
    factor : pandas.Categorical
        The grouping factor (levels in R's order, unused levels dropped).
    columns : tuple of str
        R names of the term's columns (``("(Intercept)", "Days")``).
    mm : numpy.ndarray, (n, nc)
        The term's model matrix.
    plan : DesignPlan
        The recipe of the term's columns (R's ``model.matrix(~ lhs)``), for new data.
    """

    term: RandomTerm
    factor: pd.Categorical
    columns: tuple[str, ...]
    mm: np.ndarray
    plan: DesignPlan

    @property
    def nc(self) -> int:
        return len(self.columns)

    @property
    def nl(self) -> int:
        return len(self.factor.categories)

    @property
    def group_name(self) -> str:
        return self.term.group_name


@dataclass(frozen=True)
class ReTrms:
    """lme4's ``reTrms``.

    Attributes
    ----------
    Zt : scipy.sparse.csc_matrix, (q, n)
        Transposed random-effects model matrix.
    Lambdat : scipy.sparse.csc_matrix, (q, q)
        Transposed relative covariance factor at ``theta``.
    Lind : numpy.ndarray of int, (nnz(Lambdat),)
        0-based theta index of each stored value of ``Lambdat`` (R's is 1-based).
    theta : numpy.ndarray
        Starting values (1 on block diagonals, 0 off them); named by ``theta_names``.
    lower : numpy.ndarray
        Lower bounds (0 on block diagonals, -inf off them).
    Gp : numpy.ndarray of int
        Row offsets of the terms in ``Zt``: ``[0, q1, q1 + q2, ...]``.
    flist : dict of str to pandas.Categorical
        The distinct grouping factors, in term order.
    assign : numpy.ndarray of int
        For each term, the index of its factor in ``flist`` (0-based).
    cnms : list of (str, list of str)
        For each term, its grouping factor's name and its column names.
    terms : tuple of ReTerm
        The evaluated terms in lme4's order.
    """

    Zt: sps.csc_matrix
    Lambdat: sps.csc_matrix
    Lind: np.ndarray
    theta: np.ndarray
    lower: np.ndarray
    Gp: np.ndarray
    flist: dict[str, pd.Categorical]
    assign: np.ndarray
    cnms: list[tuple[str, list[str]]]
    terms: tuple[ReTerm, ...]
    theta_names: tuple[str, ...]

    @property
    def nl(self) -> list[int]:
        return [t.nl for t in self.terms]

    @property
    def nc(self) -> list[int]:
        return [t.nc for t in self.terms]

    @property
    def q(self) -> int:
        return int(self.Gp[-1])


# the dtype pandas gives an Index of labels (the categories of a factor made here)
_TEXT_INDEX_DTYPE = pd.Index(["a"]).dtype


def _level_labels(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """R's ``factor()`` of one grouping column: codes and level labels (a Categorical keeps
    its order, numbers are sorted and printed as R prints them)."""
    factor = as_factor(from_column(values, str(values.name)))
    return factor.values, list(factor.levels)


def grouping_factor(frame: pd.DataFrame, variables: tuple[str, ...]) -> pd.Categorical:
    """The grouping factor of ``g`` or of an interaction ``a:b`` (R's ``factor(a:b)``).

    Interaction levels are ``"a1:b1"``, ordered with the first variable varying slowest;
    combinations that do not occur are dropped, as R's ``factor()`` drops them.
    """
    if len(variables) == 1:
        column = frame[variables[0]]
        codes, levels = _level_labels(column)
        dtype = column.dtype
        if isinstance(dtype, pd.CategoricalDtype) and not dtype.ordered \
                and dtype.categories.dtype == _TEXT_INDEX_DTYPE \
                and dtype.categories.tolist() == levels:
            # the column's own (validated) categories are the levels: validating a new
            # dtype's would cost several times the rest of this function
            return pd.Categorical.from_codes(codes, dtype=dtype)
        return pd.Categorical.from_codes(codes, categories=levels)
    code = np.zeros(len(frame), dtype=np.int64)
    labels: list[list[str]] = []
    for name in variables:
        codes, levels = _level_labels(frame[name])
        code = code * len(levels) + codes
        labels.append(levels)
    present, inverse = np.unique(code, return_inverse=True)
    names = []
    for c in present:
        parts = []
        for levels in reversed(labels):
            c, k = divmod(int(c), len(levels))
            parts.append(levels[k])
        names.append(":".join(reversed(parts)))
    return pd.Categorical.from_codes(inverse.astype(np.int64), categories=names)


def term_model_matrix(term: RandomTerm, frame: ModelFrame
                      ) -> tuple[np.ndarray, list[str], DesignPlan]:
    """The model matrix of a term's left-hand side, R's ``model.matrix(~ lhs, fr)``, with
    R's coding rules (``(0 + f | g)`` has one column per level of f)."""
    plan = plan_design(term.terms, frame.variables, where=f"in random term {term}")
    if not plan.colnames:
        raise FormulaError(f"random term {term} has no columns: its left-hand side is empty")
    values = plan.build(frame.variables, frame.n)
    if not np.isfinite(values).all():
        raise FormulaError(f"the columns of random term {term} have infinite values")
    return values, list(plan.colnames), plan


def stacked_zt(blocks: list[tuple[np.ndarray, np.ndarray, int]], n: int) -> sps.csc_matrix:
    """Zt of the terms ``(mm, codes, nl)`` in order (R's ``rbind`` of the terms' blocks):
    term k's rows are ``level * nc + column`` after the rows of the terms before it, and
    column i holds observation i's values, term after term. Every observation has the same
    number of entries, so the compressed columns are written directly (sorted, explicit
    zeros dropped), with no triplet form and no stacking of separate blocks."""
    width = sum(mm.shape[1] for mm, _, _ in blocks)
    rows = np.empty((n, width), dtype=np.int64)
    values = np.empty((n, width))
    start = col = 0
    for mm, codes, nl in blocks:
        nc = mm.shape[1]
        rows[:, col:col + nc] = start + np.asarray(codes, dtype=np.int64)[:, None] * nc \
            + np.arange(nc)
        values[:, col:col + nc] = mm
        start += nl * nc
        col += nc
    index = np.int32 if max(start, n * width) < 2**31 else np.int64
    Zt = sps.csc_matrix((values.ravel(), rows.ravel().astype(index),
                         np.arange(0, n * width + 1, width, dtype=index)), shape=(start, n))
    Zt.has_sorted_indices = True  # each column's rows increase: term after term, then nc
    Zt.eliminate_zeros()
    return Zt


def _lme4_order(nls: list[int]) -> list[int]:
    """lme4's term order: ``rev(order(nl))`` when any count increases, else as written."""
    if not any(b > a for a, b in itertools.pairwise(nls)):
        return list(range(len(nls)))
    ascending = sorted(range(len(nls)), key=lambda k: nls[k])  # stable, as R's order()
    return ascending[::-1]


def _act(action: str, message: str) -> None:
    if action == "stop":
        raise PylmerError(message)
    if action == "warning":
        warn_user(message, GroupingFactorWarning)


def check_levels(terms: tuple[ReTerm, ...], flist: dict[str, pd.Categorical], n: int,
                 control: LmerControl) -> None:
    """lme4's ``checkNlevels`` and ``checkZdims``, with lme4's messages."""
    nlev = {name: len(f.categories) for name, f in flist.items()}
    few = [name for name, k in nlev.items() if k < 2]
    if few:
        _act(control.check_nlev_gtr_1,
             f"grouping factors must have > 1 sampled level (problems: {', '.join(few)})")
    allow_n = control.allow_n_levels_equal_nobs
    many = [name for name, k in nlev.items() if (k > n if allow_n else k >= n)]
    if many:
        _act(control.check_nobs_vs_nlev,
             "number of levels of each grouping factor must be "
             f"{'<=' if allow_n else '<'} number of observations "
             f"(problems: {', '.join(many)}; {n} observations)")
    small = [name for name, k in nlev.items() if k < 5]
    if small:
        _act(control.check_nlev_gtreq_5,
             "grouping factors with < 5 sampled levels may give unreliable estimates")
    for t in terms:
        n_re = t.nl * t.nc
        if (n < n_re) if allow_n else (n <= n_re):
            _act(control.check_nobs_vs_nRE,
                 f"number of observations (={n}) {'<' if allow_n else '<='} number of random "
                 f"effects (={n_re}) for term {t.term}; the random-effects parameters"
                 f"{'' if allow_n else ' and the residual variance (or scale parameter)'}"
                 " are probably unidentifiable")


def mkReTrms(random: tuple[RandomTerm, ...], frame: ModelFrame,
             control: LmerControl | None = None) -> ReTrms:
    """Build lme4's random-effects structure for the terms of a formula.

    Parameters
    ----------
    random : tuple of RandomTerm
        Random terms as written (after ``||`` and ``/`` expansion).
    frame : ModelFrame
        The model frame (complete rows): its variables and grouping columns.
    control : LmerControl or GlmerControl, optional
        Actions of the grouping-factor checks (lme4's defaults for lmer if omitted).
    """
    control = control or LmerControl()
    if not random:
        raise PylmerError("no random effects terms specified in formula")
    evaluated = []
    for term in random:
        factor = grouping_factor(frame.data, term.group)
        mm, names, plan = term_model_matrix(term, frame)
        evaluated.append(ReTerm(term, factor, tuple(names), mm, plan))
    terms = tuple(evaluated[k] for k in _lme4_order([t.nl for t in evaluated]))

    flist: dict[str, pd.Categorical] = {}
    for t in terms:
        flist.setdefault(t.group_name, t.factor)
    assign = np.array([list(flist).index(t.group_name) for t in terms], dtype=np.int64)
    check_levels(terms, flist, frame.n, control)

    Zt = stacked_zt([(t.mm, t.factor.codes, t.nl) for t in terms], frame.n)
    ncs, nls = [t.nc for t in terms], [t.nl for t in terms]
    Lambdat, Lind = covariance.lambdat_template(ncs, nls)
    names: list[str] = []
    for t in terms:
        names += covariance.theta_names(t.group_name, list(t.columns))
    return ReTrms(
        Zt=Zt,
        Lambdat=Lambdat,
        Lind=Lind,
        theta=np.concatenate([covariance.theta_start(nc) for nc in ncs]),
        lower=np.concatenate([covariance.theta_lower(nc) for nc in ncs]),
        Gp=np.concatenate([[0], np.cumsum([nc * nl for nc, nl in zip(ncs, nls)])]).astype(
            np.int64),
        flist=flist,
        assign=assign,
        cnms=[(t.group_name, list(t.columns)) for t in terms],
        terms=terms,
        theta_names=tuple(names),
    )
