"""The fixed-effects matrix of plain main effects, built without formulaic, is formulaic's:
the same X, R's column names, contrasts, and a spec (built when asked for) that encodes new
data the same way."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from reference_data import load_json, model_ids

from pylmer import lFormula, lmer, load_dataset
from pylmer.design.fixed import (
    _factor_contrasts,
    _main_effects,
    _model_spec,
    fixed_design,
    r_column_names,
)
from pylmer.exceptions import RankDeficiencyWarning
from pylmer.formula.bars import parse_mixed_formula


def _formulaic(formula, frame):
    spec, full = _model_spec(formula, frame, {})
    return full, r_column_names(spec), _factor_contrasts(spec, frame, {})


def _assert_same_as_formulaic(text, frame):
    formula = parse_mixed_formula(text)
    fast = _main_effects(formula, frame)
    assert fast is not None, text
    X, names, contrasts = fast
    X_ref, names_ref, contrasts_ref = _formulaic(formula, frame)
    assert names == names_ref
    assert contrasts == contrasts_ref
    np.testing.assert_array_equal(X, X_ref)


REFERENCE = [m for m in model_ids()
             if _main_effects(parse_mixed_formula(load_json("models", m)["formula"]),
                              load_dataset(load_json("models", m)["dataset"])) is not None]


def test_the_reference_models_use_the_fast_path():
    # sleepstudy, cbpp, VerbAgg, Penicillin, ... (those with transforms or interactions do not)
    assert len(REFERENCE) >= 15


@pytest.mark.parametrize("model_id", REFERENCE)
def test_reference_models(model_id):
    ref = load_json("models", model_id)
    _assert_same_as_formulaic(ref["formula"], load_dataset(ref["dataset"]))


def _frame(rng, n=60):
    return pd.DataFrame({
        "y": rng.standard_normal(n),
        "x": rng.standard_normal(n),
        "k": rng.integers(0, 5, n),  # integer column: numeric
        "f": pd.Categorical(rng.choice(["b", "a", "c"], n), categories=["c", "a", "b"]),
        "h": pd.Categorical(rng.choice(["u", "v"], n), categories=["u", "v", "w"]),  # unused
        "g": np.repeat(np.arange(6), n // 6).astype(str),
        "b": pd.Categorical(rng.choice(["[hi]", "[lo]", "a[b]"], n)),  # R: b[lo], ba[b]
    })


@pytest.mark.parametrize("rhs", ["x", "1 + x", "f", "x + f + k", "(x + f) + h", "h + f",
                                 "1", "k + (f)", "x + b"])
def test_main_effects_equal_formulaic(rhs):
    frame = _frame(np.random.default_rng(7))
    _assert_same_as_formulaic(f"y ~ {rhs} + (1 | g)", frame)


def test_levels_written_in_brackets_keep_them():
    """R names the columns of a factor with levels "[hi]", "a[b]" as f[hi], fa[b]."""
    frame = _frame(np.random.default_rng(7))
    formula = parse_mixed_formula("y ~ b + (1 | g)")
    assert _formulaic(formula, frame)[1] == ["(Intercept)", "b[lo]", "ba[b]"]
    assert _main_effects(formula, frame)[1] == ["(Intercept)", "b[lo]", "ba[b]"]


@pytest.mark.parametrize("rhs", ["0 + x", "x - 1", "x + log(k)", "x:f", "x * f", "I(x^2)",
                                 "x + g", "x + x", "scale(x)", "o", "None", "TRUE", "i",
                                 "`_x`", "`\u00e9`", "`function`", "`a\u0301`"])
def test_everything_else_goes_through_formulaic(rhs):
    """Transforms, interactions, no intercept, strings, ordered or integer-level factors,
    names R backquotes or Python normalizes or reads as constants."""
    frame = _frame(np.random.default_rng(7)).assign(
        o=lambda d: pd.Categorical(d.f.astype(str), ordered=True),
        i=lambda d: pd.Categorical(d.k),  # integer levels
        **{"None": 1.0, "TRUE": 2.0, "_x": 3.0, "\u00e9": 4.0, "function": 5.0,
           "a\u0301": 6.0})
    assert _main_effects(parse_mixed_formula(f"y ~ {rhs} + (1 | g)"), frame) is None


def test_the_spec_is_built_when_asked_and_encodes_new_data():
    frame = _frame(np.random.default_rng(3))
    formula = parse_mixed_formula("y ~ x + f + h + (1 | g)")
    with pytest.warns(RankDeficiencyWarning, match="dropping 1 column / coefficient: hw"):
        design = fixed_design(formula, frame)  # h's level w is unused: its column is zero
    assert design._spec is None  # not built yet
    np.testing.assert_array_equal(design.model_matrix(frame), design.X)
    assert design._spec is not None
    assert set(design.spec.variables) >= {"x", "f", "h"}
    new = frame.iloc[[3, 0, 7]]
    np.testing.assert_array_equal(design.model_matrix(new), design.X[[3, 0, 7]])


def test_predict_and_anova_on_a_fast_path_fit():
    """predict(newdata) and drop1/anova read the spec: the same answers as before."""
    sleep = load_dataset("sleepstudy")
    m = lmer("Reaction ~ Days + (Days | Subject)", sleep)
    assert m.lf.fixed._spec_inputs is not None
    new = sleep.iloc[:5]
    np.testing.assert_allclose(m.predict(newdata=new), m.fitted()[:5], rtol=1e-12)
    lf = lFormula("Reaction ~ Days + (Days | Subject)", sleep)
    assert [str(t) for t in lf.fixed.spec.formula] == ["1", "Days"]
