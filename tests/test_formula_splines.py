"""pylmer.formula.splines against R 4.2 (pylmer.formula.linpack, R's QR, is checked against
the same reference file in test_formula_linpack.py).

The reference values come from tests/reference/formula/splines.json, written by
scripts/make_splines_reference.R (doubles with 17 significant digits, NA as null). R is not
needed to run these tests.

Tolerances: |py - R| <= 1e-10 + 1e-8 * |R| for spline bases (SPLINE_TOL) and
|py - R| <= 1e-12 + 1e-10 * |R| for poly and the QR (POLY_TOL); NaN must match NaN.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from pylmer.exceptions import FormulaError, PylmerWarning
from pylmer.formula.splines import bs, ns, poly, quantile7, spline_design

REF_FILE = Path(__file__).parent / "reference" / "formula" / "splines.json"
REF = json.loads(REF_FILE.read_text())

SPLINE_TOL = {"atol": 1e-10, "rtol": 1e-8}
POLY_TOL = {"atol": 1e-12, "rtol": 1e-10}


def arr(value) -> np.ndarray:
    """JSON numbers (null = R's NA) as a float array; a matrix is a list of rows."""
    if not isinstance(value, list):
        value = [value]
    return np.array(value, dtype=float)


def mat(value) -> np.ndarray:
    out = arr(value)
    return out.reshape(0, 0) if out.size == 0 else out


def data(name: str) -> np.ndarray:
    return arr(REF["data"][name])


def newx(name: str) -> np.ndarray:
    return arr(REF["newx"][name])


def assert_close(py, r, tol: dict, what: str) -> None:
    """|py - R| <= atol + rtol * |R| elementwise, NaN where R has NA."""
    py, r = np.asarray(py, dtype=float), np.asarray(r, dtype=float)
    assert py.shape == r.shape, f"{what}: shape {py.shape} != R's {r.shape}"
    np.testing.assert_allclose(py, r, rtol=tol["rtol"], atol=tol["atol"], equal_nan=True,
                               err_msg=f"{what} (tolerance {tol['atol']:g} + "
                                       f"{tol['rtol']:g} * |R|)")


def as_list(value) -> list:
    """jsonlite unboxes length-one vectors (and writes an empty list as [])."""
    return value if isinstance(value, list) else [value]


def basis_kwargs(args) -> dict:
    """R's argument list of a bs()/ns() call as keyword arguments of the Python function."""
    kw = {}
    for name, value in (args or {}).items():
        if name == "knots":
            kw["knots"] = arr(value)
        elif name == "Boundary.knots":
            kw["boundary_knots"] = arr(value)
        elif name in ("df", "degree"):
            kw[name] = int(arr(value)[0])
        else:
            kw[name] = value
    return kw


def ids(cases):
    return [c["id"] for c in cases]


def call(fun, *args, **kwargs):
    """Call fun, returning its result and the messages of the PylmerWarnings it issued."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fun(*args, **kwargs)
    msgs = [str(w.message) for w in caught if issubclass(w.category, PylmerWarning)]
    return out, msgs


# ---- quantile ----------------------------------------------------------------------------

@pytest.mark.parametrize("case", REF["quantile"])
def test_quantile7_matches_r(case):
    got = quantile7(data(case["x"]), arr(case["probs"]))
    assert_close(got, arr(case["value"]), SPLINE_TOL, "quantile(type = 7)")


# ---- splineDesign ------------------------------------------------------------------------

@pytest.mark.parametrize("case", REF["spline_design"])
def test_spline_design_matches_r(case):
    derivs = arr(case["derivs"]).astype(int)
    got = spline_design(arr(case["knots"]), arr(case["x"]), case["ord"],
                        derivs if derivs.size > 1 else int(derivs[0]))
    assert_close(got, mat(case["value"]), SPLINE_TOL, "splineDesign")


def test_spline_design_right_boundary_is_left_continuous():
    knots = [0, 0, 0, 0, 1, 2.5, 4, 4, 4, 4]
    at_end = spline_design(knots, [4.0])
    just_below = spline_design(knots, [4.0 - 1e-12])
    # |py - py| <= 1e-10 + 1e-8 * |value|: the value at the last knot is the limit from the left
    np.testing.assert_allclose(at_end, just_below, rtol=1e-8, atol=1e-10)
    assert at_end[0, -1] == 1.0


# ---- bs ----------------------------------------------------------------------------------

@pytest.mark.parametrize("case", REF["bs"], ids=ids(REF["bs"]))
def test_bs_matches_r(case):
    (basis, state), msgs = call(bs, data(case["x"]), **basis_kwargs(case["args"]))
    assert_close(basis, mat(case["basis"]), SPLINE_TOL, f"{case['id']} basis")
    assert_close(state["knots"], arr(case["knots"]) if case["knots"] else np.empty(0),
                 SPLINE_TOL, f"{case['id']} knots")
    assert_close(state["boundary_knots"], arr(case["boundary_knots"]), SPLINE_TOL,
                 f"{case['id']} Boundary.knots")
    assert state["degree"] == case["degree"] and state["intercept"] == case["intercept"]
    assert [m.removeprefix("bs(): ") for m in msgs] == as_list(case["warnings"])

    # predict(<bs>, newx): the state re-creates R's basis, extrapolating beyond the boundary.
    pred = case["predict"]
    (new_basis, _), msgs = call(bs, arr(pred["newx"]), **state)
    assert_close(new_basis, mat(pred["basis"]), SPLINE_TOL, f"{case['id']} predict")
    assert [m.removeprefix("bs(): ") for m in msgs] == as_list(pred["warnings"])


# ---- ns ----------------------------------------------------------------------------------

@pytest.mark.parametrize("case", REF["ns"], ids=ids(REF["ns"]))
def test_ns_matches_r(case):
    (basis, state), msgs = call(ns, data(case["x"]), **basis_kwargs(case["args"]))
    assert_close(basis, mat(case["basis"]), SPLINE_TOL, f"{case['id']} basis")
    assert_close(state["knots"], arr(case["knots"]) if case["knots"] else np.empty(0),
                 SPLINE_TOL, f"{case['id']} knots")
    assert_close(state["boundary_knots"], arr(case["boundary_knots"]), SPLINE_TOL,
                 f"{case['id']} Boundary.knots")
    assert state["intercept"] == case["intercept"]
    assert [m.removeprefix("ns(): ") for m in msgs] == as_list(case["warnings"])

    pred = case["predict"]
    (new_basis, _), msgs = call(ns, arr(pred["newx"]), **state)
    assert_close(new_basis, mat(pred["basis"]), SPLINE_TOL, f"{case['id']} predict")
    assert msgs == []  # R's ns() extrapolates linearly without a warning


def test_ns_single_point_boundary_knots():
    # R: ns(2) uses Boundary.knots = 2 * c(7, 9) / 8.
    basis, state = ns([2.0])
    assert state["boundary_knots"] == [1.75, 2.25]
    assert basis.shape == (1, 1)


# ---- poly --------------------------------------------------------------------------------

POLY_IDS = [f"{c['x']}_deg{c['degree']}{'_raw' if c['raw'] else ''}" for c in REF["poly"]]


@pytest.mark.parametrize("case", REF["poly"], ids=POLY_IDS)
def test_poly_matches_r(case):
    x = data(case["x"])
    basis, coefs = poly(x, case["degree"], raw=case["raw"])
    assert_close(basis, mat(case["basis"]), POLY_TOL, "poly basis")
    if case["raw"]:
        assert coefs is None
        return
    assert_close(coefs["alpha"], arr(case["alpha"]), POLY_TOL, "poly alpha")
    assert_close(coefs["norm2"], arr(case["norm2"]), POLY_TOL, "poly norm2")
    # predict(<poly>, newx): the three-term recurrence with R's coefs.
    pred = case["predict"]
    new_basis, _ = poly(arr(pred["newx"]), case["degree"],
                        coefs={"alpha": arr(case["alpha"]), "norm2": arr(case["norm2"])})
    assert_close(new_basis, mat(pred["basis"]), POLY_TOL, "predict(poly)")
    # The recurrence at the training x gives back the QR-built basis.
    again, _ = poly(x, case["degree"], coefs=coefs)
    assert_close(again, mat(case["basis"]), {"atol": 1e-10, "rtol": 1e-8},
                 "poly(x, coefs = coefs) at the training x")


# ---- errors ------------------------------------------------------------------------------

ERR = REF["errors"]


def test_error_messages_match_r():
    cases = [
        (lambda: poly(data("ties"), 10), "poly_degree"),
        (lambda: poly(data("skew_na"), 2), "poly_na"),
        (lambda: poly(data("ties"), 0), "poly_degree0"),
        (lambda: bs(data("ties"), degree=0), "bs_degree0"),
        (lambda: spline_design([0, 0, 0, 0, 1, 2.5, 4, 4, 4, 4], [-1.0, 2.0]),
         "splineDesign_outside"),
        (lambda: spline_design([0, 0, 0, 0, 1, 2.5, 4, 4, 4, 4], [2.0], 4, 4),
         "splineDesign_derivs"),
    ]
    for fun, key in cases:
        with pytest.raises(FormulaError) as info:
            fun()
        assert ERR[key] in str(info.value), (key, str(info.value))
        assert isinstance(info.value, ValueError)


def test_function_names_in_errors():
    with pytest.raises(FormulaError, match=r"^poly\(\)"):
        poly([1.0, 1.0, 1.0], 1)
    with pytest.raises(FormulaError, match=r"^splineDesign\(\)"):
        spline_design([0, 1, 2], [0.5], ord=4)


def test_bs_df_too_small_warns_like_r():
    with pytest.warns(PylmerWarning, match="'df' was too small; have used 3"):
        basis, _ = bs(data("ties"), df=1)
    assert basis.shape == (data("ties").size, 3)
