"""emmeans, contrast, pairs and ls_means against R (emmeans 1.8.4, pbkrtest 0.5.2,
lmerTest 3.1-3): ``tests/reference/emmeans/cases.json`` from
``scripts/emmeans_reference.R``. pylmer.inference.emmeans, with what it is built on and
reaches through it: the reference grid (.refgrid), the contrasts (.emmcontrast), the
p-value adjustments (.padjust) and lmerTest's ls_means (.lsmeans). Tolerances as the diagnostics references: rtol 1e-4 for
LMM quantities and 1e-3 for GLMM ones and for Kenward-Roger / Satterthwaite df; p-values
atol 1e-4 (LMM) and 1e-3 (GLMM)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from reference_data import load_diagnostics_dataset

import pylmer

CASES = json.loads((Path(__file__).parent / "reference" / "emmeans" / "cases.json")
                   .read_text())["cases"]


def _oats_high():
    data = load_diagnostics_dataset("Oats")
    data["high"] = (data["nitro"] > 0.3).astype(float)
    return data


MODELS = {
    "oats": lambda: pylmer.lmer("yield ~ Variety + nF + (1 | Block/Variety)",
                                load_diagnostics_dataset("Oats")),
    "oats_ml": lambda: pylmer.lmer("yield ~ Variety + nF + (1 | Block/Variety)",
                                   load_diagnostics_dataset("Oats"), REML=False),
    "unbal": lambda: pylmer.lmer("yield ~ Variety * nF + (1 | Block/Variety)",
                                 load_diagnostics_dataset("Oats_unbal")),
    "nitro": lambda: pylmer.lmer("yield ~ Variety + nitro + I(nitro^2) + (1 | Block)",
                                 load_diagnostics_dataset("Oats")),
    "high": lambda: pylmer.lmer("yield ~ Variety + high + (1 | Block)", _oats_high()),
    "sleep": lambda: pylmer.lmer("Reaction ~ Days + (Days | Subject)",
                                 load_diagnostics_dataset("sleepstudy")),
    "cbpp": lambda: pylmer.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                                 load_diagnostics_dataset("cbpp"), family="binomial"),
    "ticks": lambda: pylmer.glmer("TICKS ~ YEAR + cHEIGHT + (1 | BROOD)",
                                  load_diagnostics_dataset("grouseticks"), family="poisson"),
}
_fitted: dict = {}


def model(name):
    if name not in _fitted:
        _fitted[name] = MODELS[name]()
    return _fitted[name]


E, C = pylmer.emmeans, pylmer.contrast
CALLS = {
    "oats_nF_satterthwaite": lambda: E(model("oats"), "nF", lmer_df="satterthwaite"),
    "oats_nF_asymptotic": lambda: E(model("oats"), "nF", lmer_df="asymptotic"),
    "oats_variety_ml_kr": lambda: E(model("oats_ml"), "Variety"),
    "oats_nF_level90": lambda: E(model("oats"), "nF", level=0.9),
    "oats_poly": lambda: C(E(model("oats"), "nF"), "poly"),
    "oats_trt_vs_ctrl": lambda: C(E(model("oats"), "nF"), "trt.vs.ctrl"),
    "oats_trt_vs_ctrl_ref3": lambda: C(E(model("oats"), "nF"), "trt.vs.ctrl", ref="0.4"),
    "oats_pairwise_holm": lambda: pylmer.pairs(E(model("oats"), "nF"), adjust="holm"),
    "oats_pairwise_bonferroni": lambda: pylmer.pairs(E(model("oats"), "nF"),
                                                     adjust="bonferroni"),
    "oats_pairwise_scheffe": lambda: pylmer.pairs(E(model("oats"), "nF"), adjust="scheffe"),
    "oats_pairwise_sidak": lambda: pylmer.pairs(E(model("oats"), "nF"), adjust="sidak"),
    "oats_pairwise_BH": lambda: pylmer.pairs(E(model("oats"), "nF"), adjust="BH"),
    "oats_pairwise_hommel": lambda: pylmer.pairs(E(model("oats"), "nF"), adjust="hommel"),
    "oats_revpairwise": lambda: C(E(model("oats"), "nF"), "revpairwise"),
    "oats_consec_none": lambda: C(E(model("oats"), "nF"), "consec", adjust="none"),
    "oats_eff": lambda: C(E(model("oats"), "nF"), "eff"),
    "unbal_two_specs": lambda: E(model("unbal"), "~ Variety * nF"),
    "unbal_variety_by_nF_pairs": lambda: pylmer.pairs(E(model("unbal"), "~ Variety | nF")),
    "unbal_pairs_collapsed_by": lambda: pylmer.pairs(E(model("unbal"), "nF", by="Variety"),
                                                     by=[], adjust="none"),
    "unbal_weights_proportional": lambda: E(model("unbal"), "nF", weights="proportional"),
    "unbal_weights_cells": lambda: E(model("unbal"), "nF", weights="cells"),
    "nitro_poly_covariate": lambda: E(model("nitro"), "Variety"),
    "nitro_at": lambda: E(model("nitro"), "Variety", at={"nitro": [0, 0.6]}),
    "nitro_at_by": lambda: E(model("nitro"), "nitro", by="Variety", at={"nitro": [0, 0.6]}),
    "high_two_values": lambda: E(model("high"), "Variety"),
    "high_as_spec": lambda: E(model("high"), "high"),
    "sleep_days_at": lambda: E(model("sleep"), "Days", at={"Days": [0, 4.5, 9]}),
    "cbpp_link": lambda: E(model("cbpp"), "period"),
    "cbpp_pairs_response": lambda: pylmer.pairs(E(model("cbpp"), "period", type="response")),
    "ticks_rate": lambda: E(model("ticks"), "YEAR", type="response"),
    "ticks_ratio": lambda: pylmer.pairs(E(model("ticks"), "YEAR", type="response")),
    "ticks_trt_vs_ctrl": lambda: C(E(model("ticks"), "YEAR"), "trt.vs.ctrl"),
    "ls_means_unbal": lambda: pylmer.ls_means(model("unbal")),
    "ls_means_unbal_kr": lambda: pylmer.ls_means(model("unbal"), ddf="Kenward-Roger"),
    "ls_means_unbal_pairwise": lambda: pylmer.ls_means(model("unbal"), which="nF",
                                                       pairwise=True),
    "difflsmeans_variety": lambda: pylmer.difflsmeans(model("unbal"), which="Variety",
                                                      level=0.9),
}
R_NAMES = {"asymp.LCL": "lower.CL", "asymp.UCL": "upper.CL", "rate": "emmean",
           "prob": "emmean"}


def test_every_reference_case_has_a_call():
    assert set(CALLS) == set(CASES)


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_matches_r(case_id):
    case = CASES[case_id]
    with _quiet():
        result = CALLS[case_id]()
    glmm = case_id.startswith(("cbpp", "ticks"))
    for k, column in enumerate(case["colnames"]):
        ours = result[R_NAMES.get(column, column)].to_numpy(dtype=float)
        theirs = np.array([np.inf if row[k] is None else row[k] for row in case["values"]],
                          dtype=float)
        if column in ("p.value", "Pr(>|t|)"):
            np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-3 if glmm else 1e-4,
                                       err_msg=column)
            continue
        rtol = 1e-3 if glmm or column == "df" else 1e-4
        finite = np.isfinite(theirs)
        if not finite.any():  # the df of z tests
            assert np.all(np.isinf(ours)), column
            continue
        scale = np.maximum(np.abs(theirs), 0.01 * np.max(np.abs(theirs[finite])))
        assert np.array_equal(np.isfinite(ours), finite), column
        assert np.all(np.abs(ours[finite] - theirs[finite]) <= rtol * scale[finite]), \
            (column, ours, theirs)
    if "contrast" in case["keys"] and not case_id.startswith("ls_means"):
        assert list(result["contrast"]) == case["keys"]["contrast"]
    if case_id.startswith(("ls_means", "difflsmeans")):
        assert list(result.index) == case["rownames"]


class _quiet:
    def __enter__(self):
        import warnings
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", pylmer.PylmerWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


# --------------------------------------------------------------------------- edges and errors

def test_factor_wrapped_covariate_takes_its_values_and_matches_a_factor_column():
    data = load_diagnostics_dataset("Oats")
    wrapped = pylmer.lmer("yield ~ Variety + factor(nitro) + (1 | Block/Variety)", data)
    emm = pylmer.emmeans(wrapped, "nitro")
    assert list(emm["nitro"]) == [0.0, 0.2, 0.4, 0.6]
    ref = pylmer.emmeans(model("oats"), "nF")
    np.testing.assert_allclose(emm["emmean"], ref["emmean"], rtol=1e-9)
    np.testing.assert_allclose(emm["SE"], ref["SE"], rtol=1e-6)


def test_a_cell_without_data_is_not_estimable_and_says_so():
    data = load_diagnostics_dataset("Oats_unbal")
    data = data[~((data["Variety"] == "Victory") & (data["nF"] == "0"))]
    m = pylmer.lmer("yield ~ Variety * nF + (1 | Block/Variety)", data)
    with pytest.warns(pylmer.PylmerWarning, match="not estimable"):
        emm = pylmer.emmeans(m, "nF", by="Variety")
    missing = (emm["Variety"] == "Victory") & (emm["nF"] == "0")
    assert emm.loc[missing, "emmean"].isna().all()
    assert emm.loc[~missing, "emmean"].notna().all()
    with pytest.warns(pylmer.PylmerWarning, match="not estimable"):
        table = pylmer.pairs(pylmer.emmeans(m, "nF", by="Variety"))
    assert table["estimate"].isna().sum() == 3  # the three pairs with the empty cell


def test_means_of_a_balanced_lmm_are_cell_averages():
    """Equal-weight means of a balanced two-factor additive model are the data's marginal
    means (mathematics, not R)."""
    data = load_diagnostics_dataset("Oats")
    emm = pylmer.emmeans(model("oats"), "nF")
    np.testing.assert_allclose(emm["emmean"], data.groupby("nF", observed=True)["yield"].mean(),
                               rtol=1e-10)


def test_printed_means_carry_rs_notes_and_a_copy_cannot_be_contrasted():
    emm = pylmer.emmeans(model("oats"), "Variety")
    text = repr(emm)
    assert "Results are averaged over the levels of: nF" in text
    assert "Degrees-of-freedom method: kenward-roger" in text
    with pytest.raises(TypeError, match="result of emmeans"):
        pylmer.contrast(emm.iloc[:2])
    with pytest.raises(TypeError, match="result of emmeans"):
        pylmer.contrast(pd.DataFrame(emm))


def test_bad_arguments_name_themselves():
    m = model("oats")
    with pytest.raises(pylmer.PylmerError, match="not variables of the fixed part"):
        pylmer.emmeans(m, "Block")
    with pytest.raises(pylmer.PylmerError, match="type="):
        pylmer.emmeans(m, "nF", type="probability")
    with pytest.raises(pylmer.PylmerError, match="lmer_df="):
        pylmer.emmeans(m, "nF", lmer_df="KR")
    with pytest.raises(pylmer.PylmerError, match="weights="):
        pylmer.emmeans(m, "nF", weights="outer")
    with pytest.raises(pylmer.PylmerError, match="level"):
        pylmer.emmeans(m, "nF", level=95)
    with pytest.raises(pylmer.PylmerError, match=r"at: \['nitro'\]"):
        pylmer.emmeans(m, "nF", at={"nitro": 0.3})
    with pytest.raises(pylmer.PylmerError, match="not levels"):
        pylmer.emmeans(m, "nF", at={"nF": ["0", "0.9"]})
    with pytest.raises(pylmer.PylmerError, match="pairwise ~ A"):
        pylmer.emmeans(m, "pairwise ~ nF")
    with pytest.raises(TypeError, match="fitted model"):
        pylmer.emmeans(load_diagnostics_dataset("Oats"), "nF")
    with pytest.raises(pylmer.PylmerError, match="z tests"):
        pylmer.emmeans(model("cbpp"), "period", lmer_df="satterthwaite")
    emm = pylmer.emmeans(m, "nF")
    with pytest.raises(pylmer.PylmerError, match="method="):
        pylmer.contrast(emm, "dunnett")
    with pytest.raises(pylmer.PylmerError, match="adjust="):
        pylmer.contrast(emm, adjust="mvt")
    with pytest.raises(pylmer.PylmerError, match="4 finite numbers"):
        pylmer.contrast(emm, {"lin": [1, -1]})
    with pytest.raises(pylmer.PylmerError, match="ref="):
        pylmer.contrast(emm, "trt.vs.ctrl", ref="0.9")
    with pytest.raises(pylmer.PylmerError, match="ddf="):
        pylmer.ls_means(model("unbal"), ddf="lme4")
    with pytest.raises(pylmer.PylmerError, match="GLMM"):
        pylmer.ls_means(model("cbpp"))


def test_custom_contrast_equals_the_difference_it_names():
    emm = pylmer.emmeans(model("oats"), "nF")
    custom = pylmer.contrast(emm, {"high - low": [-0.5, -0.5, 0.5, 0.5]})
    est = emm["emmean"].to_numpy()
    assert custom["estimate"].iloc[0] == pytest.approx((est[2] + est[3] - est[0] - est[1]) / 2)
    assert custom["contrast"].iloc[0] == "high - low"


def test_over_the_observation_limit_df_become_asymptotic_with_a_note():
    m = model("oats")
    with pytest.warns(pylmer.PylmerWarning, match="exceeds 10"):
        emm = pylmer.emmeans(m, "nF", pbkrtest_limit=10)
    assert np.all(np.isinf(emm["df"]))
    np.testing.assert_allclose(emm["SE"], pylmer.emmeans(m, "nF", lmer_df="asymptotic")["SE"])


def test_hostile_callers_of_the_grid_and_the_contrasts():
    m = model("sleep")
    one = pylmer.emmeans(m, "Days")  # one mean: the covariate at its mean
    for method in ("pairwise", "poly", "trt.vs.ctrl"):
        with pytest.raises(pylmer.PylmerError, match="has one mean"):
            pylmer.contrast(one, method)
    assert pylmer.contrast(one, {"double": [2.0]})["estimate"].iloc[0] == \
        pytest.approx(2 * one["emmean"].iloc[0])
    with pytest.raises(TypeError, match="fitted model"):
        pylmer.ref_grid("Reaction ~ Days")
    with pytest.raises(TypeError, match="pbkrtest_limit"):
        pylmer.emmeans(m, "Days", pbkrtest_limit="3000")
    with pytest.raises(pylmer.PylmerError, match="not variables of the fixed part"):
        pylmer.emmeans(m, "__import__('os').system('echo')")
    with pytest.raises(pylmer.PylmerError, match="finite"):
        pylmer.emmeans(m, "Days", at={"Days": [np.nan]})
    with pytest.raises(pylmer.PylmerError, match="finite"):
        pylmer.emmeans(m, "Days", at={"Days": np.inf})
    with pytest.raises(pylmer.PylmerError, match="empty"):
        pylmer.emmeans(m, "Days", at={"Days": []})
    with pytest.raises(TypeError, match="dict"):
        pylmer.emmeans(m, "Days", at=[("Days", 1)])
    with pytest.raises(TypeError, match="specs"):
        pylmer.emmeans(m, 3)
    with pytest.raises(pylmer.PylmerError, match="no fixed terms made only of factors"):
        pylmer.ls_means(m)
