"""Access to the lme4 reference outputs copied into tests/reference/."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import scipy.sparse as sps

REFERENCE = Path(__file__).parent / "reference"


@cache
def load_json(kind: str, name: str) -> dict:
    with open(REFERENCE / kind / f"{name}.json") as fh:
        return json.load(fh)


def names(kind: str) -> list[str]:
    return sorted(p.stem for p in (REFERENCE / kind).glob("*.json") if p.stem != "index")


def model_ids(model_type: str | None = None) -> list[str]:
    out = []
    for name in names("models"):
        record = load_json("models", name)
        if record.get("kind") == "model" and model_type in (None, record["model_type"]):
            out.append(name)
    return out


def as_list(value) -> list:
    """jsonlite unboxes length-one vectors: give them back their list (null, R's NULL, is
    the empty list)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def as_float(value) -> float:
    return {"Inf": np.inf, "-Inf": -np.inf}.get(value, value) if isinstance(value, str) \
        else float(value)


def triplets(record: dict) -> sps.csc_matrix:
    """A sparse matrix stored as 0-based triplets i, j, x."""
    return sps.csc_matrix(
        (np.asarray(as_list(record["x"]), dtype=float),
         (np.asarray(as_list(record["i"])), np.asarray(as_list(record["j"])))),
        shape=(record["nrow"], record["ncol"]),
    )


def model_at_lme4_estimates(ref: dict):
    """The reference LMM evaluated at lme4's theta (no optimization): separates a method's
    agreement with R from the optimizer's."""
    from pylmer import OptInfo, lFormula, load_dataset, mkLmerDevfun, mkMerMod

    lf = lFormula(ref["formula"], load_dataset(ref["dataset"]), REML=ref["REML"])
    devfun = mkLmerDevfun(lf)
    theta = np.array(list(ref["theta"].values()), dtype=float)
    return mkMerMod(lf, devfun, OptInfo("lme4", theta, devfun(theta), 0, 0, ""))


@cache
def _formula_dataset(name: str, kind: str = "formula"):
    import pandas as pd

    folder = REFERENCE / kind / "data"
    with open(folder / f"{name}.columns.json") as fh:
        meta = json.load(fh)
    raw = pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False,
                      na_values=["NA"])
    cols = {}
    for col, m in meta["columns"].items():
        v = raw[col]
        if m["type"] in ("factor", "ordered"):
            cols[col] = pd.Categorical(v, categories=as_list(m["levels"]),
                                       ordered=m["type"] == "ordered")
        elif m["type"] == "logical":
            cols[col] = v.map({"TRUE": True, "FALSE": False}).astype(bool)
        elif m["type"] == "integer":
            cols[col] = pd.to_numeric(v).astype("int64")
        elif m["type"] == "numeric":
            # R's double: float64 even where every value is whole (cake$temp, Oats$yield)
            cols[col] = pd.to_numeric(v).astype("float64")  # NA -> NaN
        else:
            cols[col] = v.astype(object)  # character
    frame = pd.DataFrame(cols)
    frame.attrs["name"] = name
    return frame


def load_formula_dataset(name: str):
    """A data set of tests/reference/formula/data/ with R's column types (the loader of that
    folder's README): factors and ordered factors as Categoricals with R's level order,
    logical as bool, integer as int64, numeric as float64 (NA -> NaN), character as object.
    A fresh copy on every call."""
    return _formula_dataset(name).copy()


def load_families_dataset(name: str):
    """A data set of tests/reference/families/data/, read as :func:`load_formula_dataset`
    reads the formula folder's."""
    return _formula_dataset(name, "families").copy()


def load_diagnostics_dataset(name: str):
    """A data set of tests/reference/diagnostics/data/, read as :func:`load_formula_dataset`
    reads the formula folder's."""
    return _formula_dataset(name, "diagnostics").copy()
