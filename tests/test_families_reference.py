"""Negative binomial, Beta and ordinal mixed models against glmmTMB, lme4 and ordinal.

Each record of tests/reference/families/models/ gives the Python call to evaluate and
the accessors to read; the tolerances are the folder README's:

* logLik at least the reference - 1e-4; up to 1e-3 above it is a better optimum (then the
  parameter tolerances are 10 times wider), more is another likelihood and fails;
* fixed effects and thresholds within 2e-3 max(|b|, 0.1 SE);
* random-effect SDs and the estimated dispersion 5e-3 relative, correlations 1e-2;
* fixed-effect SEs and the first ten fitted values 1e-2 relative.
"""

from __future__ import annotations

import functools
import json
import warnings

import numpy as np
import pytest
from rcompare import Check
from reference_data import REFERENCE, load_families_dataset

import pylmer

MODELS = REFERENCE / "families" / "models"
IDS = sorted(p.stem for p in MODELS.glob("*.json") if p.stem != "index")


def _ref(model_id: str) -> dict:
    return json.loads((MODELS / f"{model_id}.json").read_text())


@functools.cache
def _fit(model_id: str):
    ref = _ref(model_id)
    data = load_families_dataset(ref["dataset"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # none of these fits warns in R
        m = eval(ref["pylmer_call"], {"pylmer": pylmer, "data": data})
    return ref, m


def _accessor(ref, m, key):
    return eval(ref["accessors"][key], {"pylmer": pylmer, "m": m})


def test_every_reference_model_is_tested():
    assert len(IDS) == 9


@pytest.mark.parametrize("model_id", IDS)
def test_matches_reference(model_id):
    ref, m = _fit(model_id)
    ck = Check(model_id)
    ll = float(_accessor(ref, m, "logLik"))
    gain = ll - ref["logLik"]
    if gain < -1e-4:
        ck.add("logLik", f"pylmer {ll!r} is {-gain:.3g} below R's {ref['logLik']!r}")
    if gain > 1e-3:
        ck.add("logLik", f"pylmer {ll!r} is {gain:.3g} above R's: another likelihood")
    widen = 10.0 if gain > 1e-4 else 1.0
    assert pylmer.logLik(m).df == ref["logLik_df"]

    fixef = _accessor(ref, m, "fixef")
    se = ref["fixef_se"]
    names = list(ref["fixef"])
    assert list(fixef.index) == names
    scale = np.maximum(np.abs([ref["fixef"][k] for k in names]), [0.1 * se[k] for k in names])
    ck.close("fixef", fixef[names].to_numpy() / scale,
             np.array([ref["fixef"][k] for k in names]) / scale, 0.0, 2e-3 * widen,
             names=names)
    V = _accessor(ref, m, "vcov")
    ck.close("fixef SE", np.sqrt(np.diag(V.loc[names, names].to_numpy())),
             [se[k] for k in names], 1e-2, 0.0, names=names)

    if "thresholds" in ref["accessors"]:
        alpha = _accessor(ref, m, "thresholds")
        tn = list(ref["thresholds"])
        assert list(alpha.index) == tn
        tscale = np.maximum(np.abs([ref["thresholds"][k] for k in tn]),
                            [0.1 * ref["thresholds_se"][k] for k in tn])
        ck.close("thresholds", alpha[tn].to_numpy() / tscale,
                 np.array([ref["thresholds"][k] for k in tn]) / tscale, 0.0, 2e-3 * widen,
                 names=tn)
        ck.close("threshold SE", m.threshold_table().loc[tn, "Std. Error"],
                 [ref["thresholds_se"][k] for k in tn], 1e-2, 0.0, names=tn)

    vc = _accessor(ref, m, "varcorr")
    for row in ref["varcorr"]:
        sel = (vc["grp"] == row["grp"]) & (vc["var1"] == row["var1"])
        sel &= vc["var2"].isna() if row["var2"] is None else vc["var2"] == row["var2"]
        assert sel.sum() == 1, row
        got = float(vc.loc[sel, "sdcor"].iloc[0])
        if row["var2"] is None:
            ck.close(f"sd {row['grp']} {row['var1']}", got, row["sdcor"], 5e-3 * widen, 0.0)
        else:
            ck.close(f"cor {row['grp']}", got, row["sdcor"], 0.0, 1e-2 * widen)

    disp = ref.get("dispersion")
    if disp and disp["estimated"]:
        ck.close("dispersion", float(_accessor(ref, m, "dispersion")), disp["value"],
                 5e-3 * widen, 0.0)
    fitted = np.asarray(_accessor(ref, m, "fitted"), dtype=float)[:10]
    ck.close("fitted[:10]", fitted, ref["fitted_first10"], 1e-2, 0.0)
    ck.finish()


@pytest.mark.parametrize("model_id", [i for i in IDS if i.startswith("glmernb")])
def test_glmer_nb_is_never_below_lme4s_own_fit(model_id):
    """glmer.nb's default fit stops short (7e-4 to 9e-4 in logLik); pylmer's is converged."""
    ref, m = _fit(model_id)
    assert float(pylmer.logLik(m)) >= ref["raw_fit"]["logLik"]
    assert pylmer.getME(m, "glmer.nb.theta") == pytest.approx(ref["dispersion"]["value"],
                                                              rel=5e-3)
    assert m.family.theta == pylmer.getME(m, "glmer.nb.theta")
    assert pylmer.sigma(m) == 1.0  # lme4's sigma() of a glmer.nb fit


@pytest.mark.parametrize("model_id", ["tmb_nbinom2_salamanders", "tmb_nbinom2_nbsim"])
def test_lme4_laplace_at_glmmTMB_estimates(model_id):
    """The two Laplace approximations at the same parameters: lme4's (negative_binomial
    with theta fixed, PIRLS weights) is below glmmTMB's by the recorded amount."""
    ref = _ref(model_id)
    data = load_families_dataset(ref["dataset"])
    theta_nb = ref["dispersion"]["value"]
    lf = pylmer.glFormula(ref["formula"], data, family=pylmer.negative_binomial(theta_nb))
    devfun = pylmer.updateGlmerDevfun(pylmer.mkGlmerDevfun(lf, pylmer.negative_binomial(theta_nb)))
    pars = np.concatenate([list(ref["theta"].values()), list(ref["fixef"].values())])
    lme4_value = devfun(pars)
    expected = ref["contrast_lme4_laplace"]["minus2logLik_lme4_laplace_at_these_estimates"]
    assert lme4_value == pytest.approx(expected, abs=1e-5)
    exact = ref["laplace_check"]["laplace_observed_hessian"]
    lf2 = pylmer.glFormula(ref["formula"], data, family=pylmer.nbinom2(theta=theta_nb))
    exact_devfun = pylmer.updateGlmerDevfun(pylmer.mkGlmerDevfun(
        lf2, pylmer.nbinom2(theta=theta_nb)))
    assert exact_devfun(pars) == pytest.approx(exact, abs=1e-5)
