"""``m.summary(ddf="Satterthwaite")`` against lmerTest's printed summary.

``tests/reference/printed/<model>.satterthwaite.txt`` holds what R 4.2.2 with lme4 1.1-31
and lmerTest 3.1-3 prints for ``print(summary(as_lmerModLmerTest(m)))``
(``generate_lmertest.R`` there writes it). As in ``test_summary.py``: at lme4's estimates
the text must be identical; with our own fits too, except where our optimum differs a
little from lme4's (``OWN_FIT_NOT_EXACT``), where the layout must be identical and every
number within one unit of its last printed digit or 1e-4 relative.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_summary import _NUMBER, PRINTED, _Models, _numbers_close, assert_same_text, r_text

from pylmer.results.summary import LmerSummary

MODELS = ["sleepstudy_reml", "sleepstudy_ml", "penicillin", "cake", "exam"]
OWN_FIT_NOT_EXACT = {"sleepstudy_ml", "penicillin", "exam"}

R_HINT = ("Use print(summary(as_lmerModLmerTest(m)), correlation=TRUE)  or\n"
          "    vcov(summary(as_lmerModLmerTest(m)))        if you need it")
PY_HINT = ("Use print(m.summary(ddf='Satterthwaite').format(correlation=True))  or\n"
           "    m.vcov()        if you need it")


@pytest.fixture(scope="module")
def models() -> _Models:
    return _Models()


def lmertest_text(model: str) -> str:
    return (PRINTED / f"{model}.satterthwaite.txt").read_text().replace(R_HINT, PY_HINT)


def printed(m) -> str:
    return str(m.summary(ddf="Satterthwaite")) + "\n"


@pytest.mark.parametrize("model", MODELS)
def test_printed_at_lme4_estimates(models, model):
    assert_same_text(printed(models.lme4_estimates(model)), lmertest_text(model))


@pytest.mark.parametrize("model", MODELS)
def test_printed_own_fit(models, model):
    ours, theirs = printed(models.fit(model)), lmertest_text(model)
    if model not in OWN_FIT_NOT_EXACT:
        assert_same_text(ours, theirs)
        return
    assert _NUMBER.sub("#", ours) == _NUMBER.sub("#", theirs), ours
    for a, b in zip(_NUMBER.findall(ours), _NUMBER.findall(theirs)):
        assert len(a) == len(b) and _numbers_close(a, b), (a, b)


def test_default_and_lme4_are_lme4s_summary(models):
    m = models.fit("sleepstudy_reml")
    assert str(m.summary()) + "\n" == r_text("sleepstudy_reml", "summary")
    assert str(m.summary(ddf="lme4")) == str(m.summary())
    assert list(m.summary(ddf="lme4").coefficients.columns) == [
        "Estimate", "Std. Error", "t value"]


def test_summary_parts(models):
    m = models.fit("sleepstudy_reml")
    s = m.summary(ddf="Satterthwaite")
    assert isinstance(s, LmerSummary) and s.ddf == "Satterthwaite"
    assert s.methTitle == "Linear mixed model fit by REML. t-tests use Satterthwaite's method"
    assert s.objClass == "lmerModLmerTest"
    coef = s.coefficients
    assert list(coef.columns) == ["Estimate", "Std. Error", "df", "t value", "Pr(>|t|)"]
    pd.testing.assert_frame_equal(coef, m.satterthwaite())
    # lmerTest: df 17.00, p 3.26e-06 for Days
    np.testing.assert_allclose(coef["df"], [17.0, 17.0], rtol=1e-4)
    np.testing.assert_allclose(coef.loc["Days", "Pr(>|t|)"], 3.263825e-06, rtol=1e-4)
    # the rest is lme4's summary
    assert s.sigma == m.sigma() and s.REMLcrit == m.REMLcrit()
    ml = models.fit("sleepstudy_ml").summary(ddf="Satterthwaite")
    assert ml.methTitle == ("Linear mixed model fit by maximum likelihood . t-tests use "
                            "Satterthwaite's method")


def test_correlation_hint_and_switch(models):
    s = models.lme4_estimates("cake").summary(ddf="Satterthwaite")
    assert PY_HINT in s.format()
    full = s.format(correlation=True)
    assert "Correlation of Fixed Effects:" in full and "Correlation matrix not shown" not in full


def test_bad_ddf(models):
    with pytest.raises(ValueError, match="ddf must be"):
        models.fit("sleepstudy_reml").summary(ddf="Bayes")
