"""GLM families (pylmer.family.glm) against closed forms and against R 4.2.2 (stats) /
lme4 1.1-31; their links are test_links.py's, ``get_family`` test_family.py's.

Constants marked "R:" were computed with the R call in the comment and printed with
sprintf("%.17g"); tolerances are stated where they are asserted.
"""

import dataclasses

import numpy as np
import pytest
from test_links import ETA, MU, _mu_for

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
    inverse_gaussian,
    poisson,
)

FAMILIES = [Binomial, Poisson, Gamma, InverseGaussian, Gaussian]
FAMILY_LINKS = [(cls, link) for cls in FAMILIES for link in cls.ok_links]


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


def test_discrete_log_densities_are_scipy_stats_to_the_bit():
    """The binomial and Poisson AICs' log-densities, written with scipy.special, equal
    scipy.stats' logpmf everywhere, its -inf (outside the support, non-integer k) and NaN
    (invalid parameters, NaN k) included."""
    import scipy.stats

    from pylmer.family.glm import binom_logpmf, poisson_logpmf

    rng = np.random.default_rng(2)
    k = np.concatenate([rng.integers(0, 12, 200).astype(float),
                        [0.0, 3.0, 2.5, -1.0, 13.0, np.nan, 5.0, 4.0, 0.0, 1e6]])
    n = np.concatenate([rng.integers(0, 15, 200).astype(float),
                        [0.0, 3.0, 4.0, 4.0, 12.0, 4.0, 4.5, -1.0, 0.0, 2e6]])
    p = np.concatenate([rng.uniform(0, 1, 200),
                        [0.0, 1.0, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 1.5, 0.5]])
    np.testing.assert_array_equal(binom_logpmf(k, n, p), scipy.stats.binom.logpmf(k, n, p))
    mu = np.concatenate([rng.uniform(0, 20, 200),
                         [0.0, 0.0, 2.0, 2.0, 2.0, 2.0, -1.0, 1e-300, 3.0, 1e6]])
    np.testing.assert_array_equal(poisson_logpmf(k, mu), scipy.stats.poisson.logpmf(k, mu))
    assert binom_logpmf(2.0, 5.0, 0.5) == scipy.stats.binom.logpmf(2.0, 5.0, 0.5)
