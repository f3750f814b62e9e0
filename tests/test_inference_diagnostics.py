"""lme4's rstudent.merMod (pylmer.inference.diagnostics, with hatvalues and cooks.distance on
rows dropped by na.exclude) and the residual types of an LMM it is built from, against
R 4.2.2 / lme4 1.1-31 (the numbers below were printed by R; tests never run R). The other
checks after a fit are held to R's numbers by test_diagnostics_reference.py."""

from __future__ import annotations

import numpy as np
import pytest

import pylmer

ROWS = [0, 1, 2, 56, 99, 179]  # R's observations 1, 2, 3, 57, 100, 180
FORMULA = "Reaction ~ Days + (Days | Subject)"
# R: w <- 0.5 + 1.5 * (((1:180) * 0.6180339887) %% 1), weights spread over [0.5, 2]
WEIGHTS = 0.5 + 1.5 * ((np.arange(1, 181) * 0.6180339887) % 1)


@pytest.fixture(scope="module")
def sleep():
    return pylmer.load_dataset("sleepstudy")


@pytest.fixture(scope="module")
def fm(sleep):
    return pylmer.lmer(FORMULA, sleep)


@pytest.fixture(scope="module")
def weighted(sleep):
    return pylmer.lmer(FORMULA, sleep, weights=WEIGHTS)


def test_rstudent_is_lme4s(fm):
    # R: rstudent(lmer(Reaction ~ Days + (Days | Subject), sleepstudy))
    expected = [-0.182653763074, -0.627179564318, -1.76447385118, 5.52700532809,
                0.0353763663093, -0.249021058325]
    r = pylmer.rstudent(fm)
    np.testing.assert_allclose(r.to_numpy()[ROWS], expected, rtol=1e-5)
    h = pylmer.hatvalues(fm).to_numpy()  # for an LMM: r / (sigma sqrt(1 - h))
    np.testing.assert_allclose(r, fm.residuals() / (fm.sigma() * np.sqrt(1 - h)),
                               rtol=1e-12)


def test_rstudent_of_a_glmm_is_lme4s_formula():
    g = pylmer.glmer("TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | LOCATION)",
                     pylmer.load_dataset("grouseticks"), family="poisson")
    with pytest.warns(pylmer.PylmerWarning, match="hat matrix may not make sense"):
        r = pylmer.rstudent(g)
    # R: suppressWarnings(rstudent(g))[c(1, 2, 3, 100, 403)]
    np.testing.assert_allclose(r.to_numpy()[[0, 1, 2, 99, 402]],
                               [-1.254054331, -1.254054331, -1.558927428, -0.8186200869,
                                -1.625865248], rtol=5e-4)


def test_residual_types_of_an_unweighted_lmm_coincide(fm):
    # R: residuals(m, type = t), the same for all four types
    expected = [-4.103656, -14.625218, -42.195579, 8.777359]
    for kind in ("working", "response", "deviance", "pearson"):
        np.testing.assert_allclose(fm.residuals(type=kind).to_numpy()[:4], expected,
                                   rtol=1e-6)
    with pytest.raises(pylmer.PylmerError, match="partial residuals are not implemented"):
        fm.residuals(type="partial")
    with pytest.raises(pylmer.PylmerError, match="type='raw'"):
        fm.residuals(type="raw")


def test_residual_types_with_weights_are_lme4s(weighted):
    """lme4's residuals.lmResp: working = response = y - mu; deviance = pearson =
    sqrt(w) (y - mu). R's numbers are those of R's fit, whose optimum differs from ours
    in the fifth digit of theta (ours is as good: its REML criterion is 4e-8 lower), so
    they agree to 1e-3 absolute."""
    response = weighted.residuals(type="response").to_numpy()
    np.testing.assert_array_equal(weighted.residuals(type="working"), response)
    deviance = weighted.residuals(type="deviance").to_numpy()
    np.testing.assert_allclose(deviance, np.sqrt(WEIGHTS) * response, rtol=1e-14)
    np.testing.assert_array_equal(weighted.residuals(type="pearson"), deviance)
    np.testing.assert_allclose(weighted.residuals(type="deviance", scaled=True),
                               deviance / weighted.sigma(), rtol=1e-14)
    # R: residuals(mw, type = "working"), (type = "deviance"), rstudent(mw)
    r_working = [-2.8593930522, -11.892874192, -37.9751553319, 126.946747006,
                 1.22964330534, -8.58820042693]
    r_deviance = [-3.41580918593, -10.9911133205, -50.6815823974, 116.480543299,
                  1.60566100777, -8.00675005182]
    r_rstudent = [-0.145676132504, -0.428173289501, -2.04994545854, 4.46711874035,
                  0.0742341233861, -0.336432073774]
    np.testing.assert_allclose(response[ROWS], r_working, atol=1e-3)
    np.testing.assert_allclose(deviance[ROWS], r_deviance, atol=1e-3)
    np.testing.assert_allclose(pylmer.rstudent(weighted).to_numpy()[ROWS], r_rstudent,
                               atol=5e-5)


def test_rstudent_refuses_what_is_not_a_model():
    with pytest.raises(TypeError, match="fitted model"):
        pylmer.rstudent("m")


def test_rows_dropped_by_na_exclude_come_back_as_nan():
    data = pylmer.load_dataset("sleepstudy").copy()
    data.loc[[3, 10], "Reaction"] = np.nan
    m = pylmer.lmer("Reaction ~ Days + (Days | Subject)", data, na_action="exclude")
    full = pylmer.lmer("Reaction ~ Days + (Days | Subject)", data.dropna())
    for f in (pylmer.hatvalues, pylmer.cooks_distance, pylmer.rstudent):
        padded, plain = f(m), f(full)
        assert len(padded) == 180 and padded.iloc[[3, 10]].isna().all()
        np.testing.assert_allclose(padded.dropna().to_numpy(), plain.to_numpy(), rtol=1e-10)
