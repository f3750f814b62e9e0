"""Acceptance tests: R's functions and operators in model formulas (lme4's ``lFormula`` and
``lmer``), against tests/reference/formula/ (R 4.2.2, lme4 1.1-31).

Implements "The check" of tests/reference/formula/README.md through the public API only:

* ``test_lformula_reference[<case>]`` (every case): ``pylmer.lFormula(formula, data)``,
  with ``contrasts=`` where the R call had ``contrasts = list(...)``: rows used, X's column
  names, X at the recorded rows, X's column sums, the response and the offset at those
  rows, ``Zt``'s dimensions, ``cnms``, and the rank-deficiency warning where R said so;
* ``test_fit_reference[<case>]`` (fit cases): ``pylmer.lmer(formula, data)``: REML
  criterion and fixed effects (names in order, values);
* ``test_predict_reference[<case>]`` (fit cases): ``m.predict(newdata, re_form="NA")``.

Every mismatch of a case is collected and reported together, each line naming the case and
the field. Each model is fitted once (module-level cache) and shared by the fit and predict
tests.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from rcompare import Check
from reference_data import REFERENCE, as_list, load_formula_dataset

import pylmer

FORMULA_DIR = REFERENCE / "formula"

with open(FORMULA_DIR / "index.json") as _fh:
    INDEX = json.load(_fh)

CASE_IDS = [c["id"] for c in as_list(INDEX["cases"])]
FIT_IDS = [c["id"] for c in as_list(INDEX["cases"]) if c.get("fit") is True]


def load_case(case_id: str) -> dict:
    with open(FORMULA_DIR / "cases" / f"{case_id}.json") as fh:
        return json.load(fh)


# ---------------------------------------------------------------------------------------
# jsonlite's conventions: length-1 vectors unboxed, NA as "NA" or null (or a dropped key
# in a record), non-finite numbers as strings.

_SPECIAL = {"NA": math.nan, "NaN": math.nan, "Inf": math.inf, "-Inf": -math.inf}


def num(value) -> float:
    if value is None:
        return math.nan
    if isinstance(value, str):
        return _SPECIAL[value] if value in _SPECIAL else float(value)
    return float(value)


def num_vector(value) -> np.ndarray:
    return np.array([num(v) for v in as_list(value)], dtype=float)


def num_matrix(rows, ncol: int) -> np.ndarray:
    """A matrix written by jsonlite as an array of rows (a row of one column may be
    unboxed)."""
    out = np.array([[num(v) for v in as_list(r)] for r in as_list(rows)], dtype=float)
    return out.reshape(-1, ncol)


def is_na(value) -> bool:
    return value is None or value == "NA" or (isinstance(value, float) and math.isnan(value))


# ---------------------------------------------------------------------------------------
# Collected failures: every mismatch of a case is reported, each naming case and field.


def _diff_positions(actual: list, expected: list, limit: int = 8) -> str:
    extra = [a for a in actual if a not in set(expected)]
    missing = [e for e in expected if e not in set(actual)]
    parts = []
    if missing:
        parts.append(f"missing {missing[:limit]}{' ...' if len(missing) > limit else ''}")
    if extra:
        parts.append(f"extra {extra[:limit]}{' ...' if len(extra) > limit else ''}")
    return ", ".join(parts) or "same set, different order"


# ---------------------------------------------------------------------------------------
# lFormula


def _contrasts(case: dict) -> dict | None:
    arg = case.get("contrasts_arg")
    if not arg:
        return None
    return {k: (v[0] if isinstance(v, list) and len(v) == 1 else v) for k, v in arg.items()}


def _says_rank_deficient(case: dict) -> bool:
    said = as_list(case.get("lFormula_messages") or []) + \
        as_list(case.get("lFormula_warnings") or [])
    return any("rank deficient" in str(s) for s in said)


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_lformula_reference(case_id):
    case = load_case(case_id)
    data = load_formula_dataset(case["dataset"])
    kwargs = {}
    contrasts = _contrasts(case)
    if contrasts is not None:
        kwargs["contrasts"] = contrasts
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # record (and so silence) pylmer's warnings
        try:
            lf = pylmer.lFormula(case["formula"], data, **kwargs)
        except Exception as e:  # report which case failed, with the original traceback
            raise AssertionError(
                f"[{case_id}] lFormula({case['formula']!r}"
                f"{', contrasts=' + repr(contrasts) if contrasts else ''}) raised "
                f"{type(e).__name__}: {e}") from e
    pylmer_warnings = [w for w in caught if issubclass(w.category, pylmer.PylmerWarning)]

    check = Check(case_id)
    spline = case.get("spline_basis") is True
    # X, y, offset: |pylmer - R| <= 1e-10 + 1e-13 |R|; with ns()/bs(): 1e-10 + 1e-8 |R|
    x_rtol, x_atol = (1e-8 if spline else 1e-13), 1e-10
    # column sums of X: relative 1e-9 (1e-8 with splines), atol 1e-9 for sums that are ~0
    sum_rtol, sum_atol = (1e-8 if spline else 1e-9), 1e-9

    # -- rank deficiency: R's message <-> a RankDeficiencyWarning
    if _says_rank_deficient(case) and not any(
            issubclass(w.category, pylmer.RankDeficiencyWarning) for w in pylmer_warnings):
        check.add("lFormula_messages", "R said "
                  f"{as_list(case['lFormula_messages']) + as_list(case['lFormula_warnings'])}"
                  "; pylmer issued no RankDeficiencyWarning (its warnings: "
                  f"{[f'{w.category.__name__}: {w.message}' for w in pylmer_warnings]})")

    # -- rows used: 0-based data positions; R's data_rows_dropped are 1-based
    nobs = int(num(case["nobs"]))
    dropped = {int(num(r)) - 1 for r in as_list(case.get("data_rows_dropped") or [])}
    expected_rows = [i for i in range(int(num(case["data_nrow"]))) if i not in dropped]
    rows = [int(r) for r in np.asarray(lf.rows).ravel()]
    if rows != expected_rows:
        check.add("rows (data_rows_dropped)", f"pylmer uses {len(rows)} rows, R {nobs}: "
                  + _diff_positions(rows, expected_rows))
    if lf.n != nobs:
        check.add("nobs", f"lf.n = {lf.n} != R's {nobs}")

    # -- X column names: exactly and in order
    colnames = list(lf.X_colnames)
    r_colnames = [str(c) for c in as_list(case["X_colnames"])]
    if colnames != r_colnames:
        check.add("X_colnames", f"pylmer {colnames}\n    != R {r_colnames}")

    # -- the recorded rows: data rows X_data_rows (1-based) = positions X_rows (1-based)
    #    of the model frame; located through lf.rows so that a different row set still
    #    compares the same observations
    x_rows = [int(num(r)) for r in as_list(case["X_rows"])]
    x_data_rows = [int(num(r)) - 1 for r in as_list(case["X_data_rows"])]
    position = {r: i for i, r in enumerate(rows)}
    pos = [position.get(r) for r in x_data_rows]
    lost = [r + 1 for r, p in zip(x_data_rows, pos) if p is None]
    if lost:
        check.add("X_data_rows", f"data rows (1-based) {lost[:10]} are not used by pylmer")
    elif rows == expected_rows and [p + 1 for p in pos] != x_rows:
        check.add("X_rows", "model-frame positions of X_data_rows differ from R's X_rows")
    keep = [k for k, p in enumerate(pos) if p is not None]
    pos_kept = np.array([pos[k] for k in keep], dtype=int)

    X = np.asarray(lf.X, dtype=float)
    r_X = num_matrix(case["X"], len(r_colnames))[keep]
    if X.ndim != 2 or X.shape != (nobs, len(r_colnames)):
        check.add("X shape", f"lf.X is {X.shape}, R's X is ({nobs}, {len(r_colnames)})")
    if X.ndim == 2 and X.shape[1] == len(colnames) and len(pos_kept) \
            and pos_kept.max() < X.shape[0]:
        # columns matched by name (all of them when the names agree)
        common = [c for c in r_colnames if c in colnames]
        if common:
            py_idx = [colnames.index(c) for c in common]
            r_idx = [r_colnames.index(c) for c in common]
            xr = x_data_rows
            check.close(
                "X", X[np.ix_(pos_kept, py_idx)], r_X[:, r_idx], rtol=x_rtol, atol=x_atol,
                labels=lambda i: f"data row {xr[keep[i[0]]] + 1}, column {common[i[1]]!r}")
            check.close(
                "X_colsums", X[:, py_idx].sum(axis=0),
                num_vector(case["X_colsums"])[r_idx], rtol=sum_rtol, atol=sum_atol,
                labels=lambda i: f"column {common[i[0]]!r}")

    # -- response at the recorded rows (tolerance as X)
    y = np.asarray(lf.y, dtype=float)
    r_y = num_vector(case["y"])[keep]
    if y.ndim != 1 or y.shape[0] != len(rows):
        check.add("y", f"lf.y has shape {y.shape}, expected ({len(rows)},)")
    elif len(pos_kept):
        check.close("y", y[pos_kept], r_y, rtol=x_rtol, atol=x_atol,
                          labels=lambda i: f"data row {x_data_rows[keep[i[0]]] + 1}")

    # -- offset: null in R means none (lf.offset None or all zero); else as X
    offset = lf.offset
    if case.get("offset") is None:
        if offset is not None and np.any(np.asarray(offset, dtype=float) != 0):
            check.add("offset", "R has no offset; lf.offset is not None nor all zero")
    elif offset is None:
        check.add("offset", "R has an offset; lf.offset is None")
    else:
        off = np.asarray(offset, dtype=float).ravel()
        if off.shape[0] != len(rows):
            check.add("offset", f"lf.offset has {off.shape[0]} values, expected {len(rows)}")
        elif len(pos_kept):
            check.close("offset", off[pos_kept], num_vector(case["offset"])[keep],
                              rtol=x_rtol, atol=x_atol,
                              labels=lambda i: f"data row {x_data_rows[keep[i[0]]] + 1}")

    # -- random effects: Zt's dimensions and cnms (names exactly, lme4's term order)
    zt_dim = tuple(int(num(v)) for v in as_list(case["Zt_dim"]))
    if tuple(lf.reTrms.Zt.shape) != zt_dim:
        check.add("Zt_dim", f"lf.reTrms.Zt.shape = {tuple(lf.reTrms.Zt.shape)} != R's {zt_dim}")
    r_cnms = [(c["grp"], [str(s) for s in as_list(c["columns"])])
              for c in as_list(case["cnms"])]
    cnms = [(str(g), [str(s) for s in cols]) for g, cols in lf.reTrms.cnms]
    if cnms != r_cnms:
        check.add("cnms", f"pylmer {cnms} != R {r_cnms}")

    check.finish()


# ---------------------------------------------------------------------------------------
# lmer fits (fit cases): fitted once, shared by the fit and predict tests

_FITS: dict[str, tuple[object, BaseException | None]] = {}


def fitted(case_id: str):
    if case_id not in _FITS:
        case = load_case(case_id)
        data = load_formula_dataset(case["dataset"])
        kwargs = {}
        contrasts = _contrasts(case)
        if contrasts is not None:
            kwargs["contrasts"] = contrasts
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")  # record (and so silence) pylmer's warnings
            try:
                _FITS[case_id] = (pylmer.lmer(case["formula"], data, **kwargs), None)
            except Exception as e:  # noqa: BLE001 -- reported by the test that reads it
                _FITS[case_id] = (None, e)
    model, error = _FITS[case_id]
    if error is not None:
        raise AssertionError(f"[{case_id}] lmer({load_case(case_id)['formula']!r}) raised "
                             f"{type(error).__name__}: {error}") from error
    return model


@pytest.mark.parametrize("case_id", FIT_IDS)
def test_fit_reference(case_id):
    case = load_case(case_id)
    fit = case["fit"]
    m = fitted(case_id)
    check = Check(case_id)

    # REML criterion: rtol 1e-7
    check.close("fit.REMLcrit", float(m.REMLcrit()), num(fit["REMLcrit"]),
                      rtol=1e-7, atol=0.0)

    # fixed effects: names exactly and in order; values rtol 1e-5 (atol 1e-8 for ~0 values)
    fe = m.fixef()
    names = [str(n) for n in fe.index]
    r_names = list(fit["fixef"].keys())
    if names != r_names:
        check.add("fit.fixef names", f"pylmer {names}\n    != R {r_names}")
    common = [n for n in r_names if n in names]
    check.close("fit.fixef", np.array([float(fe[n]) for n in common]),
                      np.array([num(fit["fixef"][n]) for n in common]),
                      rtol=1e-5, atol=1e-8, labels=lambda i: repr(common[i[0]]))
    check.finish()


def _newdata_column(values: list, meta: dict):
    kind = meta["type"]
    na = [is_na(v) for v in values]
    if kind in ("factor", "ordered"):
        return pd.Categorical([None if m else str(v) for v, m in zip(values, na)],
                              categories=[str(lv) for lv in as_list(meta["levels"])],
                              ordered=kind == "ordered")
    if kind == "logical":
        if any(na):
            return pd.array([None if m else bool(v) for v, m in zip(values, na)],
                            dtype="boolean")
        return np.array([bool(v) for v in values], dtype=bool)
    if kind == "integer":
        if any(na):
            return pd.array([None if m else int(num(v)) for v, m in zip(values, na)],
                            dtype="Int64")
        return np.array([int(num(v)) for v in values], dtype="int64")
    if kind == "numeric":
        return np.array([num(v) for v in values], dtype=float)
    return np.array([None if m else str(v) for v, m in zip(values, na)], dtype=object)


def build_newdata(predict: dict) -> pd.DataFrame:
    """``newdata`` from the records with the types of ``newdata_columns`` (a key that
    jsonlite dropped from a record is NA)."""
    records = as_list(predict["newdata"])
    columns = predict["newdata_columns"]
    return pd.DataFrame({name: _newdata_column([rec.get(name) for rec in records], meta)
                         for name, meta in columns.items()})


@pytest.mark.parametrize("case_id", FIT_IDS)
def test_predict_reference(case_id):
    case = load_case(case_id)
    pred = case["fit"]["predict"]
    newdata = build_newdata(pred)
    m = fitted(case_id)
    check = Check(case_id)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        try:
            values = m.predict(newdata, re_form="NA")
        except Exception as e:
            raise AssertionError(f"[{case_id}] fit.predict: m.predict(newdata, re_form='NA') "
                                 f"raised {type(e).__name__}: {e}\nnewdata:\n{newdata}") from e
    # predict(newdata, re.form = NA): rtol 1e-6
    check.close("fit.predict.values", np.asarray(values, dtype=float).ravel(),
                      num_vector(pred["values"]), rtol=1e-6, atol=0.0,
                      labels=lambda i: f"newdata row {i[0] + 1}")
    check.finish()


def test_reference_files_complete():
    """index.json and cases/ agree, and every case names a data set that exists."""
    on_disk = sorted(p.stem for p in (FORMULA_DIR / "cases").glob("*.json"))
    assert sorted(CASE_IDS) == on_disk, "index.json and cases/ list different cases"
    for case_id in CASE_IDS:
        case = load_case(case_id)
        assert case["id"] == case_id, f"[{case_id}] id: file holds {case['id']!r}"
        assert (FORMULA_DIR / "data" / f"{case['dataset']}.csv").exists(), \
            f"[{case_id}] dataset: no data/{case['dataset']}.csv"
        assert bool(case.get("fit")) == (case_id in FIT_IDS), f"[{case_id}] fit: index differs"
