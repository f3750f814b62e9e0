"""lFormula / glFormula against every reference model: the names and sizes lme4 reports.

Checks X_colnames, dropped columns, contrasts, re_terms (cnms, lme4's term order), theta
names and lower bounds, nobs, ngrps and the dimensions in lme4's devcomp, exactly.
"""

import numpy as np
import pytest
from reference_data import as_float, as_list, load_json, model_ids

from pylmer import glFormula, lFormula, load_dataset

MODELS = model_ids()


def build(model_id):
    ref = load_json("models", model_id)
    data = load_dataset(ref["dataset"])
    if ref["model_type"] == "GLMM":
        return ref, glFormula(ref["formula"], data, family=ref["family"])
    return ref, lFormula(ref["formula"], data, REML=ref["REML"])


@pytest.fixture(scope="module", params=MODELS)
def case(request):
    return build(request.param)


def test_every_reference_model_is_covered():
    assert len(MODELS) == 25


def test_X_colnames(case):
    ref, lf = case
    assert list(lf.X_colnames) == as_list(ref["X_colnames"])
    assert list(lf.fixed.dropped) == as_list(ref["X_dropped_columns"] or [])


def test_contrasts(case):
    ref, lf = case
    assert lf.fixed.contrasts == (ref["contrasts"] or {})


def test_re_terms_in_lme4_order(case):
    ref, lf = case
    expected = [(t["grp"], as_list(t["columns"])) for t in ref["re_terms"]]
    assert [(g, list(c)) for g, c in lf.reTrms.cnms] == expected


def test_theta_names_and_lower(case):
    ref, lf = case
    assert list(lf.reTrms.theta_names) == list(ref["theta"])
    lower = ref["theta_lower"]
    assert list(lower) == list(ref["theta"])
    np.testing.assert_array_equal(lf.reTrms.lower, [as_float(v) for v in lower.values()])


def test_sizes(case):
    ref, lf = case
    dims = ref["devcomp_dims"]
    assert lf.n == ref["nobs"] == dims["n"]
    assert lf.X.shape == (dims["n"], dims["p"])
    assert lf.reTrms.Zt.shape == (dims["q"], dims["n"])
    assert len(lf.reTrms.theta) == dims["nth"]
    assert {k: len(v.categories) for k, v in lf.reTrms.flist.items()} == ref["ngrps"]


def test_offset_and_response(case):
    ref, lf = case
    if "offset(" in ref["formula"]:
        data = load_dataset(ref["dataset"])
        np.testing.assert_allclose(lf.offset, np.log(data["exposure"]), rtol=1e-15)
    else:
        assert lf.offset is None
    if ref["formula"].startswith("cbind("):
        assert lf.y.shape == (ref["nobs"], 2)
    else:
        assert lf.y.shape == (ref["nobs"],)
