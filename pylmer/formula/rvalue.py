"""R's vectors, as the formula evaluator sees them.

A formula's variables are R values: double or integer vectors (and matrices, such as
``poly(x, 2)``), logical vectors, character vectors and factors. :class:`RVector` keeps
the R type beside the numbers, because the type decides how a variable enters the model
matrix (a logical is a two-level factor, a character vector becomes a factor with sorted
levels) and how ``factor()`` labels its levels (``as.character()``).

Missing values are R's NA: NaN in double, integer and logical vectors, None in character
vectors, code -1 in factors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..exceptions import FormulaError

__all__ = ["RVector", "as_character", "as_factor", "from_column", "r_number"]

KINDS = ("double", "integer", "logical", "character", "factor")


@dataclass(frozen=True, eq=False)
class RVector:
    """One R value.

    Attributes
    ----------
    kind : {"double", "integer", "logical", "character", "factor"}
    values : numpy.ndarray
        double / integer / logical: float64 (NaN is NA; logical holds 0 and 1), 1-D, or
        2-D for a numeric matrix; character: object array of str (None is NA); factor:
        int64 codes into ``levels`` (-1 is NA).
    levels : tuple of str
        A factor's levels, in order.
    ordered : bool
        An ordered factor (R's ``ordered()``): coded by ``contr.poly``.
    colnames : tuple of str or None
        A matrix's column names (``poly(x, 2)`` has ``("1", "2")``).
    contrasts : tuple or None
        Contrasts attached by ``C()``: (contrast name, keyword arguments, how many).
    """

    kind: str
    values: np.ndarray
    levels: tuple[str, ...] = ()
    ordered: bool = False
    colnames: tuple[str, ...] | None = None
    contrasts: tuple | None = None

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def is_matrix(self) -> bool:
        return self.values.ndim == 2

    @property
    def is_numeric(self) -> bool:
        return self.kind in ("double", "integer", "logical")

    def na(self) -> np.ndarray:
        """Rows holding a missing value (any column of a matrix)."""
        v = self.values
        if self.kind == "factor":
            return v < 0
        if self.kind == "character":
            return pd.isna(v)
        missing = np.isnan(v)
        return missing.any(axis=1) if missing.ndim == 2 else missing

    def take(self, rows: np.ndarray) -> RVector:
        return replace(self, values=self.values[rows])

    def numbers(self, what: str) -> np.ndarray:
        """The values as doubles; a factor or text is an error naming ``what``."""
        if self.is_numeric:
            return self.values
        raise FormulaError(
            f"{what} is a {self.kind} vector, not numeric: arithmetic needs numbers "
            "(use as.numeric() for a factor's level codes)")

    def drop_unused_levels(self) -> RVector:
        """R's ``droplevels()``: the model frame keeps only levels that occur."""
        if self.kind != "factor" or len(self.levels) == 0:
            return self
        used = np.bincount(self.values[self.values >= 0], minlength=len(self.levels)) > 0
        if used.all():
            return self
        remap = np.cumsum(used) - 1
        codes = np.where(self.values >= 0, remap[np.maximum(self.values, 0)], -1)
        levels = tuple(lev for lev, u in zip(self.levels, used) if u)
        return replace(self, values=codes.astype(np.int64), levels=levels)


def double(values, colnames=None) -> RVector:
    return RVector("double", np.asarray(values, dtype=float), colnames=colnames)


def logical(values) -> RVector:
    return RVector("logical", np.asarray(values, dtype=float))


def character(values) -> RVector:
    return RVector("character", np.asarray(values, dtype=object))


def factor_from_codes(codes, levels, ordered: bool = False) -> RVector:
    return RVector("factor", np.asarray(codes, dtype=np.int64), tuple(levels), ordered)


def match_levels(labels: np.ndarray, levels) -> np.ndarray:
    """Codes of ``labels`` (str or None) in ``levels``; -1 for NA and for labels not among
    them."""
    return pd.Index(list(levels), dtype=object).get_indexer(labels).astype(np.int64)


def as_factor(v: RVector) -> RVector:
    """R's ``factor(x)``: a factor keeps its levels (unused ones dropped); text gets its
    sorted values; numbers and logicals their sorted values, labelled as ``as.character()``
    prints them, values that print alike (0.1 + 0.2 and 0.3) being one level."""
    if v.is_matrix:
        raise FormulaError("factor() of a matrix is not supported")
    if v.kind == "factor":
        return v.drop_unused_levels()
    if v.kind == "character":
        return factor_from_codes(*sorted_factor(v.values))
    ok = ~np.isnan(v.values)
    codes = np.full(len(v), -1, dtype=np.int64)
    if not ok.any():
        return factor_from_codes(codes, ())
    uniq, inverse = np.unique(v.values[ok], return_inverse=True)
    labels = as_character(RVector(v.kind, uniq))
    levels = list(dict.fromkeys(labels))  # sorted by value; equal labels merged
    codes[ok] = match_levels(labels, levels)[inverse]
    return factor_from_codes(codes, levels)


def sorted_factor(labels: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """R's ``factor()`` of text: levels sorted, NA kept as NA."""
    cat = pd.Categorical(labels)
    return cat.codes.astype(np.int64), tuple(str(c) for c in cat.categories)


def r_number(value: float) -> str:
    """R's ``as.character()`` of a double: 15 significant digits, fixed or scientific
    notation by width as R chooses (``0.2``, ``1e+05``, ``123456``, ``1e-04``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    mantissa, exponent = f"{value:.14e}".split("e")
    digits = mantissa.replace("-", "").replace(".", "").rstrip("0") or "0"
    sig, exp = len(digits), int(exponent)
    sci_mant = f"{abs(value):.{sig - 1}e}".split("e")[0]
    sci = f"{sci_mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    decimals = max(0, sig - 1 - exp)
    fixed = f"{abs(value):.{decimals}f}"
    sign = "-" if value < 0 else ""
    return sign + (fixed if len(fixed) <= len(sci) else sci)


def as_character(v: RVector) -> np.ndarray:
    """R's ``as.character()``: an object array of str (None for NA)."""
    vals = v.values
    if v.kind == "character":
        return vals
    if v.kind == "factor":
        levels = np.array(list(v.levels) + [None], dtype=object)
        return levels[np.where(vals >= 0, vals, len(v.levels))]
    if v.is_matrix:
        raise FormulaError("as.character() of a matrix is not supported")
    if v.kind == "logical":
        return np.array([None if np.isnan(x) else ("TRUE" if x else "FALSE") for x in vals],
                        dtype=object)
    # numbers: each distinct value printed once (a column of a million rows has few)
    ok = ~np.isnan(vals)
    out = np.full(len(vals), None, dtype=object)
    if ok.any():
        uniq, inverse = np.unique(vals[ok], return_inverse=True)
        spell = (lambda x: str(int(x))) if v.kind == "integer" else (lambda x: r_number(float(x)))
        out[ok] = np.array([spell(x) for x in uniq], dtype=object)[inverse]
    return out


def _category_label(value: object) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return r_number(float(value))
    return str(value)


def from_column(series: pd.Series, name: str) -> RVector:
    """A data column as R sees it: bool -> logical, integers -> integer, floats ->
    double, categorical -> factor (ordered kept), text -> character."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        codes = series.array.codes.astype(np.int64)  # the Categorical's codes, copied
        levels = tuple(_category_label(c) for c in dtype.categories)
        if len(set(levels)) != len(levels):
            raise FormulaError(f"column {name!r}: its categories print alike ({levels}); "
                               "give the categories distinct labels")
        return factor_from_codes(codes, levels, bool(dtype.ordered))
    if pd.api.types.is_bool_dtype(dtype):
        return logical(series.to_numpy(dtype=float, na_value=np.nan))
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        raise FormulaError(
            f"column {name!r} holds dates or times ({dtype}); convert it to numbers first, "
            "e.g. days since the first date: (d - d.min()).dt.days")
    if pd.api.types.is_integer_dtype(dtype):
        return RVector("integer", series.to_numpy(dtype=float, na_value=np.nan))
    if pd.api.types.is_float_dtype(dtype):
        return double(series.to_numpy(dtype=float, na_value=np.nan))
    if pd.api.types.is_complex_dtype(dtype):
        raise FormulaError(f"column {name!r} is complex; a model needs real numbers")
    if dtype == object or pd.api.types.is_string_dtype(dtype):
        return _object_column(series, name)
    raise FormulaError(f"column {name!r} has type {dtype}, which a model cannot use; convert "
                       "it to numbers, booleans, text or a pandas Categorical")


def _object_column(series: pd.Series, name: str) -> RVector:
    kind = pd.api.types.infer_dtype(series, skipna=True)
    missing = series.isna().to_numpy()
    if kind == "boolean":
        return logical(np.where(missing, np.nan, series.to_numpy(dtype=object) == True))
    if kind in ("integer", "floating", "mixed-integer-float", "decimal"):
        return double(pd.to_numeric(series, errors="coerce").to_numpy(dtype=float))
    if kind not in ("string", "empty"):
        raise FormulaError(f"column {name!r} mixes text with other values ({kind}); give "
                           "it one type (text, numbers or booleans)")
    values = series.to_numpy(dtype=object).copy()
    values[missing] = None
    return character(values)


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)
