"""Bad input gets a clear exception naming the column, term or value."""

import warnings

import numpy as np
import pandas as pd
import pytest

import pylmer
from pylmer import (
    ConvergenceWarning,
    FormulaSyntaxError,
    GlmerControl,
    LmerControl,
    MissingDataWarning,
    PirlsError,
    ScalingWarning,
    glFormula,
    glmer,
    lFormula,
    lmer,
    load_dataset,
)
from pylmer.exceptions import (
    FormulaError,
    GroupingFactorWarning,
    PylmerWarning,
    RankDeficiencyWarning,
)


@pytest.fixture
def sleep():
    return load_dataset("sleepstudy")


@pytest.fixture
def cbpp():
    return load_dataset("cbpp")


def test_unknown_column_is_named(sleep):
    with pytest.raises(ValueError, match=r"unknown column 'Dayz'.*columns: Reaction, Days"):
        lFormula("Reaction ~ Dayz + (1 | Subject)", sleep)


def test_unknown_grouping_column_is_named(sleep):
    with pytest.raises(ValueError, match="unknown column 'Subj'"):
        lFormula("Reaction ~ Days + (1 | Subj)", sleep)


def test_unknown_column_inside_a_function(sleep):
    with pytest.raises(ValueError, match="unknown column 'dayz'"):
        lFormula("Reaction ~ log(dayz + 1) + (1 | Subject)", sleep)


def test_no_random_effects_points_to_ordinary_models(sleep):
    with pytest.raises(ValueError, match="no random effects terms.*GLM"):
        lFormula("Reaction ~ Days", sleep)


def test_no_response(sleep):
    with pytest.raises(ValueError, match="no response"):
        lFormula("~ Days + (1 | Subject)", sleep)


def test_grouping_factor_with_one_level(sleep):
    data = sleep.assign(one="a")
    with pytest.raises(ValueError, match=r"grouping factors must have > 1 sampled level "
                                         r"\(problems: one\)"):
        lFormula("Reaction ~ Days + (1 | one)", data)


@pytest.mark.parametrize("column", [pd.Categorical(["a"] * 180, categories=["a", "b"]),
                                    ["x"] * 180])
def test_fixed_factor_with_one_level_is_an_error_as_in_r(sleep, column):
    """R: "contrasts can be applied only to factors with 2 or more levels" (an unused
    second level does not count); a constant logical column is only aliased (dropped)."""
    with pytest.raises(ValueError, match=r"factor 'f' in the fixed part has a single level "
                                         r"in the data \('(a|x)'\): contrasts can be applied "
                                         r"only to factors with 2 or more levels"):
        lFormula("Reaction ~ Days + f + (1 | Subject)", sleep.assign(f=column))
    with pytest.warns(RankDeficiencyWarning, match="dropping 1 column / coefficient: bTRUE"):
        lf = lFormula("Reaction ~ Days + b + (1 | Subject)", sleep.assign(b=True))
    assert list(lf.X_colnames) == ["(Intercept)", "Days"]


def test_one_level_check_can_be_relaxed(sleep):
    data = sleep.assign(one="a")
    lf = lFormula("Reaction ~ Days + (1 | one)", data,
                  control=LmerControl(check_nlev_gtr_1="ignore"))
    assert lf.reTrms.Zt.shape == (1, 180)


def test_as_many_levels_as_observations_is_an_error_for_lmer(sleep):
    data = sleep.assign(obs=np.arange(len(sleep)))
    with pytest.raises(ValueError, match=r"number of levels of each grouping factor must be "
                                         r"< number of observations \(problems: obs"):
        lFormula("Reaction ~ Days + (1 | obs)", data)


def test_as_many_levels_as_observations_is_allowed_for_glmer():
    # an observation-level random effect (grouseticks' INDEX) is a common GLMM device
    cbpp = load_dataset("cbpp")
    data = cbpp.assign(obs=np.arange(len(cbpp)))
    lf = glFormula("cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | obs)",
                   data, family="binomial")
    assert lf.reTrms.cnms[0] == ("obs", ["(Intercept)"])
    assert lf.reTrms.Zt.shape == (56 + 15, 56)


def test_more_levels_than_observations_is_an_error_for_glmer_too():
    cbpp = load_dataset("cbpp")
    data = cbpp.assign(obs=pd.Categorical(np.arange(len(cbpp)), categories=np.arange(100)))
    # unused levels are dropped first, as R's model.frame does: 56 levels, allowed
    lf = glFormula("incidence ~ (1 | obs)", data)
    assert len(lf.reTrms.flist["obs"].categories) == 56


def test_nobs_vs_number_of_random_effects(sleep):
    # (Days | Subject) on 2 days per subject: 36 observations, 36 random effects
    data = sleep[sleep["Days"] < 2]
    with pytest.raises(ValueError, match=r"number of observations \(=36\) <= number of random "
                                         r"effects \(=36\) for term \(Days \| Subject\)"):
        lFormula("Reaction ~ Days + (Days | Subject)", data)
    lf = glFormula("Reaction ~ Days + (Days | Subject)", data, family="gaussian")
    assert lf.reTrms.q == 36


def test_check_as_warning(sleep):
    data = sleep[sleep["Subject"].isin(["308", "309", "310"])]
    with pytest.warns(GroupingFactorWarning, match="< 5 sampled levels"):
        lFormula("Reaction ~ Days + (1 | Subject)", data,
                 control=LmerControl(check_nlev_gtreq_5="warning"))


def test_bad_check_action():
    with pytest.raises(ValueError, match="check_nlev_gtr_1='maybe'"):
        LmerControl(check_nlev_gtr_1="maybe")
    with pytest.raises(ValueError, match="check_rankX"):
        GlmerControl(check_rankX="drop")


def test_missing_values_dropped_with_a_count(sleep):
    data = sleep.copy()
    data.loc[[3, 7], "Reaction"] = np.nan
    data.loc[10, "Days"] = None
    with pytest.warns(MissingDataWarning, match=r"dropped 3 of 180 rows with missing values "
                                                r"in: Reaction \(2\), Days \(1\)"):
        lf = lFormula("Reaction ~ Days + (1 | Subject)", data)
    assert lf.n == 177
    assert 3 not in lf.rows and 10 not in lf.rows
    np.testing.assert_array_equal(lf.y, data["Reaction"].to_numpy()[lf.rows])


def test_missing_grouping_value_dropped(sleep):
    data = sleep.copy()
    data["Subject"] = data["Subject"].astype(object)
    data.loc[0, "Subject"] = None
    with pytest.warns(MissingDataWarning, match="Subject"):
        lf = lFormula("Reaction ~ Days + (1 | Subject)", data)
    assert lf.n == 179


def test_missing_values_fail(sleep):
    data = sleep.copy()
    data.loc[5, "Reaction"] = np.nan
    with pytest.raises(ValueError, match=r"missing values in columns used by the model: "
                                         r"Reaction \(1\)"):
        lFormula("Reaction ~ Days + (1 | Subject)", data, na_action="fail")


def test_unused_columns_with_missing_values_do_not_drop_rows(sleep):
    data = sleep.assign(other=np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert lFormula("Reaction ~ Days + (1 | Subject)", data).n == 180


def test_bad_na_action(sleep):
    with pytest.raises(ValueError, match="na_action='drop'"):
        lFormula("Reaction ~ Days + (1 | Subject)", sleep, na_action="drop")


def test_non_numeric_response(sleep):
    with pytest.raises(FormulaError, match="response 'Subject' is a factor, not numeric"):
        lFormula("Subject ~ Days + (1 | Subject)", sleep)


def test_factor_response_with_many_levels_for_glmer():
    """R's binomial()$initialize: the first level is failure, every other level success."""
    cbpp = load_dataset("cbpp")
    lf = glFormula("period ~ size + (1 | herd)", cbpp)
    np.testing.assert_array_equal(lf.y, (cbpp["period"] != "1").to_numpy(dtype=float))


def test_non_finite_response(sleep):
    data = sleep.assign(Reaction=np.where(sleep["Days"] == 0, np.inf, sleep["Reaction"]))
    with pytest.raises(ValueError, match="non-finite"):
        lFormula("Reaction ~ Days + (1 | Subject)", data)


@pytest.mark.parametrize("formula", [
    "Reaction ~ Days + (Days |)",
    "Reaction ~ Days + (| Subject)",
    "Reaction ~ Days + (Days | Subject",
    "Reaction ~ Days + Days | Subject)",
])
def test_malformed_bars(sleep, formula):
    with pytest.raises(FormulaSyntaxError, match="formula"):
        lFormula(formula, sleep)


def test_bad_weights_and_offset(sleep):
    with pytest.raises(ValueError, match="weights='w' is not a column"):
        lFormula("Reaction ~ Days + (1 | Subject)", sleep, weights="w")
    with pytest.raises(ValueError, match="offset must be a column name or a vector of length 180"):
        lFormula("Reaction ~ Days + (1 | Subject)", sleep, offset=np.ones(3))
    with pytest.raises(ValueError, match="weights must be non-negative"):
        lFormula("Reaction ~ Days + (1 | Subject)", sleep, weights=-np.ones(180))


def test_non_finite_offset(sleep):
    with pytest.raises(ValueError, match="offset has non-finite values"):
        lFormula("Reaction ~ Days + offset(log(Days)) + (1 | Subject)", sleep)


def test_unsupported_function_in_response(sleep):
    with pytest.raises(FormulaError, match=r"function besselJ\(\) .* not supported"):
        lFormula("besselJ(Reaction, 0) ~ Days + (1 | Subject)", sleep)


def test_bad_contrasts(sleep):
    cbpp = load_dataset("cbpp")
    with pytest.raises(ValueError, match="'contr.foo' is not supported"):
        glFormula("incidence ~ period + (1 | herd)", cbpp, contrasts={"period": "contr.foo"})
    # R: "variable 'size' is absent, its contrast will be ignored" (a warning, as in R)
    with pytest.warns(PylmerWarning, match="variable 'size' is absent, its contrast will be "
                      "ignored"):
        lf = glFormula("incidence ~ period + (1 | herd)", cbpp, contrasts={"size": "contr.sum"})
    assert lf.X_colnames == ("(Intercept)", "period2", "period3", "period4")


def test_data_must_be_a_frame():
    with pytest.raises(TypeError, match="data must be a pandas DataFrame"):
        lFormula("y ~ (1 | g)", [1, 2, 3])


def test_callers_data_is_not_modified(sleep):
    data = sleep.copy()
    data.loc[0, "Reaction"] = np.nan
    data["flag"] = data["Days"] > 4
    before = data.copy(deep=True)
    dtypes = data.dtypes.copy()
    with pytest.warns(MissingDataWarning):
        lFormula("Reaction ~ Days + flag + I(Days^2) + (Days | Subject)", data,
                 weights=np.ones(180), offset="Days")
    pd.testing.assert_frame_equal(data, before)
    pd.testing.assert_series_equal(data.dtypes, dtypes)


# --------------------------------------------------------------------------- hostile inputs
# Every hostile input gets a pylmer error naming the culprit, or a documented warning; no
# internal error (IndexError, KeyError, LinAlgError, pandas' messages) leaks through.

def test_boolean_and_enum_arguments_are_checked(sleep):
    with pytest.raises(TypeError, match="REML must be True or False, got 'no'"):
        lmer("Reaction ~ Days + (1 | Subject)", sleep, REML="no")
    with pytest.raises(TypeError, match="REML must be True or False"):
        lFormula("Reaction ~ Days + (1 | Subject)", sleep, REML=1)
    with pytest.raises(TypeError, match=r"lmer\(control=...\) takes a LmerControl\(\), got "
                       "GlmerControl"):
        lmer("Reaction ~ Days + (1 | Subject)", sleep, control=GlmerControl())
    with pytest.raises(TypeError, match="restart_edge must be True or False"):
        LmerControl(restart_edge="yes")
    with pytest.raises(ValueError, match="check_scaleX='loud'"):
        LmerControl(check_scaleX="loud")
    m = lmer("Reaction ~ Days + (1 | Subject)", sleep)
    with pytest.raises(TypeError, match="se_fit must be True or False"):
        m.predict(sleep.iloc[:3], se_fit="yes")
    with pytest.raises(ValueError, match="type='probability'"):
        m.predict(sleep.iloc[:3], type="probability")


def test_a_one_level_factor_inside_a_bar_is_an_error_as_in_lme4(sleep):
    with pytest.raises(FormulaError, match=r"factor 'f' in random term \(f \| Subject\) has a "
                       "single level"):
        lmer("Reaction ~ Days + (f | Subject)", sleep.assign(f="a"))


def test_non_integer_poisson_counts_warn(cbpp):
    with pytest.warns(PylmerWarning, match="non-integer x = 0.500000"):
        glmer("y ~ period + (1 | herd)", cbpp.assign(y=cbpp["incidence"] + 0.5),
              family="poisson")


def test_predictors_on_very_different_scales_warn_in_lme4s_words(sleep):
    data = sleep.assign(x=sleep["Days"] * 1e8)
    with pytest.warns(ScalingWarning, match="Some predictor variables are on very different "
                      "scales: consider rescaling"):
        lmer("Reaction ~ x + (1 | Subject)", data)
    with pytest.raises(ValueError, match="very different scales"):
        lmer("Reaction ~ x + (1 | Subject)", data, control=LmerControl(check_scaleX="stop"))


def test_optimizer_return_code_warns_in_lme4s_words(sleep):
    with pytest.warns(ConvergenceWarning, match=r"convergence code 5 from nloptwrap: "
                      r"NLOPT_MAXEVAL_REACHED: Optimization stopped because maxeval \(above\) "
                      "was reached"):
        lmer("Reaction ~ Days + (Days | Subject)", sleep,
             control=LmerControl(optCtrl={"maxeval": 10}))


def test_verbose_prints_each_evaluation_as_lme4(sleep, capsys):
    lmer("Reaction ~ Days + (1 | Subject)", sleep, verbose=1)
    lines = capsys.readouterr().out.splitlines()
    # R: lmer(Reaction ~ Days + (1 | Subject), sleepstudy, verbose = 1), first evaluations
    assert lines[:4] == ["iteration: 1", "\tf(x) = 1789.113872", "iteration: 2",
                         "\tf(x) = 1788.117350"]


@pytest.mark.parametrize("weights, message", [
    (np.zeros(180), "weights are all zero"),
    (np.full(180, np.inf), "weights must be finite"),
])
def test_degenerate_weights_are_named(sleep, weights, message):
    with pytest.raises(FormulaError, match=message):
        lmer("Reaction ~ Days + (1 | Subject)", sleep, weights=weights)


def test_text_weights_and_offset_name_the_argument(sleep):
    data = sleep.assign(w=np.where(sleep["Days"] > 4, "a", "b"))
    with pytest.raises(FormulaError, match="weights='w' is not numeric"):
        lmer("Reaction ~ Days + (1 | Subject)", data, weights="w")
    with pytest.raises(FormulaError, match="offset must be numeric"):
        lmer("Reaction ~ Days + (1 | Subject)", data, offset=data["w"].to_numpy())


def test_infinite_predictor_is_named(sleep):
    data = sleep.assign(x=np.where(sleep["Days"] == 3, np.inf, sleep["Days"]))
    with pytest.raises(FormulaError, match="column.s. x have infinite values"):
        lmer("Reaction ~ x + (1 | Subject)", data)


def test_nan_start_is_named(sleep):
    with pytest.raises(ValueError, match="x0 contains NA"):
        lmer("Reaction ~ Days + (1 | Subject)", sleep, start={"theta": [np.nan]})


def test_badly_scaled_poisson_glmm_fails_with_a_reason(cbpp):
    data = cbpp.assign(x=np.arange(len(cbpp)) * 1e8)
    with pytest.warns(ScalingWarning), pytest.raises(PirlsError, match="rescale"):
        glmer("incidence ~ x + (1 | herd)", data, family="poisson")


def test_complete_separation_is_named():
    rng = np.random.default_rng(1)
    data = pd.DataFrame({"x": rng.standard_normal(200), "g": np.repeat(np.arange(20), 10)})
    data["y"] = (data["x"] > 0).astype(float)
    with pytest.raises(PirlsError, match="completely separated by x"):
        glmer("y ~ x + (1 | g)", data, family="binomial")


def test_duplicated_column_names_are_named(sleep):
    data = pd.concat([sleep, sleep[["Days"]]], axis=1)
    with pytest.raises(FormulaError, match="more than one column named 'Days'"):
        lmer("Reaction ~ Days + (1 | Subject)", data)


def test_predict_with_zero_rows_is_empty(sleep):
    m = lmer("Reaction ~ Days + (1 | Subject)", sleep)
    assert len(m.predict(sleep.iloc[:0])) == 0
    assert len(m.predict(sleep.iloc[:0], re_form="NA")) == 0


@pytest.mark.parametrize("dtype", ["string", "string[pyarrow]", "object", "category"])
def test_text_columns_of_every_dtype_are_factors(sleep, dtype):
    data = sleep.assign(g=pd.array(np.where(sleep["Days"] > 4, "late", "early"), dtype=dtype))
    m = lmer("Reaction ~ g + (1 | Subject)", data)
    assert list(m.fixef().index) == ["(Intercept)", "glate"]


def test_dates_get_a_clear_error(sleep):
    data = sleep.assign(d=pd.Timestamp("2020-01-01") + pd.to_timedelta(sleep["Days"], "D"))
    with pytest.raises(FormulaError, match=r"column 'd' holds dates or times .* convert it "
                       "to numbers"):
        lmer("Reaction ~ d + (1 | Subject)", data)


def test_an_empty_frame_says_it_has_no_rows(sleep):
    with pytest.raises(FormulaError, match="the data has no rows"):
        lmer("Reaction ~ Days + (1 | Subject)", sleep.iloc[:0])


def test_a_models_arrays_are_read_only(sleep):
    m = lmer("Reaction ~ Days + (1 | Subject)", sleep)
    for array in (m.lf.X, m.lf.y, m.lf.reTrms.Zt.data, m.lf.reTrms.theta):
        with pytest.raises(ValueError, match="read-only"):
            array[:] = 0
    # the data are untouched and the model still refits and simulates
    assert np.isfinite(m.refit(m.lf.y).REMLcrit())


def test_predict_se_on_the_response_scale_is_the_delta_method(cbpp):
    g = glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp)
    link = g.predict(cbpp.iloc[:6], re_form="NA", se_fit=True)
    response = g.predict(cbpp.iloc[:6], re_form="NA", se_fit=True, type="response")
    p = response["fit"].to_numpy()
    # logit: d mu / d eta = mu (1 - mu); rtol 1e-12 (the same arithmetic)
    np.testing.assert_allclose(response["se_fit"], link["se_fit"] * p * (1 - p), rtol=1e-12)


def test_missing_values_in_newdata_give_nan_with_a_warning(sleep):
    m = lmer("Reaction ~ Days + (1 | Subject)", sleep)
    new = sleep.iloc[:3].assign(Days=[1.0, np.nan, 3.0])
    with pytest.warns(PylmerWarning, match="1 of 3 rows of newdata have missing values"):
        p = m.predict(new, re_form="NA")
    assert np.isnan(p.iloc[1]) and np.isfinite(p.iloc[[0, 2]]).all()


def test_na_exclude_pads_fitted_and_residuals_as_r(sleep):
    data = sleep.assign(Reaction=np.where(sleep.index.isin([3, 77]), np.nan, sleep["Reaction"]))
    with pytest.warns(MissingDataWarning):
        m = lmer("Reaction ~ Days + (1 | Subject)", data, na_action="exclude")
    for values in (m.fitted(), m.residuals(), m.predict()):
        assert len(values) == 180
        assert np.isnan(values.iloc[[3, 77]]).all()
        assert np.isfinite(values.drop(index=[3, 77])).all()


# --------------------------------------------------------------------------- methods
# A hostile tester's findings on the fitted models' methods: each is a clear error now.

@pytest.fixture(scope="module")
def fits():
    sleep = load_dataset("sleepstudy")
    cbpp = load_dataset("cbpp")
    return {"sleep": sleep, "cbpp": cbpp,
            "m": lmer("Reaction ~ Days + (1 | Subject)", sleep),
            "g": glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp)}


@pytest.mark.parametrize("call, error, message", [
    (lambda f: f["m"].simulate(nsim=10**12), ValueError, "simulate in batches"),
    (lambda f: f["m"].simulate(nsim=2.5), TypeError, "nsim must be a whole number"),
    (lambda f: f["m"].simulate(seed="abc"), TypeError, "seed must be a whole number"),
    (lambda f: f["m"].simulate(seed=-1), ValueError, "seed must be 0 or more"),
    (lambda f: f["m"].simulate(use_u="no"), TypeError, "use_u must be True or False"),
    (lambda f: f["m"].predict(re_form=0), TypeError, "re_form must be None"),
    (lambda f: f["m"].refit(np.r_[np.nan, np.ones(179)]), ValueError,
     "newresp has missing or infinite values"),
    (lambda f: f["m"].refit(np.ones(180)), ValueError, "constant response"),
    (lambda f: f["g"].refit(np.r_[np.nan, np.ones(55)] / 2), ValueError,
     "newresp has missing or infinite values"),
    (lambda f: f["m"].confint(level="0.95"), TypeError, "level must be a number"),
    (lambda f: f["m"].confint(level=1.5), ValueError, "level must be between 0 and 1"),
    (lambda f: f["m"].confint(method="bootstrap"), ValueError, "method='bootstrap'"),
    (lambda f: f["m"].profile(alphamax=0), ValueError, "alphamax must be between 0 and 1"),
    (lambda f: f["m"].profile(npoints=-3), ValueError, "npoints must be 2 or more"),
    (lambda f: f["m"].ranef(condVar="no"), TypeError, "condVar must be True or False"),
    (lambda f: f["m"].residuals(scaled="yes"), TypeError, "scaled must be True or False"),
    (lambda f: pylmer.confint(f["sleep"]), TypeError, "must be a fitted model"),
    (lambda f: pylmer.anova(f["m"], 5), TypeError, "model 2 must be a fitted model"),
    (lambda f: pylmer.bootMer(f["m"], fun=5, nsim=2, progress=False), TypeError,
     "fun must be a function"),
    (lambda f: pylmer.anova(f["m"], lmer("log(Reaction) ~ Days + (1 | Subject)",
                                         f["sleep"], REML=False)),
     ValueError, "not all fitted to the same response"),
    (lambda f: pylmer.anova(f["m"], f["m"], model_names=[1, 2]), ValueError,
     "model_names must be one string"),
    (lambda f: f["g"].simulate(newdata=f["cbpp"].drop(columns="size").iloc[:3], seed=1),
     ValueError, "needs its numbers of trials"),
    (lambda f: f["m"].confint(method="boot", nsim=1, progress=False), ValueError,
     "at least 2 replicates"),
])
def test_bad_method_arguments_are_named(fits, call, error, message):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error, match=message):
            call(fits)


@pytest.mark.parametrize("make, error, message", [
    (lambda s: lmer("cbind(Reaction, Days) ~ 1 + (1 | Subject)", s), ValueError,
     "lmer needs one numeric response"),
    (lambda s: lmer("Reaction ~ Days + (1 | Subject)", s, contrasts="contr.sum"), TypeError,
     "contrasts must be a dict"),
    (lambda s: lmer("Reaction ~ Days + (1 | Subject)",
                    s.assign(Subject=[v if k % 2 else int(v) for k, v in
                                      enumerate(s["Subject"].astype(str))])),
     ValueError, "column 'Subject' mixes text with other values"),
    (lambda s: LmerControl(optCtrl={"xtol_abs": "a"}), TypeError, r"optCtrl\['xtol_abs'\]"),
    (lambda s: LmerControl(optCtrl={"bogus": 1}), ValueError, "unknown option 'bogus'"),
    (lambda s: GlmerControl(tolPwrss=-1), TypeError, "tolPwrss must be a number > 0"),
    (lambda s: GlmerControl(optimizer=("bobyqa", "bobyqa", "x")), ValueError,
     "give one optimizer or one for each"),
    (lambda s: glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                     load_dataset("cbpp"), start={"theta": [1, 2, 3]}), ValueError,
     "start must have 1 theta values"),
    (lambda s: glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                     load_dataset("cbpp"), start={"theta": [1], "fixef": [1, 2]}),
     ValueError, "unknown components"),
    (lambda s: lmer("y ~ x + (1 | g)", pd.DataFrame({"x": np.arange(12.0), "y": np.arange(12.0)
                                                    + 1, "g": np.repeat([0, 1, 2], 4)})),
     ValueError, "not finite"),
    (lambda s: lmer("Reaction ~ Days + (1 | Subject)",
                    s.set_axis(pd.MultiIndex.from_product([["a"], s.columns]), axis=1)),
     ValueError, "flatten them"),
])
def test_bad_inputs_to_fits_are_named(sleep, make, error, message):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error, match=message):
            make(sleep)


@pytest.mark.parametrize("call", [
    lambda: pylmer.drop1("m"),
    lambda: pylmer.mkLmerDevfun(None),
    lambda: __import__("pylmer.plots", fromlist=["x"]).plot_residuals("m"),
    lambda: __import__("pylmer.plots", fromlist=["x"]).dotplot_ranef(None),
])
def test_a_non_model_is_a_type_error(call):
    with pytest.raises(TypeError, match="fitted model|takes what lFormula"):
        call()


def test_grouping_levels_of_new_data_are_spelled_as_in_fitting():
    """A logical grouping column and float categories: new rows equal to training rows
    get their random effects (R matches levels by as.character: TRUE, 2 not 2.0)."""
    rng = np.random.default_rng(3)
    n = 120
    data = pd.DataFrame({"x": rng.standard_normal(n), "site": rng.random(n) > 0.5,
                         "dose": pd.Categorical(rng.choice([0.5, 1.0, 2.0], n))})
    data["y"] = data["x"] + 2.0 * data["site"] + rng.standard_normal(n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = lmer("y ~ x + (1 | site) + (1 | dose)", data)
    assert list(m.ranef()["site"].index) == ["FALSE", "TRUE"]
    assert list(m.ranef()["dose"].index) == ["0.5", "1", "2"]
    # rtol 1e-12: the same arithmetic on the same rows
    np.testing.assert_allclose(m.predict(data.head(6)), m.fitted().head(6), rtol=1e-12)


def test_numbers_that_print_alike_are_one_level_as_in_r(sleep):
    """R's factor() matches on as.character: 0.1 + 0.2 and 0.3 are the level "0.3"."""
    g = np.where(sleep["Subject"].cat.codes % 3 == 0, 0.1 + 0.2,
                 np.where(sleep["Subject"].cat.codes % 3 == 1, 0.3, 1.0))
    m = lmer("Reaction ~ Days + (1 | g)", sleep.assign(g=g))
    assert list(m.ranef()["g"].index) == ["0.3", "1"]


def test_missing_grouping_values_in_newdata_are_named(sleep):
    m = lmer("Reaction ~ Days + (1 | Subject)", sleep)
    new = sleep.head(3).assign(Subject=pd.Series(["308", None, "309"], dtype=object))
    with pytest.raises(ValueError, match="NAs are not allowed in prediction data for grouping "
                       "variables"):
        m.predict(new)
    assert np.isfinite(m.predict(new, allow_new_levels=True)).all()


def test_refit_takes_one_value_per_data_row_as_lme4(sleep):
    data = sleep.assign(Reaction=np.where(sleep.index.isin([3, 77]), np.nan, sleep["Reaction"]))
    with pytest.warns(MissingDataWarning):
        m = lmer("Reaction ~ Days + (1 | Subject)", data)
    again = m.refit(sleep["Reaction"].to_numpy())  # 180 values: the 178 rows used are taken
    np.testing.assert_allclose(again.lf.y, m.lf.y, rtol=0)


def test_a_devfun_names_a_non_finite_theta(sleep):
    devfun = pylmer.mkLmerDevfun(lFormula("Reaction ~ Days + (1 | Subject)", sleep))
    with pytest.raises(ValueError, match=r"theta must be finite numbers, got \[nan\]"):
        devfun(np.array([np.nan]))


def test_an_exact_fit_is_named_without_numpy_warnings():
    data = pd.DataFrame({"x": np.arange(12.0), "y": np.arange(12.0) + 1,
                         "g": np.repeat([0, 1, 2], 4)})
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no numpy warning leaks out
        with pytest.raises(ValueError, match="REML criterion is not finite"):
            lmer("y ~ x + (1 | g)", data)


def test_model_matrix_of_new_data_names_bad_input(sleep):
    lf = lFormula("Reaction ~ poly(Days, 2) + (1 | Subject)", sleep)
    with pytest.raises(TypeError, match="data must be a pandas DataFrame"):
        lf.model_matrix([1, 2, 3])
    with pytest.raises(FormulaError, match="unknown column 'Days'"):
        lf.model_matrix(pd.DataFrame({"x": [1.0]}))
    assert lf.model_matrix(sleep.iloc[:0]).shape == (0, 3)


def test_glmer_modular_steps_name_bad_input(cbpp):
    lf = pylmer.glFormula("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp)
    devfun = pylmer.mkGlmerDevfun(lf, "binomial")
    with pytest.raises(TypeError, match="updateGlmerDevfun takes what mkGlmerDevfun"):
        pylmer.updateGlmerDevfun("devfun", 1)
    with pytest.raises(TypeError, match="nAGQ must be a whole number"):
        pylmer.updateGlmerDevfun(devfun, 1.5)
    with pytest.raises(ValueError, match="at most 100"):
        pylmer.updateGlmerDevfun(devfun, 200)
    with pytest.raises(TypeError, match="optimizeGlmer takes what mkGlmerDevfun"):
        pylmer.optimizeGlmer("devfun")
    with pytest.raises(TypeError, match=r"optimizeGlmer\(control=...\) takes a GlmerControl"):
        pylmer.optimizeGlmer(devfun, control=pylmer.LmerControl())
    with pytest.raises(ValueError, match=r"optimizeGlmer\(stage=2\) with an nAGQ = 0 devfun"):
        pylmer.optimizeGlmer(devfun, stage=2)
    stage2 = pylmer.updateGlmerDevfun(devfun, 1)
    with pytest.raises(ValueError, match="start must have 5 theta and beta values, got 2"):
        pylmer.optimizeGlmer(stage2, stage=2, start=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"x0 contains NA \(theta and beta must be finite"):
        pylmer.optimizeGlmer(stage2, stage=2, start=[np.nan] * 5)
    with pytest.raises(ValueError, match="below the lower bounds of theta and beta"):
        pylmer.optimizeGlmer(stage2, stage=2, start=[-1.0, 0.0, 0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match=r"optimizeGlmer\(stage=1\) with an nAGQ = 1 devfun"):
        pylmer.optimizeGlmer(stage2, stage=1)


def test_update_and_generics_name_a_model_that_is_not_one():
    with pytest.raises(TypeError, match="model must be a fitted model"):
        pylmer.update("m", "~ . - x")
    for generic in (pylmer.isGLMM, pylmer.isLMM, pylmer.isREML):
        with pytest.raises(TypeError, match="needs a fitted pylmer model, got str"):
            generic("m")
