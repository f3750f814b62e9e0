"""The negative binomial, Beta and cumulative-link families against mathematics: their
derivatives, the Laplace and quadrature deviances against direct integration, simulation
moments, predictions, and the errors bad input gets.

pylmer.family.extra (negative binomial and Beta) and pylmer.family.ordinal (the cumulative
family, with clmm), tested together; also the compiled kernels they wrap: trigamma
(pylmer/_families.pyx) and the cumulative-link parts of pylmer/_response.pyx."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from reference_data import load_families_dataset
from scipy import integrate, special

import pylmer
from pylmer import PylmerError
from pylmer.family import BetaFamily, NBinom1, NBinom2, NegativeBinomial
from pylmer.family.ordinal import Cumulative

RNG = np.random.default_rng(20261206)


def _numeric_derivatives(family, y, eta, h=1e-4):
    ll = lambda e: family.loglik(y, family.mean(y, e)) if not isinstance(family, Cumulative) \
        else np.log(family.mean(y, e))
    score = (ll(eta + h) - ll(eta - h)) / (2 * h)
    info = -(ll(eta + h) - 2 * ll(eta) + ll(eta - h)) / h**2
    return score, info


FAMILIES = [
    (NBinom2(theta=1.7), np.array([0, 1, 3, 7, 20.0])),
    (NegativeBinomial(theta=0.6), np.array([0, 1, 3, 7, 20.0])),
    (NBinom1(phi=0.8), np.array([0, 1, 3, 7, 20.0])),
    (BetaFamily(phi=5.0), np.array([0.05, 0.4, 0.5, 0.9, 0.99])),
    (BetaFamily("probit", phi=12.0), np.array([0.05, 0.4, 0.5, 0.9, 0.99])),
    (BetaFamily("cloglog", phi=3.0), np.array([0.05, 0.4, 0.5, 0.9, 0.99])),
    (Cumulative("logit", thresholds=(-1.0, 0.5, 2.0), levels=("a", "b", "c", "d")),
     np.array([0, 1, 2, 3, 1.0])),
    (Cumulative("probit", thresholds=(-1.0, 0.5, 2.0), levels=("a", "b", "c", "d")),
     np.array([0, 1, 2, 3, 2.0])),
    (Cumulative("cloglog", thresholds=(-1.0, 0.5, 2.0), levels=("a", "b", "c", "d")),
     np.array([0, 1, 2, 3, 0.0])),
]


@pytest.mark.parametrize("family,y", FAMILIES, ids=lambda f: getattr(f, "family", None))
def test_score_and_observed_information_are_the_derivatives_of_the_log_density(family, y):
    eta = np.array([-1.2, 0.3, -0.4, 0.8, 1.5])
    if isinstance(family, (NBinom2, NBinom1)):
        eta = eta + 1.0
    pw = np.ones(len(y))
    score, info = _numeric_derivatives(family, y, eta)
    _, w, ratio = family.working(y, pw, eta)
    np.testing.assert_allclose(ratio * w, score, rtol=1e-6, atol=1e-8)
    if family.laplace == "exact":
        np.testing.assert_allclose(family.laplace_weights(y, pw, eta), info, rtol=1e-4,
                                   atol=1e-6)


def test_nb2_weights_are_the_closed_forms():
    th, y, eta = 1.7, np.array([0, 2, 9.0]), np.array([0.1, 0.7, 1.9])
    mu = np.exp(eta)
    exact = NBinom2(theta=th).laplace_weights(y, np.ones(3), eta)
    fisher = NegativeBinomial(theta=th).laplace_weights(y, np.ones(3), eta)
    np.testing.assert_allclose(exact, mu * th * (y + th) / (mu + th) ** 2, rtol=1e-14)
    np.testing.assert_allclose(fisher, mu * th / (mu + th), rtol=1e-14)


def test_nb_log_density_is_scipys():
    from scipy import stats

    y, mu, th = np.array([0, 1, 5, 30.0]), np.array([0.5, 2.0, 4.0, 10.0]), 2.5
    np.testing.assert_allclose(NBinom2(theta=th).loglik(y, mu),
                               stats.nbinom.logpmf(y, th, th / (th + mu)), rtol=1e-12)
    phi = 0.7
    np.testing.assert_allclose(NBinom1(phi=phi).loglik(y, mu),
                               stats.nbinom.logpmf(y, mu / phi, 1 / (1 + phi)), rtol=1e-12)
    yb, mub = np.array([0.1, 0.5, 0.8]), np.array([0.3, 0.5, 0.6])
    np.testing.assert_allclose(BetaFamily(phi=4.0).loglik(yb, mub),
                               stats.beta.logpdf(yb, mub * 4.0, (1 - mub) * 4.0), rtol=1e-12)


def _marginal_deviance(loglik_at_b, sd, groups):
    """-2 log of the marginal likelihood, one integral over b ~ N(0, sd^2) per group."""
    total = 0.0
    for g in np.unique(groups):
        rows = groups == g
        f = lambda b, r=rows: np.exp(np.sum(loglik_at_b(b, r))
                                    - 0.5 * (b / sd) ** 2) / (sd * np.sqrt(2 * np.pi))
        # beyond 12 sd the normal density leaves less than 1e-32 of the mass
        edges = np.linspace(-12 * sd, 12 * sd, 9)
        value = sum(integrate.quad(f, a, b, epsabs=0, epsrel=1e-12, limit=200)[0]
                    for a, b in itertools.pairwise(edges))
        total += -2.0 * np.log(value)
    return total


def test_quadrature_deviance_of_nbinom2_is_the_integral():
    data = load_families_dataset("Salamanders")
    fam = pylmer.nbinom2(theta=0.64)
    lf = pylmer.glFormula("count ~ mined + (1 | site)", data, family=fam)
    devfun = pylmer.updateGlmerDevfun(pylmer.mkGlmerDevfun(lf, fam), nAGQ=25)
    theta, beta = 0.52, np.array([-1.47, 2.26])
    y = np.asarray(lf.y, dtype=float)
    eta0 = lf.X @ beta
    groups = np.asarray(lf.reTrms.flist["site"].codes)

    def loglik_at_b(b, rows):
        return fam.loglik(y[rows], np.exp(eta0[rows] + b))

    exact = _marginal_deviance(loglik_at_b, theta, groups)
    assert devfun(np.concatenate([[theta], beta])) == pytest.approx(exact, abs=1e-6)


def test_quadrature_deviance_of_clmm_is_the_integral():
    data = load_families_dataset("wine")
    lf = pylmer.lformula.clmFormula("rating ~ temp + contact + (1 | judge)", data)
    fam = Cumulative("logit", thresholds=(-1.6, 1.5, 4.2, 6.1), levels=lf.family.levels)
    devfun = pylmer.updateGlmerDevfun(pylmer.mkGlmerDevfun(lf, fam), nAGQ=25)
    theta, beta = 1.13, np.array([3.06, 1.83])
    y = np.asarray(lf.y, dtype=float)
    eta0 = lf.X @ beta
    groups = np.asarray(lf.reTrms.flist["judge"].codes)

    def loglik_at_b(b, rows):
        return np.log(fam.mean(y[rows], eta0[rows] + b))

    exact = _marginal_deviance(loglik_at_b, theta, groups)
    assert devfun(np.concatenate([[theta], beta])) == pytest.approx(exact, abs=1e-6)


@pytest.fixture(scope="module")
def salamanders_nb2():
    return pylmer.glmer("count ~ mined + (1 | site)", load_families_dataset("Salamanders"),
                        family=pylmer.nbinom2())


@pytest.fixture(scope="module")
def wine_clmm():
    return pylmer.clmm("rating ~ temp + contact + (1 | judge)", load_families_dataset("wine"))


def test_simulated_nb2_counts_have_the_model_moments(salamanders_nb2):
    m = salamanders_nb2
    sims = m.simulate(4000, seed=1, use_u=True).to_numpy()
    mu, th = pylmer.fitted(m).to_numpy(), m.family.theta
    np.testing.assert_allclose(sims.mean(axis=1), mu, rtol=0.15, atol=0.05)
    # pooled over observations: the NB2 variance mu + mu^2 / theta
    assert sims.var(axis=1).sum() == pytest.approx(np.sum(mu + mu**2 / th), rel=0.05)


def test_simulated_beta_and_ordinal_responses():
    data = load_families_dataset("beta_sim")
    m = pylmer.glmer("y ~ x + (1 | g)", data, family=pylmer.beta_family())
    sims = m.simulate(3000, seed=2, use_u=True).to_numpy()
    mu, phi = pylmer.fitted(m).to_numpy(), pylmer.sigma(m)
    assert ((sims > 0) & (sims < 1)).all()
    assert sims.var(axis=1).sum() == pytest.approx(np.sum(mu * (1 - mu) / (1 + phi)), rel=0.05)


def test_clmm_predictions_are_probabilities(wine_clmm):
    m = wine_clmm
    probs = m.predict(type="prob")
    assert list(probs.columns) == ["1", "2", "3", "4", "5"]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
    y = load_families_dataset("wine")["rating"].cat.codes.to_numpy()
    np.testing.assert_allclose(probs.to_numpy()[np.arange(len(y)), y],
                               pylmer.fitted(m).to_numpy(), rtol=1e-12)
    cls = m.predict(type="class")
    assert cls.dtype == "category" and cls.cat.ordered
    assert (cls.cat.codes.to_numpy() == probs.to_numpy().argmax(axis=1)).all()
    sims = m.simulate(2, seed=3)
    assert sims["sim_1"].cat.ordered and list(sims["sim_1"].cat.categories) == list(probs)
    new = pd.DataFrame({"temp": ["warm"], "contact": ["no"], "judge": ["new"]})
    pop = m.predict(new, type="prob", allow_new_levels=True).to_numpy()[0]
    alpha, beta = m.alpha.to_numpy(), pylmer.fixef(m)["tempwarm"]
    np.testing.assert_allclose(np.cumsum(pop)[:-1], special.expit(alpha - beta), rtol=1e-12)


def test_profile_interval_of_the_nb_theta_brackets_it(salamanders_nb2):
    ci = salamanders_nb2.confint(progress=False)
    th = salamanders_nb2.family.theta
    assert ci.index[-1] == "theta"
    lo, hi = ci.loc["theta"]
    assert lo < th < hi
    # about the Wald interval of log(theta) (glmmTMB's SE 0.1177 on the log scale)
    assert np.log(hi / lo) == pytest.approx(2 * 1.96 * 0.1177, rel=0.1)


def test_likelihood_ratio_test_between_nested_nb_fits(salamanders_nb2):
    data = load_families_dataset("Salamanders")
    m0 = pylmer.glmer("count ~ 1 + (1 | site)", data, family=pylmer.nbinom2())
    table = pylmer.anova(m0, salamanders_nb2)
    chisq = 2 * (float(pylmer.logLik(salamanders_nb2)) - float(pylmer.logLik(m0)))
    assert table["Chisq"].iloc[1] == pytest.approx(chisq, rel=1e-10)
    assert list(table["npar"]) == [3, 4]


def test_fits_leave_the_data_alone():
    data = load_families_dataset("wine")
    before = data.copy()
    pylmer.clmm("rating ~ temp + (1 | judge)", data)
    pd.testing.assert_frame_equal(data, before)


@pytest.mark.parametrize("y,message", [
    ([0, 1, -2, 3], "negative values are not allowed"),
    ([0, 1.5, 2, 3], "non-integer counts"),
])
def test_bad_counts_are_clear_errors(y, message):
    data = pd.DataFrame({"y": y * 5, "g": list("abcd") * 5})
    for family in (pylmer.nbinom2(), pylmer.nbinom1(), pylmer.negative_binomial(2.0)):
        with pytest.raises(PylmerError, match=message):
            pylmer.glmer("y ~ 1 + (1 | g)", data, family=family)
    with pytest.raises(PylmerError, match=message):
        pylmer.glmer_nb("y ~ 1 + (1 | g)", data)


def test_beta_response_outside_the_unit_interval_says_what_to_do():
    data = pd.DataFrame({"y": [0.2, 0.0, 0.5, 1.0] * 5, "g": list("abcd") * 5})
    with pytest.raises(PylmerError, match=r"strictly between 0 and 1.*\(y \* \(n - 1\) \+ 0.5\) / n"):
        pylmer.glmer("y ~ 1 + (1 | g)", data, family=pylmer.beta_family())


@pytest.mark.parametrize("theta", [0, -1.0, np.inf, np.nan, "a"])
def test_theta_must_be_positive(theta):
    with pytest.raises(PylmerError, match="theta"):
        pylmer.negative_binomial(theta)


def test_negative_binomial_needs_theta():
    with pytest.raises(PylmerError, match="glmer_nb"):
        pylmer.negative_binomial(None)
    with pytest.raises(PylmerError, match="glmer_nb"):
        pylmer.glmer("y ~ 1 + (1 | g)", pd.DataFrame({"y": [1, 2] * 4, "g": list("ab") * 4}),
                     family=pylmer.negative_binomial)


def test_clmm_response_must_be_ordered():
    data = load_families_dataset("wine")
    unordered = data.assign(rating=data["rating"].astype(str).astype("category"))
    with pytest.raises(PylmerError, match="'rating'.*ordered categorical.*not ordered"):
        pylmer.clmm("rating ~ temp + (1 | judge)", unordered)
    with pytest.raises(PylmerError, match="'response'.*ordered categorical.*not a factor"):
        pylmer.clmm("response ~ temp + (1 | judge)", data)
    m = pylmer.clmm("ordered(rating) ~ temp + (1 | judge)", unordered)
    assert list(m.alpha.index) == ["1|2", "2|3", "3|4", "4|5"]
    with pytest.raises(PylmerError, match="intercept"):
        pylmer.clmm("rating ~ 0 + temp + (1 | judge)", data)
    with pytest.raises(PylmerError, match="link"):
        pylmer.clmm("rating ~ temp + (1 | judge)", data, link="identity")


def test_clmm_empty_category_is_a_clear_error():
    data = load_families_dataset("wine")
    data = data[data["rating"] != "5"]
    with pytest.raises(PylmerError, match="'5'.*no observations"):
        pylmer.clmm("rating ~ temp + (1 | judge)", data)


def test_clmm_refit_update_and_bootstrap(wine_clmm):
    m = wine_clmm
    data = load_families_dataset("wine")
    same = m.refit(data["rating"])
    assert float(pylmer.logLik(same)) == pytest.approx(float(pylmer.logLik(m)), abs=1e-6)
    relabelled = m.refit(data["rating"].astype(str))  # labels work as well
    assert float(pylmer.logLik(relabelled)) == pytest.approx(float(pylmer.logLik(m)), abs=1e-6)
    with pytest.raises(PylmerError, match="not categories"):
        m.refit(np.full(len(data), "9"))
    probit = m.update(link="probit")
    direct = pylmer.clmm("rating ~ temp + contact + (1 | judge)", data, link="probit")
    assert float(pylmer.logLik(probit)) == pytest.approx(float(pylmer.logLik(direct)), abs=1e-8)
    with pytest.raises(PylmerError, match="family"):
        m.update(family="binomial")
    ci = m.confint(method="boot", nsim=8, seed=4, progress=False)
    assert np.isfinite(ci.to_numpy()).all()


def test_nb_update_to_another_family_and_refit(salamanders_nb2):
    m = salamanders_nb2
    nb1 = m.update(family=pylmer.nbinom1())
    assert nb1.family.family == "nbinom1" and nb1.family.phi > 0
    again = m.refit(load_families_dataset("Salamanders")["count"])
    assert float(pylmer.logLik(again)) == pytest.approx(float(pylmer.logLik(m)), abs=1e-6)


@pytest.mark.parametrize("link", ["logit", "probit", "cloglog"])
def test_compiled_cumulative_kernel_equals_the_numpy_oracle(link):
    from oracles import cdf_parts
    from pylmer._response import LINKS, cumulative_parts

    alpha = np.array([-2.0, -0.3, 1.1, 4.0])
    bounds = np.concatenate([[-np.inf], alpha, [np.inf]])
    y = RNG.integers(0, 5, 400).astype(float)
    eta = RNG.normal(0, 6, 400)  # far into both tails
    P, score, info, expected = cumulative_parts(LINKS[link], bounds, y, eta, True)
    Fu, Su, fu, dfu = cdf_parts(link, bounds[y.astype(int) + 1] - eta)
    Fl, Sl, fl, dfl = cdf_parts(link, bounds[y.astype(int)] - eta)
    P0 = np.maximum(np.where(bounds[y.astype(int) + 1] + bounds[y.astype(int)] < 2 * eta,
                             Fu - Fl, Sl - Su), 1e-300)
    np.testing.assert_allclose(P, P0, rtol=1e-12)  # exp() of the C library and NumPy
    np.testing.assert_allclose(score, -(fu - fl) / P0, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(info, ((fu - fl) / P0) ** 2 - (dfu - dfl) / P0, rtol=1e-9,
                               atol=1e-12)
    F, _, f, _ = cdf_parts(link, bounds[None, :] - eta[:, None])
    Pj = np.diff(F, axis=1)
    ok = Pj > 1e-300
    exp0 = np.sum(np.where(ok, np.diff(f, axis=1) ** 2 / np.where(ok, Pj, 1.0), 0.0), axis=1)
    np.testing.assert_allclose(expected, exp0, rtol=1e-9, atol=1e-12)


def test_compiled_trigamma_is_scipys():
    from pylmer._families import trigamma

    x = np.concatenate([np.logspace(-8, 8, 500), np.linspace(0.01, 30, 500)])
    np.testing.assert_allclose(trigamma(x), special.polygamma(1, x), rtol=1e-14)


@pytest.mark.parametrize("link", ["logit", "probit", "cloglog"])
def test_either_pirls_solver_gives_the_same_clmm_deviance(link):
    from pylmer.pirls import GlmerDevfun

    data = load_families_dataset("wine")
    lf = pylmer.lformula.clmFormula("rating ~ temp + contact + (1 | judge)", data, link=link)
    fam = Cumulative(link, thresholds=(-1.5, 1.4, 4.0, 5.9), levels=lf.family.levels)
    compiled = pylmer.updateGlmerDevfun(GlmerDevfun(lf, fam), 1)
    plain = pylmer.updateGlmerDevfun(GlmerDevfun(lf, fam, scalar_solver=False), 1)
    assert isinstance(compiled._loop.solver, pylmer._pwrss.ScalarSolver)
    assert isinstance(plain._loop.solver, pylmer._pwrss.WorkspaceSolver)
    for pars in ([1.1, 3.0, 1.8], [0.3, -2.0, 5.0], [2.5, 0.0, 0.0]):
        a, b = compiled(np.array(pars)), plain(np.array(pars))
        assert a == pytest.approx(b, rel=1e-10, abs=1e-8)
        np.testing.assert_allclose(compiled.state.u, plain.state.u, rtol=1e-6, atol=1e-8)


def test_clmm_wald_intervals_include_the_thresholds(wine_clmm):
    ci = wine_clmm.confint(method="Wald")
    table = wine_clmm.threshold_table()
    assert list(ci.index) == [".sig01", "1|2", "2|3", "3|4", "4|5", "tempwarm", "contactyes"]
    np.testing.assert_allclose(ci.loc["2|3"].to_numpy(), table.loc["2|3", "Estimate"]
                               + np.array([-1, 1]) * 1.959963984540054
                               * table.loc["2|3", "Std. Error"], rtol=1e-12)


def test_deviance_and_deviance_residuals_follow_glmmTMB(salamanders_nb2):
    assert pylmer.deviance(salamanders_nb2) == pytest.approx(
        -2 * float(pylmer.logLik(salamanders_nb2)), rel=1e-14)
    r = salamanders_nb2.residuals()  # MASS's NB deviance residuals
    assert np.all(np.isfinite(r))
    data = load_families_dataset("beta_sim")
    m = pylmer.glmer("y ~ x + (1 | g)", data, family=pylmer.beta_family())
    with pytest.raises(PylmerError, match="not defined for the beta family"):
        m.residuals()
    assert np.all(np.isfinite(m.residuals(type="pearson")))


@pytest.mark.parametrize("family", [pylmer.nbinom2(), pylmer.nbinom1(),
                                    pylmer.negative_binomial(2.0)], ids=str)
def test_a_zero_weight_is_a_dropped_row(family):
    data = load_families_dataset("Salamanders")
    w = np.ones(len(data))
    w[3] = 0.0
    weighted = pylmer.glmer("count ~ mined + (1 | site)", data, family=family, weights=w)
    dropped = pylmer.glmer("count ~ mined + (1 | site)", data.drop(index=3), family=family)
    assert float(pylmer.logLik(weighted)) == pytest.approx(float(pylmer.logLik(dropped)),
                                                           abs=1e-6)
    np.testing.assert_allclose(pylmer.fixef(weighted), pylmer.fixef(dropped), rtol=1e-5)


@pytest.mark.filterwarnings("ignore::pylmer.SingularFitWarning")
def test_large_counts_fit_as_glmmTMB_fits_them():
    """Counts near e^12: the deviance residuals' rounding error is far above 1e-12 of
    their sum, and PIRLS must not take it for a failure. glmmTMB 1.1.5 on these data:
    logLik -2534.219, beta (11.881, 0.2488), theta 2.5404."""
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(20), 10)
    x = rng.normal(size=200)
    data = pd.DataFrame({"g": pd.Categorical(g), "x": x})
    data["y"] = rng.negative_binomial(2, 2 / (2 + np.exp(12 + 0.3 * x)))
    m = pylmer.glmer("y ~ x + (1 | g)", data, family=pylmer.nbinom2())
    assert float(pylmer.logLik(m)) == pytest.approx(-2534.219, abs=1e-3)
    np.testing.assert_allclose(pylmer.fixef(m), [11.881, 0.2488], rtol=1e-3)
    assert m.family.theta == pytest.approx(2.5404, rel=1e-3)


def test_deviance_function_says_what_it_takes():
    data = load_families_dataset("Salamanders")
    lf = pylmer.glFormula("count ~ mined + (1 | site)", data, family=pylmer.nbinom2())
    devfun = pylmer.mkGlmerDevfun(lf, pylmer.nbinom2(), nAGQ=1)
    with pytest.raises(PylmerError, match=r"takes 4 values, theta \(1\), then beta \(2\), "
                                          r"then log theta"):
        devfun([0.5, -1.4, 2.2])
    with pytest.raises(PylmerError, match="finite"):
        devfun([0.5, -1.4, 2.2, np.nan])
    fixed = pylmer.mkGlmerDevfun(lf, pylmer.nbinom2(theta=0.64), nAGQ=1)
    assert fixed([0.5, -1.4, 2.2]) == pytest.approx(devfun([0.5, -1.4, 2.2, np.log(0.64)]),
                                                    rel=1e-12)


def test_more_bad_input():
    wine = load_families_dataset("wine")
    with pytest.raises(PylmerError, match="'rating' is a factor.*nbinom2 family needs numbers"):
        pylmer.glmer("rating ~ temp + (1 | judge)", wine, family="nbinom2")
    with pytest.raises(PylmerError, match="theta='a'"):
        pylmer.glmer_nb("count ~ mined + (1 | site)", load_families_dataset("Salamanders"),
                        init_theta="a")
    with pytest.raises(PylmerError, match="link 'sqrt' not available for nbinom2"):
        pylmer.nbinom2(link="sqrt")
    m = pylmer.clmm("rating ~ temp + (1 | judge)", wine)
    with pytest.raises(pylmer.NotAvailableError, match="no residuals"):
        m.residuals(type="pearson")


def test_devfun_state_survives_twins_and_failures():
    """The stage-1 and stage-2 devfuns share a compiled kernel: each evaluation sets its own
    thresholds. A failed evaluation leaves the family at the state's parameter."""
    data = load_families_dataset("wine")
    lf = pylmer.lformula.clmFormula("rating ~ temp + contact + (1 | judge)", data)
    stage1 = pylmer.mkGlmerDevfun(lf, lf.family)
    p1 = stage1.start.copy()
    first = stage1(p1)
    stage2 = pylmer.updateGlmerDevfun(stage1, 1)
    stage2(np.concatenate([[1.1], [3.0, 1.8], [-1.0, 1.2, 0.9, 0.6]]))
    assert stage1(p1) == pytest.approx(first, rel=1e-12)
    nb = load_families_dataset("Salamanders")
    lf2 = pylmer.glFormula("count ~ mined + (1 | site)", nb, family=pylmer.nbinom2())
    devfun = pylmer.mkGlmerDevfun(lf2, pylmer.nbinom2(), nAGQ=1)
    good = np.array([0.5, -1.4, 2.2, np.log(0.64)])
    devfun(good)
    with pytest.raises(PylmerError):
        devfun(np.array([0.5, 800.0, 2.2, 20.0]))  # mu = exp(800)
    assert devfun.family.theta == pytest.approx(0.64, rel=1e-12)


@pytest.mark.filterwarnings("ignore::pylmer.SingularFitWarning")  # no group variance
def test_counts_without_overdispersion_send_theta_up_without_failing():
    rng = np.random.default_rng(7)
    g = np.repeat(np.arange(30), 10)
    data = pd.DataFrame({"g": pd.Categorical(g), "y": rng.poisson(50.0, 300).astype(float)})
    with pytest.warns(pylmer.SingularFitWarning):
        m = pylmer.glmer("y ~ 1 + (1 | g)", data, family=pylmer.nbinom2())
    poisson = pylmer.glmer("y ~ 1 + (1 | g)", data, family="poisson")
    assert m.family.theta > 1e3
    assert float(pylmer.logLik(m)) == pytest.approx(float(pylmer.logLik(poisson)), abs=0.05)
    with pytest.raises(PylmerError, match="0 everywhere"):
        pylmer.glmer("y ~ 1 + (1 | g)", data.assign(y=0.0), family=pylmer.nbinom2())


_WINE = "rating ~ temp + (1 | judge)"
_SAL = "count ~ mined + (1 | site)"


@pytest.mark.parametrize("call,error,message", [
    (lambda w, s: pylmer.clmm(_WINE, [1, 2]), TypeError, "data must be a pandas DataFrame"),
    (lambda w, s: pylmer.clmm(5, w), TypeError, "formula must be a string"),
    (lambda w, s: pylmer.clmm(_WINE, w.iloc[:0]), PylmerError, "no rows"),
    (lambda w, s: pylmer.clmm(_WINE, w.iloc[:1]), PylmerError, "'temp'.*single level"),
    (lambda w, s: pylmer.clmm("rating ~ nope + (1 | judge)", w), PylmerError,
     "unknown column 'nope'"),
    (lambda w, s: pylmer.clmm("rating ~ x + (1 | judge)",
                              w.assign(x=np.r_[np.inf, np.zeros(len(w) - 1)])),
     PylmerError, "column\\(s\\) x have infinite values"),
    (lambda w, s: pylmer.clmm('rating ~ __import__("os").system("true") + (1 | judge)', w),
     PylmerError, "unexpected character"),
    (lambda w, s: pylmer.clmm(_WINE, w, link=3), TypeError, "link must be one of"),
    (lambda w, s: pylmer.glmer_nb(_SAL, "abc"), TypeError, "data must be a pandas DataFrame"),
    (lambda w, s: pylmer.glmer_nb(_SAL, s.iloc[:0]), PylmerError, "no rows"),
    (lambda w, s: pylmer.glmer_nb(_SAL, s.iloc[:1]), PylmerError, "'mined'.*single level"),
    (lambda w, s: pylmer.glmer_nb("count ~ nope + (1 | site)", s), PylmerError,
     "unknown column 'nope'"),
    (lambda w, s: pylmer.glmer_nb("y ~ mined + (1 | site)",
                                  s.assign(y=np.r_[np.inf, s["count"][1:]])),
     PylmerError, "'y' has non-finite values"),
    (lambda w, s: pylmer.glmer_nb("y ~ mined + (1 | site)",
                                  s.assign(y=np.r_[np.nan, s["count"][1:]]), na_action="fail"),
     PylmerError, "missing values in columns used by the model: y"),
    (lambda w, s: pylmer.glmer_nb('count ~ eval("1") + (1 | site)', s), PylmerError,
     "function eval\\(\\) in 'eval\\(\"1\"\\)' is not supported"),
    (lambda w, s: pylmer.glmer_nb(_SAL, s, nAGQ="5"), TypeError, "nAGQ must be a whole number"),
])
def test_hostile_callers_of_clmm_and_glmer_nb(call, error, message):
    wine, sal = load_families_dataset("wine"), load_families_dataset("Salamanders")
    with pytest.raises(error, match=message):
        call(wine, sal)
