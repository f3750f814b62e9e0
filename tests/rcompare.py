"""Comparing pylmer with stored R values: numbers as R's JSON writes them, and a check
that collects every mismatch of a case before failing (one report per case)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from reference_data import as_list

__all__ = ["Check", "check_lformula", "mat", "num", "vec"]


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

    def close(self, field, a, e, rtol, atol, names=None, labels=None):
        """|a - e| <= atol + rtol |e| elementwise (NaN equals NaN, infinities must match).
        A mismatch is shown by its index with ``names[last index]``, or by ``labels(index)``."""
        a = np.asarray(a, dtype=float)
        e = np.asarray(e, dtype=float)
        if a.shape != e.shape:
            self.add(field, f"shape {a.shape} != R {e.shape}")
            return
        with np.errstate(invalid="ignore"):
            ok = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
        if ok.all():
            return
        bad = np.argwhere(~ok)
        shown = []
        for idx in bad[:6]:
            i = tuple(int(k) for k in idx)
            lab = labels(i) if labels is not None else (i, names[i[-1]]) if names is not None \
                else i
            shown.append(f"{lab}: pylmer {a[i]!r} vs R {e[i]!r}")
        more = f" (+{len(bad) - 6} more)" if len(bad) > 6 else ""
        self.add(field, f"{len(bad)} of {ok.size} values differ beyond atol={atol:g} + "
                 f"rtol={rtol:g}*|R|: " + "; ".join(shown) + more)

    def finish(self):
        if self.lines:
            pytest.fail("\n".join(self.lines), pytrace=False)


def check_lformula(ck: Check, lf, case: dict, rtol: float) -> None:
    """Everything an lFormula case records against pylmer's ``lf``: rows used, X's names
    and values (``rtol`` relative, 1e-10 absolute), y, offset, weights, Zt (its size, and
    its values where recorded), the grouping factors' levels (where recorded) and cnms."""
    rows = [int(r) for r in np.asarray(lf.rows).ravel()]
    r_rows = [int(r) - 1 for r in as_list(case["rows"])]
    if rows != r_rows:
        ck.add("rows", f"pylmer {len(rows)} rows, R {len(r_rows)}; missing "
               f"{sorted(set(r_rows) - set(rows))[:8]} extra {sorted(set(rows) - set(r_rows))[:8]}")
    names = list(lf.X_colnames)
    r_names = list(as_list(case.get("X_colnames")))
    if names != r_names:
        ck.add("X_colnames", f"pylmer {names}\n    != R {r_names}")
    Xr = mat(case["X"], len(r_names)) if r_names else np.zeros((len(r_rows), 0))
    if rows == r_rows and len(names) == len(r_names):
        ck.close("X", np.asarray(lf.X, dtype=float).reshape(len(rows), -1), Xr, rtol, 1e-10,
                 names=r_names)
    if rows == r_rows:
        if case.get("y_is_matrix"):
            y_r = mat(case["y"], len(as_list(case["y"][0])))
            ck.close("y", np.asarray(lf.y, dtype=float).reshape(y_r.shape) if
                     np.asarray(lf.y).size == y_r.size else np.asarray(lf.y, dtype=float),
                     y_r, 1e-13, 1e-10)
        else:
            ck.close("y", np.asarray(lf.y, dtype=float).ravel(), vec(case["y"]), 1e-13, 1e-10)
        if case.get("offset") is not None:
            off = lf.offset
            if off is None:
                ck.add("offset", "pylmer has no offset")
            else:
                off = np.broadcast_to(np.asarray(off, dtype=float).ravel(), (len(rows),))
                ck.close("offset", off, vec(case["offset"]), 1e-13, 1e-10)
        else:
            off = lf.offset
            if off is not None and np.any(np.asarray(off, dtype=float) != 0):
                ck.add("offset", "pylmer has a nonzero offset, R none")
        if case.get("weights") is not None:
            w = getattr(lf, "weights", None)
            if w is None:
                ck.add("weights", "pylmer has no weights")
            else:
                w = np.broadcast_to(np.asarray(w, dtype=float).ravel(), (len(rows),))
                ck.close("weights", w, vec(case["weights"]), 1e-13, 1e-10)
    zt = tuple(int(d) for d in lf.reTrms.Zt.shape)
    if zt != tuple(int(d) for d in case["Zt_dim"]):
        ck.add("Zt_dim", f"pylmer {zt} != R {tuple(case['Zt_dim'])}")
    if zt == tuple(int(d) for d in case["Zt_dim"]) and "Zt_i" in case:
        Zr = np.zeros(zt)
        Zr[np.array(as_list(case["Zt_i"]), dtype=int), np.array(as_list(case["Zt_j"]), dtype=int)] = \
            vec(case["Zt_x"])
        Zp = lf.reTrms.Zt
        Zp = Zp.toarray() if hasattr(Zp, "toarray") else np.asarray(Zp)
        ck.close("Zt", Zp, Zr, 1e-13, 1e-10)
    fl = case.get("flist_levels")
    try:
        py_fl = {k: [str(a) for a in (v.cat.categories if hasattr(v, "cat") else v.categories)]
                 for k, v in dict(lf.reTrms.flist).items()}
    except Exception as e:  # noqa: BLE001
        py_fl = None
        ck.add("flist", f"cannot read flist: {type(e).__name__}: {e}")
    if py_fl is not None and fl is not None:
        r_fl = {k: list(as_list(v)) for k, v in fl.items()}
        if py_fl != r_fl:
            ck.add("flist levels", f"pylmer {py_fl} != R {r_fl}")
    cnms = [(g, list(c)) for g, c in lf.reTrms.cnms]
    r_cnms = [(c["grp"], list(as_list(c["columns"]))) for c in as_list(case["cnms"])]
    if cnms != r_cnms:
        ck.add("cnms", f"pylmer {cnms} != R {r_cnms}")
