"""Random-effects structure: lme4's ``mkReTrms``.

Each term ``(lhs | g)`` gives a block of Z: one column per level of ``g`` and column of
the term's model matrix (level-major, lme4's ``KhatriRao(fac2sparse(g), t(mm))``).
Terms are ordered by decreasing number of levels (lme4's ``rev(order(nl))``, applied
only when some count increases), and ``Zt``, ``Lambdat``, ``Lind``, ``theta``, ``lower``,
``Gp``, ``flist`` and ``cnms`` follow that order, exactly as in lme4.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sps
from formulaic import Formula
from formulaic.model_spec import ModelSpec

from ..control import LmerControl
from ..exceptions import GroupingFactorWarning
from ..formula.bars import RandomTerm, flatten_sum
from ..formula.rexpr import Name, Num, deparse, to_python
from . import covariance
from .contrasts import RMaterializer
from .fixed import r_column_names

__all__ = ["ReTerm", "ReTrms", "grouping_factor", "mkReTrms", "term_model_matrix"]


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
    spec : formulaic.ModelSpec or None
        To encode the term's columns for new data (None when they are plain numeric
        columns, taken as they are).
    """

    term: RandomTerm
    factor: pd.Categorical
    columns: tuple[str, ...]
    mm: np.ndarray
    spec: ModelSpec | None

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


def _level_labels(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """R's ``factor()`` of one column: codes and level labels."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        categories = values.cat.categories
        used = np.bincount(codes, minlength=len(categories)) > 0
        if not used.all():
            cat = values.cat.remove_unused_categories()
            codes, categories = cat.cat.codes.to_numpy(), cat.cat.categories
        return codes.astype(np.int64), [str(c) for c in categories]
    if pd.api.types.is_bool_dtype(values.dtype):
        codes = values.to_numpy().astype(np.int64)
        present = sorted(set(codes.tolist()))
        labels = ["FALSE", "TRUE"]
        return np.searchsorted(present, codes), [labels[k] for k in present]
    uniques, codes = np.unique(values.to_numpy(), return_inverse=True)
    if pd.api.types.is_numeric_dtype(values.dtype):
        labels = [_r_number(u) for u in uniques]
    else:
        labels = [str(u) for u in uniques]
    return codes.astype(np.int64), labels


def _r_number(value: float) -> str:
    """``as.character()`` of a number: 3 -> "3", 0.5 -> "0.5" (15 significant digits)."""
    value = float(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return format(value, ".15g")


def grouping_factor(frame: pd.DataFrame, variables: tuple[str, ...]) -> pd.Categorical:
    """The grouping factor of ``g`` or of an interaction ``a:b`` (R's ``factor(a:b)``).

    Interaction levels are ``"a1:b1"``, ordered with the first variable varying slowest;
    combinations that do not occur are dropped, as R's ``factor()`` drops them.
    """
    if len(variables) == 1:
        codes, levels = _level_labels(frame[variables[0]])
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


def _plain_columns(term: RandomTerm, frame: pd.DataFrame) -> list[str] | None:
    """For an lhs of ``1``, ``0`` and numeric column names only (the common case:
    ``1``, ``Days``, ``0 + Days``), the R column names; None for anything else."""
    names: list[str] = []
    intercept = True
    for sign, node in flatten_sum(term.lhs):
        if isinstance(node, Num) and node.text in ("0", "1"):
            intercept = (node.text == "1") == (sign > 0)
        elif (sign > 0 and isinstance(node, Name) and node.id in frame.columns
              and pd.api.types.is_numeric_dtype(frame[node.id].dtype)
              and not pd.api.types.is_bool_dtype(frame[node.id].dtype)):
            if node.id not in names:
                names.append(node.id)
        else:
            return None
    return (["(Intercept)"] if intercept else []) + names


def term_model_matrix(term: RandomTerm, frame: pd.DataFrame) -> tuple[np.ndarray, list[str],
                                                                      ModelSpec | None]:
    """The model matrix of a term's left-hand side, R's ``model.matrix(~ lhs)``.

    Plain numeric columns are taken directly (no formulaic spec is needed to encode new
    data: the spec is None); anything else goes through formulaic with R's contrasts.
    """
    plain = _plain_columns(term, frame)
    if plain:
        columns = [np.ones(len(frame)) if name == "(Intercept)"
                   else frame[name].to_numpy(dtype=float) for name in plain]
        return np.column_stack(columns), [deparse(Name(n)) if n != "(Intercept)" else n
                                          for n in plain], None
    spec = ModelSpec(
        formula=Formula(to_python(term.lhs)),
        materializer=RMaterializer,
        materializer_params={"contrasts": {}},
        na_action="ignore",
        output="numpy",
    )
    try:
        mm = spec.get_model_matrix(frame)
    except Exception as exc:
        raise ValueError(f"cannot build the columns of random term {term}: {exc}") from exc
    values = np.asarray(mm, dtype=float).reshape(len(frame), -1)
    names = r_column_names(mm.model_spec)
    if values.shape[1] == 0:
        raise ValueError(f"random term {term} has no columns: its left-hand side is empty")
    return values, names, mm.model_spec


def _term_zt(mm: np.ndarray, codes: np.ndarray, nl: int) -> sps.csc_matrix:
    """Zt block of one term: row ``level * nc + column``, one column per observation."""
    n, nc = mm.shape
    rows = (codes[:, None] * nc + np.arange(nc)[None, :]).ravel()
    cols = np.repeat(np.arange(n), nc)
    block = sps.csc_matrix((mm.ravel(), (rows, cols)), shape=(nl * nc, n))
    block.eliminate_zeros()
    return block


def _lme4_order(nls: list[int]) -> list[int]:
    """lme4's term order: ``rev(order(nl))`` when any count increases, else as written."""
    if not any(b > a for a, b in itertools.pairwise(nls)):
        return list(range(len(nls)))
    ascending = sorted(range(len(nls)), key=lambda k: nls[k])  # stable, as R's order()
    return ascending[::-1]


def _act(action: str, message: str) -> None:
    if action == "stop":
        raise ValueError(message)
    if action == "warning":
        warnings.warn(message, GroupingFactorWarning, stacklevel=4)


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


def mkReTrms(random: tuple[RandomTerm, ...], frame: pd.DataFrame,
             control: LmerControl | None = None) -> ReTrms:
    """Build lme4's random-effects structure for the terms of a formula.

    Parameters
    ----------
    random : tuple of RandomTerm
        Random terms as written (after ``||`` and ``/`` expansion).
    frame : pandas.DataFrame
        The model frame (complete rows).
    control : LmerControl or GlmerControl, optional
        Actions of the grouping-factor checks (lme4's defaults for lmer if omitted).
    """
    control = control or LmerControl()
    if not random:
        raise ValueError("no random effects terms specified in formula")
    evaluated = []
    for term in random:
        factor = grouping_factor(frame, term.group)
        mm, names, spec = term_model_matrix(term, frame)
        evaluated.append(ReTerm(term, factor, tuple(names), mm, spec))
    terms = tuple(evaluated[k] for k in _lme4_order([t.nl for t in evaluated]))

    flist: dict[str, pd.Categorical] = {}
    for t in terms:
        flist.setdefault(t.group_name, t.factor)
    assign = np.array([list(flist).index(t.group_name) for t in terms], dtype=np.int64)
    check_levels(terms, flist, len(frame), control)

    Zt = sps.vstack(
        [_term_zt(t.mm, np.asarray(t.factor.codes, dtype=np.int64), t.nl) for t in terms],
        format="csc",
    )
    Zt.sort_indices()
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
