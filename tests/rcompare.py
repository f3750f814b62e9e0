"""Comparing pylmer with stored R values: numbers as R's JSON writes them, and a check
that collects every mismatch of a case before failing (one report per case)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from reference_data import as_list

__all__ = ["Check", "mat", "num", "vec"]


def num(v) -> float:
    if v is None or v == "NA":
        return math.nan
    return float(v)  # "NaN", "Inf", "-Inf" parse


def vec(v) -> np.ndarray:
    return np.array([num(a) for a in as_list(v)], dtype=float)


def mat(rows, ncol) -> np.ndarray:
    return np.array([[num(a) for a in as_list(r)] for r in as_list(rows)],
                    dtype=float).reshape(-1, ncol)


class Check:
    """Mismatches of one case, each as ``[case] field: ...``; ``finish`` fails with all."""

    def __init__(self, cid):
        self.cid, self.lines = cid, []

    def add(self, field, msg):
        self.lines.append(f"[{self.cid}] {field}: {msg}")

    def close(self, field, a, e, rtol, atol, names=None):
        a = np.asarray(a, dtype=float)
        e = np.asarray(e, dtype=float)
        if a.shape != e.shape:
            self.add(field, f"shape {a.shape} != R {e.shape}")
            return
        with np.errstate(invalid="ignore"):
            ok = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
        if not ok.all():
            bad = np.argwhere(~ok)
            shown = []
            for idx in bad[:4]:
                i = tuple(int(k) for k in idx)
                lab = (i, names[i[-1]]) if names is not None else i
                shown.append(f"{lab}: pylmer {a[i]!r} vs R {e[i]!r}")
            self.add(field, f"{len(bad)}/{ok.size} differ: " + "; ".join(shown))

    def finish(self):
        if self.lines:
            pytest.fail("\n".join(self.lines), pytrace=False)
