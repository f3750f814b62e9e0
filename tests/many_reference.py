"""The reference designs of lmer_many's tests (tests/reference/many): the genomics design
of the shared wave-2 reference, and two written by scripts/many_reference.R; and the rule by
which a fitted response matches lme4's fresh fit (:func:`mismatches`), used by
tests/test_many.py and by the ``many`` group of ``python -m benchmarks``.

The rule (the reference README's): a response matches lme4 when its numbers are finite and
either (a) its criterion is within 1e-6 of lme4's or lower, and fixed effects are within
1e-4 x max(|b|, 0.1 SE), SEs 1e-3 relative, sigma 1e-4 relative, theta 1e-3 absolute; or
(b) its criterion is lower than lme4's and the row is the model at its own theta (the
single-model path gives the same numbers, 1e-6). Tolerances x10 where lme4's fit is
singular.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
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


def mismatches(fits, ref, REML: bool = True) -> list[str]:
    """The responses that match lme4 by neither rule."""
    T = fits.table
    crit_col = "REML" if REML else "deviance"
    coefs = fits.coef_names
    k = len(fits.theta_names)
    bad = []
    for name in T.index:
        row, r = T.loc[name], ref.loc[name]
        scale = 10.0 if int(r["singular"]) else 1.0
        values = row[coefs + [f"se_{c}" for c in coefs] + ["sigma", crit_col]].to_numpy(float)
        if not np.all(np.isfinite(values)):
            bad.append(name)
            continue
        dcrit = row[crit_col] - r["crit"]
        b, b_ref = row[coefs].to_numpy(float), r[[f"est_{c}" for c in coefs]].to_numpy(float)
        se, se_ref = (row[[f"se_{c}" for c in coefs]].to_numpy(float),
                      r[[f"se_{c}" for c in coefs]].to_numpy(float))
        th = row[[f"theta_{i + 1}" for i in range(k)]].to_numpy(float)
        th_ref = r[[f"theta_{i + 1}" for i in range(k)]].to_numpy(float)
        rule_a = (dcrit <= 1e-6 * scale
                  and np.all(np.abs(b - b_ref) <= 1e-4 * scale
                             * np.maximum(np.abs(b_ref), 0.1 * se_ref))
                  and np.all(np.abs(se / se_ref - 1) <= 1e-3 * scale)
                  and abs(row["sigma"] / r["sigma"] - 1) <= 1e-4 * scale
                  and np.all(np.abs(th - th_ref) <= 1e-3 * scale))
        if rule_a:
            continue
        if dcrit < 0 and is_own_model(fits, name, REML):
            continue
        bad.append(name)
    return bad


def is_own_model(fits, name, REML) -> bool:
    """Rule (b): the single-model path at the row's theta gives the row's numbers."""
    row, m = fits.table.loc[name], fits.model(name)
    crit = m.REMLcrit() if REML else m.deviance()
    se = np.sqrt(np.diag(m.vcov().to_numpy()))
    coefs = fits.coef_names
    return bool(abs(crit - row["REML" if REML else "deviance"]) <= 1e-6
                and np.allclose(m.fixef().to_numpy(), row[coefs].to_numpy(float),
                                rtol=1e-6, atol=0)
                and np.allclose(se, row[[f"se_{c}" for c in coefs]].to_numpy(float),
                                rtol=1e-6, atol=0)
                and abs(m.sigma() / row["sigma"] - 1) <= 1e-6)
