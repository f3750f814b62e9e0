"""glmer's stage 2 against lme4 1.1-31 (pylmer.neldermead, lme4's Nelder_Mead, alone:
test_neldermead.py).

The models (tests/reference/stage2, made by scripts/stage2_reference.R) are Gamma(log) GLMMs
with a correlated random slope and inverse-Gaussian(log) GLMMs. Their Laplace deviance, as
lme4 computes it, jumps by up to 1e-2 where PIRLS changes its number of iterations, and on
several of them lme4's Nelder-Mead ends next to such a jump, with a convergence warning.
Only lme4's own path ends there: from lme4's stage-1 estimates, pylmer's deviance and
pylmer.neldermead repeat lme4's stage 2 evaluation for evaluation.

Tolerances: -2 logLik at most lme4's + 1e-6 (the issue's criterion); convergence messages
of the same kinds as lme4's.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from reference_data import REFERENCE, load_json

from pylmer import (
    ConvergenceWarning,
    Gamma,
    GlmerControl,
    InverseGaussian,
    glFormula,
    glmer,
    mkGlmerDevfun,
    updateGlmerDevfun,
)
from pylmer.neldermead import nelder_mead

MODELS = load_json("stage2", "index")["models"]


def stage2_is_lme4s() -> bool:
    """Whether glmer's default stage 2 is no longer BOBYQA alone."""
    return GlmerControl().optimizer_stages()[1] != "bobyqa"


# PENDING stage-2 wiring: these models fail while glmer's default stage 2 is BOBYQA (it
# ends 3e-3 to 3e-2 above lme4's deviance, where its gradient check passes, so pylmer says
# nothing while lme4 warns). They pass once optimizeGlmer runs pylmer.neldermead for them.
# strict: the marker fails the test as soon as it is not needed any more; remove it then.
PENDING = pytest.mark.xfail(not stage2_is_lme4s(), strict=True,
                            reason="PENDING: glmer's stage 2 is not lme4's Nelder_Mead yet")
# Stage 1: nlopt's BOBYQA stops at theta 0.6553 (nAGQ = 0 deviance 1157.0300), lme4's
# minqa BOBYQA at 0.6427 (1157.0072); stage 2 starts from there and from the linear
# predictor there, and ends 9e-4 above lme4's whatever its optimizer.
STAGE1 = pytest.mark.xfail(strict=True, reason="stage 1 (nlopt's BOBYQA) ends elsewhere than "
                                               "lme4's (minqa's BOBYQA)")
MARKS = {"gamma_slope_2": PENDING, "gamma_slope_25": PENDING, "invgauss_15": PENDING,
         "invgauss_27": PENDING, "invgauss_202": STAGE1}


def marked(ids, marks=MARKS):
    return [pytest.param(i, marks=marks[i]) if i in marks else i for i in ids]


def family_of(ref):
    if ref["family"] == "Gamma":
        return Gamma(link=ref["link"])
    return InverseGaussian(link=ref["link"])


def data_of(ref) -> pd.DataFrame:
    data = pd.read_csv(REFERENCE / "stage2" / ref["data_file"])
    data["g"] = pd.Categorical(data["g"])
    return data


def message_kinds(messages) -> set[str]:
    """lme4's convergence messages by kind (the numbers in them set aside)."""
    kinds = {"max|grad|": "gradient", "unable to evaluate scaled gradient": "scaled gradient",
             "negative eigenvalues": "negative eigenvalues", "numerically singular":
             "singular Hessian", "very large eigenvalue": "large eigenvalue",
             "large eigenvalue ratio": "eigenvalue ratio"}
    return {kind for m in messages for text, kind in kinds.items() if text in m}


_FITS: dict = {}


def fit(model_id):
    """glmer with default controls (once per model), and its convergence warnings."""
    if model_id not in _FITS:
        ref = load_json("stage2", model_id)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            m = glmer(ref["formula"], data_of(ref), family=family_of(ref))
        _FITS[model_id] = ref, m, [str(w.message) for w in caught
                                   if issubclass(w.category, ConvergenceWarning)]
    return _FITS[model_id]


def test_every_stage2_model_is_covered():
    assert MODELS == ["gamma_slope_101", "gamma_slope_2", "gamma_slope_25", "invgauss_101",
                      "invgauss_15", "invgauss_27", "invgauss_202"]


# --------------------------------------------------------------- glmer, default controls

@pytest.mark.parametrize("model_id", marked(MODELS))
def test_deviance_at_most_lme4s(model_id):
    ref, m, _ = fit(model_id)
    assert -2 * float(m.logLik()) <= ref["minus2logLik"] + 1e-6


@pytest.mark.parametrize("model_id", marked(MODELS, {k: v for k, v in MARKS.items()
                                                     if v is PENDING}))
def test_convergence_messages_of_lme4s_kinds(model_id):
    ref, _, messages = fit(model_id)
    assert message_kinds(messages) == message_kinds(ref["lme4_messages"]), messages


# ------------------------------------------------- lme4's stage 2 from lme4's stage 1

@pytest.mark.parametrize("model_id", MODELS)
def test_nelder_mead_repeats_lme4s_stage2(model_id):
    """From lme4's stage-1 estimates and steps, every evaluation is lme4's: the same count,
    the same optimum to the last bit, and the same deviance there."""
    ref = load_json("stage2", model_id)
    family = family_of(ref)
    devfun = mkGlmerDevfun(glFormula(ref["formula"], data_of(ref), family=family), family)
    start = np.asarray(ref["stage2"]["start"], dtype=float)
    ntheta = len(ref["theta"])
    devfun(start[:ntheta])  # PIRLS at stage 1's theta, whose linear predictor stage 2 uses
    devfun = updateGlmerDevfun(devfun, 1)
    np.testing.assert_allclose(devfun.lp0, ref["stage2"]["lp0"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(devfun.state.beta, start[ntheta:], rtol=1e-12, atol=1e-12)
    result = nelder_mead(devfun, start, devfun.lower, xst=ref["stage2"]["xst"])
    assert result.feval == ref["feval"]
    assert result.code == 3 and result.convergence == 0
    np.testing.assert_allclose(result.par, ref["optinfo_val"], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(result.fval, ref["minus2logLik"], rtol=1e-13)
