"""Link functions (pylmer.links) against closed forms and against R 4.2.2 (stats) /
lme4 1.1-31: R's ``make.link()`` and lme4's own kernels with their clamping.

Constants marked "R:" were computed with the R call in the comment and printed with
sprintf("%.17g"); tolerances are stated where they are asserted.
"""

import warnings

import numpy as np
import pytest

from pylmer.family import Binomial, Family, Gamma, Link, Poisson

EPS = np.finfo(float).eps
ALL_LINKS = ["logit", "probit", "cauchit", "cloglog", "log", "identity", "inverse", "sqrt",
             "1/mu^2"]

# points inside each link's domain, away from the clamping thresholds
MU = {"probability": np.array([0.01, 0.2, 0.5, 0.77, 0.99]),
      "positive": np.array([0.05, 0.5, 1.0, 3.0, 40.0])}
ETA = {"logit": [-4, -1, 0, 0.5, 3], "probit": [-3, -1, 0, 0.5, 2.5],
       "cauchit": [-20, -1, 0, 0.5, 7], "cloglog": [-4, -1, 0, 0.5, 1.5],
       "log": [-3, -1, 0, 0.5, 4], "identity": [-3, -1, 0, 0.5, 4],
       "inverse": [-2, -0.5, 0.3, 1, 4], "sqrt": [0.2, 0.5, 1, 2, 5],
       "1/mu^2": [0.2, 0.5, 1, 2, 5]}


def _mu_for(link):
    return MU["probability"] if link in ("logit", "probit", "cauchit", "cloglog") \
        else MU["positive"]


@pytest.mark.parametrize("name", ALL_LINKS)
def test_linkinv_inverts_linkfun(name):
    link = Link(name)
    mu = _mu_for(name)
    np.testing.assert_allclose(link.linkinv(link.linkfun(mu)), mu, rtol=1e-13)


@pytest.mark.parametrize("name", ALL_LINKS)
def test_mu_eta_is_derivative_of_linkinv(name):
    link = Link(name)
    eta = np.array(ETA[name], dtype=float)
    h = 1e-6 * np.maximum(1, np.abs(eta))
    numeric = (link.linkinv(eta + h) - link.linkinv(eta - h)) / (2 * h)
    np.testing.assert_allclose(link.mu_eta(eta), numeric, rtol=1e-6)
    np.testing.assert_allclose(link.mu_eta_lme4(eta), numeric, rtol=1e-6)


@pytest.mark.parametrize("name", ALL_LINKS)
def test_linkfun_closed_forms(name):
    from scipy import stats
    closed_form = {"logit": lambda mu: np.log(mu / (1 - mu)), "probit": stats.norm.ppf,
                   "cauchit": stats.cauchy.ppf, "cloglog": lambda mu: np.log(-np.log(1 - mu)),
                   "log": np.log, "identity": lambda mu: mu, "inverse": lambda mu: 1 / mu,
                   "sqrt": np.sqrt, "1/mu^2": lambda mu: mu ** -2.0}[name]
    mu = _mu_for(name)
    np.testing.assert_allclose(Link(name).linkfun(mu), closed_form(mu), rtol=1e-12)


@pytest.mark.parametrize("name", ["logit", "probit", "cauchit", "cloglog", "log", "identity",
                                  "inverse"])
def test_extreme_eta_is_silent(name):
    # R returns clamped values (or Inf) without warnings; numpy's overflow warnings are muted
    link = Link(name)
    eta = [-1e300, -800.0, -40.0, 40.0, 800.0, 1e300]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for f in (link.linkinv, link.mu_eta, link.linkinv_lme4, link.mu_eta_lme4):
            assert not np.any(np.isnan(f(eta)))


def test_logit_clamping_equals_R():
    link = Link("logit")
    # R: make.link("logit")$linkinv(c(-40, -30.5, 30.5, 40)); R's C code uses
    # exp(eta) = DBL_EPSILON below -30 and 1/DBL_EPSILON above 30
    np.testing.assert_array_equal(
        link.linkinv([-40, -30.5, 30.5, 40]),
        [2.2204460492503126e-16, 2.2204460492503126e-16, 0.99999999999999978,
         0.99999999999999978])
    # R: make.link("logit")$mu.eta(c(-40, -30.5, 30.5, 40))
    np.testing.assert_array_equal(link.mu_eta([-40, -30.5, 30.5, 40]), [EPS] * 4)
    # R: make.link("logit")$linkinv(c(-30, 30)); $mu.eta(c(-30, 30)): not yet clamped
    np.testing.assert_allclose(link.linkinv([-30, 30]),
                               [9.3576229688393001e-14, 0.99999999999990641], rtol=1e-15)
    np.testing.assert_allclose(link.mu_eta([-30, 30]),
                               [9.3576229688384254e-14, 9.3576229688384229e-14], rtol=1e-14)
    # no overflow warnings at huge eta
    with np.errstate(all="raise"):
        link.linkinv([-1e300, 1e300])
        link.mu_eta([-1e300, 1e300])


def test_probit_clamping_equals_R():
    link = Link("probit")
    # R: make.link("probit")$linkinv(c(-40, -9, 9, 40)); eta clamped to +-8.125890664701906
    np.testing.assert_allclose(
        link.linkinv([-40, -9, 9, 40]),
        [2.2204460492503284e-16, 2.2204460492503284e-16, 0.99999999999999978,
         0.99999999999999978], rtol=1e-13)
    # R: make.link("probit")$mu.eta(c(-40, -9, 9, 40))
    np.testing.assert_array_equal(link.mu_eta([-40, -9, 9, 40]), [EPS] * 4)


def test_cloglog_and_cauchit_clamping_equals_R():
    cloglog, cauchit = Link("cloglog"), Link("cauchit")
    # R: make.link("cloglog")$linkinv(c(-40, -3, 3.7, 40, 800))
    np.testing.assert_allclose(
        cloglog.linkinv([-40, -3, 3.7, 40, 800]),
        [2.2204460492503131e-16, 0.048568007099546597, 0.99999999999999978,
         0.99999999999999978, 0.99999999999999978], rtol=1e-15)
    # R: make.link("cloglog")$mu.eta(c(-40, -3, 3.7, 40, 800))
    np.testing.assert_allclose(
        cloglog.mu_eta([-40, -3, 3.7, 40, 800]),
        [EPS, 0.047369009677907921, EPS, EPS, EPS], rtol=1e-15)
    # R: make.link("cauchit")$linkinv(c(-1e16, 1e16, -50, 1e8)) and $mu.eta
    np.testing.assert_allclose(
        cauchit.linkinv([-1e16, 1e16, -50, 1e8]),
        [2.2204460492503131e-16, 0.99999999999999978, 0.0063653491009727971,
         0.9999999968169011], rtol=1e-15)
    np.testing.assert_allclose(cauchit.mu_eta([-1e16, 1e16, -50, 1e8]),
                               [EPS, EPS, 0.00012727304525541412, EPS], rtol=1e-15)


def test_lme4_kernel_links_equal_lme4():
    eta = [-40, -35, -9, 9, 35, 40]
    # lme4: g <- lme4:::glmFamily$new(family = binomial(L)); g$linkInv(eta); g$muEta(eta)
    expected = {
        "logit": ([2.2204460492503131e-16, 6.3051167601469853e-16, 0.00012339457598623172,
                   0.99987660542401369, 0.99999999999999933, 0.99999999999999978],
                  [2.2204460492503131e-16, 6.3051167601469803e-16, 0.00012337934976484891,
                   0.00012337934976484891, 6.3051167601469803e-16, 2.2204460492503131e-16]),
        "probit": ([0, 1.1249107064724062e-268, 1.1285884059538408e-19,
                    0.99999999999999978, 0.99999999999999978, 0.99999999999999978],
                   [0, 3.9403962771360244e-267, 1.0279773571668917e-18,
                    1.0279773571668917e-18, 3.9403962771360244e-267, 0]),
        "cloglog": ([2.2204460492503131e-16, 6.3051167601469872e-16, 0.00012340218941005233,
                     0.99999999999999978, 0.99999999999999978, 0.99999999999999978],
                    [2.2204460492503131e-16, 6.3051167601469892e-16, 0.00012339457504666066,
                     EPS, EPS, EPS]),
    }
    for name, (linkinv, mu_eta) in expected.items():
        link = Link(name)
        np.testing.assert_allclose(link.linkinv_lme4(eta), linkinv, rtol=1e-12, err_msg=name)
        np.testing.assert_allclose(link.mu_eta_lme4(eta), mu_eta, rtol=1e-12, err_msg=name)
    # lme4's binomial variance is bounded below by DBL_EPSILON
    np.testing.assert_array_equal(Binomial().variance_lme4([1e-17, 0.5]), [EPS, 0.25])
    np.testing.assert_array_equal(Poisson().variance_lme4([1e-17, 0.5]), [1e-17, 0.5])


def test_valideta():
    assert Link("logit").valideta([-1e3, 0, 1e3])
    assert Link("identity").valideta([-1.0, 0.0])
    assert Link("inverse").valideta([-1.0, 2.0])
    assert not Link("inverse").valideta([1.0, 0.0])
    assert not Link("inverse").valideta([np.inf])
    assert Link("sqrt").valideta([0.1, 2.0])
    assert not Link("sqrt").valideta([0.0, 2.0])
    assert not Link("1/mu^2").valideta([-1.0])
    assert Family.valideta(Gamma(), [1.0])


def test_logit_linkfun_out_of_range():
    with pytest.raises(ValueError, match=r"1\.5 out of range \(0, 1\)"):
        Link("logit").linkfun([0.5, 1.5])


def test_unknown_link_name():
    with pytest.raises(ValueError, match="'logitt' not recognised.*'logit'.*'1/mu\\^2'"):
        Link("logitt")
