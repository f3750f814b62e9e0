"""glmer() against lme4 1.1-31 for every reference GLMM.

Tolerances (issue and DESIGN.md 4): -2 logLik (the Laplace / AGQ deviance) rtol 1e-6;
fixed effects and standard errors rtol 5e-4; theta atol 5e-4, or a lower objective than
lme4's, asserted as such; AIC / BIC / deviance rtol 1e-6; VarCorr, ranef and condVar sd,
fitted values and residuals rtol 5e-4.
"""


import numpy as np
import pytest
from conftest import reference_fit
from reference_data import model_ids

from pylmer.family import Gamma

GLMMS = model_ids("GLMM")
RTOL = 5e-4


def family_of(ref):
    if ref["family"] == "Gamma":
        return Gamma(link=ref["link"])
    return ref["family"]


@pytest.fixture(scope="module", params=GLMMS)
def case(request):
    return reference_fit(request.param)


def test_every_reference_glmm_is_covered():
    assert len(GLMMS) == 8


def test_laplace_or_agq_deviance(case):
    ref, m, _ = case
    np.testing.assert_allclose(-2 * float(m.logLik()), ref["minus2logLik"], rtol=1e-6)


def test_theta_or_better_optimum(case):
    ref, m, _ = case
    expected = np.array(list(ref["theta"].values()), dtype=float)
    if not np.allclose(m.theta, expected, rtol=0, atol=5e-4):
        assert -2 * float(m.logLik()) < ref["minus2logLik"], (m.theta, expected)


def test_fixef_and_standard_errors(case):
    ref, m, _ = case
    fe = m.fixef()
    assert list(fe.index) == list(ref["fixef"])
    np.testing.assert_allclose(fe.to_numpy(), list(ref["fixef"].values()), rtol=RTOL,
                               atol=1e-6)
    se = np.sqrt(np.diag(m.vcov().to_numpy()))
    np.testing.assert_allclose(se, list(ref["fixef_se"].values()), rtol=RTOL)


def test_likelihood_summaries(case):
    ref, m, _ = case
    ll = m.logLik()
    assert ll.df == ref["logLik_df"]
    np.testing.assert_allclose(float(ll), ref["logLik"], rtol=1e-6)
    np.testing.assert_allclose(m.AIC(), ref["AIC"], rtol=1e-6)
    np.testing.assert_allclose(m.BIC(), ref["BIC"], rtol=1e-6)
    # lme4's GLMM deviance is the sum of squared deviance residuals, not -2 logLik
    np.testing.assert_allclose(m.deviance(), ref["deviance"], rtol=RTOL)
    assert m.df_residual() == ref["df.residual"]
    assert m.nobs() == ref["nobs"] and m.ngrps() == ref["ngrps"]
    np.testing.assert_allclose(m.sigma(), ref["sigma"], rtol=RTOL)


def test_varcorr(case):
    ref, m, _ = case
    frame = m.VarCorr().as_frame()
    expected = ref["varcorr"]
    assert list(frame["grp"]) == [r["grp"] for r in expected]
    np.testing.assert_allclose(frame["vcov"], [r["vcov"] for r in expected], rtol=2 * RTOL)
    np.testing.assert_allclose(frame["sdcor"], [r["sdcor"] for r in expected], rtol=RTOL)


def test_ranef_and_condvar(case):
    ref, m, _ = case
    re = m.ranef(condVar=True)
    assert list(re) == list(ref["ranef"])
    for group, expected in ref["ranef"].items():
        frame = re[group]
        assert list(frame.index) == expected["levels"]
        scale = np.max(np.abs(expected["values"]))
        np.testing.assert_allclose(frame.to_numpy(), expected["values"], rtol=RTOL,
                                   atol=RTOL * scale)
        np.testing.assert_allclose(re.condsd(group).to_numpy(), expected["condsd"], rtol=RTOL)


def test_fitted_and_residuals(case):
    ref, m, _ = case
    n = ref["fitted_n_stored"]
    np.testing.assert_allclose(m.fitted().to_numpy()[:n], ref["fitted"], rtol=RTOL)
    for kind, key in [("deviance", "residuals_deviance"), ("pearson", "residuals_pearson"),
                      ("response", "residuals_response")]:
        expected = np.asarray(ref[key], dtype=float)
        np.testing.assert_allclose(m.residuals(type=kind).to_numpy()[:n], expected,
                                   rtol=RTOL, atol=RTOL * np.std(expected), err_msg=kind)


def test_no_convergence_warnings_where_lme4_had_none(case):
    ref, _, caught = case
    if not ref["convergence"]["lme4_messages"]:
        assert not [w for w in caught if "converge" in str(w.message)]
