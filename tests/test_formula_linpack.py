"""pylmer.formula.linpack (R's LINPACK QR: ``qr(x, LAPACK = FALSE)``, ``qr.qty``, ``qr.qy``)
against R 4.2.

The reference values are the "qr" cases of tests/reference/formula/splines.json, written by
scripts/make_splines_reference.R and read as test_formula_splines.py reads them. Tolerance:
|py - R| <= 1e-12 + 1e-10 * |R| (POLY_TOL).
"""

from __future__ import annotations

import numpy as np
import pytest
from test_formula_splines import POLY_TOL, REF, arr, assert_close, mat

from pylmer.formula.linpack import dqrdc2, qr_qty, qr_qy


@pytest.mark.parametrize("case", REF["qr"], ids=[f"qr{i}" for i in range(len(REF["qr"]))])
def test_dqrdc2_and_qty_match_r(case):
    x = mat(case["x"])
    qr, qraux, rank, pivot = dqrdc2(x)
    assert rank == case["rank"]
    assert list(pivot + 1) == list(arr(case["pivot"]).astype(int))
    assert_close(qr, mat(case["qr"]), POLY_TOL, "qr()$qr")
    assert_close(qraux, arr(case["qraux"]), POLY_TOL, "qr()$qraux")
    y = mat(case["y"])
    assert_close(qr_qty(qr, qraux, rank, y), mat(case["qty"]), POLY_TOL, "qr.qty")
    assert_close(qr_qy(qr, qraux, rank, y), mat(case["qy"]), POLY_TOL, "qr.qy")
    # A vector y is transformed like a one-column matrix.
    assert_close(qr_qty(qr, qraux, rank, y[:, 0]), mat(case["qty"])[:, 0], POLY_TOL,
                 "qr.qty of a vector")


def test_dqrdc2_leaves_input_alone():
    x = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]])
    before = x.copy()
    dqrdc2(x)
    np.testing.assert_array_equal(x, before)
