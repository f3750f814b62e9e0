"""The work an out-of-core fit does on each partition (on the workers) and the sums of
partitions' results (a tree reduction).

Pass 1, :func:`level_sample`: the partition's model frame, built by pylmer's own
:func:`~pylmer.formula.frame.model_frame` (so rows are complete, text is a factor, ...
exactly as in memory), its counts of missing values, and a *level sample*: a few of its
rows holding every level of every factor variable and grouping factor (one row per
level), the rows of levels met only in incomplete rows too. The levels of a factor in the
whole data are those of these rows: R's rules (a Categorical's order, text sorted, numbers
sorted by value, ``interaction()``'s order) depend on which values occur, never on how
often or where. :func:`combine_levels` keeps a level sample of two samples' rows.

Pass 2, :func:`partition_sums`: the partition's rows coded with the whole data's levels,
their fixed-effects matrix X (every column, before the rank check) and Zt, and the sums
the fit needs: :class:`~pylmer.linalg.crossprod.CrossProducts`, the R factor of X (for
lme4's rank check), X's column moments (its scale check), the response's range and
moments, and for lme4's moment start the response's sums by level.
:func:`combine_sums` adds two results.

Nothing here imports dask: these functions take and return pandas and numpy objects.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..design.modelmatrix import DesignPlan
from ..design.random import grouping_factor, stacked_zt
from ..exceptions import FormulaError, PylmerError
from ..formula.bars import MixedFormula
from ..formula.evaluate import Evaluator
from ..formula.frame import ModelFrame, model_frame
from ..formula.rvalue import RVector, as_character, match_levels
from ..lformula import check_finite_response
from ..linalg.crossprod import CrossProducts

__all__ = ["DesignSpec", "FrameSpec", "LevelSample", "PartitionSums", "TermSpec",
           "combine_levels", "combine_sums", "level_sample", "partition_frame",
           "partition_sums"]


@dataclass(frozen=True)
class FrameSpec:
    """What a partition's model frame is made of: the parsed formula and the
    ``weights=`` and ``offset=`` expressions (column names or R expressions)."""

    formula: MixedFormula
    weights: str | None
    offset: str | None


def partition_frame(frame: pd.DataFrame, spec: FrameSpec) -> ModelFrame:
    """The model frame of one partition (incomplete rows dropped, silently: the totals
    are reported once, by the client)."""
    return model_frame(spec.formula, frame, weights=spec.weights, offset=spec.offset,
                       na_action="omit", partition=True)


# =========================================================================== pass 1

@dataclass(frozen=True)
class LevelSample:
    """Pass 1's result for one or more partitions.

    Attributes
    ----------
    rows, complete, dropped : int
        Rows read, complete rows, rows dropped for missing values.
    missing : dict of str to int
        Missing values by model column (the names the missing-data message uses).
    sample : pandas.DataFrame
        Rows of the data (the model's columns) holding every level of every factor.
    stateful : tuple of str
        Calls that computed something from the whole column (``cut(x, 3)``'s breaks):
        per partition they would differ, so the fit refuses them.
    """

    rows: int
    complete: int
    dropped: int
    missing: dict[str, int]
    sample: pd.DataFrame
    stateful: tuple[str, ...]


def _first_rows(codes: np.ndarray) -> np.ndarray:
    """Positions of the first row of each distinct code."""
    _, first = np.unique(codes, return_index=True)
    return first


def _sample_rows(frame: pd.DataFrame, fr: ModelFrame, formula: MixedFormula) -> np.ndarray:
    """Positions in ``frame`` of one complete row per level of each factor variable and
    grouping factor, and one row per level of a factor variable met only in incomplete
    rows (R's rules see those values too, e.g. ``relevel(f, "b")`` needs "b")."""
    picks = [np.zeros(0, dtype=np.int64)]
    factors = {label: v for label, v in fr.variables.items() if v.kind == "factor"}
    for value in factors.values():
        picks.append(fr.rows[_first_rows(value.values)])
    if fr.n:
        for term in formula.random:
            codes = np.asarray(grouping_factor(fr.data, term.group).codes)
            picks.append(fr.rows[_first_rows(codes)])
    incomplete = np.setdiff1d(np.arange(len(frame)), fr.rows)
    if factors and len(incomplete):
        ev = Evaluator(frame.iloc[incomplete])
        for label, value in factors.items():
            labels = as_character(ev.evaluate(fr.nodes[label]))
            if len(labels) == 1:  # a constant: one value for every row
                labels = np.repeat(labels, len(incomplete))
            new = ~pd.isna(labels) & (match_levels(labels, value.levels) < 0)
            if new.any():
                _, first = np.unique(labels[new].astype(str), return_index=True)
                picks.append(incomplete[np.flatnonzero(new)[first]])
    return np.unique(np.concatenate(picks))


def level_sample(frame: pd.DataFrame, spec: FrameSpec) -> LevelSample | None:
    """Pass 1 on one partition (None for an empty one)."""
    if len(frame) == 0:
        return None
    fr = partition_frame(frame, spec)
    sample = frame.iloc[_sample_rows(frame, fr, spec.formula)]
    return LevelSample(len(frame), fr.n, fr.n_dropped, dict(fr.missing_counts), sample,
                       tuple(fr.state))


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The rows of several partitions in one frame, their categoricals' categories united
    as dask unites them when it computes a Dask DataFrame (so the sample's categories are
    in the order ``ddf.compute()`` has them)."""
    from dask.dataframe.methods import concat  # on a worker: dask is there

    return concat(frames).reset_index(drop=True)


def combine_levels(spec: FrameSpec, *parts: LevelSample | None) -> LevelSample | None:
    """Pass 1's results of several partitions as one: counts added, and a level sample of
    their samples' rows (a sample of samples holds every level)."""
    parts = [p for p in parts if p is not None]
    if len(parts) <= 1:
        return parts[0] if parts else None
    rows = _concat([p.sample for p in parts])
    if len(rows):  # none where no partition had a complete row or a factor
        rows = rows.iloc[_sample_rows(rows, partition_frame(rows, spec), spec.formula)]
    missing: dict[str, int] = {}
    for part in parts:
        for name, count in part.missing.items():
            missing[name] = missing.get(name, 0) + count
    stateful = tuple(dict.fromkeys(k for p in parts for k in p.stateful))
    return LevelSample(sum(p.rows for p in parts), sum(p.complete for p in parts),
                       sum(p.dropped for p in parts), missing, rows, stateful)


# =========================================================================== pass 2

@dataclass(frozen=True)
class TermSpec:
    """One random term, as the whole data's structure has it: its grouping variables,
    the recipe of its columns and its grouping factor's levels, in lme4's order."""

    text: str
    group: tuple[str, ...]
    plan: DesignPlan
    levels: tuple[str, ...]


@dataclass(frozen=True)
class DesignSpec:
    """What pass 2 codes each partition with.

    ``variables`` holds each model variable with no rows and the whole data's levels;
    ``fixed`` is X's recipe (every column: the rank check comes after the sums);
    ``moments`` gives, for each grouping factor, the term whose levels its sums of the
    response are taken by (lme4's moment start), or is None when that start is not used.
    """

    frame: FrameSpec
    variables: dict[str, RVector]
    fixed: DesignPlan
    terms: tuple[TermSpec, ...]
    moments: tuple[int, ...] | None


def _changed(what: str) -> PylmerError:
    return PylmerError(f"{what} was not seen when the data's levels were read (the first "
                       "pass over the Dask DataFrame): the data changed between the two "
                       "passes; fit again from data that stay the same while read")


def _conform(value: RVector, proto: RVector, label: str) -> RVector:
    """A partition's variable, typed as the whole data's: factor codes in its levels."""
    if (proto.kind == "factor") != (value.kind == "factor") or \
            (proto.kind == "logical") != (value.kind == "logical") or \
            value.values.shape[1:] != proto.values.shape[1:]:
        raise FormulaError(f"variable {label!r} is {value.kind} in some partitions and "
                           f"{proto.kind} in others: give its column one dtype in every "
                           "partition of the Dask DataFrame (e.g. with astype)")
    if proto.kind != "factor":
        return value
    lookup = match_levels(np.asarray(value.levels, dtype=object), proto.levels)
    if (lookup < 0).any():
        raise _changed(f"level {value.levels[int(np.argmin(lookup))]!r} of {label!r}")
    return replace(proto, values=lookup[value.values])


def _term_codes(data: pd.DataFrame, term: TermSpec) -> np.ndarray:
    """Each row's level of a term's grouping factor, in the whole data's levels."""
    factor = grouping_factor(data, term.group)
    lookup = match_levels(np.asarray(factor.categories, dtype=object), term.levels)
    if (lookup < 0).any():
        raise _changed(f"level {factor.categories[int(np.argmin(lookup))]!r} of "
                       f"{':'.join(term.group)}")
    return lookup[np.asarray(factor.codes)]


def _moments(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and sums of squared deviations (for Chan's pairwise update)."""
    mean = values.mean(axis=0)
    return mean, ((values - mean) ** 2).sum(axis=0)


def _merge_moments(na: int, a: tuple, nb: int, b: tuple) -> tuple:
    """Chan et al.'s update: the mean and the sum of squared deviations of both sets."""
    n = na + nb
    delta = b[0] - a[0]
    return a[0] + delta * (nb / n), a[1] + b[1] + delta**2 * (na * nb / n)


@dataclass(frozen=True)
class PartitionSums:
    """Pass 2's result for one or more partitions.

    Attributes
    ----------
    xp : CrossProducts
        With every column of X (weighted, the offset removed from the response).
    R : numpy.ndarray
        The R factor of the (unweighted) X: R'R = X'X, for lme4's rank check.
    X_moments, y_moments : tuple of numpy.ndarray
        Means and sums of squared deviations of X's columns and of the response.
    X_indicator : numpy.ndarray of bool
        The columns of X holding only 0 and 1 (left out of lme4's scale check).
    y_range : (float, float)
    level_sums : tuple of (sums, counts) or None
        The response's sums and counts by level of each grouping factor (moment start).
    positive_weights : int
        Rows with a positive prior weight.
    """

    xp: CrossProducts
    R: np.ndarray
    X_moments: tuple
    X_indicator: np.ndarray
    y_moments: tuple
    y_range: tuple[float, float]
    level_sums: tuple | None
    positive_weights: int

    @property
    def n(self) -> int:
        return self.xp.n


def _check_finite(X: np.ndarray, names, what: str) -> None:
    bad = ~np.isfinite(X).all(axis=0)
    if bad.any():
        shown = ", ".join(names[j] for j in np.flatnonzero(bad))
        raise FormulaError(f"the {what} column(s) {shown} have infinite values (e.g. log(0) "
                           "or a huge power); fix or remove those rows")


def partition_sums(frame: pd.DataFrame, spec: DesignSpec) -> PartitionSums | None:
    """Pass 2 on one partition (None when it has no complete row)."""
    if len(frame) == 0:
        return None
    fr = partition_frame(frame, spec.frame)
    n = fr.n
    if n == 0:
        return None
    check_finite_response(fr)
    variables = {label: _conform(fr.variables[label], proto, label)
                 for label, proto in spec.variables.items()}
    X = spec.fixed.build(variables, n)
    _check_finite(X, spec.fixed.colnames, "fixed-effects")
    blocks, codes = [], []
    for term in spec.terms:
        mm = term.plan.build(variables, n)
        _check_finite(mm, term.plan.colnames, f"random term {term.text}")
        codes.append(_term_codes(fr.data, term))
        blocks.append((mm, codes[-1], len(term.levels)))
    Zt = stacked_zt(blocks, n)
    y = np.asarray(fr.response, dtype=float)
    yy = y if fr.offset is None else y - fr.offset
    xp = CrossProducts.from_rows(X, yy, Zt, fr.weights)
    R = np.linalg.qr(X, mode="r") if X.shape[1] else np.zeros((0, 0))
    level_sums = None
    if spec.moments is not None:
        level_sums = tuple(
            (np.bincount(codes[k], weights=y, minlength=len(spec.terms[k].levels)),
             np.bincount(codes[k], minlength=len(spec.terms[k].levels)).astype(float))
            for k in spec.moments)
    positive = n if fr.weights is None else int(np.count_nonzero(fr.weights > 0))
    return PartitionSums(xp, R, _moments(X), np.all((X == 0) | (X == 1), axis=0),
                         _moments(y), (float(y.min()), float(y.max())), level_sums, positive)


def _add(a: PartitionSums, b: PartitionSums) -> PartitionSums:
    stacked = np.vstack([a.R, b.R])
    R = np.linalg.qr(stacked, mode="r") if stacked.shape[1] else stacked[:0]
    level_sums = None if a.level_sums is None else tuple(
        (sa + sb, ca + cb) for (sa, ca), (sb, cb) in zip(a.level_sums, b.level_sums))
    return PartitionSums(
        a.xp + b.xp, R, _merge_moments(a.n, a.X_moments, b.n, b.X_moments),
        a.X_indicator & b.X_indicator, _merge_moments(a.n, a.y_moments, b.n, b.y_moments),
        (min(a.y_range[0], b.y_range[0]), max(a.y_range[1], b.y_range[1])), level_sums,
        a.positive_weights + b.positive_weights)


def combine_sums(spec: DesignSpec, *parts: PartitionSums | None) -> PartitionSums | None:
    """Pass 2's results of several partitions as one (the sums over all their rows)."""
    out = None
    for part in parts:
        if part is not None:
            out = part if out is None else _add(out, part)
    return out
