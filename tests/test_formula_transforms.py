"""Stateful transforms (pylmer.formula.transforms) keep their training state: predict, update, refit, simulate and a
pickle round trip encode new data as the training data were."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

from pylmer import FormulaError, lFormula, lmer, load_dataset

FORMULA = ("Reaction ~ ns(Days, df = 3) + I(Days - mean(Days)) + cut(Days, 3) + scale(Days) "
           "+ poly(Days, 2) + (poly(Days, 2) | Subject)")


@pytest.fixture(scope="module")
def sleep():
    return load_dataset("sleepstudy")


@pytest.fixture(scope="module")
def model(sleep):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rank deficiency (the transforms are collinear)
        return lmer(FORMULA, sleep)


def _fixed_part(m, rows):
    return m.lf.X[rows] @ m.beta


def test_new_rows_equal_to_training_rows_predict_the_same(model, sleep):
    rows = [0, 7, 55, 179]
    # rtol 1e-12: the same transforms with the same state, evaluated on fewer rows
    np.testing.assert_allclose(model.predict(sleep.iloc[rows], re_form="NA"),
                               _fixed_part(model, rows), rtol=1e-12)
    np.testing.assert_allclose(model.predict(sleep.iloc[rows]), model.fitted()[rows],
                               rtol=1e-12)


def test_a_single_new_row_uses_the_training_mean_and_breaks(model, sleep):
    """mean(Days) over one new row would be that row's Days; cut(Days, 3) of one value
    would have no range: both must use the training values."""
    row = sleep.iloc[[12]]
    np.testing.assert_allclose(model.predict(row, re_form="NA"), _fixed_part(model, [12]),
                               rtol=1e-12)


def test_pickle_round_trip_predicts_the_same(model, sleep):
    again = pickle.loads(pickle.dumps(model))
    new = pd.DataFrame({"Days": [0.5, 3.0, 8.5], "Subject": ["308", "309", "310"]})
    # exact: the same arrays and state after the round trip
    np.testing.assert_array_equal(again.predict(new), model.predict(new))


def test_update_and_refit_keep_the_model(model, sleep):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = model.update(REML=False)
        again = model.refit(model.lf.y)
    assert ml.lf.X_colnames == model.lf.X_colnames
    np.testing.assert_allclose(ml.lf.X, model.lf.X, rtol=0, atol=0)
    # refit to the same response: the same optimum (rtol 1e-7, the REML criterion guide)
    np.testing.assert_allclose(again.REMLcrit(), model.REMLcrit(), rtol=1e-7)


def test_simulate_on_new_data(model, sleep):
    sims = model.simulate(nsim=2, seed=1, newdata=sleep.iloc[:10])
    assert sims.shape == (10, 2)
    assert np.isfinite(sims.to_numpy()).all()


def test_new_data_outside_the_training_range(sleep):
    """ns() is linear beyond the boundary knots; poly() follows its recurrence."""
    lf = lFormula("Reaction ~ ns(Days, df = 3) + (1 | Subject)", sleep)
    X = lf.model_matrix(pd.DataFrame({"Days": [9.0, 10.0, 11.0, 12.0]}))
    second = np.diff(X[:, 1:], n=2, axis=0)
    np.testing.assert_allclose(second, 0, atol=1e-12)  # linear: zero second differences


def test_unseen_factor_level_in_newdata_is_named(sleep):
    m = lmer("Reaction ~ factor(Days) + (1 | Subject)", sleep)
    with pytest.raises(FormulaError, match="not seen in fitting: 12"):
        m.predict(pd.DataFrame({"Days": [12], "Subject": ["308"]}))


def test_missing_newdata_column_is_named(sleep):
    m = lmer("Reaction ~ Days + (1 | Subject)", sleep)
    with pytest.raises(FormulaError, match="unknown column 'Days'"):
        m.predict(pd.DataFrame({"Subject": ["308"]}), re_form="NA")


def test_logical_predictor_in_newdata_with_one_value(sleep):
    """I(Days > 4) is a factor with levels FALSE, TRUE in new data that hold only one."""
    m = lmer("Reaction ~ I(Days > 4) + (1 | Subject)", sleep)
    new = pd.DataFrame({"Days": [7.0, 8.0], "Subject": ["308", "308"]})
    expected = m.fixef()["(Intercept)"] + m.fixef()["I(Days > 4)TRUE"]
    # rtol 1e-12: one column of ones times the coefficient
    np.testing.assert_allclose(m.predict(new, re_form="NA"), [expected] * 2, rtol=1e-12)
