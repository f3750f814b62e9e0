"""The formula front end's features through its entry points, ``lFormula`` and ``glFormula``
(pylmer.lformula), checked against R's rules (values from R 4.2 / lme4 1.1-31 where noted,
otherwise from mathematics)."""

import numpy as np
import pandas as pd
import pytest

from pylmer import RankDeficiencyWarning, glFormula, lFormula, load_dataset


@pytest.fixture(scope="module")
def sleep():
    return load_dataset("sleepstudy")


@pytest.fixture(scope="module")
def cbpp():
    return load_dataset("cbpp")


def test_I_uses_R_arithmetic(sleep):
    lf = lFormula("Reaction ~ Days + I(Days^2) + I(Days %% 3) + (1 | Subject)", sleep)
    assert lf.X_colnames == ("(Intercept)", "Days", "I(Days^2)", "I(Days%%3)")
    days = sleep["Days"].to_numpy(dtype=float)
    np.testing.assert_array_equal(lf.X[:, 2], days**2)
    np.testing.assert_array_equal(lf.X[:, 3], days % 3)


def test_log_and_scale_names_and_values(sleep):
    lf = lFormula("Reaction ~ log(Days + 1) + scale(Days) + (1 | Subject)", sleep)
    assert lf.X_colnames == ("(Intercept)", "log(Days + 1)", "scale(Days)")
    days = sleep["Days"].to_numpy(dtype=float)
    np.testing.assert_allclose(lf.X[:, 1], np.log(days + 1), rtol=1e-15)
    np.testing.assert_allclose(lf.X[:, 2], (days - days.mean()) / days.std(ddof=1), rtol=1e-14)


def test_stateful_transforms_encode_new_data_like_the_training_data(sleep):
    days = sleep["Days"].to_numpy(dtype=float)
    new = pd.DataFrame({"Days": [0.0, 20.0]})
    for transform, expected in [
        ("scale(Days)", (new["Days"] - days.mean()) / days.std(ddof=1)),
        ("scale(Days, scale = FALSE)", new["Days"] - days.mean()),
        ("I(Days - mean(Days))", new["Days"] - days.mean()),
    ]:
        lf = lFormula(f"Reaction ~ {transform} + (1 | Subject)", sleep)
        np.testing.assert_allclose(lf.model_matrix(new)[:, 1], expected, rtol=1e-14)
    for transform in ("poly(Days, 2)", "ns(Days, df = 3)", "bs(Days, df = 4)",
                      "cut(Days, 3)"):
        lf = lFormula(f"Reaction ~ {transform} + (1 | Subject)", sleep)
        # rows equal to training rows encode identically (the basis is the training one)
        np.testing.assert_allclose(lf.model_matrix(sleep.iloc[[0, 5, 9]]), lf.X[[0, 5, 9]],
                                   rtol=1e-13)


def test_poly_is_orthonormal_and_named_as_R(sleep):
    lf = lFormula("Reaction ~ poly(Days, 2) + (1 | Subject)", sleep)
    assert lf.X_colnames == ("(Intercept)", "poly(Days, 2)1", "poly(Days, 2)2")
    P = lf.X[:, 1:]
    np.testing.assert_allclose(P.T @ P, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(P.sum(axis=0), 0, atol=1e-12)
    # R 4.2: poly(sleepstudy$Days, 2)[1, ]
    np.testing.assert_allclose(P[0], [-0.11677484162422852, 0.12309149097933555], rtol=1e-12)


def test_treatment_and_poly_contrasts(cbpp):
    lf = glFormula("incidence ~ period + (1 | herd)", cbpp)
    assert lf.X_colnames == ("(Intercept)", "period2", "period3", "period4")
    expected = pd.get_dummies(cbpp["period"]).to_numpy(dtype=float)[:, 1:]
    np.testing.assert_array_equal(lf.X[:, 1:], expected)


def test_ordered_factor_gets_contr_poly():
    cake = load_dataset("cake")
    lf = lFormula("angle ~ temperature + (1 | replicate)", cake)
    assert lf.X_colnames[1:] == ("temperature.L", "temperature.Q", "temperature.C",
                                 "temperature^4", "temperature^5")
    # contr.poly(6) columns are orthonormal and orthogonal to the constant
    C = lf.X[:6, 1:]
    np.testing.assert_allclose(C.T @ C, np.eye(5), atol=1e-12)
    # R 4.2: contr.poly(6)[1, ]
    np.testing.assert_allclose(C[0], [-0.597614304667196894, 0.545544725589980906,
                                      -0.372677996249965060, 0.188982236504613654,
                                      -0.062994078834871056], rtol=1e-13)


def test_contrasts_argument(cbpp):
    lf = glFormula("incidence ~ period + (1 | herd)", cbpp, contrasts={"period": "contr.sum"})
    assert lf.X_colnames == ("(Intercept)", "period1", "period2", "period3")
    codes = cbpp["period"].cat.codes.to_numpy()
    coding = np.vstack([np.eye(3), -np.ones(3)])
    np.testing.assert_array_equal(lf.X[:, 1:], coding[codes])
    assert lf.fixed.contrasts == {"period": "contr.sum"}
    helmert = glFormula("incidence ~ period + (1 | herd)", cbpp,
                        contrasts={"period": "contr.helmert"})
    # R: contr.helmert(4)
    coding = np.array([[-1, -1, -1], [1, -1, -1], [0, 2, -1], [0, 0, 3]], dtype=float)
    np.testing.assert_array_equal(helmert.X[:, 1:], coding[codes])


def test_no_intercept_gives_full_dummy_coding(cbpp):
    lf = glFormula("incidence ~ 0 + period + (1 | herd)", cbpp)
    assert lf.X_colnames == ("period1", "period2", "period3", "period4")
    lf = glFormula("incidence ~ period - 1 + (1 | herd)", cbpp)
    assert lf.X_colnames == ("period1", "period2", "period3", "period4")


def test_logical_column_is_a_factor(sleep):
    lf = lFormula("Reaction ~ long + (1 | Subject)", sleep.assign(long=sleep["Days"] > 4))
    assert lf.X_colnames == ("(Intercept)", "longTRUE")
    np.testing.assert_array_equal(lf.X[:, 1], (sleep["Days"] > 4).to_numpy(dtype=float))


def test_rank_deficient_X_drops_the_aliased_column_with_a_message(sleep):
    data = sleep.assign(Days2=2 * sleep["Days"], weeks=sleep["Days"] / 7)
    with pytest.warns(RankDeficiencyWarning,
                      match="rank deficient so dropping 2 columns / coefficients: Days2, weeks"):
        lf = lFormula("Reaction ~ Days + Days2 + weeks + (1 | Subject)", data)
    assert lf.X_colnames == ("(Intercept)", "Days")
    assert lf.fixed.dropped == ("Days2", "weeks")


def test_rank_deficiency_in_a_factor_interaction():
    # a cell that never occurs makes one interaction column all zero: R drops that column
    cake = load_dataset("cake")
    data = cake[~((cake["recipe"] == "C") & (cake["temperature"] == "225"))].copy()
    data["temperature"] = data["temperature"].astype(str)
    with pytest.warns(RankDeficiencyWarning, match="dropping 1 column / coefficient: "
                                                   "recipeC:temperature225"):
        lf = lFormula("angle ~ recipe * temperature + (1 | replicate)", data)
    assert "recipeC:temperature225" not in lf.X_colnames


def test_rank_deficiency_can_stop(sleep):
    from pylmer import LmerControl
    data = sleep.assign(Days2=2 * sleep["Days"])
    with pytest.raises(ValueError, match="rank deficient.*Days2"):
        lFormula("Reaction ~ Days + Days2 + (1 | Subject)", data,
                 control=LmerControl(check_rankX="stop.deficient"))


def test_numeric_grouping_column_is_a_factor_with_numeric_level_order():
    data = pd.DataFrame({"y": np.arange(12.0), "g": [10, 2, 1] * 4})
    lf = lFormula("y ~ (1 | g)", data)
    assert list(lf.reTrms.flist["g"].categories) == ["1", "2", "10"]
    Z = lf.reTrms.Zt.toarray().T
    np.testing.assert_array_equal(Z.argmax(axis=1), [2, 1, 0] * 4)


def test_interaction_grouping_levels_first_variable_slowest():
    data = pd.DataFrame({"y": np.arange(8.0), "a": list("xxyyxxyy"), "b": [2, 1] * 4})
    lf = lFormula("y ~ (1 | a:b)", data)
    assert list(lf.reTrms.flist["a:b"].categories) == ["x:1", "x:2", "y:1", "y:2"]


def test_factor_inside_bars(cbpp):
    lf = glFormula("incidence ~ 1 + (period | herd)", cbpp,
                   control=__import__("pylmer").GlmerControl(check_nobs_vs_nRE="ignore"))
    assert lf.reTrms.cnms == [("herd", ["(Intercept)", "period2", "period3", "period4"])]
    assert len(lf.reTrms.theta) == 10
    lf = glFormula("incidence ~ 1 + (0 + period | herd)", cbpp,
                   control=__import__("pylmer").GlmerControl(check_nobs_vs_nRE="ignore"))
    assert lf.reTrms.cnms == [("herd", ["period1", "period2", "period3", "period4"])]


def test_weights_and_offsets(sleep):
    w = np.linspace(0.5, 2, 180)
    lf = lFormula("Reaction ~ Days + offset(Days / 2) + (1 | Subject)", sleep.assign(w=w),
                  weights="w", offset=np.full(180, 3.0))
    np.testing.assert_array_equal(lf.weights, w)
    np.testing.assert_allclose(lf.offset, sleep["Days"] / 2 + 3.0)
    lf = lFormula("Reaction ~ Days + (1 | Subject)", sleep, weights=w)
    np.testing.assert_array_equal(lf.weights, w)


def test_cbind_response(cbpp):
    lf = glFormula("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp)
    np.testing.assert_array_equal(lf.y[:, 0], cbpp["incidence"])
    np.testing.assert_array_equal(lf.y[:, 1], cbpp["size"] - cbpp["incidence"])


def test_binary_factor_response_first_level_is_failure():
    verb = load_dataset("VerbAgg")
    lf = glFormula("r2 ~ Anger + (1 | id)", verb)
    np.testing.assert_array_equal(lf.y, (verb["r2"] == "Y").to_numpy(dtype=float))


def test_backquoted_names():
    data = pd.DataFrame({"total fruits": np.arange(10.0), "my.x": np.arange(10.0) ** 2,
                         "grp id": list("ababababab")})
    lf = lFormula("`total fruits` ~ `my.x` + log(`my.x` + 1) + (1 | `grp id`)", data)
    assert lf.X_colnames == ("(Intercept)", "my.x", "log(my.x + 1)")
    assert list(lf.reTrms.flist) == ["`grp id`"]


def test_nested_numeric_grouping_columns():
    data = pd.DataFrame({"y": np.arange(12.0), "school": [1, 1, 1, 2, 2, 2] * 2,
                         "cls": [1, 2, 3] * 4})
    lf = lFormula("y ~ (1 | school/cls)", data)
    assert [g for g, _ in lf.reTrms.cnms] == ["cls:school", "school"]
    assert list(lf.reTrms.flist["cls:school"].categories) == [
        "1:1", "1:2", "2:1", "2:2", "3:1", "3:2"]


def test_dict_and_polars_input(sleep):
    as_dict = {c: sleep[c].to_numpy() for c in sleep.columns}
    lf = lFormula("Reaction ~ Days + (Days | Subject)", as_dict)
    ref = lFormula("Reaction ~ Days + (Days | Subject)", sleep)
    np.testing.assert_array_equal(lf.X, ref.X)
    assert (lf.reTrms.Zt != ref.reTrms.Zt).nnz == 0
    import polars

    levels = list(sleep["Subject"].cat.categories)
    frame = polars.DataFrame({
        "Reaction": sleep["Reaction"].to_numpy(), "Days": sleep["Days"].to_numpy(),
        "Subject": polars.Series(sleep["Subject"].astype(str).tolist(),
                                 dtype=polars.Enum(levels)),
    })
    lf = lFormula("Reaction ~ Days + (Days | Subject)", frame)
    assert (lf.reTrms.Zt != ref.reTrms.Zt).nnz == 0
    assert list(lf.reTrms.flist["Subject"].categories) == levels


def test_rows_used_refer_to_the_callers_positions(sleep):
    data = sleep.iloc[::-1].reset_index(drop=True)
    data.loc[0, "Days"] = np.nan
    with pytest.warns(Warning):
        lf = lFormula("Reaction ~ Days + (1 | Subject)", data)
    np.testing.assert_array_equal(lf.rows, np.arange(1, 180))


def test_str_shows_the_structure(sleep):
    text = str(lFormula("Reaction ~ Days + (Days | Subject)", sleep))
    assert "Subject" in text and "18 levels" in text and "Subject.Days.(Intercept)" in text
