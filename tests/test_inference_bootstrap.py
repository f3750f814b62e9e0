"""Parametric bootstrap: reproducibility by seed, calibration on a simulated model, the
statistic's names, and the refits' warnings summarised once."""

import warnings

import numpy as np
import pandas as pd
import pytest

from pylmer import bootMer, fixef, glmer, lmer, load_dataset
from pylmer.exceptions import PylmerWarning


@pytest.fixture(scope="module")
def simulated():
    # truth: y = 10 + 2 x + b_g + e, sd(b) = 3, sigma = 2; 30 groups of 10
    rng = np.random.default_rng(2024)
    g = np.repeat(np.arange(30), 10)
    x = rng.uniform(-1, 1, 300)
    y = 10 + 2 * x + rng.normal(0, 3, 30)[g] + rng.normal(0, 2, 300)
    data = pd.DataFrame({"y": y, "x": x, "g": g})
    return lmer("y ~ x + (1 | g)", data, REML=False)


def test_bootstrap_is_reproducible_by_seed_and_worker_count(simulated):
    a = bootMer(simulated, nsim=12, seed=7, progress=False)
    b = bootMer(simulated, nsim=12, seed=7, n_jobs=2, progress=False)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(bootMer(simulated, nsim=12, seed=8, progress=False))
    assert list(a.columns) == ["sd_(Intercept)|g", "sigma", "(Intercept)", "x"]


def test_bootstrap_intervals_cover_the_truth_and_match_the_model_se(simulated):
    reps = bootMer(simulated, nsim=200, seed=11, progress=False)
    assert reps.attrs["failed"] == 0
    ci = simulated.confint(method="boot", nsim=200, seed=11, oldNames=False)
    truth = {"sigma": 2.0, "(Intercept)": 10.0, "x": 2.0}
    for name, value in truth.items():
        assert ci.loc[name].iloc[0] < value < ci.loc[name].iloc[1], name
    # this draw's 30 group effects have sd 2.05 (truth 3): the interval is judged against
    # the estimate it is built around, which the bootstrap median must reproduce
    sd_hat = simulated.VarCorr().as_frame()["sdcor"].iloc[0]
    lo, hi = ci.loc["sd_(Intercept)|g"]
    assert lo < sd_hat < hi
    np.testing.assert_allclose(reps["sd_(Intercept)|g"].median(), sd_hat, rtol=0.15)
    # bootstrap standard deviations of the fixed effects agree with the model's SEs
    se = np.sqrt(np.diag(simulated.vcov().to_numpy()))
    np.testing.assert_allclose(reps[["(Intercept)", "x"]].std().to_numpy(), se, rtol=0.2)


def test_custom_statistic_and_glmm_refits():
    cbpp = load_dataset("cbpp")
    g = glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp)
    reps = bootMer(g, fun=lambda m: m.fixef()["period2"], nsim=8, seed=1, progress=False)
    assert reps.shape == (8, 1) and list(reps.columns) == ["t1"]
    assert reps["t1"].std() > 0
    refit = g.refit(g.simulate(seed=5).iloc[:, 0])
    assert np.isfinite(float(refit.logLik()))
    with pytest.raises(ValueError, match=r"newresp has shape \(3,\); the model has 56 rows"):
        g.refit([0.1, 0.2, 0.3])


@pytest.fixture(scope="module")
def sleep():
    return lmer("Reaction ~ Days + (Days | Subject)", load_dataset("sleepstudy"))


@pytest.mark.filterwarnings("ignore:bootMer:pylmer.exceptions.PylmerWarning")  # singular refits
def test_named_statistic_keeps_its_names(sleep):
    # as lme4's bootMer(m, fixef): the columns are names(fixef(m)), not t1, t2
    reps = bootMer(sleep, fixef, nsim=10, seed=4, progress=False)
    assert list(reps.columns) == ["(Intercept)", "Days"]
    assert reps.shape == (10, 2) and reps.attrs["failed"] == 0
    assert list(bootMer(sleep, lambda m: m.fixef(), nsim=3, seed=4,
                        progress=False).columns) == ["(Intercept)", "Days"]
    # a dict names its values too; an unnamed array keeps R's t1, t2
    named = bootMer(sleep, lambda m: {"slope": m.fixef()["Days"], "sigma": m.sigma()},
                    nsim=10, seed=4, progress=False)
    assert list(named.columns) == ["slope", "sigma"]
    plain = bootMer(sleep, lambda m: m.fixef().to_numpy(), nsim=10, seed=4, progress=False)
    assert list(plain.columns) == ["t1", "t2"]
    np.testing.assert_array_equal(plain.to_numpy(), reps.to_numpy())
    np.testing.assert_array_equal(named["slope"].to_numpy(), reps["Days"].to_numpy())


def test_refit_warnings_are_summarised_in_one_warning(capfd):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fit itself is singular
        m = lmer("Yield ~ 1 + (1 | Batch)", load_dataset("Dyestuff2"))
    capfd.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reps = bootMer(m, nsim=10, seed=1, progress=False)
    assert capfd.readouterr() == ("", "")  # not one line per refit
    assert len(caught) == 1 and caught[0].category is PylmerWarning
    n = len(reps.attrs["warnings"])
    assert 0 < n < 10
    assert str(caught[0].message) == (
        f"bootMer: {n} of 10 refits gave warnings: "
        f"boundary (singular) fit: see help('isSingular') ({n})")


def test_failed_refits_are_counted_and_summarised(sleep):
    calls = []

    def flaky(fit):  # the model itself is call 0; every other refit fails
        calls.append(1)
        if len(calls) % 2 == 0:
            raise ValueError("no luck")
        return fit.fixef()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reps = bootMer(sleep, flaky, nsim=10, seed=1, progress=False)
    assert reps.attrs["failed"] == 5 and reps.isna().all(axis=1).sum() == 5
    assert list(reps.columns) == ["(Intercept)", "Days"]
    assert [str(w.message) for w in caught] == [
        "bootMer: 5 of 10 refits failed (rows of NaN): ValueError: no luck (5)"]


def test_generator_seed_and_a_statistic_that_returns_nothing(sleep):
    m = sleep
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = bootMer(m, fixef, nsim=4, seed=np.random.default_rng(3), progress=False)
        two = bootMer(m, fixef, nsim=4, seed=np.random.default_rng(3), progress=False)
    pd.testing.assert_frame_equal(one, two)  # the same Generator state, the same table
    assert one.std().gt(0).all()
    with pytest.raises(TypeError, match="returned None"):
        bootMer(m, lambda model: None, nsim=2, seed=1, progress=False)
