"""lmerTest's ``anova(m, type, ddf)`` for one LMM against R 4.2.2, lme4 1.1-31, lmerTest 3.1-3,
pbkrtest 0.5.2 (tests/reference/anova_types/, written by scripts/anova_types_reference.R).

Each reference holds, for one model, the type I, II and III tables with Satterthwaite's
and Kenward-Roger's df, lme4's table (``ddf = "lme4"``), their printed text, and the
hypothesis matrices (``show_tests``). Tolerances: rtol 1e-4 on F, Sum Sq and Mean Sq,
1e-3 on DenDF, atol 1e-4 on p-values, NumDF exact (observed at most 1e-7, 3e-9, 2e-8).
The hypothesis matrices themselves (pylmer.inference.lmertest_contrasts) are checked in
test_inference_lmertest_contrasts.py.
"""

from __future__ import annotations

import json
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from reference_data import load_diagnostics_dataset

import pylmer
from pylmer.inference.lmertest_contrasts import lmertest_contrasts

REFERENCE = Path(__file__).parent / "reference" / "anova_types"
IDS = sorted(p.stem for p in REFERENCE.glob("*.json"))
TABLES = ["type1_Satterthwaite", "type1_Kenward-Roger", "type2_Satterthwaite",
          "type2_Kenward-Roger", "type3_Satterthwaite", "type3_Kenward-Roger", "lme4"]
RTOL = {"Sum Sq": 1e-4, "Mean Sq": 1e-4, "F value": 1e-4, "DenDF": 1e-3}


@cache
def reference(case_id: str) -> dict:
    return json.loads((REFERENCE / f"{case_id}.json").read_text())


@cache
def fit(case_id: str):
    ref = reference(case_id)
    data = pylmer.load_dataset("cake") if ref["dataset"] == "cake" else \
        load_diagnostics_dataset(ref["dataset"])
    return pylmer.lmer(ref["formula"], data)


def ours(case_id: str, key: str):
    m = fit(case_id)
    if key == "lme4":
        return pylmer.anova(m, ddf="lme4")
    kind, ddf = key.split("_")
    return pylmer.anova(m, type=int(kind[-1]), ddf=ddf)


def test_reference_set():
    assert IDS == ["cake_ordered", "oats_unbal_covariate", "oats_unbal_factors",
                   "sleepstudy_slope"]
    assert all(sorted(reference(i)["tables"]) == sorted(TABLES) for i in IDS)


@pytest.mark.parametrize("key", TABLES)
@pytest.mark.parametrize("case_id", IDS)
def test_table_matches_lmertest(case_id, key):
    expected = reference(case_id)["tables"][key]
    table = ours(case_id, key)
    assert list(table.index) == expected["rownames"]
    assert list(table.columns) == expected["colnames"]
    assert table.heading == (expected["heading"],)
    values = np.array(expected["values"], dtype=float)
    for j, column in enumerate(expected["colnames"]):
        got = table[column].to_numpy(dtype=float)
        if column in ("NumDF", "npar"):
            np.testing.assert_array_equal(got, values[:, j])
        elif column == "Pr(>F)":
            np.testing.assert_allclose(got, values[:, j], rtol=0, atol=1e-4, err_msg=column)
        else:
            np.testing.assert_allclose(got, values[:, j], rtol=RTOL[column], err_msg=column)


@pytest.mark.parametrize("key", TABLES)
@pytest.mark.parametrize("case_id", IDS)
def test_table_prints_as_r(case_id, key):
    assert str(ours(case_id, key)) == reference(case_id)["tables"][key]["printed"]


def test_type_and_ddf_spellings_and_the_method():
    m = fit("oats_unbal_factors")
    base = pylmer.anova(m, type=2)
    for spelling in ("2", "II", np.int64(2)):
        assert base.equals(pylmer.anova(m, type=spelling))
    assert base.equals(m.anova(type="II", ddf="Satterthwaite"))
    assert pylmer.anova(m).equals(m.anova())  # type III, Satterthwaite by default
    assert pylmer.anova(m).heading[0].startswith("Type III")


def test_type_ii_is_marginal_for_terms_contained_in_none():
    """Mathematics: a term contained in no other is tested by its own coefficients (type
    II = type III there), and the last term's type I test is the same hypothesis."""
    m = fit("oats_unbal_covariate")  # Variety is not contained in Variety:nitro
    two, three, one = (m.anova(type=k) for k in (2, 3, 1))
    for term in ("Variety", "Variety:nitro"):
        np.testing.assert_allclose(two.loc[term].to_numpy(dtype=float),
                                   three.loc[term].to_numpy(dtype=float), rtol=1e-6)
    np.testing.assert_allclose(one.loc["Variety:nitro", "F value"],
                               three.loc["Variety:nitro", "F value"], rtol=1e-8)
    L = lmertest_contrasts(m, 2)["Variety"]
    np.testing.assert_array_equal(L, np.eye(6)[1:3])


def test_an_aliased_term_gets_a_nan_row_with_a_warning():
    data = pylmer.load_dataset("sleepstudy").assign(D2=lambda d: 2 * d.Days + 1)
    with pytest.warns(pylmer.RankDeficiencyWarning):
        m = pylmer.lmer("Reaction ~ Days + D2 + (1 | Subject)", data)
    for kind in (1, 2, 3):
        with pytest.warns(pylmer.PylmerWarning, match="no coefficient of D2 is estimable"):
            table = m.anova(type=kind)
        assert list(table.index) == ["Days", "D2"] and table.loc["D2"].isna().all()
        assert np.isfinite(table.loc["Days"].to_numpy(dtype=float)).all()


@pytest.mark.parametrize("bad", [0, 4, "IV", "three", 2.5, True, None])
def test_bad_type_is_named(bad):
    m = fit("sleepstudy_slope")
    with pytest.raises(pylmer.PylmerError, match="type must be 1, 2 or 3"):
        m.anova(type=bad)


@pytest.mark.parametrize("bad", ["KR", "satterthwaite", "Kenward", None, 1])
def test_bad_ddf_is_named(bad):
    m = fit("sleepstudy_slope")
    with pytest.raises(pylmer.PylmerError,
                       match="ddf must be 'Satterthwaite', 'Kenward-Roger' or 'lme4'"):
        pylmer.anova(m, ddf=bad) if bad is not None else m.anova(ddf=bad)


def test_kenward_roger_needs_reml():
    sleep = pylmer.load_dataset("sleepstudy")
    m = pylmer.lmer("Reaction ~ Days + (Days | Subject)", sleep, REML=False)
    with pytest.raises(pylmer.PylmerError, match="ddf='Kenward-Roger' needs a REML fit"):
        pylmer.anova(m, ddf="Kenward-Roger")
    assert np.isfinite(m.anova(type=1)["DenDF"]).all()  # Satterthwaite takes ML fits


def test_glmm_is_pointed_to_Anova():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = pylmer.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                         pylmer.load_dataset("cbpp"), family="binomial")
    for kwargs in ({}, {"type": 2}, {"ddf": "lme4"}):
        with pytest.raises(pylmer.PylmerError, match=r"Anova\(m\)"):
            pylmer.anova(g, **kwargs)


def test_type_and_ddf_are_for_one_model():
    m = fit("sleepstudy_slope")
    m0 = pylmer.lmer("Reaction ~ 1 + (Days | Subject)", pylmer.load_dataset("sleepstudy"))
    for name in ("type", "ddf"):
        with pytest.raises(pylmer.PylmerError, match=f"{name}= applies to the F tests of "
                                                     "a single model"):
            pylmer.anova(m0, m, **{name: 2 if name == "type" else "lme4"})
