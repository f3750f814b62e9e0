"""glmer's behaviour beyond the reference set: response forms, links, domain errors,
nAGQ rules, immutability. R numbers from R 4.2.2 / lme4 1.1-31 (the call is given)."""

import warnings

import numpy as np
import pandas as pd
import pytest

from pylmer import (
    DeprecatedUseWarning,
    GlmerControl,
    GlmerMod,
    LmerMod,
    PirlsError,
    PylmerWarning,
    SingularFitWarning,
    binomial,
    gaussian,
    glFormula,
    glmer,
    lmer,
    load_dataset,
    mkGlmerDevfun,
    updateGlmerDevfun,
)

CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


@pytest.fixture(scope="module")
def cbpp():
    return load_dataset("cbpp")


@pytest.fixture(scope="module")
def fit(cbpp):
    return glmer(CBPP, cbpp, family="binomial")


def test_cbind_and_proportions_with_weights_give_the_same_fit(cbpp, fit):
    data = cbpp.assign(prop=cbpp["incidence"] / cbpp["size"])
    m = glmer("prop ~ period + (1 | herd)", data, family="binomial", weights="size")
    np.testing.assert_allclose(float(m.logLik()), float(fit.logLik()), rtol=1e-9)
    np.testing.assert_allclose(m.fixef(), fit.fixef(), rtol=1e-6)
    np.testing.assert_allclose(m.theta, fit.theta, rtol=1e-6)
    np.testing.assert_allclose(np.sqrt(np.diag(m.vcov())), np.sqrt(np.diag(fit.vcov())),
                               rtol=1e-5)


def test_binary_response_forms_agree():
    verb = load_dataset("VerbAgg").iloc[:2000]
    formula = "{} ~ Anger + Gender + (1 | id)"
    control = GlmerControl(calc_derivs=False)
    factor = glmer(formula.format("r2"), verb, control=control)
    numeric = glmer(formula.format("y01"), verb.assign(y01=(verb["r2"] == "Y").astype(int)),
                    control=control)
    logical = glmer(formula.format("yes"), verb.assign(yes=verb["r2"] == "Y"), control=control)
    for other in (numeric, logical):
        np.testing.assert_allclose(float(other.logLik()), float(factor.logLik()), rtol=1e-12)


def test_probit_link_matches_lme4(cbpp):
    # R: glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp,
    #          family = binomial(link = "probit"))
    m = glmer(CBPP, cbpp, family=binomial(link="probit"))
    np.testing.assert_allclose(-2 * float(m.logLik()), 185.24248514299836, rtol=1e-6)
    np.testing.assert_allclose(m.fixef(), [-0.83547492963578063, -0.52803273971962494,
                                           -0.61685429816547721, -0.79957259813835257],
                               rtol=5e-4)
    np.testing.assert_allclose(m.theta, [0.33798934647415446], atol=5e-4)
    np.testing.assert_allclose(np.sqrt(np.diag(m.vcov())),
                               [0.12623282599776503, 0.16058841029571694,
                                0.16945773696142666, 0.20468124391563450], rtol=5e-4)


def test_nAGQ0_is_a_function_of_theta_and_1_of_theta_and_beta(cbpp):
    lf = glFormula(CBPP, cbpp)
    devfun = mkGlmerDevfun(lf, "binomial", nAGQ=0)
    a = devfun([0.6])
    assert devfun([0.6]) == a  # every evaluation starts from the same lp0
    stage2 = updateGlmerDevfun(devfun, 1)
    assert len(stage2.lower) == 5
    assert np.isfinite(stage2(np.concatenate([[0.6], stage2.state.beta])))
    assert len(devfun.lower) == 1 and devfun([0.6]) == a  # stage 1's is unchanged


@pytest.mark.parametrize("nAGQ, error, message", [
    (101, ValueError, "at most 100"),  # lme4 1.1-31's GHrule: "ord < 101L is not TRUE"
    (-1, ValueError, "0 or more"),
    (1.5, TypeError, "whole number"),
    (True, TypeError, "whole number"),
])
def test_bad_nAGQ(cbpp, nAGQ, error, message):
    with pytest.raises(error, match=message):
        glmer(CBPP, cbpp, nAGQ=nAGQ)


def test_fifty_quadrature_points_as_lme4(cbpp):
    """lme4 1.1-31 accepts up to 100 points; R: glmer(..., nAGQ = 50) on cbpp."""
    g = glmer(CBPP, cbpp, nAGQ=50)
    # -2 logLik: rtol 5e-7 (the GLMM guide is 5e-4; a quadrature deviance agrees closer)
    np.testing.assert_allclose(-2 * float(g.logLik()), 100.010030540191, rtol=5e-7)
    # fixef, theta: the GLMM guide, rtol 5e-4
    np.testing.assert_allclose(g.fixef().to_numpy(), [-1.399223727829, -0.991408883813,
                                                      -1.127809594158, -1.579480950705],
                               rtol=5e-4)
    np.testing.assert_allclose(g.getME("theta"), [0.647519914522], rtol=5e-4)


def test_nAGQ_above_one_refuses_crossed_terms(cbpp):
    """Quadrature integrates one factor's effects, or nested ones; crossed factors are
    refused with the terms named (herd and period are crossed in cbpp)."""
    with pytest.raises(ValueError, match=r"\(1 \| herd\) \+ \(1 \| period\).*not nested"):
        glmer("cbind(incidence, size - incidence) ~ 1 + (1 | herd) + (1 | period)", cbpp,
              family="binomial", nAGQ=5)
    with pytest.raises(ValueError, match="one grouping factor.*nested scalar terms"):
        glmer("cbind(incidence, size - incidence) ~ 1 + (1 | herd) + (1 | period) "
              "+ (0 + size | herd)", cbpp, family="binomial", nAGQ=3)


def test_domain_errors(cbpp):
    with pytest.raises(ValueError, match="negative values not allowed for the 'Poisson'"):
        glmer("y ~ period + (1 | herd)", cbpp.assign(y=cbpp["incidence"] - 1), family="poisson")
    with pytest.raises(ValueError, match="y values must be 0 <= y <= 1"):
        glmer("incidence ~ period + (1 | herd)", cbpp, family="binomial")
    with pytest.raises(ValueError, match="negative counts of failures"):
        glmer("cbind(incidence, incidence - size) ~ period + (1 | herd)", cbpp)
    with pytest.raises(ValueError, match="non-positive values not allowed for the 'Gamma'"):
        glmer("incidence ~ period + (1 | herd)", cbpp, family="Gamma")
    with pytest.raises(ValueError, match="unknown family 'binomal'"):
        glmer(CBPP, cbpp, family="binomal")


def test_fitted_values_and_residual_types(fit, cbpp):
    prop = cbpp["incidence"] / cbpp["size"]
    np.testing.assert_allclose(fit.residuals(type="response"), prop - fit.fitted(), rtol=1e-12)
    mu = fit.fitted().to_numpy()
    pearson = (prop - mu) * np.sqrt(cbpp["size"] / (mu * (1 - mu)))
    np.testing.assert_allclose(fit.residuals(type="pearson"), pearson, rtol=1e-10)
    np.testing.assert_allclose(np.sum(fit.residuals() ** 2), fit.deviance(), rtol=1e-10)
    eta = np.log(mu / (1 - mu))
    np.testing.assert_allclose(fit.residuals(type="working"),
                               (prop - mu) / (mu * (1 - mu)), rtol=1e-8)
    assert np.isfinite(eta).all()
    with pytest.raises(ValueError, match="type='partial'"):
        fit.residuals(type="partial")


def test_glmm_model_is_immutable(fit):
    assert isinstance(fit, GlmerMod)
    with pytest.raises(AttributeError, match="immutable"):
        fit.theta = 0
    with pytest.raises(ValueError, match="REMLcrit is not defined"):
        fit.REMLcrit()


def test_pirls_failure_is_an_exception_not_a_nan():
    # a response the linear predictor can fit perfectly drives mu to the boundary
    data = pd.DataFrame({"y": [0, 0, 0, 1, 1, 1] * 5, "x": [-3, -2, -1, 1, 2, 3] * 5,
                         "g": np.repeat(list("abcde"), 6)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            m = glmer("y ~ x + (1 | g)", data, family="binomial")
        except (PirlsError, FloatingPointError, np.linalg.LinAlgError):
            return
    assert np.isfinite(float(m.logLik())) and np.all(np.isfinite(m.fixef()))


def test_factor_response_with_more_than_two_levels(cbpp):
    """R: glmer(period ~ size + (1 | herd), cbpp, binomial): level "1" is failure, the
    other three success."""
    g = glmer("period ~ size + (1 | herd)", cbpp, family="binomial")
    # GLMM guide: -2 logLik and fixef rtol 5e-4
    np.testing.assert_allclose(-2 * float(g.logLik()), 60.3235369105, rtol=5e-4)
    np.testing.assert_allclose(g.fixef().to_numpy(), [2.54108767602, -0.09487544589],
                               rtol=5e-4)


def test_gaussian_identity_is_lmer_with_lme4s_warning():
    sleep = load_dataset("sleepstudy")
    with pytest.warns(DeprecatedUseWarning, match=r"calling glmer\(\) with family=gaussian "
                      r"\(identity link\) as a shortcut to lmer\(\) is deprecated; please "
                      r"call lmer\(\) directly"):
        g = glmer("Reaction ~ Days + (Days | Subject)", sleep, family="gaussian")
    m = lmer("Reaction ~ Days + (Days | Subject)", sleep)
    assert isinstance(g, LmerMod)
    assert g.REMLcrit() == m.REMLcrit()  # the same fit: lme4 calls lmer() (REML)


@pytest.mark.parametrize("link, loglik, beta", [
    # R: glmer(Reaction ~ Days + (1 | Subject), sleepstudy, family = gaussian(link))
    ("log", -950.956413506, [5.5350177364157, 0.0352535244111]),
])
def test_gaussian_with_another_link_is_lme4s_glmm(link, loglik, beta):
    sleep = load_dataset("sleepstudy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)  # as lme4: boundary (singular)
        g = glmer("Reaction ~ Days + (1 | Subject)", sleep, family=gaussian(link=link))
    # the GLMM guide: rtol 5e-4 (logLik 1e-6: the criterion agrees closer)
    np.testing.assert_allclose(float(g.logLik()), loglik, rtol=1e-6)
    np.testing.assert_allclose(g.fixef().to_numpy(), beta, rtol=5e-4)


@pytest.mark.parametrize("formula, dataset, family, theta, expected", [
    # R: glFormula -> mkGlmerDevfun -> optimizeGlmer (stage 1: opt$par is theta) ->
    # updateGlmerDevfun, then 0.2 * pmin(sqrt(diag(environment(devfun)$pp$unsc())), 10):
    # glmer's stage-2 steps for the fixed effects
    (CBPP, "cbpp", "binomial", [0.641838555348909],
     [0.0455158045799846, 0.0606572349982271, 0.0647020737902957, 0.0848903819043271]),
    ("TICKS ~ YEAR + scale(HEIGHT) + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)",
     "grouseticks", "poisson", [0.536971481058444, 0.736283186578702, 0.557285214011166],
     [0.0379515756176410, 0.0467614439728366, 0.0518179046473418, 0.0247929822897009]),
])
@pytest.mark.parametrize("compiled", [True, False])
def test_stage2_steps_are_lme4s_on_every_pirls_path(formula, dataset, family, theta,
                                                    expected, compiled):
    """The steps come from the PIRLS weights at stage 1's theta, whichever solver ran."""
    from pylmer.family import get_family
    from pylmer.fitting import _stage2_steps
    from pylmer.pirls import GlmerDevfun

    lf = glFormula(formula, load_dataset(dataset), family=family)
    devfun = GlmerDevfun(lf, get_family(family), nAGQ=0, scalar_solver=compiled)
    devfun(np.full(len(theta), 0.3))  # another theta first: nothing stale may remain
    devfun(np.asarray(theta))  # stage 1's optimum; its beta goes with it into stage 2
    steps = _stage2_steps(devfun, np.asarray(theta))
    np.testing.assert_allclose(steps[:len(theta)], 0.2 * 0.1, rtol=1e-15)
    # rtol 2e-5: lme4's weights are those of its last stage-1 PIRLS, whose fixed point agrees
    # with this one to PIRLS's tolerance (1e-7 on the deviance); stale weights were 30% off
    np.testing.assert_allclose(steps[len(theta):], expected, rtol=2e-5)


def test_vcov_falls_back_to_rx_when_the_hessian_one_is_not_positive_definite():
    """lme4's vcov.merMod: at a variance on the boundary the Hessian's beta block can be
    singular; lme4 then warns and uses sigma^2 (RX'RX)^-1 at the PIRLS weights (here
    1 / (n p (1 - p)) = 0.4 for 3 successes in 18, the random effect at zero)."""
    sleep = load_dataset("sleepstudy")
    rng = np.random.default_rng(3)
    y = (sleep["Reaction"].to_numpy() + rng.normal(0, 10, len(sleep)) > 290).astype(float)
    d = sleep.assign(y=y)[sleep["Days"] == 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = glmer("y ~ 1 + (1 | Subject)", d, family="binomial")
    assert m.theta[0] < 1e-4
    with pytest.warns(PylmerWarning, match="falling back to var-cov estimated from RX"):
        v = m.vcov()
    assert v.iloc[0, 0] == pytest.approx(0.4, rel=1e-5)
