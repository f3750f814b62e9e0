"""Kenward-Roger SE, df and p against pbkrtest 0.5.2 via lmerTest 3.1-3 (the
`kenward_roger` entries: REML fits with fewer than 5000 rows)."""

import warnings
from pathlib import Path

import numpy as np
import pytest
from reference_data import load_json, model_at_lme4_estimates, model_ids

from pylmer import glmer, lmer, load_dataset

KR_MODELS = [m for m in model_ids("LMM") if load_json("models", m).get("kenward_roger")]


def test_reference_set():
    assert len(KR_MODELS) == 9


@pytest.mark.parametrize("model_id", KR_MODELS)
def test_kenward_roger_at_lme4_estimates(model_id):
    # the same model as pbkrtest's: agreement to rounding (observed <= 4e-11)
    ref = load_json("models", model_id)
    table = model_at_lme4_estimates(ref).kenward_roger()
    expected = ref["kenward_roger"]
    assert list(table.index) == [r["term"] for r in expected]
    for column, key in [("Std. Error", "SE"), ("df", "df"), ("t value", "t"),
                        ("Pr(>|t|)", "p")]:
        np.testing.assert_allclose(table[column], [r[key] for r in expected], rtol=1e-6,
                                   err_msg=column)


@pytest.mark.parametrize("model_id", KR_MODELS)
def test_kenward_roger_with_our_fit(model_id):
    ref = load_json("models", model_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = lmer(ref["formula"], load_dataset(ref["dataset"]))
    table = m.kenward_roger()
    np.testing.assert_allclose(table["df"], [r["df"] for r in ref["kenward_roger"]], rtol=1e-3)
    np.testing.assert_allclose(table["Std. Error"], [r["SE"] for r in ref["kenward_roger"]],
                               rtol=1e-4)


def test_summary_prints_lmertests_kenward_roger_table():
    m = lmer("Reaction ~ Days + (Days | Subject)", load_dataset("sleepstudy"))
    expected = (Path(__file__).parent / "reference" / "printed" /
                "sleepstudy_reml.kenward_roger.txt").read_text()
    assert str(m.summary(ddf="Kenward-Roger")) + "\n" == expected


def test_kenward_roger_needs_a_reml_lmm():
    sleep = load_dataset("sleepstudy")
    with pytest.raises(ValueError, match="needs a REML fit"):
        lmer("Reaction ~ Days + (1 | Subject)", sleep, REML=False).kenward_roger()
    g = glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", load_dataset("cbpp"))
    with pytest.raises(ValueError, match="for linear mixed models"):
        g.kenward_roger()
