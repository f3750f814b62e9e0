"""R's functions of a whole column: ``cut``, ``scale``, ``poly``, ``ns`` and ``bs``.

Each is *stateful*: on the training data it records what it computed from the whole
column (breaks, centre and scale, polynomial coefficients, knots) under the call's text,
and on new data it reuses that, so ``predict(newdata)`` encodes new rows exactly as the
rows the model was fitted to. The numerical bases are R's (:mod:`.splines`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from ..exceptions import FormulaError
from . import splines
from .functions import CallContext, numbers, register, scalar, vector
from .rvalue import RVector, as_character, double, factor_from_codes, r_number

__all__ = ["TRANSFORMS"]

TRANSFORMS: dict = {}


@register("cut", "x breaks labels include.lowest right dig.lab ordered_result", "factor", TRANSFORMS)
def _cut(call: CallContext, x: RVector, breaks: RVector | None = None, labels: RVector | None = None,
         include_lowest: RVector | None = None, right: RVector | None = None,
         dig_lab: RVector | None = None, ordered_result: RVector | None = None) -> RVector:
    values = vector(x, "cut")
    if breaks is None:
        raise FormulaError("cut() needs breaks: a number of intervals or the cut points")
    closed_right = True if right is None else scalar(right, "cut", "right", "logical")
    lowest = False if include_lowest is None else scalar(include_lowest, "cut",
                                                          "include.lowest", "logical")
    if len(breaks) == 1:
        count = scalar(breaks, "cut", "breaks")
        cuts = np.asarray(call.remember(lambda: _even_breaks(values, count)))
    else:
        cuts = np.sort(numbers(breaks, "cut"))
    if len(cuts) < 2 or np.isnan(cuts).any():
        raise FormulaError("cut(): breaks must be at least two numbers, or a number of "
                           "intervals >= 1")
    if len(np.unique(cuts)) != len(cuts):
        raise FormulaError("cut(): 'breaks' are not unique")
    codes = _bincode(values, cuts, closed_right, lowest)
    outside = (codes < 0) & ~np.isnan(values)
    if not call.train and outside.any():  # new data: the training intervals only
        shown = ", ".join(r_number(float(v)) for v in np.unique(values[outside])[:5])
        raise FormulaError(f"newdata has values outside the intervals of {call.key!r} "
                           f"fitted to the training data ({r_number(float(cuts[0]))} to "
                           f"{r_number(float(cuts[-1]))}): {shown}")
    if labels is not None and labels.kind == "logical" and len(labels) == 1 \
            and labels.values[0] == 0:
        return RVector("integer", np.where(codes >= 0, codes + 1.0, np.nan))
    if labels is None:
        digits = 3 if dig_lab is None else int(scalar(dig_lab, "cut", "dig.lab"))
        names = _interval_labels(cuts, digits, closed_right, lowest)
    else:
        names = [str(s) for s in as_character(labels)]
        if len(names) != len(cuts) - 1:
            raise FormulaError(f"cut(): {len(names)} labels for {len(cuts) - 1} intervals")
    is_ordered = False if ordered_result is None else scalar(ordered_result, "cut",
                                                              "ordered_result", "logical")
    return factor_from_codes(codes, names, is_ordered)


def _even_breaks(values: np.ndarray, count: float) -> list[float]:
    """``cut(x, n)``: n equal intervals over range(x), widened by 1/1000 at both ends."""
    nb = int(count + 1)
    if nb < 2:
        raise FormulaError("cut(): invalid number of intervals")
    finite = values[~np.isnan(values)]
    if len(finite) == 0:
        raise FormulaError("cut(): x has no values to find breaks from")
    lo, hi = float(finite.min()), float(finite.max())
    dx = hi - lo
    if dx == 0:
        dx = abs(lo) if lo != 0 else 1.0
        return list(np.linspace(lo - dx / 1000, hi + dx / 1000, nb))
    cuts = np.linspace(lo, hi, nb)
    cuts[0], cuts[-1] = lo - dx / 1000, hi + dx / 1000
    return list(cuts)


def _bincode(values: np.ndarray, cuts: np.ndarray, right: bool, lowest: bool) -> np.ndarray:
    """R's ``.bincode``: interval index (0-based) or -1 outside and for NA."""
    codes = np.full(len(values), -1, dtype=np.int64)
    ok = ~np.isnan(values)
    side = "left" if right else "right"
    k = np.searchsorted(cuts, values[ok], side=side) - 1
    inside = (k >= 0) & (k < len(cuts) - 1)
    if lowest:
        edge = cuts[0] if right else cuts[-1]
        at_edge = values[ok] == edge
        k = np.where(at_edge, 0 if right else len(cuts) - 2, k)
        inside |= at_edge
    codes[np.flatnonzero(ok)[inside]] = k[inside]
    return codes


def _interval_labels(cuts: np.ndarray, digits: int, right: bool, lowest: bool) -> list[str]:
    for dig in range(digits, max(12, digits) + 1):
        text = _format_breaks(cuts, dig)
        if all(a != b for a, b in itertools.pairwise(text)):
            break
    left, close = ("(", "]") if right else ("[", ")")
    out = [f"{left}{a},{b}{close}" for a, b in itertools.pairwise(text)]
    if lowest:
        if right:
            out[0] = "[" + out[0][1:]
        else:
            out[-1] = out[-1][:-1] + "]"
    return out


def _format_g(value: float, digits: int) -> str:
    """C's ``%.*g``, as R's ``formatC(x, digits, width = 1)``."""
    return f"{0.0 + value:.{digits}g}"


def _format_breaks(cuts: np.ndarray, digits: int) -> list[str]:
    """R's ``formatC(breaks, digits, width = 1)``: finite values by ``%g``; the others
    through ``format()``, which pads them to a common width (``-Inf``, `` Inf``)."""
    text = [_format_g(c, digits) if np.isfinite(c) else
            ("NaN" if np.isnan(c) else "Inf" if c > 0 else "-Inf") for c in cuts]
    odd = [k for k, c in enumerate(cuts) if not np.isfinite(c)]
    width = max((len(text[k]) for k in odd), default=0)
    for k in odd:
        text[k] = text[k].rjust(width)
    return text


@register("scale", "x center scale", "transform", TRANSFORMS)
def _scale(call: CallContext, x: RVector, center: RVector | None = None,
           scale: RVector | None = None) -> RVector:
    values = numbers(x, "scale")
    matrix = values if values.ndim == 2 else values[:, None]

    def compute() -> tuple[list | None, list | None]:
        ctr = _scale_arg(center, matrix, "center", lambda m: np.nanmean(m, axis=0))
        centred = matrix - (0.0 if ctr is None else np.asarray(ctr))

        def rms(m: np.ndarray) -> np.ndarray:  # R: sqrt(sum(x^2) / (n - 1)), NA skipped
            ok = ~np.isnan(m)
            return np.sqrt(np.nansum(m**2, axis=0) / np.maximum(ok.sum(axis=0) - 1, 1))

        return ctr, _scale_arg(scale, centred, "scale", rms)

    ctr, scl = call.remember(compute)
    out = matrix - (0.0 if ctr is None else np.asarray(ctr))
    if scl is not None:
        out = out / np.asarray(scl)
    return double(out, colnames=x.colnames)


def _scale_arg(arg: RVector | None, matrix: np.ndarray, what: str, default: Callable):
    if arg is None or (arg.kind == "logical" and len(arg) == 1):
        if arg is not None and np.isnan(arg.values[0]):
            raise FormulaError(f"scale(): {what} must be TRUE, FALSE or numbers")
        if arg is None or arg.values[0]:
            with np.errstate(all="ignore"):
                return [float(v) for v in default(matrix)]
        return None
    values = arg.numbers(f"scale()'s {what}")
    if len(values) not in (1, matrix.shape[1]):
        raise FormulaError(f"scale(): length of '{what}' must equal the number of columns")
    return [float(v) for v in np.broadcast_to(values, (matrix.shape[1],))]


@register("poly", "x ... degree coefs raw simple", "transform", TRANSFORMS)
def _poly(call: CallContext, x: RVector, *dots: RVector, degree: RVector | None = None,
          coefs: RVector | None = None, raw: RVector | None = None,
          simple: RVector | None = None) -> RVector:
    if len(dots) == 1 and len(dots[0]) == 1 and degree is None:  # poly(x, 2): the degree
        degree, dots = dots[0], ()
    if coefs is not None:
        raise FormulaError("poly(): coefs = is set by pylmer from the training data; leave "
                           "it out")
    columns = [vector(v, "poly") for v in (x, *dots)]
    d = 1 if degree is None else scalar(degree, "poly", "degree")
    if d != int(d) or d < 1:
        raise FormulaError("poly(): 'degree' must be an integer >= 1")
    d = int(d)
    is_raw = False if raw is None else scalar(raw, "poly", "raw", "logical")
    states = call.remember(lambda: [splines.poly(v, d, raw=is_raw)[1] for v in columns])
    bases = [splines.poly(v, d, raw=is_raw, coefs=st)[0] for v, st in zip(columns, states)]
    if len(bases) == 1:
        return double(bases[0], colnames=tuple(str(k) for k in range(1, d + 1)))
    return _polym(bases, d)


def _polym(bases: list[np.ndarray], degree: int) -> RVector:
    """R's ``polym``: products of the variables' polynomials of total degree 1..degree,
    named by their degrees (``1.0``, ``2.0``, ``0.1``, ``1.1``, ``0.2``), the first
    variable's degree varying fastest (``expand.grid``)."""
    n = bases[0].shape[0]
    combos = [()]
    for _ in bases:  # expand.grid: earlier variables vary fastest
        combos = [c + (k,) for k in range(degree + 1) for c in combos]
    columns, names = [], []
    for combo in combos:
        if 0 < sum(combo) <= degree:
            column = np.ones(n)
            for basis, k in zip(bases, combo):
                if k:
                    column = column * basis[:, k - 1]
            columns.append(column)
            names.append(".".join(str(k) for k in combo))
    return double(np.column_stack(columns), colnames=tuple(names))


@register("ns", "x df knots intercept Boundary.knots", "transform", TRANSFORMS)
def _ns(call: CallContext, x: RVector, df: RVector | None = None, knots: RVector | None = None,
        intercept: RVector | None = None, Boundary_knots: RVector | None = None) -> RVector:
    values = vector(x, "ns")
    given = _spline_args(df, knots, intercept, Boundary_knots, "ns")
    state = call.remember(lambda: splines.ns(values, **given)[1])
    basis, _ = splines.ns(values, knots=state["knots"], intercept=state["intercept"],
                          boundary_knots=state["boundary_knots"])
    return double(basis, colnames=tuple(str(k) for k in range(1, basis.shape[1] + 1)))


@register("bs", "x df knots degree intercept Boundary.knots", "transform", TRANSFORMS)
def _bs(call: CallContext, x: RVector, df: RVector | None = None, knots: RVector | None = None,
        degree: RVector | None = None, intercept: RVector | None = None,
        Boundary_knots: RVector | None = None) -> RVector:
    values = vector(x, "bs")
    given = _spline_args(df, knots, intercept, Boundary_knots, "bs")
    given["degree"] = 3 if degree is None else int(scalar(degree, "bs", "degree"))
    state = call.remember(lambda: splines.bs(values, **given)[1])
    basis, _ = splines.bs(values, knots=state["knots"], degree=state["degree"],
                          intercept=state["intercept"], boundary_knots=state["boundary_knots"])
    return double(basis, colnames=tuple(str(k) for k in range(1, basis.shape[1] + 1)))


def _spline_args(df, knots, intercept, boundary, fn: str) -> dict:
    out: dict = {"intercept": False if intercept is None else scalar(intercept, fn,
                                                                       "intercept", "logical")}
    if df is not None:
        out["df"] = int(scalar(df, fn, "df"))
    if knots is not None:
        out["knots"] = [float(k) for k in knots.numbers(f"{fn}()'s knots")]
    if boundary is not None:
        b = boundary.numbers(f"{fn}()'s Boundary.knots")
        if len(b) != 2:
            raise FormulaError(f"{fn}(): Boundary.knots must be two numbers")
        out["boundary_knots"] = [float(v) for v in b]
    return out
