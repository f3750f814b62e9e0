"""The reference grid of a fitted model: emmeans' ``ref_grid``.

The grid holds every combination of the values of the data columns the fixed part is
made of (emmeans' predictors), in the order the formula names them, the first varying
fastest (R's ``expand.grid``):

- a factor (or text, or logical) column takes each of its levels in the fitted rows;
- a numeric column wrapped in ``factor()`` takes each of its distinct values;
- any other numeric column is held at its mean, unless it has at most two distinct
  values, which emmeans (``cov.keep = "2"``) keeps like a factor's levels.

Functions of a column (``I(x^2)``, ``poly(x, 2)``, ``log(x)``) are evaluated at the grid's
value of the column, with the training state of each transform, so the grid's model matrix
is the fitted model's X for those rows (:meth:`ModelFrame.new_data`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..exceptions import PylmerError
from ..formula.evaluate import data_names
from ..formula.rvalue import from_column
from ..validate import check_model

__all__ = ["RefGrid", "ref_grid"]


@dataclass(frozen=True)
class RefGrid:
    """The reference grid: its rows, the model matrix at those rows and what is needed to
    average over it.

    Attributes
    ----------
    grid : DataFrame
        One row per combination; factor columns are categoricals in level order.
    X : numpy.ndarray
        The fixed-effects model matrix at the grid's rows (the model's kept columns).
    offset : numpy.ndarray
        The formula's offsets at the grid's rows.
    levels : dict of str to list
        Each grid variable's values, in grid order.
    factors : tuple of str
        The variables that take several values (the others are held at one value).
    counts : numpy.ndarray
        How many fitted rows fall in each grid row's combination of factor values (the
        cell counts that ``weights="proportional"`` and ``"cells"`` use).
    full_X : numpy.ndarray
        The model matrix at the grid's rows with every column, those dropped for rank
        deficiency included.
    null_basis : numpy.ndarray or None
        A basis of the null space of the fitted rows' full model matrix (None when X lost
        no column), to check the estimability of averages of grid rows.
    """

    grid: pd.DataFrame
    X: np.ndarray
    offset: np.ndarray
    levels: dict
    factors: tuple
    counts: np.ndarray
    full_X: np.ndarray
    null_basis: np.ndarray | None

    def codes(self, variables: list[str]) -> np.ndarray:
        """Each grid row's position among the combinations of ``variables``' values, the
        first variable fastest (the order of ``expand.grid`` over them)."""
        out = np.zeros(len(self.grid), dtype=np.int64)
        stride = 1
        for c in variables:
            position = {str(v): k for k, v in enumerate(self.levels[c])}
            out += stride * np.array([position[str(v)] for v in self.grid[c]], dtype=np.int64)
            stride *= len(self.levels[c])
        return out

    def estimable(self, L_full: np.ndarray) -> np.ndarray:
        """Whether each row of ``L_full`` (over the full model matrix's columns) is
        estimable: orthogonal to X's null space (emmeans' ``estimability`` check, with
        its tolerance)."""
        if self.null_basis is None:
            return np.ones(len(L_full), dtype=bool)
        scale = np.maximum(np.max(np.abs(L_full), axis=1), 1e-300)
        return np.max(np.abs(L_full @ self.null_basis), axis=1) / scale < 1e-8


def _factor_wrapped(column: str, model) -> bool:
    """A numeric column the fixed part uses only as a factor (``factor(cyl)``)."""
    fr = model.lf.fr
    uses = [label for label in model.lf.fixed.labels
            if column in data_names(fr.nodes[label])]
    return bool(uses) and all(fr.variables[label].kind == "factor" and
                              data_names(fr.nodes[label]) == [column] and label != column
                              for label in uses)


def _predictors(model) -> list[str]:
    """The data columns of the fixed part, in the formula's order (emmeans' predictors)."""
    fr = model.lf.fr
    out: list[str] = []
    for label in model.lf.fixed.labels:
        out += [c for c in data_names(fr.nodes[label]) if c in fr.data.columns and c not in out]
    return out


def _values(column: str, model) -> tuple[list, bool]:
    """The grid values of one predictor, and whether it is factor-like."""
    fr = model.lf.fr
    series = fr.data[column]
    value = fr.variables[column] if column in fr.variables else from_column(series, column)
    if value.kind == "factor":
        used = np.unique(value.values[value.values >= 0])
        return [value.levels[k] for k in used], True
    if value.kind == "character":
        return sorted({str(v) for v in series.dropna()}), True
    if value.kind == "logical":
        return sorted({bool(v) for v in series.dropna()}), True
    numbers = np.unique(value.values[~np.isnan(value.values)])
    if _factor_wrapped(column, model) or len(numbers) <= 2:
        return [float(v) for v in numbers], True
    return [float(np.mean(value.values[~np.isnan(value.values)]))], False


def _at_values(column: str, given, current: list, is_factor: bool) -> list:
    values = list(given) if isinstance(given, (list, tuple, np.ndarray, pd.Series)) else [given]
    if not values:
        raise PylmerError(f"at[{column!r}] is empty: give one value or several")
    if is_factor and isinstance(current[0], str):
        wanted = [str(v) for v in values]
        unknown = [v for v in wanted if v not in current]
        if unknown:
            raise PylmerError(f"at[{column!r}]: {unknown} are not levels of {column!r} in the "
                              f"fitted rows; its levels are {current}")
        return wanted
    try:
        numbers = [float(v) for v in values]
    except (TypeError, ValueError):
        raise PylmerError(f"at[{column!r}] must be numbers, got {values!r}") from None
    if not np.all(np.isfinite(numbers)):
        raise PylmerError(f"at[{column!r}] must be finite numbers, got {values!r}")
    return numbers


def _grid_frame(model, levels: dict) -> pd.DataFrame:
    """``expand.grid`` of the levels (the first variable fastest), each column typed as the
    data's column so that the formula evaluates on it as on the data."""
    names = list(levels)
    sizes = [len(levels[c]) for c in names]
    index = np.indices(sizes[::-1]).reshape(len(sizes), -1)[::-1] if names else \
        np.zeros((0, 1), dtype=int)
    data = model.lf.fr.data
    columns = {}
    for k, c in enumerate(names):
        picked = [levels[c][i] for i in index[k]]
        original = data[c]
        if isinstance(original.dtype, pd.CategoricalDtype):
            cats = original.cat.categories
            by_label = {str(cat): cat for cat in cats}
            columns[c] = pd.Categorical([by_label[str(v)] for v in picked], categories=cats,
                                        ordered=original.cat.ordered)
        elif pd.api.types.is_bool_dtype(original.dtype):
            columns[c] = np.array(picked, dtype=bool)
        else:
            columns[c] = np.array(picked, dtype=object if isinstance(picked[0], str) else float)
    return pd.DataFrame(columns, index=pd.RangeIndex(index.shape[1]))


def _cell_counts(model, grid: pd.DataFrame, factors: tuple) -> np.ndarray:
    """Fitted rows in each grid row's combination of the factor-like values."""
    if not factors:
        return np.array([float(model.lf.n)] * len(grid))
    data = model.lf.fr.data
    keys = pd.MultiIndex.from_frame(
        pd.DataFrame({c: data[c].astype(str).to_numpy() for c in factors}))
    counts = keys.value_counts()
    wanted = pd.MultiIndex.from_frame(
        pd.DataFrame({c: grid[c].astype(str).to_numpy() for c in factors}))
    return counts.reindex(wanted, fill_value=0).to_numpy(dtype=float)


def _null_basis(model) -> np.ndarray | None:
    """The null space of the fitted rows' full model matrix: built only when X lost
    columns to rank deficiency (otherwise every linear function is estimable)."""
    lf = model.lf
    if not lf.fixed.dropped:
        return None
    X_full = lf.fixed.plan.build(lf.fr.variables, lf.n)
    _, s, vt = np.linalg.svd(X_full, full_matrices=True)
    rank = int(np.sum(s > s[0] * 1e-7))
    return vt[rank:].T


def ref_grid(model, at: dict | None = None) -> RefGrid:
    """The reference grid of a fitted model (R: ``emmeans::ref_grid(m, at)``).

    Parameters
    ----------
    model : LmerMod or GlmerMod
        A fitted model.
    at : dict, optional
        Values for grid variables, replacing their defaults: ``{"Days": [0, 9]}`` or
        ``{"nF": ["0", "0.6"]}`` (levels by their labels).

    Returns
    -------
    RefGrid
    """
    lf = check_model(model).lf
    predictors = _predictors(model)
    at = {} if at is None else at
    if not isinstance(at, dict):
        raise TypeError(f"at must be a dict of column -> value(s), got {type(at).__name__}")
    unknown = [c for c in at if c not in predictors]
    if unknown:
        raise PylmerError(f"at: {unknown} are not variables of the fixed part; its variables "
                          f"are {predictors}")
    levels, factors, counted = {}, [], []
    for column in predictors:
        values, is_factor = _values(column, model)
        if column in at:
            values = _at_values(column, at[column], values, is_factor)
        levels[column] = values
        if is_factor or len(values) > 1:
            factors.append(column)
        if is_factor:  # values the data hold, so cells can be counted
            counted.append(column)
    grid = _grid_frame(model, levels)
    variables, offset = lf.fr.new_data(grid, list(lf.fixed.labels), lf.formula.offsets)
    X = lf.fixed.model_matrix(variables, len(grid))
    full_X = lf.fixed.plan.build(variables, len(grid))
    return RefGrid(grid, X, offset, levels, tuple(factors),
                   _cell_counts(model, grid, tuple(counted)), full_X, _null_basis(model))
