"""GLM families and links against closed forms and against R 4.2.2 (stats) / lme4 1.1-31.

Constants marked "R:" were computed with the R call in the comment and printed with
sprintf("%.17g"); tolerances are stated where they are asserted.
"""

import dataclasses
import warnings

import numpy as np
import pytest

from pylmer.exceptions import PylmerWarning
from pylmer.family import (
    Binomial,
    Family,
    Gamma,
    Gaussian,
    InverseGaussian,
    Link,
    Poisson,
    binomial,
    gaussian,
    get_family,
    inverse_gaussian,
    poisson,
)

EPS = np.finfo(float).eps
FAMILIES = [Binomial, Poisson, Gamma, InverseGaussian, Gaussian]
FAMILY_LINKS = [(cls, link) for cls in FAMILIES for link in cls.ok_links]
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


# ------------------------------------------------------------------------------- links

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


# ---------------------------------------------------------------------------- families

@pytest.mark.parametrize(("cls", "link"), FAMILY_LINKS)
def test_variance_closed_form(cls, link):
    fam = cls(link)
    mu = MU["probability"]
    expected = {Binomial: mu * (1 - mu), Poisson: mu, Gamma: mu ** 2,
                InverseGaussian: mu ** 3, Gaussian: np.ones_like(mu)}[cls]
    np.testing.assert_allclose(fam.variance(mu), expected, rtol=1e-15)


@pytest.mark.parametrize(("cls", "link"), FAMILY_LINKS)
def test_family_carries_its_link(cls, link):
    fam = cls(link)
    assert fam.link == Link(link)
    eta = np.array(ETA[link], dtype=float)
    np.testing.assert_array_equal(fam.linkinv(eta), Link(link).linkinv(eta))
    np.testing.assert_array_equal(fam.mu_eta(eta), Link(link).mu_eta(eta))
    mu = _mu_for(link)
    np.testing.assert_array_equal(fam.linkfun(mu), Link(link).linkfun(mu))


def test_binomial_dev_resids_closed_form():
    mu = np.array([0.2, 0.6, 0.9])
    wt = np.array([1.0, 2.0, 0.5])
    fam = binomial()
    np.testing.assert_allclose(fam.dev_resids(np.zeros(3), mu, wt),
                               -2 * wt * np.log(1 - mu), rtol=1e-14)
    np.testing.assert_allclose(fam.dev_resids(np.ones(3), mu, wt),
                               -2 * wt * np.log(mu), rtol=1e-14)
    y = 0.3
    np.testing.assert_allclose(
        fam.dev_resids(np.full(3, y), mu, wt),
        2 * wt * (y * np.log(y / mu) + (1 - y) * np.log((1 - y) / (1 - mu))), rtol=1e-14)
    # y log(y / mu) is 0 at y == 0 even where mu == 0 (R's C y_log_y)
    np.testing.assert_array_equal(fam.dev_resids([0.0, 1.0], [0.0, 1.0], 1.0), [0.0, 0.0])


def test_poisson_dev_resids_closed_form():
    y = np.array([0.0, 0.0, 2.0, 7.0])
    mu = np.array([0.4, 3.0, 1.5, 9.0])
    wt = np.array([1.0, 2.0, 1.0, 0.5])
    expected = np.where(y > 0, 2 * wt * (y * np.log(np.where(y > 0, y, 1) / mu) - (y - mu)),
                        2 * wt * mu)
    np.testing.assert_allclose(poisson().dev_resids(y, mu, wt), expected, rtol=1e-14)


def test_continuous_dev_resids_closed_forms():
    y = np.array([0.5, 1.2, 3.0])
    mu = np.array([0.7, 1.0, 2.5])
    wt = np.array([1.0, 2.0, 0.5])
    np.testing.assert_allclose(Gamma().dev_resids(y, mu, wt),
                               -2 * wt * (np.log(y / mu) - (y - mu) / mu), rtol=1e-14)
    # R: Gamma()$dev.resids(0, 2, 1) uses log(1) at y == 0
    np.testing.assert_array_equal(Gamma().dev_resids([0.0], [2.0], [1.0]), [-2.0])
    np.testing.assert_allclose(inverse_gaussian().dev_resids(y, mu, wt),
                               wt * (y - mu) ** 2 / (y * mu ** 2), rtol=1e-14)
    np.testing.assert_allclose(gaussian().dev_resids(y, mu, wt), wt * (y - mu) ** 2,
                               rtol=1e-14)


# (y, n, mu, wt, R's dev.resids, R's aic), from the R calls in the comments
AIC_CASES = {
    # R: f <- binomial(); y <- c(0,1,1,0,1); mu <- c(0.2,0.7,0.5,0.4,0.9); w <- rep(1, 5)
    #    f$dev.resids(y, mu, w); f$aic(y, rep(1, 5), mu, w, dev)
    "binomial 0/1": (
        binomial(), [0, 1, 1, 0, 1], [1] * 5, [0.2, 0.7, 0.5, 0.4, 0.9], [1] * 5,
        [0.44628710262841953, 0.71334988787746478, 1.3862943611198906, 1.0216512475319814,
         0.2107210313156527], 3.7783036304734088),
    # R: y <- c(0, 0.25, 0.5, 1, 0.6); w <- c(3, 4, 2, 5, 5); mu <- c(.1, .3, .5, .8, .55)
    "binomial proportions": (
        binomial(), [0, 0.25, 0.5, 1, 0.6], [1] * 5, [0.1, 0.3, 0.5, 0.8, 0.55],
        [3, 4, 2, 5, 5],
        [0.63216309394695813, 0.049314115333799313, 0, 2.2314355131420975,
         0.050936119312245121], 8.2011821216701488),
    # R: cbind(c(2,0,5,3), c(3,4,0,1)) with prior weights c(1,2,1,0.5): y = s/n,
    #    n = s + f, wt = pw * n; mu <- c(.3, .2, .9, .6); f$aic(y, n, mu, pw * n, dev)
    "binomial counts, prior weights": (
        binomial(), [0.4, 0, 1, 0.75], [5, 4, 5, 4], [0.3, 0.2, 0.9, 0.6], [5, 8, 5, 2],
        [0.22582421084357485, 3.5702968210273562, 1.0536051565782636, 0.19942702469689377],
        8.037145914605901),
    # R: f <- poisson(); y <- c(0,1,3,7,0,12); mu <- c(0.5,1.2,2.5,6,0.1,10)
    #    w <- c(1,1,2,1,1,0.5)
    "poisson": (
        poisson(), [0, 1, 3, 7, 0, 12], [1] * 6, [0.5, 1.2, 2.5, 6, 0.1, 10],
        [1, 1, 2, 1, 1, 0.5],
        [1, 0.035356886412090727, 0.18785868152745522, 0.15810951758161718,
         0.20000000000000001, 0.18785868152745522], 15.728789513505847),
    # R: f <- Gamma(); y <- c(0.5,1.2,3,0.8,2.2); mu <- c(0.7,1,2.5,1.1,2)
    #    w <- c(1,2,1,1,0.5)
    "Gamma": (
        Gamma(), [0.5, 1.2, 3, 0.8, 2.2], [1] * 5, [0.7, 1, 2.5, 1.1, 2], [1, 2, 1, 1, 0.5],
        [0.1015159018138545, 0.070713772824181453, 0.035356886412090838,
         0.091452916782523652, 0.004689820195675154], 3.6113110402121347),
    # R: f <- inverse.gaussian(), same y, mu, w as Gamma
    "inverse.gaussian": (
        inverse_gaussian(), [0.5, 1.2, 3, 0.8, 2.2], [1] * 5, [0.7, 1, 2.5, 1.1, 2],
        [1, 2, 1, 1, 0.5],
        [0.16326530612244891, 0.066666666666666638, 0.013333333333333334,
         0.092975206611570257, 0.0022727272727272765], 5.0982330046245714),
    # R: f <- gaussian(); y <- c(1.2,-0.3,2.5,0.7); mu <- c(1,0,2,1); w <- c(1,2,1,0.5)
    "gaussian": (
        gaussian(), [1.2, -0.3, 2.5, 0.7], [1] * 4, [1, 0, 2, 1], [1, 2, 1, 0.5],
        [0.03999999999999998, 0.17999999999999999, 0.25, 0.045000000000000012],
        5.1519773078842155),
}


@pytest.mark.parametrize("case", list(AIC_CASES))
def test_dev_resids_and_aic_equal_R(case):
    fam, y, n, mu, wt, dev_resids, aic = AIC_CASES[case]
    d = fam.dev_resids(y, mu, wt)
    np.testing.assert_allclose(d, dev_resids, rtol=1e-14, atol=1e-16)
    # scipy's log densities agree with R's (Loader's algorithm) to ~1e-13
    assert fam.aic(y, n, mu, wt, float(np.sum(d))) == pytest.approx(aic, rel=1e-13)


def test_binomial_aic_zero_trials_contribute_nothing():
    fam = binomial()
    assert fam.aic([0.5, 0.0], [2, 0], [0.3, 0.3], [2, 0], 0.0) == pytest.approx(
        fam.aic([0.5], [2], [0.3], [2], 0.0), rel=1e-15)


# ------------------------------------------------------------------------- initialize

def test_binomial_initialize_zero_one():
    # R: eval(binomial()$initialize) with y <- c(0,1,1,0,1), weights <- rep(1, 5)
    y, w, mustart = binomial().initialize([0, 1, 1, 0, 1])
    np.testing.assert_array_equal(y, [0, 1, 1, 0, 1])
    np.testing.assert_array_equal(w, np.ones(5))
    np.testing.assert_array_equal(mustart, [0.25, 0.75, 0.75, 0.25, 0.75])
    np.testing.assert_array_equal(binomial().n_trials(y), np.ones(5))
    # booleans, as a two-level factor response arrives
    np.testing.assert_array_equal(binomial().initialize([True, False]).y, [1, 0])


def test_binomial_initialize_proportions_with_weights():
    # R: y <- c(0, 0.25, 0.5, 1, 0.6); weights <- c(3, 4, 2, 5, 5)
    init = binomial().initialize([0, 0.25, 0.5, 1, 0.6], [3, 4, 2, 5, 5])
    np.testing.assert_array_equal(init.y, [0, 0.25, 0.5, 1, 0.6])
    np.testing.assert_array_equal(init.weights, [3, 4, 2, 5, 5])
    np.testing.assert_allclose(
        init.mustart,
        [0.125, 0.29999999999999999, 0.5, 0.91666666666666663, 0.58333333333333337],
        rtol=1e-15)
    # observations with weight 0 get y = 0 before the range check (R does this)
    assert binomial().initialize([0.5, 7.0], [2, 0]).y[1] == 0


def test_binomial_initialize_two_column_counts():
    # R: y <- cbind(c(2,0,5,3), c(3,4,0,1)); weights <- c(1, 2, 1, 0.5)
    counts = np.array([[2, 3], [0, 4], [5, 0], [3, 1]])
    y, w, mustart = binomial().initialize(counts, [1, 2, 1, 0.5])
    np.testing.assert_allclose(y, [0.4, 0, 1, 0.75], rtol=1e-15)
    np.testing.assert_array_equal(w, [5, 8, 5, 2])
    np.testing.assert_allclose(
        mustart, [0.41666666666666669, 0.1, 0.91666666666666663, 0.7], rtol=1e-15)
    np.testing.assert_array_equal(binomial().n_trials(counts), [5, 4, 5, 4])
    # R: cbind(c(2,0,1), c(3,0,1)): a row with no trials has y = 0, weight 0, mustart 0.5
    init = binomial().initialize([[2, 3], [0, 0], [1, 1]])
    np.testing.assert_allclose(init.y, [0.4, 0, 0.5], rtol=1e-15)
    np.testing.assert_array_equal(init.weights, [5, 0, 2])
    np.testing.assert_allclose(init.mustart, [0.41666666666666669, 0.5, 0.5], rtol=1e-15)


def test_binomial_non_integer_warnings():
    with pytest.warns(PylmerWarning, match="non-integer #successes in a binomial glm"):
        binomial().initialize([0.5], [3])
    with pytest.warns(PylmerWarning, match="non-integer counts in a binomial glm"):
        binomial().initialize([[1.5, 2]])


@pytest.mark.parametrize(("fam", "offset"), [(poisson(), 0.1), (Gamma(), 0.0),
                                             (inverse_gaussian(), 0.0), (gaussian(), 0.0)])
def test_initialize_mustart(fam, offset):
    y = np.array([0.5, 1.0, 3.0, 12.0])
    init = fam.initialize(y, [1, 2, 1, 1])
    np.testing.assert_array_equal(init.y, y)
    np.testing.assert_array_equal(init.weights, [1, 2, 1, 1])
    np.testing.assert_allclose(init.mustart, y + offset, rtol=1e-15)
    np.testing.assert_array_equal(fam.n_trials(y), np.ones(4))


def test_initialize_does_not_modify_its_input():
    y = np.array([1.0, 0.0])
    w = np.array([1.0, 0.0])
    binomial().initialize(y, w)
    np.testing.assert_array_equal(y, [1.0, 0.0])


# ---------------------------------------------------------------------- domain errors

@pytest.mark.parametrize(("fam", "y", "message"), [
    (poisson(), [1, -1], "negative values not allowed for the 'Poisson' family"),
    (binomial(), [0, 1.5], r"y values must be 0 <= y <= 1"),
    (binomial(), [-0.2, 1], r"y values must be 0 <= y <= 1"),
    (binomial(), [[1, -1]], r"negative counts of failures .*cbind\(successes, trials - "),
    (binomial(), [[-1, 2]], "negative counts of successes"),
    (binomial(), [[1, 2, 3]], "y must be a vector of 0 and 1's or a 2 column matrix"),
    (Gamma(), [1, 0], "non-positive values not allowed for the 'Gamma' family"),
    (inverse_gaussian(), [1, -2],
     "positive values only are allowed for the 'inverse.gaussian' family"),
    (gaussian("log"), [1, 0], "cannot find valid starting values: please specify some"),
    (gaussian("inverse"), [1, 0], "cannot find valid starting values"),
    (poisson(), [[1, 2], [3, 4]], "must be a vector for the 'poisson' family"),
])
def test_initialize_domain_errors(fam, y, message):
    with pytest.raises(ValueError, match=message):
        fam.initialize(y)


def test_gaussian_start_given_skips_the_starting_value_check():
    init = gaussian("log").initialize([1.0, 0.0], start_given=True)
    np.testing.assert_array_equal(init.mustart, [1.0, 0.0])


def test_weights_must_match_y():
    with pytest.raises(ValueError, match="one weight per observation"):
        poisson().initialize([1, 2, 3], [1, 1])


def test_validmu():
    assert binomial().validmu([0.1, 0.9])
    assert not binomial().validmu([0.0, 0.5])
    assert not binomial().validmu([np.nan])
    assert poisson().validmu([0.1, 9])
    assert not poisson().validmu([0.0])
    assert not Gamma().validmu([np.inf])
    assert inverse_gaussian().validmu([-1.0])
    assert gaussian().validmu([-1.0])


# ---------------------------------------------------------- constructors and values

@pytest.mark.parametrize(("cls", "default"), [
    (Binomial, "logit"), (Poisson, "log"), (Gamma, "inverse"), (InverseGaussian, "1/mu^2"),
    (Gaussian, "identity")])
def test_default_links(cls, default):
    assert cls().link == Link(default)


def test_r_spellings_and_family_names():
    assert binomial is Binomial and poisson is Poisson and gaussian is Gaussian
    assert inverse_gaussian is InverseGaussian
    names = [cls.family for cls in FAMILIES]
    assert names == ["binomial", "poisson", "Gamma", "inverse.gaussian", "gaussian"]
    assert [cls().family for cls in FAMILIES] == names


def test_link_not_available_for_family():
    with pytest.raises(ValueError, match=r"link 'identity' not available for binomial family;"
                       r" available links are 'logit', 'probit', 'cloglog', 'cauchit', 'log'"):
        binomial("identity")
    with pytest.raises(ValueError, match="not available for poisson"):
        poisson(link="logit")
    with pytest.raises(ValueError, match="not available for Gamma"):
        Gamma(Link("sqrt"))


def test_family_is_abstract():
    with pytest.raises(TypeError, match="abstract"):
        Family(Link("log"))


def test_equal_by_value_and_hashable():
    assert Binomial("logit") == binomial()
    assert Binomial(Link("probit")) == binomial(link="probit")
    assert binomial("probit") != binomial()
    assert Poisson() != Gamma("log")
    assert hash(Binomial("logit")) == hash(binomial())
    assert len({binomial(), Binomial(), poisson(), Poisson("log"), Gamma()}) == 3
    assert Link("log") == Link("log") and hash(Link("log")) == hash(Link("log"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        binomial().link = Link("probit")


def test_estimates_dispersion():
    assert [cls().estimates_dispersion for cls in FAMILIES] == [False, False, True, True, True]


def test_printing():
    # R: print(binomial()) writes "\nFamily: binomial \nLink function: logit \n\n"
    assert str(binomial()) == "Family: binomial \nLink function: logit"
    assert str(inverse_gaussian()) == "Family: inverse.gaussian \nLink function: 1/mu^2"
    assert repr(Gamma("log")) == "Gamma(link='log')"


# ------------------------------------------------------------------------- get_family

@pytest.mark.parametrize(("spec", "expected"), [
    ("binomial", Binomial()), ("poisson", Poisson()), ("Gamma", Gamma()), ("gamma", Gamma()),
    ("inverse.gaussian", InverseGaussian()), ("inverse_gaussian", InverseGaussian()),
    ("gaussian", Gaussian()), (binomial, Binomial()), (Gamma, Gamma())])
def test_get_family_parses(spec, expected):
    assert get_family(spec) == expected


def test_get_family_returns_family_objects_as_is():
    fam = binomial("cloglog")
    assert get_family(fam) is fam


def test_get_family_errors():
    with pytest.raises(ValueError, match="unknown family 'quasipoisson'; use one of "
                       "'binomial', 'poisson', 'Gamma', 'inverse.gaussian', 'gaussian'"):
        get_family("quasipoisson")
    with pytest.raises(TypeError, match="family must be a family name or a family object"):
        get_family(3)
    with pytest.raises(TypeError, match="family must be"):
        get_family(Family)


@pytest.mark.parametrize("fam,link", [("binomial", "logit"), ("poisson", "log")])
def test_pirls_response_compiled_and_numpy_agree_with_the_family(fam, link):
    """PIRLS's working weights, working response and deviance residuals (compiled loops for
    the canonical links, NumPy otherwise) equal the family's own functions."""
    from pylmer.family import get_family
    from pylmer.response import Response as _Response

    family = get_family(fam)
    assert family.link.name == link
    rng = np.random.default_rng(11)
    n = 500
    eta = np.concatenate([rng.normal(0, 3, n - 4), [-40.0, 40.0, -800.0, 30.0]])
    if fam == "binomial":
        eta = eta[eta > -700]  # exp(800) overflows in R's plogis too; not a PIRLS value
        y = rng.integers(0, 2, eta.size).astype(float)
    else:
        eta = np.clip(eta, -50, 6)
        y = rng.poisson(3.0, eta.size).astype(float)
    pw, offset = rng.uniform(0.5, 2.0, eta.size), rng.normal(0, 1, eta.size)
    mu = family.link.linkinv_lme4(eta)
    mu_eta = family.link.mu_eta_lme4(eta)
    w_expected = pw * mu_eta**2 / family.variance_lme4(mu)
    z_expected = eta - offset + (y - mu) / mu_eta
    dev_expected = family.dev_resids(y, mu, pw)
    for compiled in (True, False):
        resp = _Response(family, y, pw, np.ones_like(y), compiled=compiled)
        assert (resp.kernel is not None) == compiled
        w, z = resp.working(eta, None, offset)
        np.testing.assert_allclose(w, w_expected, rtol=1e-13, atol=0)
        np.testing.assert_allclose(z, z_expected, rtol=1e-13, atol=1e-13)
        total, mu_out, devres = resp.deviance(eta)
        np.testing.assert_allclose(mu_out, mu, rtol=1e-15, atol=0)
        np.testing.assert_allclose(devres, dev_expected, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(total, dev_expected.sum(), rtol=1e-12)


@pytest.mark.parametrize("u_only", [True, False])
def test_small_glmm_pirls_step_compiled_equals_numpy(u_only):
    """A small GLMM's PIRLS step on the workspace (the joint dense system [Z Lambda | X]
    in one compiled call) agrees with NumPy's solve."""
    import oracles

    from pylmer import glFormula, load_dataset
    from pylmer.linalg.pls import PLSWorkspace
    from pylmer.pwrss import WorkspacePwrss

    lf = glFormula("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                   load_dataset("cbpp"), family="binomial")
    rt = lf.reTrms
    ws = PLSWorkspace(lf.X, np.zeros(lf.n), rt.Zt, rt.Lambdat, rt.Lind,
                      weights=np.ones(lf.n), reweightable=True)
    step = WorkspacePwrss(ws, rt)
    assert step._ZLX is not None  # the small-model path
    theta = np.array([0.7])
    step.set_theta(theta)
    ZL = step.ZL
    rng = np.random.default_rng(5)
    w, z = rng.uniform(0.1, 3.0, lf.n), rng.standard_normal(lf.n)
    compiled = step.solve(z, w, not u_only)
    M = ZL if u_only else np.column_stack([ZL, lf.X])
    plain = oracles.weighted_normal_solve(M, w, z, ZL.shape[1])
    for k, (a, b) in enumerate(zip(compiled, plain)):
        if k == 1 and u_only:
            assert a is None
        else:
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)
