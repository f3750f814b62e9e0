"""The model frame: the rows and variables a model uses (R's ``model.frame``).

Every variable of the formula (the response, the fixed part's variables, the random
terms' left sides and grouping columns, ``offset()`` terms) and the ``weights=`` and
``offset=`` arguments are evaluated by pylmer's evaluator on *all* rows of the data, as
R does (so ``scale(x)`` and ``mean(x)`` see every row); then incomplete rows are dropped
(``na_action="omit"``, with a :class:`MissingDataWarning` giving the count) or refused
(``na_action="fail"``), unused factor levels are dropped and text becomes a factor with
sorted levels. The caller's data are never modified.

The frame keeps what new data need to be encoded the same way: each variable's
expression, the training values of stateful transforms and the training factor levels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from ..exceptions import FormulaError, MissingDataWarning, NotAvailableError, warn_user
from .bars import MixedFormula
from .evaluate import Evaluator, data_names
from .rexpr import FormulaSyntaxError, Name, Node, deparse, parse
from .rvalue import RVector, as_character, as_factor, match_levels

__all__ = ["NA_ACTIONS", "ModelFrame", "as_pandas", "is_dask", "model_frame",
           "report_missing"]

NA_ACTIONS = ("omit", "exclude", "fail")


def is_dask(data: object) -> bool:
    """Whether ``data`` is a Dask collection (a Dask DataFrame, Series or Array), told by
    its class's module so that dask is not imported where it is not installed."""
    return type(data).__module__.split(".")[0] in ("dask", "dask_expr")


def as_pandas(data: object) -> pd.DataFrame:
    """Accept a pandas or polars DataFrame or a dict of columns; never alter the original."""
    if isinstance(data, pd.DataFrame):
        frame = data
    elif is_dask(data):
        raise NotAvailableError(
            f"data is a Dask collection ({type(data).__name__}): only lmer() fits a Dask "
            "DataFrame, out of core; this function needs the rows in memory: .compute() "
            "the data to a pandas DataFrame if it fits")
    elif type(data).__name__ == "LazyFrame":
        raise TypeError("data is a polars LazyFrame: collect() it into a DataFrame first")
    elif type(data).__module__.startswith("polars"):
        frame = _polars_to_pandas(data)
    elif hasattr(data, "to_pandas") and callable(data.to_pandas):  # pyarrow tables
        frame = data.to_pandas()
    elif isinstance(data, dict):
        try:
            frame = pd.DataFrame(data)
        except ValueError as exc:
            raise FormulaError(f"data: the dict of columns cannot form a table ({exc})") \
                from None
    else:
        raise TypeError(
            f"data must be a pandas DataFrame (or polars DataFrame, or dict of columns), "
            f"got {type(data).__name__}"
        )
    if isinstance(frame.columns, pd.MultiIndex):
        raise FormulaError("the data has MultiIndex (several-level) column names; flatten them "
                           "to single names first, e.g. data.columns = ['_'.join(c) for c in "
                           "data.columns]")
    duplicated = [] if frame.columns.is_unique else \
        sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
    if duplicated:
        raise FormulaError(f"the data has more than one column named {duplicated[0]!r}; give "
                           "the columns distinct names")
    return frame


def _polars_to_pandas(data) -> pd.DataFrame:
    """Column by column (polars' own to_pandas needs pyarrow); Enum / Categorical columns
    become pandas Categoricals with the same level order."""
    columns = {}
    for name in data.columns:
        series = data[name]
        kind = series.dtype.__class__.__name__
        if kind == "Enum":
            levels = list(series.dtype.categories)
            columns[name] = pd.Categorical(series.cast(str).to_list(), categories=levels)
        elif kind == "Categorical":  # no fixed level order: R's factor() sorts
            columns[name] = pd.Categorical(series.cast(str).to_list())
        else:
            columns[name] = series.to_numpy()
    return pd.DataFrame(columns)


@dataclass(frozen=True)
class ModelFrame:
    """Rows and variables used by a model.

    Attributes
    ----------
    data : pandas.DataFrame
        The used rows of every data column the model names (a copy), unused factor levels
        dropped. Its index is the caller's index.
    rows : numpy.ndarray of int
        0-based positions of the used rows in the caller's data.
    response : numpy.ndarray
        ``(n,)``, or ``(n, 2)`` for ``cbind(successes, failures)``; a factor response is
        kept as its pandas Series in ``response_factor``.
    response_name : str
        The response as written (``"cbind(incidence, size - incidence)"``).
    data_index : pandas.Index
        The index of all the caller's rows; ``na_action`` how incomplete rows were handled.
    weights, offset : numpy.ndarray or None
        Prior weights and the total offset (``offset()`` terms plus ``offset=``).
    variables : dict of str to RVector
        Every evaluated variable at the used rows, by its R name (``"poly(Days, 2)"``).
    nodes : dict of str to Node
        The expression of each variable.
    state : dict
        The stateful transforms' training values (centres, knots, polynomial
        coefficients, breaks, means), reused for new data.
    missing_counts : dict of str to int
        For each model column (as the missing-data message names it), its rows with a
        missing value; ``n_dropped`` counts the rows dropped, missing in any of them.
    """

    data: pd.DataFrame
    rows: np.ndarray
    response: np.ndarray | None
    response_name: str | None
    weights: np.ndarray | None
    offset: np.ndarray | None
    response_factor: pd.Series | None = field(default=None, repr=False)
    n_dropped: int = 0
    variables: Mapping[str, RVector] = field(default_factory=dict, repr=False)
    nodes: Mapping[str, Node] = field(default_factory=dict, repr=False)
    state: Mapping[str, object] = field(default_factory=dict, repr=False)
    data_index: pd.Index | None = field(default=None, repr=False)
    na_action: str = "omit"
    missing_counts: Mapping[str, int] = field(default_factory=dict, repr=False)

    @property
    def n(self) -> int:
        return len(self.rows)

    def padded(self, values: np.ndarray, name: str) -> pd.Series:
        """Values for the used rows as a Series on the data's rows: with
        ``na_action="exclude"`` the dropped rows are there as NaN (R's ``na.exclude``)."""
        if self.na_action != "exclude" or self.data_index is None or not self.n_dropped:
            return pd.Series(values, index=self.data.index, name=name)
        out = np.full(len(self.data_index), np.nan)
        out[self.rows] = values
        return pd.Series(out, index=self.data_index, name=name)

    def unpadded(self, values) -> np.ndarray:
        """The used rows' values of a per-row vector given as :meth:`padded` gives it
        (the inverse of padding; values of the used rows alone pass through)."""
        values = np.asarray(values)
        return values if len(values) == self.n else values[self.rows]

    def new_data(self, newdata: pd.DataFrame, labels: list[str],
                 offsets: tuple[Node, ...] = ()) -> tuple[dict[str, RVector], np.ndarray]:
        """The variables ``labels`` and the sum of the ``offsets`` evaluated on new data as
        on the training data: the training state of each transform, the training levels of
        each factor (R's ``model.frame(..., xlev)``). Missing values stay missing (R's
        ``na.pass``)."""
        ev = Evaluator(newdata, state=dict(self.state), train=False)
        n = len(newdata)
        variables = {label: _conform(_full_length(ev.evaluate(self.nodes[label]), n),
                                     self.variables[label], label) for label in labels}
        total = np.zeros(n)
        for node in offsets:
            total = total + _full_length(ev.evaluate(node), n).numbers(
                f"offset({deparse(node)})")
        return variables, total


def _full_length(value: RVector, n: int) -> RVector:
    if len(value) == n:
        return value
    return replace(value, values=np.repeat(value.values, n, axis=0))


def _one_per_row(value: RVector, n: int, label: str) -> RVector:
    """A model variable has one value per row: R's model.frame refuses a constant such as
    ``I(length(x))`` ("variable lengths differ")."""
    if len(value) != n:
        raise FormulaError(f"variable lengths differ (found for {label!r}): a model variable "
                           f"needs one value per row of the data ({n}), not {len(value)}")
    return value


def _conform(value: RVector, train: RVector, label: str) -> RVector:
    """New values of a variable, typed as the training variable: factors keep the
    training levels (a level not seen in fitting is an error naming it)."""
    if train.kind == "factor":
        labels = as_character(value)
        codes = match_levels(labels, train.levels)
        unseen = sorted({str(s) for s in labels[(codes < 0) & ~pd.isna(labels)]})
        if unseen:
            raise FormulaError(
                f"newdata has levels of {label!r} not seen in fitting: "
                f"{', '.join(unseen[:5])}; a factor can only take its fitted levels "
                f"({', '.join(train.levels[:10])})")
        return replace(train, values=codes)
    if not value.is_numeric:
        raise FormulaError(f"{label!r} is {value.kind} in newdata but was numeric in fitting")
    if value.values.shape[1:] != train.values.shape[1:]:
        raise FormulaError(f"{label!r} has a different number of columns in newdata")
    return replace(train, kind=train.kind, values=value.values)


def _argument_vector(value: object, data: pd.DataFrame, what: str, ev: Evaluator
                     ) -> RVector | None:
    """``weights=`` / ``offset=``: a column name, an expression of columns (evaluated by
    pylmer's evaluator) or one value per row of the data."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            node = parse(value)
        except FormulaSyntaxError as exc:
            raise FormulaError(f"{what}={value!r} is not a column name or an R expression "
                               f"of columns: {exc}") from None
        if isinstance(node, Name) and node.id not in data.columns:
            raise FormulaError(f"{what}={value!r} is not a column of the data")
        result = _full_length(ev.evaluate(node), len(data))
        if not result.is_numeric or result.is_matrix:
            raise FormulaError(f"{what}={value!r} is not numeric (it is {result.kind}); "
                               f"{what} must be numbers")
        return result
    values = np.asarray(value)
    if values.ndim != 1 or len(values) != len(data):
        raise FormulaError(
            f"{what} must be a column name or a vector of length {len(data)} "
            f"(the number of rows of data), got shape {values.shape}"
        )
    try:
        numbers = values.astype(float)
    except (TypeError, ValueError):
        raise FormulaError(f"{what} must be numeric; it holds {values.dtype} values such as "
                           f"{values[0]!r}") from None
    return RVector("double", numbers)


def report_missing(counts: Mapping[str, int], dropped: int, n: int, na_action: str) -> None:
    """R's ``na.omit`` / ``na.fail`` on rows with missing values: ``counts`` of missing
    values by model column, ``dropped`` rows of ``n`` incomplete. ``"fail"`` raises, the
    others warn (:class:`MissingDataWarning`) with the counts."""
    detail = ", ".join(f"{c} ({k})" for c, k in counts.items() if k)
    if na_action == "fail":
        raise FormulaError(
            f"missing values in columns used by the model: {detail}; remove those rows or "
            "use na_action='omit'"
        )
    warn_user(f"dropped {dropped} of {n} rows with missing values in: {detail}",
              MissingDataWarning)


def _complete_rows(missing: dict[str, np.ndarray], n: int, na_action: str,
                   quiet: bool = False) -> np.ndarray:
    bad = np.zeros(n, dtype=bool)
    for mask in missing.values():
        bad |= mask
    if not bad.any():
        return np.arange(n)
    if not quiet:  # quiet: one partition of the data, whose caller reports the totals
        report_missing({c: int(m.sum()) for c, m in missing.items()}, int(bad.sum()), n,
                       na_action)
    return np.flatnonzero(~bad)


def _as_model_variable(value: RVector) -> RVector:
    """At the used rows: factors lose unused levels, text becomes a factor with sorted
    levels (R's ``model.matrix`` turns character into factor)."""
    return as_factor(value) if value.kind in ("character", "factor") else value


def _response(value: RVector, name: str, binary_factor_ok: bool):
    if value.kind == "factor":
        if not binary_factor_ok:
            raise FormulaError(f"response {name!r} is a factor, not numeric; lmer needs a "
                               "numeric response")
        # R's binomial()$initialize: the first level is failure, every other one success
        factor = pd.Series(pd.Categorical.from_codes(value.values, categories=value.levels,
                                                     ordered=value.ordered))
        return (value.values >= 1).astype(float), factor
    if not value.is_numeric:
        raise FormulaError(f"response {name!r} is not numeric (it is {value.kind}); a linear "
                           "mixed model needs numbers (glmer with family='binomial' also "
                           "takes a two-level factor)")
    if value.is_matrix and value.values.shape[1] != 2:
        raise FormulaError(f"response {name!r} has {value.values.shape[1]} columns; a "
                           "matrix response must be cbind(successes, failures)")
    return value.values.astype(float), None


def model_frame(formula: MixedFormula, data: object, weights: object = None,
                offset: object = None, na_action: str = "omit",
                binary_factor_response: bool = False, partition: bool = False) -> ModelFrame:
    """Build the model frame of a parsed formula (R: ``model.frame``).

    ``partition=True``: ``data`` is one partition of a larger data set (an out-of-core
    fit). Incomplete rows are dropped silently and ``missing_counts`` records them, and
    the checks that need every row (some complete row, some positive weight) are left to
    the caller, who sees the totals.
    """
    if na_action not in NA_ACTIONS:
        raise FormulaError(f"na_action={na_action!r}: use one of {', '.join(NA_ACTIONS)}")
    data = as_pandas(data)
    if len(data) == 0:
        raise FormulaError("the data has no rows")
    ev = Evaluator(data)
    nodes: dict[str, Node] = {}
    for t in (formula.terms, *(term.terms for term in formula.random)):
        for node, label in zip(t.variables, t.labels):
            nodes.setdefault(label, node)
    groups = [g for term in formula.random for g in term.group]
    for name in groups:
        if name not in data.columns:
            ev.column(name)  # the error naming the unknown column
    evaluated: dict[str, RVector] = {}
    response = None
    n = len(data)
    if formula.response is not None:
        response = _one_per_row(ev.evaluate(formula.response), n, deparse(formula.response))
    for label, node in nodes.items():
        evaluated[label] = _one_per_row(ev.evaluate(node), n, label)
    offsets = [_one_per_row(ev.evaluate(node), n, f"offset({deparse(node)})")
               for node in formula.offsets]
    extras = {"(weights)": _argument_vector(weights, data, "weights", ev),
              "(offset)": _argument_vector(offset, data, "offset", ev)}

    missing: dict[str, np.ndarray] = {}
    if response is not None:
        missing[deparse(formula.response)] = response.na()
    for label, value in evaluated.items():
        missing.setdefault(label, value.na())
    for node, value in zip(formula.offsets, offsets):
        missing[f"offset({deparse(node)})"] = value.na()
    for name in groups:
        missing[deparse(Name(name))] = np.asarray(pd.isna(data[name].array))
    for name, value in extras.items():
        if value is not None:
            missing[name] = value.na()
    rows = _complete_rows(missing, len(data), na_action, quiet=partition)
    if len(rows) == 0 and not partition:
        raise FormulaError("no complete rows: every row has a missing value in a model "
                           "column (" + ", ".join(k for k, m in missing.items() if m.any())
                           + ")")
    variables = {label: _as_model_variable(v.take(rows)) for label, v in evaluated.items()}

    columns: list[str] = []
    for node in [formula.response, *nodes.values(), *formula.offsets]:
        if node is not None:
            columns += [c for c in data_names(node) if c in data.columns and c not in columns]
    for name in groups:
        if name not in columns:
            columns.append(name)
    # the model's columns (a new frame: the caller's is never changed); taken by position,
    # which costs a fraction of selecting them by a list of labels
    chosen = data.copy(deep=False) if columns == list(data.columns) else \
        data.take([data.columns.get_loc(c) for c in columns], axis=1)
    frame = chosen.iloc[rows].copy() if len(rows) < len(data) else chosen
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            codes = column.array.codes  # the Categorical's own codes (no Series made)
            used = np.bincount(codes[codes >= 0], minlength=len(column.dtype.categories)) > 0
            if not used.all():  # re-coding a factor is slow: only when a level is unused
                frame[name] = column.cat.remove_unused_categories()

    y = factor = None
    if response is not None:
        y, factor = _response(response.take(rows), deparse(formula.response),
                              binary_factor_response)
        if factor is not None:
            factor.index = frame.index
    w = extras["(weights)"]
    w = None if w is None else w.values[rows].astype(float)
    if w is not None:
        if (w < 0).any():
            raise FormulaError("weights must be non-negative; found negative prior weights")
        if not np.isfinite(w).all():
            raise FormulaError("weights must be finite; found infinite prior weights")
        if not (w > 0).any() and not partition:
            raise FormulaError("weights are all zero: no observation carries information")
    parts = [v.take(rows).numbers(f"offset({deparse(node)})")
             for node, v in zip(formula.offsets, offsets)]
    if extras["(offset)"] is not None:
        parts.append(extras["(offset)"].values[rows])
    total_offset = None
    if parts:
        total_offset = np.sum(parts, axis=0).astype(float)
        if not np.isfinite(total_offset).all():
            raise FormulaError("the offset has non-finite values (e.g. log(0)); check the "
                               "offset() terms and offset=")
    return ModelFrame(
        data=frame,
        rows=rows,
        response=y,
        response_name=None if formula.response is None else deparse(formula.response),
        weights=w,
        offset=total_offset,
        response_factor=factor,
        n_dropped=len(data) - len(rows),
        variables=variables,
        nodes=nodes,
        state=ev.state,
        data_index=data.index,
        na_action=na_action,
        missing_counts={name: int(mask.sum()) for name, mask in missing.items()},
    )
