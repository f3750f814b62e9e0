"""The R functions a formula may call: a whitelist, each written with numpy and R's rules.

Every function takes evaluated :class:`~pylmer.formula.rvalue.RVector` arguments, bound
to R's formal argument names, and returns an RVector. Functions whose value depends on the
whole training column (``scale``, ``poly``, ``ns``, ``bs``, ``cut(x, n)``, ``mean`` and
the other reductions) are *stateful*: on the training data they record what they computed
under the call's text, and on new data (``predict``) they reuse it, so new rows are encoded
exactly as the rows the model was fitted to.

Anything not in :data:`FUNCTIONS` is refused by the evaluator with an error naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from ..exceptions import FormulaError
from . import splines
from .rvalue import (
    RVector,
    as_character,
    as_factor,
    character,
    double,
    factor_from_codes,
    logical,
    match_levels,
)

__all__ = ["FUNCTIONS", "CallContext", "RFunction", "numbers", "recycle", "register", "scalar",
           "spread", "vector"]


@dataclass
class CallContext:
    """What a function sees of its call: its text (the key of its training state), the
    state store, whether this is the training data, and the number of rows."""

    key: str
    state: dict
    train: bool
    n: int

    def remember(self, compute: Callable[[], object]) -> object:
        """The training value of a stateful computation: computed and stored on the
        training data, reused on new data."""
        if self.train or self.key not in self.state:
            self.state[self.key] = compute()
        return self.state[self.key]


@dataclass(frozen=True)
class RFunction:
    name: str
    params: tuple[str, ...]
    impl: Callable
    group: str


FUNCTIONS: dict[str, RFunction] = {}


def register(name: str, params: str, group: str, table: dict | None = None):
    """Add a function to ``table`` (default :data:`FUNCTIONS`) under its R name, with R's
    formal argument names (``"x ... degree coefs raw"``)."""
    target = FUNCTIONS if table is None else table

    def wrap(fn):
        target[name] = RFunction(name, tuple(params.split()) if params else (), fn, group)
        return fn
    return wrap


# --------------------------------------------------------------------------- helpers

def recycle(vectors: list[RVector], what: str) -> int:
    """R's recycling, restricted to what a model frame can hold: lengths 1 or n."""
    lengths = {len(v) for v in vectors} - {1}
    if len(lengths) > 1:
        raise FormulaError(f"{what}: arguments have different lengths {sorted(lengths)}")
    return lengths.pop() if lengths else 1


def spread(v: RVector, n: int) -> np.ndarray:
    values = v.values
    if len(v) == n:
        return values
    return np.repeat(values, n, axis=0)


def scalar(v: RVector | None, fn: str, arg: str, kind: str = "number"):
    if v is None:
        return None
    if len(v) != 1 or v.is_matrix:
        raise FormulaError(f"{fn}(): {arg} must be a single {kind}, got {len(v)} values")
    if kind == "text":
        if v.kind not in ("character", "factor"):
            raise FormulaError(f"{fn}(): {arg} must be a string such as \"a\"")
        return str(as_character(v)[0])
    if kind == "logical":
        if not v.is_numeric or np.isnan(v.values[0]):
            raise FormulaError(f"{fn}(): {arg} must be TRUE or FALSE")
        return bool(v.values[0])
    if not v.is_numeric:
        raise FormulaError(f"{fn}(): {arg} must be a number")
    return float(v.values[0])


def numbers(v: RVector, fn: str) -> np.ndarray:
    return v.numbers(f"the argument of {fn}()")


def vector(v: RVector, fn: str) -> np.ndarray:
    x = numbers(v, fn)
    if x.ndim != 1:
        raise FormulaError(f"{fn}() takes a vector, not a matrix")
    return x


def _numeric_kind(*vectors: RVector) -> str:
    return "integer" if all(v.kind in ("integer", "logical") for v in vectors) else "double"


# --------------------------------------------------------------------------- math

def _math(name: str, fn: Callable[[np.ndarray], np.ndarray]) -> None:
    def impl(call: CallContext, x: RVector) -> RVector:
        with np.errstate(all="ignore"):
            return double(fn(numbers(x, name)), colnames=x.colnames)
    register(name, "x", "math")(impl)


for _name, _fn in {
    "abs": np.abs, "sqrt": np.sqrt, "exp": np.exp, "log2": np.log2, "log10": np.log10,
    "log1p": np.log1p, "expm1": np.expm1, "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan, "sinh": np.sinh,
    "cosh": np.cosh, "tanh": np.tanh, "floor": np.floor, "ceiling": np.ceil,
    "trunc": np.trunc, "sign": np.sign,
}.items():
    _math(_name, _fn)


@register("log", "x base", "math")
def _log(call: CallContext, x: RVector, base: RVector | None = None) -> RVector:
    with np.errstate(all="ignore"):
        out = np.log(numbers(x, "log"))
        if base is not None:
            out = out / np.log(scalar(base, "log", "base"))
    return double(out, colnames=x.colnames)


@register("round", "x digits", "math")
def _round(call: CallContext, x: RVector, digits: RVector | None = None) -> RVector:
    values = numbers(x, "round")
    d = int(scalar(digits, "round", "digits") or 0)
    if d == 0:  # IEC 60559: halves to even, as R
        return double(np.rint(values))
    # Python's round() rounds the decimal value of the double, as R 4 does
    out = np.vectorize(lambda v: round(float(v), d) if np.isfinite(v) else v, otypes=[float])
    return double(out(values))


def _as_is(call: CallContext, x: RVector) -> RVector:
    return x


register("I", "x", "identity")(_as_is)


# --------------------------------------------------------------------------- reductions

def _reduction(name: str, fn: Callable[[np.ndarray], float]) -> None:
    def impl(call: CallContext, x: RVector, na_rm: RVector | None = None) -> RVector:
        def compute() -> float:
            values = numbers(x, name).ravel()
            missing = np.isnan(values)
            if missing.any():
                if not scalar(na_rm, name, "na.rm", "logical"):
                    return float("nan")
                values = values[~missing]
            with np.errstate(all="ignore"):
                return float(fn(values))
        return double([call.remember(compute)])
    register(name, "x na.rm", "reduction")(impl)


def _sd(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


def _var(values: np.ndarray) -> float:
    return float(np.var(values, ddof=1)) if len(values) > 1 else float("nan")


for _name, _fn in {
    "mean": lambda v: np.mean(v) if len(v) else np.nan, "sd": _sd, "var": _var,
    "median": lambda v: np.median(v) if len(v) else np.nan,
    "min": lambda v: np.min(v) if len(v) else np.inf,
    "max": lambda v: np.max(v) if len(v) else -np.inf, "sum": np.sum,
}.items():
    _reduction(_name, _fn)


@register("quantile", "x probs na.rm names type", "reduction")
def _quantile(call: CallContext, x: RVector, probs: RVector | None = None,
              na_rm: RVector | None = None, names: RVector | None = None,
              type: RVector | None = None) -> RVector:
    if type is not None and scalar(type, "quantile", "type") != 7:
        raise FormulaError("quantile(): only R's default type = 7 is supported")
    p = np.array([0, 0.25, 0.5, 0.75, 1.0]) if probs is None else numbers(probs, "quantile")

    def compute() -> list[float]:
        values = vector(x, "quantile")
        missing = np.isnan(values)
        if missing.any():
            if not (na_rm is not None and scalar(na_rm, "quantile", "na.rm", "logical")):
                raise FormulaError("quantile(): missing values and NaN's not allowed if "
                                   "'na.rm' is FALSE")
            values = values[~missing]
        if ((p < 0) | (p > 1)).any():
            raise FormulaError("quantile(): 'probs' outside [0,1]")
        return [float(v) for v in splines.quantile7(values, p)]

    return double(call.remember(compute))


@register("length", "x", "reduction")
def _length(call: CallContext, x: RVector) -> RVector:
    return RVector("integer", np.array([float(call.remember(lambda: x.values.size))]))


# --------------------------------------------------------------------------- types

@register("as.numeric", "x", "type")
def _as_numeric(call: CallContext, x: RVector) -> RVector:
    if x.kind == "factor":  # the level codes 1..k, not the labels
        return double(np.where(x.values >= 0, x.values + 1.0, np.nan))
    if x.kind == "character":
        return double([_parse_number(s) for s in x.values])
    return double(x.values, colnames=x.colnames)


FUNCTIONS["as.double"] = replace(FUNCTIONS["as.numeric"], name="as.double")


def _parse_number(text: str | None) -> float:
    if text is None:
        return float("nan")
    try:
        return float(text.strip())
    except ValueError:
        return float("nan")


@register("as.integer", "x", "type")
def _as_integer(call: CallContext, x: RVector) -> RVector:
    values = _as_numeric(call, x).values
    with np.errstate(all="ignore"):
        return RVector("integer", np.trunc(values))


_TRUE = {"TRUE", "true", "T", "True"}
_FALSE = {"FALSE", "false", "F", "False"}


@register("as.logical", "x", "type")
def _as_logical(call: CallContext, x: RVector) -> RVector:
    if x.kind in ("character", "factor"):
        labels = as_character(x)
        return logical([1.0 if s in _TRUE else 0.0 if s in _FALSE else np.nan for s in labels])
    values = numbers(x, "as.logical")
    return logical(np.where(np.isnan(values), np.nan, values != 0))


@register("as.character", "x", "type")
def _as_character(call: CallContext, x: RVector) -> RVector:
    return character(as_character(x))


@register("is.na", "x", "type")
def _is_na(call: CallContext, x: RVector) -> RVector:
    return logical(x.na().astype(float))


@register("c", "...", "type")
def _c(call: CallContext, *parts: RVector) -> RVector:
    if not parts:
        raise FormulaError("c() needs at least one value")
    if any(p.is_matrix for p in parts):
        raise FormulaError("c() of a matrix is not supported")
    if any(p.kind in ("character", "factor") for p in parts):
        return character(np.concatenate([as_character(p) for p in parts]))
    kind = "logical" if all(p.kind == "logical" for p in parts) else _numeric_kind(*parts)
    return RVector(kind, np.concatenate([p.values for p in parts]).astype(float))


# --------------------------------------------------------------------------- factors

def _factor_with_levels(x: RVector, levels: RVector) -> tuple[np.ndarray, tuple[str, ...]]:
    wanted = [str(s) for s in as_character(levels) if s is not None]
    return match_levels(as_character(x), wanted), tuple(wanted)


@register("factor", "x levels labels exclude ordered", "factor")
def _factor(call: CallContext, x: RVector, levels: RVector | None = None,
            labels: RVector | None = None, exclude: RVector | None = None,
            ordered: RVector | None = None) -> RVector:
    if levels is None:
        plain = as_factor(x)  # levels sorted as R sorts the values
        codes, levs = plain.values, plain.levels
    else:
        codes, levs = _factor_with_levels(x, levels)
    if exclude is not None:  # those values are NA, not levels
        dropped = set(as_character(exclude).tolist())
        keep = [k for k, lev in enumerate(levs) if lev not in dropped]
        remap = np.full(len(levs) + 1, -1)
        remap[keep] = np.arange(len(keep))
        codes = remap[np.where(codes >= 0, codes, len(levs))]
        levs = tuple(levs[k] for k in keep)
    if labels is not None:
        names = tuple(str(s) for s in as_character(labels))
        if len(names) == 1 and len(levs) > 1:  # R: one label is numbered, k1, k2, ...
            names = tuple(f"{names[0]}{k}" for k in range(1, len(levs) + 1))
        if len(names) != len(levs):
            raise FormulaError(f"factor(): {len(names)} labels for {len(levs)} levels")
        levs = names
    is_ordered = x.ordered if ordered is None else scalar(ordered, "factor", "ordered",
                                                         "logical")
    return factor_from_codes(codes, levs, is_ordered)


@register("as.factor", "x", "factor")
def _as_factor(call: CallContext, x: RVector) -> RVector:
    return x if x.kind == "factor" else _factor(call, x)


@register("ordered", "x levels labels", "factor")
def _ordered(call: CallContext, x: RVector, levels: RVector | None = None,
             labels: RVector | None = None) -> RVector:
    return replace(_factor(call, x, levels, labels), ordered=True)


@register("droplevels", "x", "factor")
def _droplevels(call: CallContext, x: RVector) -> RVector:
    if x.kind != "factor":
        raise FormulaError("droplevels() takes a factor")
    return x.drop_unused_levels()


@register("nchar", "x", "type")
def _nchar(call: CallContext, x: RVector) -> RVector:
    labels = as_character(x)
    return RVector("integer", np.array([np.nan if s is None else float(len(s))
                                        for s in labels]))


@register("relevel", "x ref", "factor")
def _relevel(call: CallContext, x: RVector, ref: RVector | None = None) -> RVector:
    if x.kind != "factor":
        raise FormulaError("relevel() only for (unordered) factors: wrap the column in "
                           "factor() first")
    if x.ordered:
        raise FormulaError("relevel() only for unordered factors")
    if ref is None:
        raise FormulaError("relevel() needs ref =, the new first level")
    if ref.kind in ("character", "factor"):
        name = scalar(ref, "relevel", "ref", "text")
        if name not in x.levels:
            raise FormulaError(f"relevel(): ref = {name!r} is not a level; the levels are "
                               + ", ".join(x.levels))
        k = x.levels.index(name)
    else:
        k = int(scalar(ref, "relevel", "ref")) - 1
        if not 0 <= k < len(x.levels):
            raise FormulaError(f"relevel(): ref = {k + 1} is out of range 1..{len(x.levels)}")
    order = [k] + [j for j in range(len(x.levels)) if j != k]
    remap = np.argsort(order)
    codes = np.where(x.values >= 0, remap[np.maximum(x.values, 0)], -1)
    return factor_from_codes(codes, [x.levels[j] for j in order], False)


@register("interaction", "... sep drop lex.order", "factor")
def _interaction(call: CallContext, *factors: RVector, sep: RVector | None = None,
                 drop: RVector | None = None, lex_order: RVector | None = None) -> RVector:
    if not factors:
        raise FormulaError("interaction() needs at least one factor")
    separator = "." if sep is None else scalar(sep, "interaction", "sep", "text")
    lex = lex_order is not None and scalar(lex_order, "interaction", "lex.order", "logical")
    n = recycle(list(factors), "interaction()")
    parts = [_as_factor(call, f) for f in factors]
    codes = np.zeros(n, dtype=np.int64)
    combos: list[list[str]] | None = None
    stride = 1
    # the factor that varies fastest comes first: the first one (R's default) or the last
    for f in (parts[::-1] if lex else parts):
        c = spread(f, n)
        codes = np.where((codes >= 0) & (c >= 0), codes + c * stride, -1)
        stride *= len(f.levels)
        combos = [[lev] for lev in f.levels] if combos is None else \
            [prev + [lev] for lev in f.levels for prev in combos]
    levels = [separator.join(c[::-1] if lex else c) for c in combos]
    out = factor_from_codes(codes, levels, False)
    if drop is not None and scalar(drop, "interaction", "drop", "logical"):
        out = out.drop_unused_levels()
    return out


@register("ifelse", "test yes no", "factor")
def _ifelse(call: CallContext, test: RVector, yes: RVector, no: RVector) -> RVector:
    n = recycle([test, yes, no], "ifelse()")
    cond = spread(test, n)
    if test.kind in ("character", "factor") or test.is_matrix:
        raise FormulaError("ifelse(): test must be a logical condition such as x > 0")
    missing = np.isnan(cond)
    pick = np.where(missing, False, cond != 0)
    if yes.kind in ("character", "factor") or no.kind in ("character", "factor"):
        a, b = spread(character(as_character(yes)), n), spread(character(as_character(no)), n)
        out = np.where(pick, a, b).astype(object)
        out[missing] = None
        return character(out)
    a, b = spread(yes, n), spread(no, n)
    kind = "logical" if yes.kind == no.kind == "logical" else _numeric_kind(yes, no)
    return RVector(kind, np.where(missing, np.nan, np.where(pick, a, b)))


def _parallel(name: str, fn: Callable) -> None:
    def impl(call: CallContext, *xs: RVector, na_rm: RVector | None = None) -> RVector:
        if not xs:
            raise FormulaError(f"{name}() needs at least one argument")
        n = recycle(list(xs), f"{name}()")
        stacked = np.vstack([spread(double(vector(x, name)), n) for x in xs])
        skip = scalar(na_rm, name, "na.rm", "logical") if na_rm is not None else False
        with np.errstate(all="ignore"):
            out = fn(stacked, axis=0) if not skip else getattr(np, "nan" + fn.__name__)(
                stacked, axis=0)
        return double(out)
    register(name, "... na.rm", "math")(impl)


_parallel("pmin", np.min)
_parallel("pmax", np.max)


@register("cbind", "...", "response")
def _cbind(call: CallContext, *columns: RVector) -> RVector:
    if not columns:
        raise FormulaError("cbind() needs columns")
    n = recycle(list(columns), "cbind()")
    parts = [spread(double(numbers(c, "cbind")), n) for c in columns]
    return double(np.column_stack(parts))

