"""The fixed-effects model matrix X, through formulaic, with R's names and rank check.

formulaic builds the columns (and keeps its ``ModelSpec``, whose stateful transforms —
``scale()``, ``center()``, ``poly()`` — encode new data exactly as the training data);
:mod:`pylmer.design.contrasts` makes the factor coding R's. This module renames columns as
R prints them (``(Intercept)``, ``recipeB:temperature.L``, ``I(age^2)``) and drops
columns of a rank-deficient X the way lme4 does (LINPACK's pivoted QR, tolerance 1e-7).
"""

from __future__ import annotations

import keyword
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from formulaic import Formula
from formulaic.model_spec import ModelSpec

from ..exceptions import RankDeficiencyWarning
from ..formula.bars import MixedFormula
from ..formula.rexpr import (
    _R_RESERVED,
    BinOp,
    FormulaSyntaxError,
    Name,
    Num,
    Paren,
    deparse,
    from_python,
    to_python,
)
from .contrasts import CONTRASTS, RMaterializer

__all__ = ["FixedDesign", "fixed_design", "r_column_names", "rank_pivot"]


@dataclass(frozen=True)
class FixedDesign:
    """X and what is needed to rebuild it for new data.

    Attributes
    ----------
    X : numpy.ndarray, (n, p)
        The model matrix, after dropping rank-deficient columns.
    colnames : tuple of str
        R's column names of X.
    dropped : tuple of str
        Columns dropped for rank deficiency.
    spec : formulaic.ModelSpec
        formulaic's spec (stateful transforms, factor levels) for encoding new data. Where
        X was built without formulaic (plain main effects, see :func:`fixed_design`) it is
        built from the training frame when first asked for.
    keep : numpy.ndarray of int
        Positions of the kept columns in the full formulaic matrix.
    contrasts : dict
        Contrasts used for each factor in X (R's ``attr(X, "contrasts")``).
    """

    X: np.ndarray
    colnames: tuple[str, ...]
    dropped: tuple[str, ...]
    _spec: ModelSpec | None
    keep: np.ndarray
    contrasts: Mapping[str, str]
    _spec_inputs: tuple | None = field(default=None, repr=False, compare=False)

    @property
    def spec(self) -> ModelSpec:
        if self._spec is None:
            formula, frame = self._spec_inputs
            object.__setattr__(self, "_spec", _model_spec(formula, frame, {})[0])
        return self._spec

    def model_matrix(self, newdata: pd.DataFrame) -> np.ndarray:
        """Encode new data with the training data's transforms and contrasts."""
        mm = self.spec.get_model_matrix(newdata, na_action="ignore")
        return np.asarray(mm, dtype=float)[:, self.keep]


def python_formula(formula: MixedFormula) -> str:
    """The fixed part in formulaic's spelling (``I(age^2)`` -> ``I(age ** 2)``)."""
    if not formula.fixed_terms:
        return "1"
    out = []
    for k, (sign, node) in enumerate(formula.fixed_terms):
        text = to_python(node)
        out.append(text if k == 0 and sign > 0 else ("- " if sign < 0 else "+ ") + text)
    return " ".join(out)


def _r_expr(expr: str) -> str:
    """formulaic's (Python) spelling of a variable -> R's deparse()."""
    try:
        return deparse(from_python(expr))
    except (FormulaSyntaxError, SyntaxError, KeyError):
        return expr


def _r_field(field: str) -> str:
    # formulaic writes multi-column transforms as name[field]; R writes namefield
    if field.startswith("[") and field.endswith("]"):
        return field[1:-1]
    return field


def _split_column(column: str, exprs: list[str]) -> list[tuple[str, str]]:
    """Split formulaic's ``expr1<field1>:expr2<field2>`` into (expr, field) pairs."""
    pieces = []
    pos = 0
    for k, expr in enumerate(exprs):
        if not column.startswith(expr, pos):
            raise ValueError(f"cannot name column {column!r} from factors {exprs!r}")
        pos += len(expr)
        if k + 1 < len(exprs):
            end = column.find(":" + exprs[k + 1], pos)
            while end >= 0 and not _is_boundary(column, end, exprs[k + 1:]):
                end = column.find(":" + exprs[k + 1], end + 1)
        else:
            end = len(column)
        if end < 0:
            raise ValueError(f"cannot name column {column!r} from factors {exprs!r}")
        pieces.append((expr, column[pos:end]))
        pos = end + 1
    return pieces


def _is_boundary(column: str, end: int, rest: list[str]) -> bool:
    try:
        _split_column(column[end + 1:], rest)
        return True
    except ValueError:
        return False


def r_column_names(spec: ModelSpec) -> list[str]:
    """R's model.matrix column names for formulaic's columns, term by term."""
    names: list[str] = []
    # a factor's columns are named by its levels as they are (a level may be "[hi]")
    factors = {str(factor) for factor in spec.factor_contrasts}
    for structure in spec.structure:
        exprs = [factor.expr for factor in structure.term.factors if factor.expr != "1"]
        for column in structure.columns:
            if not exprs:
                names.append("(Intercept)")
                continue
            pieces = _split_column(column, exprs)
            names.append(":".join(_r_expr(e) + (f if e in factors else _r_field(f))
                                  for e, f in pieces))
    return names


def rank_pivot(X: np.ndarray, tol: float = 1e-7) -> tuple[int, np.ndarray]:
    """Rank and column pivot of R's ``qr(X, LAPACK = FALSE)`` (LINPACK dqrdc2).

    dqrdc2 moves a column to the end when its remaining norm falls below ``tol`` times its
    original norm, so the first ``rank`` pivots are the columns lme4 keeps.
    """
    x = np.array(X, dtype=float, order="F")
    n, p = x.shape
    qraux = np.sqrt((x**2).sum(axis=0))
    work1 = qraux.copy()
    work2 = np.where(qraux == 0.0, 1.0, qraux)
    pivot = np.arange(p)
    k = p
    for l in range(min(n, p)):
        while l < k and qraux[l] < work2[l] * tol:
            order = list(range(l)) + list(range(l + 1, p)) + [l]
            x = x[:, order]
            pivot, qraux, work1, work2 = pivot[order], qraux[order], work1[order], work2[order]
            k -= 1
        if l == n - 1:
            break
        nrmxl = np.linalg.norm(x[l:, l])
        if nrmxl == 0.0:
            continue
        if x[l, l] != 0.0:
            nrmxl = np.copysign(nrmxl, x[l, l])
        x[l:, l] /= nrmxl
        x[l, l] += 1.0
        for j in range(l + 1, p):
            t = -np.dot(x[l:, l], x[l:, j]) / x[l, l]
            x[l:, j] += t * x[l:, l]
            if qraux[j] == 0.0:
                continue
            tt = max(1.0 - (abs(x[l, j]) / qraux[j]) ** 2, 0.0)
            if abs(tt) < 1e-6:
                qraux[j] = np.linalg.norm(x[l + 1:, j])
                work1[j] = qraux[j]
            else:
                qraux[j] *= np.sqrt(tt)
        qraux[l] = x[l, l]
        x[l, l] = -nrmxl
    return min(k, n), pivot


def _check_rank(X: np.ndarray, names: list[str], action: str) -> np.ndarray:
    p = X.shape[1]
    if action == "ignore" or p == 0:
        return np.arange(p)
    rank, pivot = rank_pivot(X)
    if rank == p:
        return np.arange(p)
    dropped = [names[j] for j in sorted(pivot[rank:])]
    if action == "stop.deficient":
        raise ValueError(
            f"the fixed-effects model matrix is rank deficient (rank {rank} < {p} columns); "
            f"aliased columns: {', '.join(dropped)}"
        )
    if action != "silent.drop.cols":
        k = p - rank
        plural = "column / coefficient" if k == 1 else "columns / coefficients"
        warnings.warn(
            f"fixed-effect model matrix is rank deficient so dropping {k} {plural}: "
            + ", ".join(dropped),
            RankDeficiencyWarning,
            stacklevel=4,
        )
    return np.sort(pivot[:rank])


def _factor_contrasts(spec: ModelSpec, frame: pd.DataFrame,
                      chosen: Mapping[str, str]) -> dict[str, str]:
    out = {}
    for name in spec.variables:
        if name in frame.columns:
            values = frame[name]
            if isinstance(values.dtype, pd.CategoricalDtype) or values.dtype == object or \
                    pd.api.types.is_string_dtype(values.dtype) or \
                    pd.api.types.is_bool_dtype(values.dtype):
                ordered = getattr(values.dtype, "ordered", False)
                out[name] = chosen.get(name) or ("contr.poly" if ordered else "contr.treatment")
    return out


def _bools_as_factors(frame: pd.DataFrame) -> pd.DataFrame:
    """R codes a logical column as a factor with levels FALSE, TRUE (column ``xTRUE``)."""
    if not any(pd.api.types.is_bool_dtype(dtype) for dtype in frame.dtypes):
        return frame
    frame = frame.copy()
    for name in frame.columns:
        if pd.api.types.is_bool_dtype(frame[name].dtype):
            frame[name] = pd.Categorical(
                np.where(frame[name].to_numpy(), "TRUE", "FALSE"), categories=["FALSE", "TRUE"]
            )
    return frame


def fixed_design(formula: MixedFormula, frame: pd.DataFrame,
                 contrasts: Mapping[str, str] | None = None,
                 check_rankX: str = "message+drop.cols") -> FixedDesign:
    """Build X for the fixed part of ``formula`` on the model frame (R: ``model.matrix``)."""
    contrasts = dict(contrasts or {})
    for name, kind in contrasts.items():
        if kind not in CONTRASTS:
            raise ValueError(
                f"contrasts for {name!r}: {kind!r} is not supported; use one of "
                + ", ".join(CONTRASTS)
            )
    simple = None if contrasts else _main_effects(formula, frame)
    original = frame
    if simple is not None:  # the same X, names and contrasts without formulaic (tested)
        full, names, factor_contrasts = simple
        spec, spec_inputs = None, (formula, frame)
    else:
        frame = _bools_as_factors(frame)
        spec, full = _model_spec(formula, frame, contrasts)
        names = r_column_names(spec)
        unknown = set(contrasts) - set(spec.variables)
        if unknown:
            raise ValueError(
                f"contrasts given for {sorted(unknown)}, which are not in the fixed part")
        factor_contrasts, spec_inputs = _factor_contrasts(spec, frame, contrasts), None
    _check_factor_levels(original, factor_contrasts)
    keep = _check_rank(full, names, check_rankX)
    dropped = tuple(n for j, n in enumerate(names) if j not in set(keep))
    return FixedDesign(
        X=np.ascontiguousarray(full[:, keep]),
        colnames=tuple(names[j] for j in keep),
        dropped=dropped,
        _spec=spec,
        keep=keep,
        contrasts=factor_contrasts,
        _spec_inputs=spec_inputs,
    )


def _check_factor_levels(frame: pd.DataFrame, factors) -> None:
    """R's model.matrix stops on a factor with one level in the data ("contrasts can be
    applied only to factors with 2 or more levels"); a logical column is R's logical, not a
    factor, and is left to the rank check."""
    for name in factors:
        values = frame[name]
        if pd.api.types.is_bool_dtype(values.dtype):
            continue
        observed = pd.unique(values.dropna())
        if len(observed) < 2:
            level = f" ({observed[0]!r})" if len(observed) else ""
            raise ValueError(
                f"factor {name!r} in the fixed part has a single level in the data{level}: "
                "contrasts can be applied only to factors with 2 or more levels; remove it "
                "from the formula")


def _model_spec(formula: MixedFormula, frame: pd.DataFrame,
                contrasts: Mapping[str, str]) -> tuple[ModelSpec, np.ndarray]:
    """formulaic's spec for the fixed part on ``frame``, and the full matrix it builds."""
    spec = ModelSpec(
        formula=Formula(python_formula(formula)),
        materializer=RMaterializer,
        materializer_params={"contrasts": dict(contrasts)},
        na_action="ignore",
        output="numpy",
    )
    try:
        mm = spec.get_model_matrix(frame)
    except Exception as exc:  # formulaic's errors name the term; add the formula
        raise ValueError(
            f"cannot build the fixed-effects matrix of {formula.text!r}: {exc}"
        ) from exc
    full = np.asarray(mm, dtype=float)
    return mm.model_spec, (full[:, None] if full.ndim == 1 else full)


# the names R prints as they are and Python reads as names (others, backquoted or
# normalized, are left to formulaic and R's deparse), less those either reads as constants
_PLAIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_R_CONSTANTS = frozenset({"TRUE", "FALSE", "NULL", "NA", "Inf", "NaN", "T", "F", "pi"})


def _main_effects(formula: MixedFormula, frame: pd.DataFrame):
    """X, R's names and the contrasts for a fixed part of plain main effects with an
    intercept (``1 + x + f``: numeric columns and unordered factors with treatment
    contrasts), built directly; None for anything else (formulaic builds those).

    formulaic's set-up costs about 1.5 ms a model, a quarter of a small GLMM's whole fit.
    """
    names: list[str] = []
    stack = [node for sign, node in reversed(formula.fixed_terms) if sign > 0]
    if len(stack) != len(formula.fixed_terms):
        return None  # "- 1" and the like
    while stack:
        node = stack.pop()
        if isinstance(node, Paren):
            stack.append(node.inner)
        elif isinstance(node, BinOp) and node.op == "+":
            stack.extend([node.right, node.left])
        elif isinstance(node, Num) and node.text == "1":
            continue
        elif isinstance(node, Name) and _PLAIN_NAME.fullmatch(node.id) \
                and node.id in frame.columns and not keyword.iskeyword(node.id) \
                and node.id not in _R_RESERVED and node.id not in _R_CONSTANTS:
            names.append(node.id)
        else:
            return None
    if len(set(names)) != len(names):
        return None
    columns, colnames, contrasts = [np.ones(len(frame))], ["(Intercept)"], {}
    for name in names:
        values = frame[name]
        dtype = values.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            levels = list(dtype.categories)
            if dtype.ordered or not all(isinstance(v, str) for v in levels) or \
                    values.isna().any():
                return None
            codes = values.cat.codes.to_numpy()
            for k, level in enumerate(levels[1:], start=1):
                columns.append((codes == k).astype(float))
                colnames.append(name + level)
            contrasts[name] = "contr.treatment"
        elif pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            column = values.to_numpy(dtype=float)
            if not np.isfinite(column).all():
                return None
            columns.append(column)
            colnames.append(name)
        else:
            return None
    return np.column_stack(columns), colnames, contrasts
