"""The reference designs of lmer_many's tests (tests/reference/many): the genomics design
of the shared wave-2 reference, and two written by scripts/many_reference.R."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

REF = Path(__file__).parent / "reference" / "many"


def load(kind: str):
    """(data, responses, lme4's table) of one reference design."""
    if kind == "genes":
        design = json.loads((REF / "genes_design.json").read_text())
        data = pd.read_csv(REF / "genes_data.csv")
        for col, spec in design["columns"].items():
            if spec["type"] == "factor":
                data[col] = pd.Categorical(data[col], categories=spec["levels"])
        Y = pd.read_csv(REF / "genes_responses.csv.gz").drop(columns="sample")
        ref = pd.read_csv(REF / "genes_lme4.csv", keep_default_na=False,
                          na_values=["NA"]).set_index("gene").rename(columns={"REML": "crit"})
        return data, Y, ref
    data = pd.read_csv(REF / f"{kind}_data.csv")
    Y = pd.read_csv(REF / f"{kind}_responses.csv.gz")
    ref = pd.read_csv(REF / f"{kind}_lme4.csv", keep_default_na=False).set_index("gene")
    return data, Y, ref


CASES = {
    "genes": ("y ~ Disease + Age + (1 | Individual) + (1 | Batch)", {}),
    "slope": ("y ~ time + group + (time | subject)", {}),
    "nested": ("y ~ x + (1 | site/subject)", {"REML": False, "weights": "w"}),
}
