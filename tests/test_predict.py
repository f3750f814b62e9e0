"""pylmer.predict: predict() and simulate().

predict() against lme4's predict.merMod for every reference model: population level
(re.form = NA), conditional with a row of new levels (allow.new.levels = TRUE), on the
link and response scales; rtol 1e-6 (theta-level optimizer differences allow 1e-5 where
our objective is lower).

simulate(): moments of many simulated responses against the fitted model's, with a fixed
seed (z-tests at 5 standard errors), and reproducibility by seed.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from reference_data import load_json, model_ids

from pylmer import glmer, lmer, load_dataset
from pylmer.family import Gamma

MODELS = model_ids()


@pytest.fixture(scope="module", params=MODELS)
def case(request):
    ref = load_json("models", request.param)
    data = load_dataset(ref["dataset"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if ref["model_type"] == "LMM":
            m = lmer(ref["formula"], data, REML=ref["REML"])
        else:
            family = Gamma(link=ref["link"]) if ref["family"] == "Gamma" else ref["family"]
            m = glmer(ref["formula"], data, family=family, nAGQ=ref["nAGQ"])
    newdata = pd.DataFrame(ref["predict"]["newdata"])
    return ref, m, newdata


def rtol_for(ref, m):
    """rtol 1e-6 for LMMs. Predictions inherit the estimates' agreement: where our optimum
    is lower than lme4's (flat optima, DESIGN.md 4) and for GLMMs, whose estimates agree with
    lme4's to about 1e-5 (tolerance 5e-4), rtol 1e-4."""
    if ref["model_type"] == "GLMM":
        return 1e-4
    ours = m.REMLcrit() if m.REML else m.deviance()
    return 1e-4 if ours < ref["minus2logLik"] else 1e-6


@pytest.mark.parametrize("kind", ["link", "response"])
def test_population_predictions(case, kind):
    ref, m, newdata = case
    got = m.predict(newdata, re_form="NA", type=kind)
    np.testing.assert_allclose(got, ref["predict"]["population"][kind], rtol=rtol_for(ref, m))


@pytest.mark.parametrize("kind", ["link", "response"])
def test_conditional_predictions_with_new_levels(case, kind):
    ref, m, newdata = case
    got = m.predict(newdata, allow_new_levels=True, type=kind)
    np.testing.assert_allclose(got, ref["predict"]["conditional"][kind], rtol=rtol_for(ref, m))
    # the new-level row is predicted at the population level
    row = ref["predict"]["new_level_row"] - 1
    population = m.predict(newdata, re_form="NA", type=kind)
    np.testing.assert_allclose(got.iloc[row], population.iloc[row], rtol=1e-12)


def test_new_levels_are_an_error_unless_allowed(case):
    _, m, newdata = case
    with pytest.raises(ValueError, match="new levels of .*NEW_LEVEL.*allow_new_levels=True"):
        m.predict(newdata)


def test_predictions_without_newdata_are_the_fitted_values(case):
    _, m, _ = case
    fitted = m.predict(type="response")
    np.testing.assert_allclose(fitted, m.fitted(), rtol=1e-12)


def test_subset_of_random_terms_and_se_fit():
    sleep = load_dataset("sleepstudy")
    m = lmer("Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", sleep)
    new = sleep.iloc[[0, 15]].drop(columns="Reaction")
    only_intercepts = m.predict(new, re_form="~(1 | Subject)")
    re = m.ranef(condVar=False)["Subject"]
    expected = (m.fixef()["(Intercept)"] + m.fixef()["Days"] * new["Days"]
                + re.loc[new["Subject"].astype(str), "(Intercept)"].to_numpy())
    np.testing.assert_allclose(only_intercepts, expected, rtol=1e-12)
    out = m.predict(new, re_form="NA", se_fit=True)
    X = np.column_stack([np.ones(2), new["Days"]])
    se = np.sqrt(np.diag(X @ m.vcov().to_numpy() @ X.T))
    np.testing.assert_allclose(out["se_fit"], se, rtol=1e-12)
    with pytest.raises(ValueError, match="not random terms of the model"):
        m.predict(new, re_form="~(1 | Days)")
    with pytest.raises(ValueError, match="type='mean'"):
        m.predict(new, type="mean")


def test_stateful_transforms_use_the_training_data():
    grouse = load_dataset("grouseticks")
    m = glmer("TICKS ~ YEAR + scale(HEIGHT) + (1 | LOCATION)", grouse, family="poisson")
    one = grouse.iloc[[0]]
    # predicting a single row must use the training mean and sd of HEIGHT
    np.testing.assert_allclose(m.predict(one, re_form="NA"),
                               m.predict(re_form="NA").iloc[[0]], rtol=1e-12)


def test_unseen_level_of_a_fixed_factor_is_an_error():
    cbpp = load_dataset("cbpp")
    m = glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp)
    new = cbpp.iloc[:2].assign(period=["1", "9"])
    with pytest.raises(ValueError, match="levels of 'period' not seen in fitting: 9"):
        m.predict(new)


# --------------------------------------------------------------------------- simulate

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
