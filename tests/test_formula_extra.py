"""Extra differential tests of pylmer's R formula evaluator against lme4 (R 4.2, lme4
1.1-31): nested and combined functions, interactions of transforms, contrasts, random-term
left sides, NA-producing transforms and formulas lme4 rejects.

Reference: tests/reference/formula_extra/cases.json, written by
scripts/make_formula_extra_reference.R (numbers are "%.17g" strings).  No R needed here.

* ``test_lformula_extra[<case>]``: ``pylmer.lFormula(formula, data)`` (with ``contrasts=``):
  rows used, X column names (exactly), the whole X (|d| <= 1e-10 + 1e-13 |R|; 1e-8 |R| with
  ns()/bs()), y, offset, Zt dims, cnms; where lme4 errored, pylmer must raise
  ``pylmer.PylmerError``.
  lme4 runs with the checks on nobs / nlev set to "ignore" (pylmer with the same
  ``LmerControl``); where lme4's default control stops, pylmer's default must raise too.
* ``test_fit_extra[<case>]``: ``pylmer.lmer``: REMLcrit (rtol 1e-6), fixef names and values
  (rtol 1e-5) and ``predict(newdata, re_form="NA")`` (rtol 1e-6).
"""

from __future__ import annotations

import json
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rcompare import Check, check_lformula, num, vec
from reference_data import as_list

import pylmer

HERE = Path(__file__).resolve().parent / "reference" / "formula_extra"

with open(HERE / "cases.json") as _fh:
    REF = json.load(_fh)

CASES = {c["id"]: c for c in REF["cases"]}
CASE_IDS = list(CASES)
FIT_IDS = [c["id"] for c in REF["cases"]
           if isinstance(c.get("fit"), dict) and "REMLcrit" in c["fit"]]


@cache
def meta(name: str) -> dict:
    with open(HERE / "data" / f"{name}.columns.json") as fh:
        return json.load(fh)


def typed(name: str, raw: pd.DataFrame) -> pd.DataFrame:
    cols = {}
    for col, m in meta(name)["columns"].items():
        if col not in raw:
            continue
        v = raw[col]
        t = m["type"]
        if t in ("factor", "ordered"):
            cols[col] = pd.Categorical(v, categories=m["levels"], ordered=t == "ordered")
        elif t == "logical":
            cols[col] = v.map(lambda s: s in (True, "TRUE")).astype(bool)
        elif t == "integer":
            cols[col] = pd.to_numeric(v).astype("int64")
        elif t == "numeric":
            cols[col] = pd.to_numeric(v.map(lambda s: np.nan if s in (None, "NA") else s))
        else:
            cols[col] = v.astype(object)
    return pd.DataFrame(cols)


@cache
def _dataset(name: str) -> pd.DataFrame:
    raw = pd.read_csv(HERE / "data" / f"{name}.csv", dtype=str, keep_default_na=False,
                      na_values=["NA"])
    return typed(name, raw)


def dataset(name: str) -> pd.DataFrame:
    return _dataset(name).copy()


def newdata(case) -> pd.DataFrame:
    recs = case["fit"]["newdata"]
    raw = pd.DataFrame([{k: (v[0] if isinstance(v, list) else v) for k, v in r.items()}
                        for r in recs])
    return typed(case["dataset"], raw.astype(object))


def _contrasts(case):
    c = case.get("contrasts")
    if not c:
        return None
    return {k: (v[0] if isinstance(v, list) else v) for k, v in c.items()}


IGNORE = {"check_nobs_vs_nlev": "ignore", "check_nlev_gtr_1": "ignore",
              "check_nlev_gtreq_5": "ignore", "check_nobs_vs_nRE": "ignore"}


def run_lformula(case, default_control=False):
    kw = {} if default_control else {"control": pylmer.LmerControl(**IGNORE)}
    if _contrasts(case):
        kw["contrasts"] = _contrasts(case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pylmer.lFormula(case["formula"], dataset(case["dataset"]), **kw)


# R constructs pylmer refuses on purpose (docs/formula.md, "What R has that pylmer does
# not"): the error must name the construct.
UNSUPPORTED = {
    "factor_index": r"indexing \[ \]",
    "fs_offset_scale": r"indexing \[ \]",
}


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_lformula_extra(case_id):
    case = CASES[case_id]
    if case_id in UNSUPPORTED:
        with pytest.raises(pylmer.FormulaError, match=UNSUPPORTED[case_id]):
            run_lformula(case)
        return
    if case.get("error"):
        with pytest.raises(pylmer.PylmerError):
            run_lformula(case)
        return
    if case.get("error_default"):  # lme4's default lmerControl() stops
        with pytest.raises(ValueError):
            run_lformula(case, default_control=True)
    try:
        lf = run_lformula(case)
    except Exception as e:
        raise AssertionError(f"[{case_id}] {case['formula']!r} raised "
                             f"{type(e).__name__}: {e}") from e
    ck = Check(case_id)
    rtol = 1e-8 if case.get("spline") else 1e-13
    check_lformula(ck, lf, case, rtol)
    ck.finish()


_FITS: dict = {}


def fitted(case_id):
    if case_id not in _FITS:
        case = CASES[case_id]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _FITS[case_id] = pylmer.lmer(case["formula"], dataset(case["dataset"]))
    return _FITS[case_id]


@pytest.mark.parametrize("case_id", FIT_IDS)
def test_fit_extra(case_id):
    case = CASES[case_id]
    fit = case["fit"]
    m = fitted(case_id)
    ck = Check(case_id)
    ck.close("REMLcrit", [m.REMLcrit()], [num(fit["REMLcrit"])], 1e-6, 0)
    fe = m.fixef()
    r_names = list(as_list(fit["fixef_names"]))
    if list(fe.index) != r_names:
        ck.add("fixef names", f"pylmer {list(fe.index)} != R {r_names}")
    else:
        ck.close("fixef", fe.to_numpy(dtype=float), vec(fit["fixef"]), 1e-5, 1e-8)
    ck.finish()


@pytest.mark.parametrize("case_id", FIT_IDS)
def test_predict_extra(case_id):
    case = CASES[case_id]
    fit = case["fit"]
    m = fitted(case_id)
    nd = newdata(case)
    if isinstance(fit["predict"], dict):  # R's predict() errored
        with pytest.raises(pylmer.PylmerError):
            m.predict(nd, re_form="NA")
        return
    p = np.asarray(m.predict(nd, re_form="NA"), dtype=float).ravel()
    ck = Check(case_id)
    ck.close("predict", p, vec(fit["predict"]), 1e-6, 1e-8)
    ck.finish()
