"""The model frame: the rows and columns a model uses (R's ``model.frame``).

Collects every variable the formula, ``weights=`` and ``offset=`` name, drops incomplete
rows (``na_action="omit"``, with a :class:`MissingDataWarning` giving the count) or raises
(``na_action="fail"``), drops unused factor levels as R does, and evaluates the response
and the offsets. The caller's data are never modified.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..exceptions import MissingDataWarning
from .bars import MixedFormula
from .evaluate import CONSTANTS, evaluate
from .rexpr import Node, deparse, variables

__all__ = ["NA_ACTIONS", "ModelFrame", "as_pandas", "model_frame"]

NA_ACTIONS = ("omit", "exclude", "fail")


def as_pandas(data: object) -> pd.DataFrame:
    """Accept a pandas or polars DataFrame or a dict of columns; never alter the original."""
    if isinstance(data, pd.DataFrame):
        return data
    if type(data).__module__.startswith("polars"):
        return _polars_to_pandas(data)
    if hasattr(data, "to_pandas") and callable(data.to_pandas):  # pyarrow tables
        return data.to_pandas()
    if isinstance(data, dict):
        return pd.DataFrame(data)
    raise TypeError(
        f"data must be a pandas DataFrame (or polars DataFrame, or dict of columns), "
        f"got {type(data).__name__}"
    )


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
        The used rows of every variable the model names (a copy), unused factor levels
        dropped. Its index is the caller's index.
    rows : numpy.ndarray of int
        0-based positions of the used rows in the caller's data.
    response : numpy.ndarray
        ``(n,)``, or ``(n, 2)`` for ``cbind(successes, failures)``; a factor response is
        kept as its pandas Series in ``response_factor``.
    response_name : str
        The response as written (``"cbind(incidence, size - incidence)"``).
    weights, offset : numpy.ndarray or None
        Prior weights and the total offset (``offset()`` terms plus ``offset=``).
    """

    data: pd.DataFrame
    rows: np.ndarray
    response: np.ndarray | None
    response_name: str | None
    weights: np.ndarray | None
    offset: np.ndarray | None
    response_factor: pd.Series | None = field(default=None, repr=False)
    n_dropped: int = 0

    @property
    def n(self) -> int:
        return len(self.rows)


def _names_in(node: Node) -> list[str]:
    return [v for v in variables(node) if v not in CONSTANTS and not v.startswith("contr.")]


def _required_columns(formula: MixedFormula) -> list[str]:
    needed: list[str] = []

    def add(names: list[str]) -> None:
        needed.extend(n for n in names if n not in needed)

    if formula.response is not None:
        add(_names_in(formula.response))
    for _, term in formula.fixed_terms:
        add(_names_in(term))
    for node in formula.offsets:
        add(_names_in(node))
    for term in formula.random:
        add(_names_in(term.lhs))
        add(list(term.group))
    return needed


def _check_columns(needed: list[str], data: pd.DataFrame, formula: MixedFormula) -> None:
    if "." in needed:
        raise ValueError(
            f"'.' (all other columns) is not supported in formula {formula.text!r}: "
            "name the columns"
        )
    missing = [n for n in needed if n not in data.columns]
    if missing:
        shown = ", ".join(map(str, list(data.columns)[:20]))
        raise ValueError(
            f"unknown column {missing[0]!r} in formula {formula.text!r}; the data has "
            f"columns: {shown}"
        )


def _vector_argument(value: object, data: pd.DataFrame, what: str) -> pd.Series | None:
    """``weights=`` / ``offset=``: a column name or a vector of length nrow(data)."""
    if value is None:
        return None
    if isinstance(value, str):
        if value not in data.columns:
            raise ValueError(f"{what}={value!r} is not a column of the data")
        return pd.Series(data[value].to_numpy(), index=data.index, name=value)
    values = np.asarray(value)
    if values.ndim != 1 or len(values) != len(data):
        raise ValueError(
            f"{what} must be a column name or a vector of length {len(data)} "
            f"(the number of rows of data), got shape {values.shape}"
        )
    try:
        values = values.astype(float)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be numeric") from None
    return pd.Series(values, index=data.index, name=what)


def _complete_rows(frame: pd.DataFrame, na_action: str) -> np.ndarray:
    missing = frame.isna()
    bad = missing.any(axis=1).to_numpy()
    if not bad.any():
        return np.arange(len(frame))
    counts = missing.sum()
    detail = ", ".join(f"{c} ({k})" for c, k in counts.items() if k > 0)
    if na_action == "fail":
        raise ValueError(
            f"missing values in columns used by the model: {detail}; remove those rows or "
            "use na_action='omit'"
        )
    warnings.warn(
        f"dropped {int(bad.sum())} of {len(frame)} rows with missing values in: {detail}",
        MissingDataWarning,
        stacklevel=4,
    )
    return np.flatnonzero(~bad)


def _drop_unused_levels(frame: pd.DataFrame) -> pd.DataFrame:
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            used = np.bincount(column.cat.codes.to_numpy() + 1,
                               minlength=len(column.cat.categories) + 1)[1:] > 0
            if not used.all():  # (re-coding a factor is slow: only when needed)
                frame[name] = column.cat.remove_unused_categories()
    return frame


def _response(node: Node, frame: pd.DataFrame, binary_factor_ok: bool):
    name = deparse(node)
    value = evaluate(node, frame)
    if isinstance(value, pd.Series):
        dtype = value.dtype
        if pd.api.types.is_bool_dtype(dtype):
            return value.to_numpy(dtype=float), None
        if pd.api.types.is_numeric_dtype(dtype):
            return value.to_numpy(dtype=float), None
        if binary_factor_ok:
            factor = value.astype("category")
            if len(factor.cat.categories) > 2:
                raise ValueError(
                    f"response {name!r} is a factor with {len(factor.cat.categories)} levels; "
                    "a binomial response factor must have two (first level = failure)"
                )
            return (factor.cat.codes.to_numpy() == 1).astype(float), factor
        raise TypeError(
            f"response {name!r} is not numeric (it has type {dtype}); lmer needs a numeric "
            "response"
        )
    return np.asarray(value, dtype=float), None


def model_frame(formula: MixedFormula, data: object, weights: object = None,
                offset: object = None, na_action: str = "omit",
                binary_factor_response: bool = False) -> ModelFrame:
    """Build the model frame of a parsed formula (R: ``model.frame``)."""
    if na_action not in NA_ACTIONS:
        raise ValueError(f"na_action={na_action!r}: use one of {', '.join(NA_ACTIONS)}")
    data = as_pandas(data)
    needed = _required_columns(formula)
    _check_columns(needed, data, formula)
    frame = data[needed].copy(deep=False)
    extras = {"(weights)": _vector_argument(weights, data, "weights"),
              "(offset)": _vector_argument(offset, data, "offset")}
    checked = frame.assign(**{k: v for k, v in extras.items() if v is not None})
    rows = _complete_rows(checked, na_action)
    if len(rows) < len(frame):
        frame = frame.iloc[rows].copy()
    frame = _drop_unused_levels(frame)

    response = factor = None
    if formula.response is not None:
        response, factor = _response(formula.response, frame, binary_factor_response)
    w = extras["(weights)"]
    w = None if w is None else w.to_numpy(dtype=float)[rows]
    if w is not None and (w < 0).any():
        raise ValueError("weights must be non-negative; found negative prior weights")
    total_offset = None
    parts = [np.broadcast_to(np.asarray(evaluate(node, frame), dtype=float), (len(rows),))
             for node in formula.offsets]
    if extras["(offset)"] is not None:
        parts.append(extras["(offset)"].to_numpy(dtype=float)[rows])
    if parts:
        total_offset = np.sum(parts, axis=0)
        if not np.isfinite(total_offset).all():
            raise ValueError("the offset has non-finite values (e.g. log(0)); check the "
                             "offset() terms and offset=")
    return ModelFrame(
        data=frame,
        rows=rows,
        response=response,
        response_name=None if formula.response is None else deparse(formula.response),
        weights=w,
        offset=total_offset,
        response_factor=factor,
        n_dropped=len(data) - len(rows),
    )
