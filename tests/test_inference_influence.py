"""influence(m): each deletion against lmer's fit of the data without the unit, where the
model's rows, weights, transformed response and ML fitting all matter; lme4's numbers
themselves are in test_diagnostics_reference.py."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import pylmer


def test_each_deletion_is_lmers_fit_without_the_unit_even_with_missing_rows_and_ml():
    data = pylmer.load_dataset("sleepstudy").copy()
    data.loc[[2, 40], "Reaction"] = np.nan  # rows the model never used
    data["w"] = np.linspace(0.5, 2.0, len(data))
    m = pylmer.lmer("log(Reaction) ~ Days + (1 | Subject)", data, REML=False, weights="w")
    infl = pylmer.influence(m)
    assert len(infl.fixef_deleted) == 178 and infl.fixef_deleted.index[2] == "4"
    for label in ("1", "4", "180"):
        row = int(label) - 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            alone = pylmer.lmer("log(Reaction) ~ Days + (1 | Subject)",
                                data.drop(index=row), REML=False, weights="w")
        np.testing.assert_allclose(infl.fixef_deleted.loc[label], alone.fixef(), rtol=1e-5)
        position = list(infl.fixef_deleted.index).index(label)
        np.testing.assert_allclose(infl.vcov_deleted[position], alone.vcov(), rtol=1e-3)


def test_deleting_a_factor_levels_only_row_fails_as_lme4_update_does():
    """lme4's influence() refits with update(m, subset): without the only row of level
    "b" the factor has one level and the refit fails, naming the factor."""
    data = pylmer.load_dataset("sleepstudy").copy()
    data["site"] = "a"
    data.loc[0, "site"] = "b"
    m = pylmer.lmer("Reaction ~ Days + site + (1 | Subject)", data)
    with pytest.raises(pylmer.FormulaError, match="factor 'site'.*single level"):
        pylmer.influence(m)


def test_glmm_deletions_by_herd():
    cbpp = pylmer.load_dataset("cbpp")
    g = pylmer.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp,
                     family="binomial")
    infl = pylmer.influence(g, groups="herd")
    assert infl.fixef_deleted.shape == (15, 4) and np.isfinite(infl.cooks_distance()).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        alone = pylmer.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                             cbpp[cbpp["herd"] != "1"], family="binomial")
    np.testing.assert_allclose(infl.fixef_deleted.loc["1"], alone.fixef(), rtol=1e-3)


def test_bad_arguments():
    m = pylmer.lmer("Reaction ~ Days + (1 | Subject)", pylmer.load_dataset("sleepstudy"))
    with pytest.raises(pylmer.PylmerError, match="groups='Room'"):
        pylmer.influence(m, groups="Room")
    with pytest.raises(pylmer.PylmerError, match="groups=3"):
        pylmer.influence(m, groups=3)
    with pytest.raises(TypeError, match="fitted model"):
        pylmer.influence("Reaction ~ Days")
