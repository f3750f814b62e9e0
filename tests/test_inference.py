"""anova() and Wald confint() against lme4 1.1-31 (anova_*.json, confint_wald entries).

The inference package's entry points together (pylmer.inference: anova, with lmerTest's
type III table, confint by Wald and profile, profile and drop1); its other modules have
their own test_inference_<module>.py."""

import warnings

import numpy as np
import pandas as pd
import pytest
from reference_data import load_json

from pylmer import Gamma, PylmerError, PylmerWarning, anova, glmer, lmer, load_dataset
from pylmer.exceptions import RankDeficiencyWarning


def fit(model_id):
    ref = load_json("models", model_id)
    data = load_dataset(ref["dataset"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if ref["model_type"] == "LMM":
            return lmer(ref["formula"], data, REML=ref["REML"])
        return glmer(ref["formula"], data, family=ref["family"], nAGQ=ref["nAGQ"])


@pytest.mark.parametrize("anova_id", ["anova_sleepstudy_ml", "anova_cbpp_period"])
def test_anova_matches_lme4(anova_id):
    ref = load_json("models", anova_id)
    models = [fit(m) for m in ref["models"]]
    # given in the other order: rows are sorted by npar, as lme4 sorts them
    table = anova(*reversed(models), model_names=list(reversed(ref["models"])))
    assert list(table.index) == [row["model"] for row in ref["table"]]
    for column, key in [("npar", "npar"), ("AIC", "AIC"), ("BIC", "BIC"),
                        ("logLik", "logLik"), ("deviance", "deviance")]:
        rtol = 1e-7 if anova_id.startswith("anova_sleep") else 1e-6
        np.testing.assert_allclose(table[column].to_numpy(dtype=float),
                                   [row[key] for row in ref["table"]], rtol=rtol, err_msg=column)
    second = ref["table"][1]
    np.testing.assert_allclose(table["Chisq"].iloc[1], second["Chisq"], rtol=1e-6)
    assert table["Df"].iloc[1] == second["Df"]
    np.testing.assert_allclose(table["Pr(>Chisq)"].iloc[1], second["p"], rtol=1e-6)
    assert np.isnan(table["Chisq"].iloc[0]) and np.isnan(table["Pr(>Chisq)"].iloc[0])


def test_anova_refits_reml_fits_with_ml():
    sleep = load_dataset("sleepstudy")
    m1 = lmer("Reaction ~ Days + (1 | Subject)", sleep)
    m2 = lmer("Reaction ~ Days + (Days | Subject)", sleep)
    with pytest.warns(PylmerWarning, match="refitting model\\(s\\) with ML"):
        table = anova(m1, m2)
    ref = load_json("models", "anova_sleepstudy_ml")
    np.testing.assert_allclose(table["deviance"], [r["deviance"] for r in ref["table"]],
                               rtol=1e-7)


def test_anova_input_errors():
    sleep = load_dataset("sleepstudy")
    m = lmer("Reaction ~ Days + (1 | Subject)", sleep, REML=False)
    with pytest.raises(ValueError, match="a fitted model, or two or more"):
        anova()
    other = lmer("Reaction ~ Days + (1 | Subject)", sleep.iloc[:100], REML=False)
    with pytest.raises(ValueError, match="same number of observations"):
        anova(m, other)


@pytest.mark.parametrize("model_id", ["dyestuff_reml", "dyestuff_ml", "sleepstudy_slope_reml"])
def test_wald_intervals_match_lme4(model_id):
    ref = load_json("models", model_id)
    ci = fit(model_id).confint(method="Wald", level=ref["confint_level"], oldNames=False)
    assert list(ci.index) == [row["parameter"] for row in ref["confint_wald"]]
    for (lower, upper), row in zip(ci.to_numpy(), ref["confint_wald"]):
        if row["lower"] is None:
            assert np.isnan(lower) and np.isnan(upper)  # lme4: NA for variance parameters
        else:
            np.testing.assert_allclose([lower, upper], [row["lower"], row["upper"]], rtol=1e-6)


def test_confint_names_and_levels():
    m = fit("cbpp_laplace")
    ci = m.confint(level=0.9, oldNames=False)
    assert list(ci.columns) == ["5 %", "95 %"]
    assert list(ci.index)[:1] == ["sd_(Intercept)|herd"]  # no sigma row for binomial
    with pytest.raises(ValueError, match="method='bayes'"):
        m.confint(method="bayes")
    gamma = glmer("y ~ x + (1 | g)", load_dataset("gamma_sim"), family=Gamma(link="log"))
    with pytest.raises(NotImplementedError, match="dispersion"):
        gamma.confint(method="profile")


@pytest.mark.parametrize("model_id", ["dyestuff_reml", "dyestuff_ml", "sleepstudy_slope_reml"])
def test_profile_intervals_match_lme4(model_id):
    # lme4 interpolates a spline through profile points; we find the ends exactly on the
    # profile, so agreement is to about 2e-4 (tolerance 1e-3)
    ref = load_json("models", model_id)
    ci = fit(model_id).confint(method="profile", level=ref["confint_level"], oldNames=False)
    assert list(ci.index) == [row["parameter"] for row in ref["confint_profile"]]
    expected = [[row["lower"], row["upper"]] for row in ref["confint_profile"]]
    np.testing.assert_allclose(ci.to_numpy(), expected, rtol=1e-3)


def test_profile_intervals_of_reml_and_ml_fits_agree():
    # lme4 profiles the ML deviance, refitting a REML fit by ML
    reml = fit("dyestuff_reml").confint(method="profile")
    ml = fit("dyestuff_ml").confint(method="profile")
    np.testing.assert_allclose(reml.to_numpy(), ml.to_numpy(), rtol=1e-6)


def test_glmm_profile_intervals_match_lme4():
    # R 4.2.2 / lme4 1.1-31: confint(m, method = "profile", oldNames = FALSE) for cbpp
    expected = [[0.346073203325377, 1.099974648237808],
                [-1.901211954871342, -0.947754005963396],
                [-1.616783255654360, -0.407763067760264],
                [-1.801024365627047, -0.511536071274935],
                [-2.500750563008176, -0.800755315285063]]
    ci = fit("cbpp_laplace").confint(method="profile", oldNames=False)
    assert list(ci.index) == ["sd_(Intercept)|herd", "(Intercept)", "period2", "period3",
                              "period4"]
    np.testing.assert_allclose(ci.to_numpy(), expected, rtol=1e-4)


def test_drop1_matches_lme4():
    # R 4.2.2 / lme4 1.1-31: drop1(m, test = "Chisq")
    from pylmer import drop1

    sleep = load_dataset("sleepstudy")
    m = lmer("Reaction ~ Days + I(Days^2) + (Days | Subject)", sleep, REML=False)
    table = drop1(m, test="Chisq")
    assert list(table.index) == ["<none>", "Days", "I(Days^2)"]
    np.testing.assert_allclose(table["AIC"], [1764.3, 1769.2, 1763.9], atol=0.05)
    np.testing.assert_allclose(table["LRT"].iloc[1:], [6.9029, 1.6577], atol=5e-5)
    np.testing.assert_allclose(table["Pr(Chi)"].iloc[1:], [0.008606, 0.197907], rtol=1e-4)
    np.testing.assert_array_equal(table["npar"].iloc[1:], [1, 1])
    cake = load_dataset("cake")
    with pytest.warns(PylmerWarning, match="refitting"):
        table = drop1(lmer("angle ~ recipe * temperature + (1 | recipe:replicate)", cake),
                      test="Chisq")
    # marginality: only the interaction can go
    assert list(table.index) == ["<none>", "recipe:temperature"]
    assert table["npar"].iloc[1] == 10
    np.testing.assert_allclose(table["LRT"].iloc[1], 10.53, atol=5e-3)
    np.testing.assert_allclose(table["Pr(Chi)"].iloc[1], 0.3953, atol=5e-5)
    g = fit("cbpp_laplace")
    table = drop1(g, test="Chisq")
    np.testing.assert_allclose(table["LRT"].iloc[1], 25.61, atol=5e-3)
    np.testing.assert_allclose(table["Pr(Chi)"].iloc[1], 1.151e-05, rtol=1e-3)


def test_drop1_default_is_lme4s_aic_only():
    """lme4's drop1(m): test = "none", npar and AIC (R 4.2.2 / lme4 1.1-31 on the REML
    sleepstudy fit: AIC 1763.9 for <none>, 1785.5 without Days)."""
    from pylmer import drop1

    m = lmer("Reaction ~ Days + (Days | Subject)", load_dataset("sleepstudy"))
    with pytest.warns(PylmerWarning, match="refitting"):
        table = drop1(m)
    assert list(table.columns) == ["npar", "AIC"]
    np.testing.assert_allclose(table["AIC"], [1763.9, 1785.5], atol=0.05)
    with pytest.raises(PylmerError, match="'none'"):
        drop1(m, test="F")


@pytest.mark.parametrize("formula, dataset, expected", [
    # R 4.2.2, lmerTest 3.1-3: anova(m) (type III, Satterthwaite) as printed
    ("angle ~ recipe * temperature + (1 | recipe:replicate)", "cake", {
        "recipe": (10.1858605, 2, 41.99999981, 0.24879, 0.78089),
        "temperature": (2100.3, 5, 210.00000007, 20.51986, None),
        "recipe:temperature": (205.9777778, 10, 210.00000007, 1.00620, 0.43927)}),
    ("angle ~ recipe + temp + (1 | replicate)", "cake", {
        "recipe": (135.0888889, 2, 252.0, 2.91612, 0.055973),
        "temp": (1966.7050794, 1, 252.0000005, 84.90933, None)}),
    ("Reaction ~ Days + (Days | Subject)", "sleepstudy", {
        "Days": (30030.93902, 1, 16.99998373, 45.85296, 3.2638e-06)}),
    ("Reaction ~ Days + I(Days^2) + log(Days+1) + (1 | Subject)", "sleepstudy", {
        "Days": (669.92, 1, 159, 0.6941, 0.4060),
        "I(Days^2)": (13.00, 1, 159, 0.0135, 0.9078),
        "log(Days + 1)": (90.92, 1, 159, 0.0942, 0.7593)}),
])
def test_type3_anova_matches_lmertest(formula, dataset, expected):
    table = anova(lmer(formula, load_dataset(dataset)))
    assert list(table.index) == list(expected)
    for term, (ss, numdf, dendf, F, p) in expected.items():
        row = table.loc[term]
        # compared at the digits R printed
        np.testing.assert_allclose(row["Sum Sq"], ss, rtol=1e-6, atol=5e-3)
        assert row["NumDF"] == numdf
        np.testing.assert_allclose(row["DenDF"], dendf, rtol=1e-6, atol=5e-5)
        np.testing.assert_allclose(row["F value"], F, rtol=1e-5, atol=5e-5)
        if p is not None:
            np.testing.assert_allclose(row["Pr(>F)"], p, rtol=1e-4, atol=5e-5)


def test_type3_anova_with_an_aliased_term():
    """A term dropped for rank deficiency gets lmerTest's row of NA (R 4.2.2, lmerTest
    3.1-3: Days 162702.65191, 1, 161.000000055, 169.401361333, 6.41260123102e-27)."""
    data = load_dataset("sleepstudy").assign(D2=lambda d: 2 * d.Days + 1)
    with pytest.warns(RankDeficiencyWarning, match="dropping 1 column / coefficient: D2"):
        m = lmer("Reaction ~ Days + D2 + (1 | Subject)", data)
    table = anova(m)
    assert list(table.index) == ["Days", "D2"]
    np.testing.assert_allclose(table.loc["Days"].to_numpy(dtype=float),
                               [162702.65191, 162702.65191, 1, 161.000000055, 169.401361333,
                                6.41260123102e-27], rtol=1e-6)
    assert table.loc["D2"].isna().all()


def test_type3_anova_is_for_lmms():
    with pytest.raises(ValueError, match="for linear mixed models"):
        anova(fit("cbpp_laplace"))


def test_confint_uses_lme4s_default_names():
    ci = fit("sleepstudy_slope_reml").confint(method="Wald")
    assert list(ci.index) == [".sig01", ".sig02", ".sig03", ".sigma", "(Intercept)", "Days"]
    assert list(fit("cbpp_laplace").confint(method="Wald").index)[:2] == [".sig01",
                                                                          "(Intercept)"]


def test_confint_default_method_is_profile_as_in_lme4():
    m = fit("dyestuff_reml")
    pd.testing.assert_frame_equal(m.confint(), m.confint(method="profile"))
    assert np.isfinite(m.confint().to_numpy()).all()  # Wald would leave .sig01 NaN


def test_profile_zeta_is_signed_and_reaches_the_quantile():
    prof = fit("dyestuff_ml").profile(npoints=5)
    assert list(prof["parameter"].unique()) == ["sd_(Intercept)|Batch", "sigma", "(Intercept)"]
    for name, part in prof.groupby("parameter", sort=False):
        part = part.sort_values("value")
        zeta = part["zeta"].to_numpy()
        assert np.all(np.diff(zeta) > 0)  # increasing through 0 at the estimate
        assert zeta[-1] >= 2.575
        # down to the 0.5% quantile, or to the bound (a standard deviation of 0)
        assert zeta[0] <= -2.575 or (name.startswith("sd_") and part["value"].iloc[0] == 0)
    # the 95% interval ends are where zeta crosses -1.96 and 1.96
    ci = fit("dyestuff_ml").confint(method="profile", oldNames=False)
    beta = prof[prof["parameter"] == "(Intercept)"].sort_values("value")
    lo = np.interp(-1.959964, beta["zeta"], beta["value"])
    np.testing.assert_allclose(lo, ci.loc["(Intercept)"].iloc[0], rtol=1e-3)
