"""Simulated (DHARMa) residuals: pylmer.inference.simulated_residuals.

DHARMa is not installable here, so the checks are properties: residuals of a model fitted
to its own simulations are uniform, the dispersion and zero-inflation tests flag what they
are made to flag and stay quiet otherwise, and the tests' arithmetic is DHARMa's. The KS
p-values are R's ``ks.test`` numbers (R 4.2.2)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import pylmer
from pylmer.inference.simulated_residuals import _dharma_ecdf


def _quiet(fit, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fits' own convergence notes
        return fit(*args, **kwargs)


@pytest.fixture(scope="module")
def sleep_sim():
    """sleepstudy's model refitted to a response simulated from it: a right model."""
    m = pylmer.lmer("Reaction ~ Days + (Days | Subject)", pylmer.load_dataset("sleepstudy"))
    return m.refit(m.simulate(1, seed=11).iloc[:, 0].to_numpy())


@pytest.fixture(scope="module")
def counts():
    """Counts on 40 groups of 10: Poisson, overdispersed (observation-level noise) and
    with extra zeros."""
    rng = np.random.default_rng(4)
    g = np.repeat(np.arange(40), 10)
    x = rng.uniform(-1, 1, 400)
    eta = 1.0 + 0.5 * x + rng.normal(0, 0.5, 40)[g]
    fine = rng.poisson(np.exp(eta))
    return pd.DataFrame({
        "g": pd.Categorical(g), "x": x, "fine": fine,
        "over": rng.poisson(np.exp(eta + rng.normal(0, 0.8, 400))),
        "zeros": np.where(rng.uniform(size=400) < 0.3, 0, fine)})


@pytest.fixture(scope="module")
def poisson_fine(counts):
    return _quiet(pylmer.glmer, "fine ~ x + (1 | g)", counts, family="poisson")


@pytest.fixture(scope="module")
def binomial_cbind():
    """cbpp-like: 15 herds x 4 periods, 5 to 25 animals, incidences simulated."""
    rng = np.random.default_rng(7)
    herd, period = np.repeat(np.arange(15), 4), np.tile(np.arange(4), 15)
    size = rng.integers(5, 26, 60)
    p = 1 / (1 + np.exp(-(-1.5 - 0.4 * period + rng.normal(0, 0.6, 15)[herd])))
    data = pd.DataFrame({"herd": pd.Categorical(herd), "period": pd.Categorical(period),
                         "size": size, "incidence": rng.binomial(size, p)})
    m = _quiet(pylmer.glmer, "cbind(incidence, size - incidence) ~ period + (1 | herd)",
               data, family="binomial")
    return m, data


def _ks_p(res) -> float:
    """scipy's KS p-value: an independent check of the residuals' uniformity."""
    return stats.kstest(res.scaled_residuals.to_numpy(), "uniform").pvalue


@pytest.mark.parametrize("use_u", [True, False])
def test_lmm_residuals_are_uniform(sleep_sim, use_u):
    res = pylmer.simulate_residuals(sleep_sim, n_sim=250, seed=3, use_u=use_u)
    r = res.scaled_residuals
    assert isinstance(r, pd.Series) and len(r) == 180 and r.between(0, 1).all()
    assert not res.integer_response and res.use_u is use_u
    assert res.simulated_response.shape == (180, 250)
    assert _ks_p(res) > 0.01 and res.test_uniformity().p_value > 0.01
    assert res.test_dispersion().p_value > 0.01


def test_residual_is_the_fraction_of_simulations_below_randomised_within_ties(
        binomial_cbind):
    """PIT: each residual lies between mean(sim < y) and mean(sim <= y); binomial cbind
    responses are compared as counts of successes."""
    m, data = binomial_cbind
    res = pylmer.simulate_residuals(m, n_sim=200, seed=5)
    sims, y = res.simulated_response, res.observed_response.to_numpy()
    np.testing.assert_array_equal(y, data["incidence"].to_numpy())
    assert np.all(sims == np.rint(sims)) and np.all((sims >= 0) & (sims <= data["size"]
                                                                  .to_numpy()[:, None]))
    lower, upper = np.mean(sims < y[:, None], axis=1), np.mean(sims <= y[:, None], axis=1)
    r = res.scaled_residuals.to_numpy()
    assert np.all((lower <= r) & (r <= upper)) and np.any(lower < upper)
    assert res.integer_response
    np.testing.assert_allclose(res.fitted_predicted,  # population level, a proportion
                               m.predict(re_form="NA", type="response"))
    assert _ks_p(res) > 0.01


def test_the_dispersion_test_flags_overdispersed_counts(counts):
    m = _quiet(pylmer.glmer, "over ~ x + (1 | g)", counts, family="poisson")
    res = pylmer.simulate_residuals(m, seed=1)
    test = pylmer.testDispersion(res)
    assert test.statistic > 1.5 and test.p_value < 0.01
    assert test.statistic_name == "dispersion" and test.alternative == "two.sided"
    assert pylmer.testDispersion(res, alternative="greater").p_value < 0.01
    assert pylmer.testDispersion(res, alternative="less").p_value > 0.99


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_dispersion_test_accepts_a_model_fitted_to_its_own_simulations(
        poisson_fine, seed):
    refit = _quiet(poisson_fine.refit, poisson_fine.simulate(1, seed=seed).iloc[:, 0])
    res = pylmer.simulate_residuals(refit, seed=seed)
    assert res.test_dispersion().p_value > 0.01
    assert res.test_uniformity().p_value > 0.01


def test_the_dispersion_statistic_is_dharmas_ratio_of_spreads(poisson_fine):
    res = pylmer.simulate_residuals(poisson_fine, n_sim=50, seed=9)
    fitted = res.fitted_predicted.to_numpy()
    observed = np.var(res.observed_response.to_numpy() - fitted, ddof=1)
    simulated = np.var(res.simulated_response - fitted[:, None], axis=0, ddof=1)
    test = res.test_dispersion()
    assert test.statistic == pytest.approx(observed / simulated.mean(), rel=1e-12)
    tails = np.mean(simulated >= observed), np.mean(simulated <= observed)
    assert test.p_value == pytest.approx(min(1.0, 2 * min(tails)))


def test_the_zero_inflation_test_flags_extra_zeros(counts, poisson_fine):
    m = _quiet(pylmer.glmer, "zeros ~ x + (1 | g)", counts, family="poisson")
    test = pylmer.testZeroInflation(pylmer.simulate_residuals(m, seed=2))
    assert test.statistic > 1.5 and test.p_value < 0.01
    assert test.statistic_name == "ratioObsSim"
    fine = pylmer.simulate_residuals(poisson_fine, seed=2)
    zeros = np.sum(fine.simulated_response == 0, axis=0)
    assert fine.test_zero_inflation().statistic == pytest.approx(
        np.sum(counts["fine"] == 0) / zeros.mean())
    assert fine.test_zero_inflation().p_value > 0.01


def test_a_seed_reproduces_the_residuals(poisson_fine):
    a = pylmer.simulate_residuals(poisson_fine, n_sim=20, seed=42)
    b = pylmer.simulate_residuals(poisson_fine, n_sim=20, seed=42)
    c = pylmer.simulate_residuals(poisson_fine, n_sim=20,
                                  seed=np.random.default_rng(42))
    d = pylmer.simulate_residuals(poisson_fine, n_sim=20, seed=43)
    pd.testing.assert_series_equal(a.scaled_residuals, b.scaled_residuals)
    pd.testing.assert_series_equal(a.scaled_residuals, c.scaled_residuals)
    np.testing.assert_array_equal(a.simulated_response, b.simulated_response)
    assert not np.array_equal(a.scaled_residuals, d.scaled_residuals)
    with pytest.raises(ValueError):
        a.simulated_response[0, 0] = 1.0  # read-only


def test_unconditional_simulations_redraw_the_random_effects(poisson_fine):
    cond = pylmer.simulate_residuals(poisson_fine, n_sim=400, seed=1)
    uncond = pylmer.simulate_residuals(poisson_fine, n_sim=400, seed=1, use_u=False)
    spread = [np.var(r.simulated_response, axis=1).mean() for r in (cond, uncond)]
    assert spread[1] > 1.2 * spread[0]  # group effects vary between simulations too


def _residuals(values) -> pylmer.SimulatedResiduals:
    n = len(values)
    return pylmer.SimulatedResiduals(pd.Series(values), np.zeros((n, 2)),
                                     pd.Series(np.zeros(n)), pd.Series(np.zeros(n)),
                                     False, "PIT", True)


@pytest.mark.parametrize("n, power, expected", [
    # R: ks.test(((1:n) / (n + 1))^power, "punif", alternative = ...)
    (150, 1.1, {"two.sided": (0.0377068395652037, 0.983313088306198),  # asymptotic
                "less": (0.00400982443468404, 0.995188007313274),
                "greater": (0.0377068395652037, 0.65276262848743)}),
    (50, 1.3, {"two.sided": (0.104855610720295, 0.604281953267219),  # exact, n < 100
               "less": (0.00602779912432356, 0.991908149186607),
               "greater": (0.104855610720295, 0.31122620247145)}),
])
def test_uniformity_test_is_rs_ks_test(n, power, expected):
    res = _residuals((np.arange(1, n + 1) / (n + 1)) ** power)
    for alternative, (d, p) in expected.items():
        test = pylmer.testUniformity(res, alternative=alternative)
        assert test.statistic == pytest.approx(d, rel=1e-12)
        assert test.p_value == pytest.approx(p, rel=1e-6), alternative


def test_traditional_residuals_are_dharmas_ecdf(sleep_sim):
    # R: DHARMa.ecdf(c(3, 1, 2, 2))(c(0.5, 1, 1.5, 2, 2.5, 3, 3.5))
    sims = np.tile([3.0, 1.0, 2.0, 2.0], (7, 1))
    observed = np.array([0.5, 1, 1.5, 2, 2.5, 3, 3.5])
    np.testing.assert_allclose(_dharma_ecdf(sims, observed),
                               [0.0, 0.2, 0.4, 0.6, 0.7, 0.8, 1.0], rtol=1e-14)
    res = pylmer.simulate_residuals(sleep_sim, seed=1, method="traditional")
    assert res.method == "traditional" and _ks_p(res) > 0.01


def test_bad_input_names_the_argument(poisson_fine):
    with pytest.raises(pylmer.PylmerError, match="n_sim must be 2 or more"):
        pylmer.simulate_residuals(poisson_fine, n_sim=1)
    with pytest.raises(TypeError, match="n_sim must be a whole number"):
        pylmer.simulate_residuals(poisson_fine, n_sim=25.0)
    with pytest.raises(TypeError, match="seed must be"):
        pylmer.simulate_residuals(poisson_fine, seed="1")
    with pytest.raises(pylmer.PylmerError, match="seed must be 0 or more"):
        pylmer.simulate_residuals(poisson_fine, seed=-1)
    with pytest.raises(TypeError, match="use_u must be True or False"):
        pylmer.simulate_residuals(poisson_fine, use_u="yes")
    with pytest.raises(TypeError, match="integer_response must be True or False"):
        pylmer.simulate_residuals(poisson_fine, integer_response=1)
    with pytest.raises(pylmer.PylmerError, match="method='exact'"):
        pylmer.simulate_residuals(poisson_fine, method="exact")
    with pytest.raises(TypeError, match="fitted model"):
        pylmer.simulate_residuals("m")
    res = pylmer.simulate_residuals(poisson_fine, n_sim=5, seed=1)
    for test in (pylmer.testUniformity, pylmer.testDispersion, pylmer.testZeroInflation):
        with pytest.raises(TypeError, match="res must be simulated residuals"):
            test(poisson_fine)
        with pytest.raises(pylmer.PylmerError, match="alternative='up'"):
            test(res, alternative="up")


def test_rows_dropped_for_missing_values_have_no_residual():
    sleep = pylmer.load_dataset("sleepstudy").copy()
    sleep.loc[3, "Reaction"] = np.nan
    with pytest.warns(pylmer.MissingDataWarning, match="dropped 1 of 180 rows"):
        m = pylmer.lmer("Reaction ~ Days + (1 | Subject)", sleep, na_action="exclude")
    res = pylmer.simulate_residuals(m, n_sim=20, seed=1)
    assert len(res) == 179 and 3 not in res.scaled_residuals.index
    assert res.fitted_predicted.notna().all()


def test_binomial_proportions_with_weights_are_compared_as_counts():
    cbpp = pylmer.load_dataset("cbpp")
    m = _quiet(pylmer.glmer, "prop ~ period + (1 | herd)",
               cbpp.assign(prop=cbpp["incidence"] / cbpp["size"]), family="binomial",
               weights=cbpp["size"].to_numpy(dtype=float))
    res = pylmer.simulate_residuals(m, n_sim=20, seed=1)
    np.testing.assert_array_equal(res.observed_response, cbpp["incidence"])
    assert np.all(res.simulated_response == np.rint(res.simulated_response))
