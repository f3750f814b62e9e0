"""simulate(): moments of many simulated responses against the fitted model's, with a fixed
seed (z-tests at 5 standard errors), and reproducibility by seed."""

import numpy as np
import pytest

from pylmer import glmer, lmer, load_dataset

NSIM = 2000


@pytest.fixture(scope="module")
def sleep_fit():
    return lmer("Reaction ~ Days + (Days | Subject)", load_dataset("sleepstudy"))


def test_lmm_marginal_mean_and_variance(sleep_fit):
    m = sleep_fit
    sims = m.simulate(nsim=NSIM, seed=1).to_numpy()
    mean = m.lf.X @ m.beta
    Z = m.getME("Z").toarray()
    Lambda = m.getME("Lambda").toarray()
    var = m.sigma() ** 2 * (1.0 + np.sum((Z @ Lambda) ** 2, axis=1))
    z_mean = (sims.mean(axis=1) - mean) / np.sqrt(var / NSIM)
    assert np.max(np.abs(z_mean)) < 5
    # the variance of a normal sample has sd var * sqrt(2 / (nsim - 1))
    z_var = (sims.var(axis=1, ddof=1) - var) / (var * np.sqrt(2.0 / (NSIM - 1)))
    assert np.max(np.abs(z_var)) < 5
    # observations of one subject are correlated through its random effects
    first = sims[:10]
    assert np.corrcoef(first)[0, 1] > 0.3


def test_lmm_conditional_simulation(sleep_fit):
    m = sleep_fit
    sims = m.simulate(nsim=NSIM, seed=2, use_u=True).to_numpy()
    z = (sims.mean(axis=1) - m.fitted().to_numpy()) / (m.sigma() / np.sqrt(NSIM))
    assert np.max(np.abs(z)) < 5
    np.testing.assert_allclose(sims.std(axis=1, ddof=1), m.sigma(), rtol=0.1)


def test_poisson_conditional_simulation():
    grouse = load_dataset("grouseticks")
    m = glmer("TICKS ~ YEAR + (1 | LOCATION)", grouse, family="poisson")
    sims = m.simulate(nsim=NSIM, seed=3, use_u=True).to_numpy()
    mu = m.fitted().to_numpy()
    assert np.all(sims == np.round(sims)) and np.all(sims >= 0)
    z = (sims.mean(axis=1) - mu) / np.sqrt(mu / NSIM)
    assert np.max(np.abs(z)) < 5


def test_binomial_simulation_is_proportions_of_trials():
    cbpp = load_dataset("cbpp")
    m = glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp)
    sims = m.simulate(nsim=NSIM, seed=4, use_u=True)
    counts = sims.to_numpy() * cbpp["size"].to_numpy()[:, None]
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)
    mu = m.fitted().to_numpy()
    se = np.sqrt(mu * (1 - mu) / cbpp["size"].to_numpy() / NSIM)
    assert np.max(np.abs((sims.to_numpy().mean(axis=1) - mu) / se)) < 5


def test_simulations_are_reproducible_by_seed(sleep_fit):
    a = sleep_fit.simulate(nsim=3, seed=42)
    b = sleep_fit.simulate(nsim=3, seed=42)
    assert list(a.columns) == ["sim_1", "sim_2", "sim_3"]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, sleep_fit.simulate(nsim=3, seed=43))
    with pytest.raises(ValueError, match="nsim must be 1 or more, got 0"):
        sleep_fit.simulate(nsim=0)


def test_simulation_on_new_data(sleep_fit):
    m = sleep_fit
    new = load_dataset("sleepstudy").iloc[[0, 10]].drop(columns="Reaction")
    new["Subject"] = new["Subject"].astype(str)
    new.loc[new.index[1], "Subject"] = "new subject"
    with pytest.raises(ValueError, match="new levels of Subject"):
        m.simulate(newdata=new)
    sims = m.simulate(nsim=NSIM, seed=5, newdata=new, allow_new_levels=True, use_u=True)
    assert sims.shape == (2, NSIM)
    # conditional on the modes: the known subject's mean is its fitted value, the new
    # subject's the population prediction
    expected = [m.fitted().iloc[0],
                m.predict(new, re_form="NA").iloc[1]]
    z = (sims.mean(axis=1).to_numpy() - expected) / (m.sigma() / np.sqrt(NSIM))
    assert np.max(np.abs(z)) < 5
    # new random effects: the new subject's spread includes its random-effect variance
    fresh = m.simulate(nsim=NSIM, seed=6, newdata=new, allow_new_levels=True)
    Lambda = m.getME("Lambda").toarray()[:2, :2]
    x = np.array([1.0, 0.0])  # Days = 0 for this row of sleepstudy
    var = m.sigma() ** 2 * (1.0 + x @ Lambda @ Lambda.T @ x)
    np.testing.assert_allclose(fresh.iloc[1].var(), var, rtol=0.15)
