"""``lmer()`` of a Dask DataFrame: a linear mixed model fitted out of core.

Two passes over the partitions, on dask's current scheduler (the local one, or the
cluster of an active ``distributed.Client``), each a tree reduction:

1. :func:`~pylmer.outofcore.partition.level_sample`: every factor's levels (as a small
   sample of rows holding each level once) and the counts of missing values. The client
   builds the model's structure from the sample with the in-memory steps
   (:mod:`pylmer.outofcore.structure`).
2. :func:`~pylmer.outofcore.partition.partition_sums`: each partition coded with those
   levels, its cross-products Z'WZ, Z'WX, Z'Wy, X'WX, X'Wy, y'Wy, the log-determinant of
   the weights and the sums lme4's checks need, added up the tree.

Then theta is optimized on the client with the in-memory machinery: a
:class:`~pylmer.linalg.pls.PLSWorkspace` built from the cross-products
(:meth:`~pylmer.linalg.pls.PLSWorkspace.from_crossproducts`), lme4's devfun
(:class:`~pylmer.objective.LmerDevfun`), optimizer and convergence checks
(:func:`~pylmer.fitting.optimize_lmm`). No evaluation reads the data. The client holds the
q x q system (Z'Z's non-zeros, its factor, the q x p products), never the rows.

dask is imported here only when a fit runs: ``import pylmer`` does not need it.
"""

from __future__ import annotations

import ctypes
import gc
import sys
from collections.abc import Callable, Mapping

import numpy as np

from ..control import LmerControl
from ..design.fixed import check_rank, check_scale, sds_badly_scaled
from ..design.random import check_levels
from ..exceptions import FormulaError, NotAvailableError, PylmerError
from ..fitting import check_identifiable, optimize_lmm
from ..formula.frame import NA_ACTIONS, report_missing
from ..lformula import parse_model_formula
from ..linalg.pls import PLSWorkspace
from ..objective import LmerDevfun, moment_start_applies, moment_theta
from ..results.outofcore import OutOfCoreLmerMod
from ..validate import check_bool, check_control, check_count, check_start
from .partition import (
    DesignSpec,
    FrameSpec,
    PartitionSums,
    TermSpec,
    combine_levels,
    combine_sums,
    level_sample,
    partition_sums,
)
from .structure import (
    OutOfCoreFormula,
    build_structure,
    formula_nodes,
    model_columns,
    refuse_codes_of_factors,
    refuse_stateful,
    refuse_whole_column_functions,
    without_rows,
)

__all__ = ["lmer_outofcore"]

# partition results combined per task of the tree: few, so that the client's memory holds
# a few partitions' q x q sums at a time, not all of them
SPLIT_EVERY = 4


def _dask():
    """dask and dask.dataframe, or an error saying how to install them."""
    try:
        import dask
        import dask.dataframe as dd
    except ImportError as exc:  # pragma: no cover - a Dask object without dask.dataframe
        raise NotAvailableError(f"out-of-core fits need dask.dataframe ({exc}); install "
                                "it with pip install 'pylmer[dask]'") from None
    return dask, dd


def _reduce(dask, parts: list, task: Callable, combine: Callable, spec: object,
            split_every: int):
    """``task`` on each partition, its results combined by a tree of ``combine`` calls."""
    spec = dask.delayed(spec, traverse=False)  # one copy on each worker, not one per task
    nodes = [dask.delayed(task)(part, spec) for part in parts]
    while len(nodes) > 1:
        nodes = [dask.delayed(combine)(spec, *nodes[i:i + split_every])
                 for i in range(0, len(nodes), split_every)]
    return nodes[0]


def _release_freed_memory() -> None:
    """Give the memory the pass freed back to the system before the next step: on the
    local scheduler the partitions were processed in this process, and glibc's heap and
    pyarrow's pool keep what they freed (dask's distributed workers trim theirs the same
    way, with malloc_trim), which would add to the factorization's peak."""
    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc
            pass
    pyarrow = sys.modules.get("pyarrow")  # only if the data were read with it
    if pyarrow is not None and hasattr(pyarrow, "default_memory_pool"):
        pyarrow.default_memory_pool().release_unused()


def _compute(dask, node, what: str):
    """The reduction's value; a failure in the data's own graph (reading a file, a
    ``map_partitions`` of the caller's) is reported as a pylmer error naming the pass."""
    try:
        (out,) = dask.compute(node)
    except PylmerError:
        raise
    except Exception as exc:
        raise PylmerError(f"computing the Dask DataFrame's partitions failed in {what}: "
                          f"{type(exc).__name__}: {exc}") from exc
    _release_freed_memory()
    return out


def _check_arguments(weights, offset, na_action) -> None:
    for what, value in (("weights", weights), ("offset", offset)):
        if value is not None and not isinstance(value, str):
            raise PylmerError(
                f"{what}= for a Dask DataFrame must be a column name or an R expression of "
                f"its columns (e.g. {what}='w'), not a {type(value).__name__}: add the "
                f"values to the data as a column first (ddf = ddf.assign(w=...))")
    if na_action not in NA_ACTIONS:
        raise FormulaError(f"na_action={na_action!r}: use one of {', '.join(NA_ACTIONS)}")


def _theta0(re, spec: DesignSpec, sums: PartitionSums) -> np.ndarray:
    """lme4's start: from the moments of the response by level for scalar intercept
    terms (as :func:`~pylmer.objective.moment_start` in memory), else theta's template."""
    if spec.moments is None or sums.n < 2:
        return re.theta.copy()
    v = []
    for level_sums, counts in sums.level_sums:
        n = counts.sum()
        means = level_sums / counts
        grand = level_sums.sum() / n
        v.append(float(np.sum(counts * (means - grand) ** 2)) / (n - 1))
    start = moment_theta(np.array(v), float(sums.y_moments[1]) / (sums.n - 1), re.lower)
    return re.theta.copy() if start is None else start


def _design_spec(frame_spec: FrameSpec, fr, fixed, re) -> DesignSpec:
    """What pass 2 codes the partitions with (no rows; the whole data's levels)."""
    labels = list(fixed.labels)
    for term in re.terms:
        labels += [v for v in term.plan.labels if v not in labels]
    empty = np.zeros(0, dtype=np.int64)
    terms = tuple(TermSpec(str(t.term), t.term.group, t.plan,
                           tuple(str(c) for c in t.factor.categories)) for t in re.terms)
    moments = None
    if moment_start_applies(re):
        names = [t.group_name for t in re.terms]
        moments = tuple(names.index(name) for name in re.flist)
    return DesignSpec(frame_spec, {label: fr.variables[label].take(empty) for label in labels},
                      fixed.plan, terms, moments)


def _checks(sums: PartitionSums, fr, fixed, re, control: LmerControl) -> np.ndarray:
    """lme4's checks on the totals, in lmer's order (weights, rank of X, its scale, the
    grouping factors, identifiability); the positions of X's columns kept."""
    if sums.positive_weights == 0:
        raise FormulaError("weights are all zero: no observation carries information")
    n = sums.n
    keep = check_rank(sums.R, list(fixed.plan.colnames), control.check_rankX)
    sd = np.sqrt(sums.X_moments[1] / max(n - 1, 1))[keep]
    continuous = ~sums.X_indicator[keep]
    check_scale(np.zeros((0, len(keep))), control.check_scaleX,
                bad=n >= 2 and sds_badly_scaled(sd[continuous]))
    check_levels(re.terms, re.flist, n, control)
    check_identifiable(fr.response_name, 1, sums.y_range[0] == sums.y_range[1], n,
                       len(keep) + len(re.theta) + 1)
    return keep


def lmer_outofcore(formula: str, data, REML: bool = True, weights: str | None = None,
                   offset: str | None = None, na_action: str = "omit",
                   control: LmerControl | None = None, start=None,
                   contrasts: Mapping[str, str] | None = None, verbose: int = 0,
                   split_every: int = SPLIT_EVERY) -> OutOfCoreLmerMod:
    """Fit a linear mixed model to a Dask DataFrame without bringing its rows to the
    client (R: ``lme4::lmer`` on data in memory; R has no out-of-core fit).

    :func:`pylmer.lmer` calls this when ``data`` is a Dask DataFrame; the arguments are
    lmer's. The estimates are those of ``lmer(formula, data.compute())``.

    Parameters
    ----------
    formula, REML, na_action, control, start, contrasts, verbose
        As :func:`pylmer.lmer`. ``na_action="exclude"`` drops rows as ``"omit"`` does
        (no fitted values are kept to pad).
    data : dask.dataframe.DataFrame
        Read twice, one partition at a time, on dask's current scheduler. Not modified.
    weights, offset : str, optional
        A column name or an R expression of columns (not a vector: a Dask DataFrame's
        rows are not in memory to align it with).
    split_every : int, default 4
        Partition results combined per task of the tree reduction.

    Returns
    -------
    OutOfCoreLmerMod
        lme4's methods that do not need the rows; the others raise
        :class:`~pylmer.exceptions.NotAvailableError`.
    """
    dask, dd = _dask()
    if not isinstance(data, dd.DataFrame):
        raise PylmerError(f"data is a Dask {type(data).__name__}, not a Dask DataFrame: lmer() "
                          "takes a Dask DataFrame holding the model's columns (a Series "
                          "becomes one with .to_frame())")
    control = check_control(control, LmerControl, "lmer")
    REML = check_bool(REML, "REML")
    verbose = int(verbose) if isinstance(verbose, bool) else check_count(verbose, "verbose")
    split_every = check_count(split_every, "split_every")
    if split_every < 2:
        raise PylmerError(f"split_every={split_every}: combine at least 2 results per task")
    _check_arguments(weights, offset, na_action)
    columns = [str(c) for c in data.columns]
    parsed = parse_model_formula(formula, columns)
    nodes = formula_nodes(parsed, weights, offset)
    refuse_whole_column_functions(nodes)
    names = set(model_columns(parsed, nodes, columns))
    used = [c for c in data.columns if str(c) in names]
    parts = data[used].to_delayed()
    frame_spec = FrameSpec(parsed, weights, offset)

    levels = _compute(dask, _reduce(dask, parts, level_sample, combine_levels, frame_spec,
                                    split_every), "the first pass (levels)")
    if levels is None:
        raise FormulaError("the data has no rows")
    refuse_stateful(levels.stateful)
    if levels.dropped:
        report_missing(levels.missing, levels.dropped, levels.rows, na_action)
    if levels.complete == 0:
        raise FormulaError("no complete rows: every row has a missing value in a model "
                           "column (" + ", ".join(k for k, m in levels.missing.items() if m)
                           + ")")
    refuse_codes_of_factors(nodes, levels.sample)
    fr, fixed, re = build_structure(parsed, levels.sample, weights, offset, contrasts,
                                    control)
    if fr.response.ndim == 2:
        check_identifiable(fr.response_name, fr.response.shape[1], False, 0, 0)
    start = check_start(start, re.lower, "lmer")
    spec = _design_spec(frame_spec, fr, fixed, re)

    sums = _compute(dask, _reduce(dask, parts, partition_sums, combine_sums, spec,
                                  split_every), "the second pass (cross-products)")
    if sums is None or sums.n != levels.complete:
        raise PylmerError(f"the second pass over the Dask DataFrame found "
                          f"{0 if sums is None else sums.n} complete rows, the first "
                          f"{levels.complete}: the data changed between the two passes; "
                          "fit again from data that stay the same while read")
    keep = _checks(sums, fr, fixed, re, control)
    theta0 = _theta0(re, spec, sums)
    fr0, fixed0, re0 = without_rows(fr, fixed, re, keep, levels.dropped, levels.missing)
    attrs = getattr(data, "attrs", None)
    name = attrs.get("name") if isinstance(attrs, Mapping) else None
    call = {"formula": formula, "data": data, "weights": weights, "offset": offset,
            "na_action": na_action, "contrasts": contrasts, "control": control}
    lf = OutOfCoreFormula(parsed, fr0, fixed0, re0, REML, control, None,
                          data_name=name if isinstance(name, str) else None, call=call,
                          nobs=sums.n, npartitions=data.npartitions)
    workspace = PLSWorkspace.from_crossproducts(sums.xp.select(keep), re.Lambdat, re.Lind)
    devfun = LmerDevfun(lf, REML=REML, workspace=workspace, theta0=theta0)
    opt = optimize_lmm(devfun, control, start=start, verbose=verbose)
    return OutOfCoreLmerMod(lf, devfun, opt)
