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
    """jsonlite unboxes length-one vectors: give them back their list."""
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
