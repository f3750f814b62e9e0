"""The model frame's rows and columns (R's ``model.frame``)."""

from __future__ import annotations

import pandas as pd
import pytest

from pylmer import MissingDataWarning, lFormula, load_dataset


def test_model_frame_holds_the_model_columns_in_formula_order_and_leaves_the_data_alone():
    """With every row complete the frame's columns are taken by position from the data
    (the response, then the variables, then the grouping columns), unused levels dropped
    from the frame's copy only; with all columns used, the frame is the data's columns."""
    cbpp = load_dataset("cbpp")
    data = cbpp.assign(extra=1.0, herd=cbpp.herd.cat.add_categories(["99"]))
    before = data.copy(deep=True)
    lf = lFormula("incidence / size ~ period + (1 | herd)", data)
    expected = data[["incidence", "size", "period", "herd"]].assign(
        herd=data.herd.cat.remove_unused_categories())
    pd.testing.assert_frame_equal(lf.fr.data, expected)
    assert list(lf.reTrms.flist["herd"].categories) == [str(k) for k in range(1, 16)]
    pd.testing.assert_frame_equal(data, before)
    assert "99" in data.herd.cat.categories
    lf_all = lFormula("incidence / size ~ period + (1 | herd)", cbpp)
    pd.testing.assert_frame_equal(lf_all.fr.data, cbpp[list(lf_all.fr.data.columns)])
    assert sorted(lf_all.fr.data.columns) == sorted(cbpp.columns)


def test_model_frame_with_dropped_rows_keeps_the_callers_positions():
    """Rows with a missing value are left out of the frame, which keeps the data's index."""
    sleep = load_dataset("sleepstudy")
    data = sleep.assign(noise=0.0)
    data.loc[[3, 7], "Reaction"] = float("nan")
    with pytest.warns(MissingDataWarning, match="dropped 2 of 180 rows"):
        lf = lFormula("Reaction ~ Days + (1 | Subject)", data)
    assert list(lf.fr.data.columns) == ["Reaction", "Days", "Subject"]
    assert 3 not in lf.fr.data.index and 7 not in lf.fr.data.index
    pd.testing.assert_frame_equal(lf.fr.data, data[["Reaction", "Days", "Subject"]].drop(
        index=[3, 7]))
