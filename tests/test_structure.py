"""lFormula against lme4's own lFormula()$reTrms and X, for every model in structure/.

Integers must match exactly, floats to 1e-12.
"""

import re

import numpy as np
import pytest
from reference_data import as_float, as_list, load_json, names, triplets

from pylmer import lFormula, load_dataset

STRUCTURES = names("structure")


@pytest.fixture(scope="module", params=STRUCTURES)
def case(request):
    ref = load_json("structure", request.param)
    lf = lFormula(ref["formula"], load_dataset(ref["dataset"]))
    return ref, lf


def test_there_are_structures():
    assert len(STRUCTURES) >= 7


def test_Zt(case):
    ref, lf = case
    expected = triplets(ref["Zt"]).toarray()
    assert lf.reTrms.Zt.shape == expected.shape
    np.testing.assert_allclose(lf.reTrms.Zt.toarray(), expected, rtol=0, atol=1e-12)


def test_Lambdat(case):
    ref, lf = case
    expected = triplets(ref["Lambdat"]).toarray()
    np.testing.assert_allclose(lf.reTrms.Lambdat.toarray(), expected, rtol=0, atol=1e-12)


def test_Lind_is_lme4s_minus_one(case):
    ref, lf = case
    np.testing.assert_array_equal(lf.reTrms.Lind + 1, as_list(ref["Lind"]))


def test_Lind_maps_theta_to_Lambdat(case):
    _, lf = case
    rt = lf.reTrms
    np.testing.assert_array_equal(rt.Lambdat.data, rt.theta[rt.Lind])


def test_theta_and_lower(case):
    ref, lf = case
    np.testing.assert_array_equal(lf.reTrms.theta, [as_float(v) for v in as_list(ref["theta"])])
    np.testing.assert_array_equal(lf.reTrms.lower, [as_float(v) for v in as_list(ref["lower"])])


def test_Gp(case):
    ref, lf = case
    np.testing.assert_array_equal(lf.reTrms.Gp, as_list(ref["Gp"]))


def test_cnms(case):
    ref, lf = case
    flist_names = list(ref["flist"])
    expected = []
    for key, cols in ref["cnms"].items():
        # jsonlite made repeated names unique (Subject, Subject.1): undo that
        stripped = re.sub(r"\.\d+$", "", key)
        grp = stripped if key not in flist_names and stripped in flist_names else key
        expected.append((grp, as_list(cols)))
    assert [(g, list(c)) for g, c in lf.reTrms.cnms] == expected


def test_flist_levels(case):
    ref, lf = case
    assert list(lf.reTrms.flist) == list(ref["flist"])
    for name, levels in ref["flist"].items():
        assert list(lf.reTrms.flist[name].categories) == as_list(levels)


def test_nl(case):
    ref, lf = case
    distinct = [len(f.categories) for f in lf.reTrms.flist.values()]
    assert distinct == as_list(ref["nl"]) or lf.reTrms.nl == as_list(ref["nl"])


def test_X(case):
    ref, lf = case
    assert list(lf.X_colnames) == as_list(ref["X_colnames"])
    shown = np.asarray(ref["X"], dtype=float).reshape(ref["X_rows_shown"], -1)
    np.testing.assert_allclose(lf.X[: ref["X_rows_shown"]], shown, rtol=0, atol=1e-12)
