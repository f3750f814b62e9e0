"""lmer's behaviour beyond the reference set: weights, offsets, controls, warnings, errors,
immutability and the R-style functions. Reference numbers come from R 4.2.2 / lme4 1.1-31
(the calls are given beside them)."""

import warnings

import numpy as np
import pandas as pd
import pytest

import pylmer
from pylmer import (
    LmerControl,
    RankDeficiencyWarning,
    SingularFitWarning,
    lFormula,
    lmer,
    load_dataset,
    mkLmerDevfun,
)


@pytest.fixture(scope="module")
def sleep():
    data = load_dataset("sleepstudy")
    data["w"] = np.linspace(0.5, 2.0, len(data))
    data["o"] = data["Days"] / 3
    return data


@pytest.fixture(scope="module")
def fm(sleep):
    return lmer("Reaction ~ Days + (Days | Subject)", sleep)


def test_prior_weights(sleep):
    # R: lmer(Reaction ~ Days + (Days|Subject), d, weights = seq(0.5, 2, length.out = 180))
    m = lmer("Reaction ~ Days + (Days | Subject)", sleep, weights="w")
    np.testing.assert_allclose(m.REMLcrit(), 1734.3474552106654, rtol=1e-7)
    np.testing.assert_allclose(m.fixef(), [251.402804567794931, 10.502573807359516], rtol=1e-5)
    np.testing.assert_allclose(m.theta, [0.908867255268290486, 0.012436411092851582,
                                         0.219584041265323882], atol=1e-4)
    np.testing.assert_allclose(m.sigma(), 26.816448451812288, rtol=1e-5)
    np.testing.assert_allclose(np.sqrt(np.diag(m.vcov())), [6.7322932151109720,
                                                            1.5353842072779242], rtol=1e-5)
    np.testing.assert_allclose(m.residuals(type="pearson")[:3],
                               [-5.8892049949938636, -12.6667439907022743, -31.810035132185696],
                               rtol=1e-4)
    np.testing.assert_allclose(m.residuals(type="pearson", scaled=True)[:3],
                               [-0.21961166877024926, -0.47234979730681825,
                                -1.18621357296237839], rtol=1e-4)


def test_offset_term(sleep):
    # R: lmer(Reaction ~ Days + offset(o) + (1|Subject), d, REML = FALSE), o = Days / 3
    m = lmer("Reaction ~ Days + offset(o) + (1 | Subject)", sleep, REML=False)
    np.testing.assert_allclose(m.deviance(), 1794.078643005226, rtol=1e-7)
    np.testing.assert_allclose(m.fixef(), [251.405104848485536, 10.133952626262506], rtol=1e-5)
    np.testing.assert_allclose(m.theta, [1.1656117886310633], atol=1e-4)
    np.testing.assert_allclose(m.fitted()[:3], [292.04020143386316, 302.50748739345897,
                                               312.97477335305484], rtol=1e-6)
    same = lmer("Reaction ~ Days + (1 | Subject)", sleep, REML=False, offset="o")
    np.testing.assert_allclose(same.deviance(), m.deviance(), rtol=1e-12)


def test_deviance_of_a_reml_fit_warns_as_lme4(sleep):
    """lme4 1.1-31: deviance(m) of a REML fit is the REML criterion, with a deprecation
    warning in these words; asking for either criterion explicitly does not warn."""
    m = lmer("Reaction ~ Days + (Days | Subject)", sleep)
    with pytest.warns(pylmer.DeprecatedUseWarning,
                      match=r"^deviance\(\) is deprecated for REML fits; use REMLcrit for the "
                            r"REML criterion or deviance\(\.,REML=FALSE\) for deviance "
                            r"calculated at the REML fit$"):
        value = m.deviance()
    assert value == m.REMLcrit()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(m.deviance(REML=False), 1751.9862, atol=5e-4)  # R
        assert m.deviance(REML=True) == value
        lmer("Reaction ~ Days + (Days | Subject)", sleep, REML=False).deviance()
        str(m.summary()), str(m)


def test_singular_fit_warns_in_lme4s_words():
    with pytest.warns(SingularFitWarning, match=r"boundary \(singular\) fit: see "
                                                r"help\('isSingular'\)"):
        m = lmer("Yield ~ 1 + (1 | Batch)", load_dataset("Dyestuff2"))
    assert m.isSingular()
    assert m.theta[0] == 0.0
    assert m.optinfo.messages == ("boundary (singular) fit: see help('isSingular')",)


def test_singular_check_can_be_silenced_or_raised():
    data = load_dataset("Dyestuff2")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lmer("Yield ~ 1 + (1 | Batch)", data, control=LmerControl(check_conv_singular="ignore"))
    with pytest.raises(RuntimeError, match="singular"):
        lmer("Yield ~ 1 + (1 | Batch)", data, control=LmerControl(check_conv_singular="stop"))


@pytest.mark.parametrize("optimizer", ["bobyqa", "Nelder_Mead", "L-BFGS-B"])
def test_other_optimizers_reach_the_same_optimum(sleep, fm, optimizer):
    m = lmer("Reaction ~ Days + (Days | Subject)", sleep,
             control=LmerControl(optimizer=optimizer, check_conv_grad="ignore"))
    assert m.optinfo.optimizer == optimizer
    np.testing.assert_allclose(m.REMLcrit(), fm.REMLcrit(), rtol=1e-7)


def test_optimizer_options(sleep):
    m = lmer("Reaction ~ Days + (Days | Subject)", sleep,
             control=LmerControl(optCtrl={"maxeval": 5}, calc_derivs=False))
    assert m.optinfo.feval == 5
    assert m.optinfo.conv == 5 and "MAXEVAL" in m.optinfo.message


def test_start(sleep, fm):
    m = lmer("Reaction ~ Days + (Days | Subject)", sleep, start={"theta": fm.theta})
    np.testing.assert_allclose(m.REMLcrit(), fm.REMLcrit(), rtol=1e-10)
    assert m.optinfo.feval < fm.optinfo.feval
    with pytest.raises(ValueError, match="3 theta values"):
        lmer("Reaction ~ Days + (Days | Subject)", sleep, start=[1.0])
    with pytest.raises(ValueError, match="unknown components"):
        lmer("Reaction ~ Days + (Days | Subject)", sleep, start={"fixef": [1, 2]})


def test_moment_start_for_scalar_intercept_models():
    # lme4 1.1-31 starts (1 | Batch) at sqrt(var(ave(y, Batch)) / (var(y) - that))
    lf = lFormula("Yield ~ 1 + (1 | Batch)", load_dataset("Dyestuff"))
    y = lf.y
    means = pd.Series(y).groupby(np.asarray(lf.reTrms.flist["Batch"].codes)).transform("mean")
    v = np.var(means, ddof=1)
    np.testing.assert_allclose(mkLmerDevfun(lf).theta0, [np.sqrt(v / (np.var(y, ddof=1) - v))])
    slope = lFormula("Reaction ~ Days + (Days | Subject)", load_dataset("sleepstudy"))
    np.testing.assert_array_equal(mkLmerDevfun(slope).theta0, [1.0, 0.0, 1.0])


def test_rank_deficient_fixed_effects_are_dropped(sleep):
    data = sleep.assign(Days2=2 * sleep["Days"])
    with pytest.warns(RankDeficiencyWarning, match="dropping 1 column / coefficient: Days2"):
        m = lmer("Reaction ~ Days + Days2 + (Days | Subject)", data)
    assert list(m.fixef().index) == ["(Intercept)", "Days"]
    np.testing.assert_allclose(m.REMLcrit(), 1743.628271959952, rtol=1e-7)


def test_constant_response_is_an_error(sleep):
    with pytest.raises(ValueError, match="constant"):
        lmer("y ~ Days + (1 | Subject)", sleep.assign(y=1.0))


def test_too_few_observations_is_an_error(sleep):
    small = sleep[sleep["Subject"].isin(["308", "309"])].iloc[[0, 1, 10, 11]]
    control = LmerControl(check_nobs_vs_nRE="ignore", check_nlev_gtr_1="ignore")
    with pytest.raises(ValueError, match="4 observations are fewer than the 6 parameters"):
        lmer("Reaction ~ Days + (Days | Subject)", small, control=control)


def test_bad_control():
    with pytest.raises(ValueError, match="optimizer='newton'"):
        LmerControl(optimizer="newton")


def test_model_is_immutable_and_independent_of_its_devfun(sleep, fm):
    with pytest.raises(AttributeError, match="immutable"):
        fm.foo = 1
    theta = fm.theta
    theta[:] = 0.0
    assert fm.theta[0] != 0.0
    lf = lFormula("Reaction ~ Days + (Days | Subject)", sleep)
    devfun = mkLmerDevfun(lf)
    m = pylmer.mkMerMod(lf, devfun, pylmer.optimizeLmer(devfun))
    before = (m.REMLcrit(), m.fixef().copy(), m.ranef()["Subject"].copy())
    devfun([2.0, 0.5, 1.0])
    assert m.REMLcrit() == before[0]
    pd.testing.assert_series_equal(m.fixef(), before[1])
    pd.testing.assert_frame_equal(m.ranef()["Subject"], before[2])


def test_getME(fm):
    Zt, Z = fm.getME("Zt"), fm.getME("Z")
    assert Zt.shape == (36, 180) and (Z.T != Zt).nnz == 0
    Lambdat = fm.getME("Lambdat")
    np.testing.assert_allclose(fm.getME("b"), Lambdat.T @ fm.getME("u"))
    np.testing.assert_allclose(fm.getME("Lambda").toarray(), Lambdat.T.toarray())
    L = fm.getME("L").toarray()
    M = (Lambdat @ Zt @ Zt.T @ Lambdat.T).toarray() + np.eye(36)
    np.testing.assert_allclose(L @ L.T, M, rtol=1e-10, atol=1e-8)
    RX, RZX = fm.getME("RX"), fm.getME("RZX")
    X = fm.getME("X")
    np.testing.assert_allclose(RX.T @ RX + RZX.T @ RZX, X.T @ X, rtol=1e-10)
    assert list(fm.getME("theta").index) == ["Subject.(Intercept)", "Subject.Days.(Intercept)",
                                             "Subject.Days"]
    assert fm.getME("cnms") == [("Subject", ["(Intercept)", "Days"])]
    np.testing.assert_array_equal(fm.getME("lower"), [0, -np.inf, 0])
    assert fm.getME("devcomp")["dims"]["q"] == 36
    with pytest.raises(ValueError, match="unknown component 'Q'"):
        fm.getME("Q")


def test_coef_adds_fixed_and_random_effects(fm):
    coef = fm.coef()["Subject"]
    expected = fm.ranef(condVar=False)["Subject"] + fm.fixef()
    pd.testing.assert_frame_equal(coef, expected[coef.columns])


def test_residuals_and_fitted(fm, sleep):
    np.testing.assert_allclose(fm.fitted() + fm.residuals(), sleep["Reaction"], rtol=1e-12)
    np.testing.assert_allclose(fm.residuals(scaled=True), fm.residuals() / fm.sigma())
    with pytest.raises(ValueError, match="type='raw'"):
        fm.residuals(type="raw")


def test_r_style_functions_call_the_methods(fm):
    pd.testing.assert_series_equal(pylmer.fixef(fm), fm.fixef())
    assert pylmer.sigma(fm) == fm.sigma()
    assert float(pylmer.logLik(fm)) == float(fm.logLik())
    assert repr(pylmer.logLik(fm)) == "'log Lik.' -871.8141 (df=6)"
    assert pylmer.AIC(fm) == fm.AIC() and pylmer.BIC(fm) == fm.BIC()
    assert pylmer.nobs(fm) == 180 and pylmer.ngrps(fm) == {"Subject": 18}
    pd.testing.assert_frame_equal(pylmer.VarCorr(fm).as_frame(), fm.VarCorr().as_frame())
    with pytest.raises(TypeError, match="fixef\\(\\) needs a fitted pylmer model"):
        pylmer.fixef(42)


def test_polars_and_dict_data_fit_the_same(sleep, fm):
    data = {c: sleep[c].to_numpy() for c in ["Reaction", "Days", "Subject"]}
    m = lmer("Reaction ~ Days + (Days | Subject)", data)
    np.testing.assert_allclose(m.REMLcrit(), fm.REMLcrit(), rtol=1e-12)


def test_derivative_checks_follow_lme4s_size_limits(fm):
    control = LmerControl()
    assert control.derivs_wanted(10**6, 50)  # lme4 1.1-31: calc.derivs = TRUE
    later = LmerControl(calc_derivs=None)  # lme4 >= 1.1-38's rule
    assert later.derivs_wanted(180, 3)
    assert not later.derivs_wanted(10_000, 3)  # check.conv.nobsmax
    assert not later.derivs_wanted(500, 10)  # check.conv.nparmax, 10 for lmer
    assert not pylmer.GlmerControl(calc_derivs=None).derivs_wanted(500, 20)  # 20 for glmer
    assert pylmer.GlmerControl(calc_derivs=None).derivs_wanted(500, 19)
    assert fm.optinfo.derivs is not None
    assert pylmer.GlmerControl().derivs_wanted(10**6, 50)  # glmer's SEs need the Hessian


def test_update_refits_with_changed_arguments(fm, sleep):
    ml = fm.update(REML=False)
    assert not ml.REML
    np.testing.assert_allclose(ml.deviance(), 1751.9393444889909, rtol=1e-7)  # sleepstudy_slope_ml
    smaller = fm.update("Reaction ~ Days + (1 | Subject)")
    np.testing.assert_allclose(smaller.REMLcrit(), 1786.465085394921, rtol=1e-7)  # sleepstudy_int_reml
    subset = fm.update(data=sleep[sleep["Days"] > 0])
    assert subset.nobs() == 162
    # R's shorthand: . is the old response / right-hand side
    no_days = fm.update(". ~ . - Days")
    assert list(no_days.fixef().index) == ["(Intercept)"]
    assert no_days.lf.reTrms.cnms == fm.lf.reTrms.cnms
    assert no_days.formula == "Reaction ~ (Days | Subject)"  # as R's update.formula
    assert fm.update(". ~ . - (Days | Subject) + (1 | Subject)").formula == \
        "Reaction ~ Days + (1 | Subject)"
    assert fm.update(". ~ . - 1").formula == "Reaction ~ Days + (Days | Subject) - 1"
    quadratic = fm.update("~ . + I(Days^2)")
    assert list(quadratic.fixef().index) == ["(Intercept)", "Days", "I(Days^2)"]
    logged = fm.update("log(.) ~ .")
    assert logged.lf.fr.response_name == "log(Reaction)"
    g = pylmer.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                     load_dataset("cbpp"))
    g0 = g.update(nAGQ=0)
    assert g0.nAGQ == 0 and g0.family == g.family


def test_warnings_point_at_the_callers_line():
    """A warning names the user's call (this file), not the pylmer line that found it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = lmer("Yield ~ 1 + (1 | Batch)", load_dataset("Dyestuff2"))  # singular
        m.deviance()  # deprecated for a REML fit
    kinds = {w.category.__name__ for w in caught}
    assert kinds == {"SingularFitWarning", "DeprecatedUseWarning"}
    assert {w.filename for w in caught} == {__file__}


@pytest.mark.parametrize("mean", [1e4, 1e6, 1e8])
def test_a_large_mean_costs_no_digits(mean):
    """The response enters through its residual from X: a constant added to it moves the
    intercept by that constant and nothing else (the REML criterion was 0.17 off at a mean
    of 1e6 and 216 off at 1e8 when y'y carried the mean)."""
    sleep = load_dataset("sleepstudy")
    rng = np.random.default_rng(1)
    e = rng.normal(0, 1, len(sleep)) + rng.normal(0, 1, 18)[sleep["Subject"].cat.codes]
    base = lmer("y ~ Days + (Days | Subject)", sleep.assign(y=e))
    shifted = lmer("y ~ Days + (Days | Subject)", sleep.assign(y=e + mean))
    assert shifted.REMLcrit() == pytest.approx(base.REMLcrit(), abs=1e-6)
    np.testing.assert_allclose(shifted.theta, base.theta, atol=1e-4)
    np.testing.assert_allclose(shifted.fixef().to_numpy() - [mean, 0.0],
                               base.fixef().to_numpy(), atol=1e-5 + 1e-15 * mean)
    assert shifted.sigma() == pytest.approx(base.sigma(), rel=1e-6)
