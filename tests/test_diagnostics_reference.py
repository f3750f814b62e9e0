"""The checks after a fit against R (tests/reference/diagnostics, its README): lme4's
hatvalues and cooks.distance, performance 0.10.2's check_overdispersion, r2_nakagawa and
icc, and AIC / BIC tables. Each case runs its own ``pylmer_code`` and compares the result
with R's numbers at the case's tolerance:
``|ours - R| <= atol + rtol * max(|R|, floor * max|R| over the column)``."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from reference_data import load_diagnostics_dataset
from scipy import stats

import pylmer

CASES = Path(__file__).parent / "reference" / "diagnostics" / "cases"
# the functions built so far; the other cases of the folder wait for theirs
BUILT = {"hatvalues", "cooks_distance", "check_overdispersion", "r2_nakagawa", "icc",
         "AIC", "ranova", "lmList", "Anova", "influence", "allFit", "anova",
         "simulate_residuals", "emmeans", "contrast"}


def _cases():
    out = []
    for path in sorted(CASES.glob("*.json")):
        case = json.loads(path.read_text())
        if case["function"].split(".")[-1].split("(")[0] in BUILT or \
                case["id"].startswith("AIC_BIC"):
            out.append(pytest.param(case, id=case["id"]))
    return out


def _tolerance(case, column):
    tol = case["tolerance"]
    spec = dict(tol["default"])
    spec.update((tol.get("columns") or {}).get(column, {}))
    return spec["rtol"], spec["atol"], tol.get("floor") or 0.0


def _close(ours, theirs, case, column):
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    assert ours.shape == theirs.shape, (column, ours.shape, theirs.shape)
    rtol, atol, floor = _tolerance(case, column)
    scale = np.maximum(np.abs(theirs), floor * np.nanmax(np.abs(theirs)))
    bad = np.abs(ours - theirs) > atol + rtol * scale
    assert not bad.any(), (column, ours[bad][:5], theirs[bad][:5])


def _lookup(result, name, aliases):
    keys = {re.sub(r"[^a-z0-9]", "", str(k).lower()): k for k in result}
    for candidate in [name, *aliases.get(name, [])]:
        if candidate in result:
            return result[candidate]
        key = re.sub(r"[^a-z0-9]", "", candidate.lower())
        if key in keys:
            return result[keys[key]]
    raise AssertionError(f"no {name!r} in {list(result.keys())}")


def _compare(result, expected, case):
    kind = expected["type"]
    if kind == "vector":
        _close(np.asarray(result, dtype=float), expected["values"], case, None)
    elif kind == "scalars":
        for name, value in expected["values"].items():
            _close(_lookup(result, name, case.get("aliases") or {}), value, case, name)
    elif kind == "table":
        frame = _rows_as_r(pd.DataFrame(result), expected)
        values = np.array([[np.inf if v == "Inf" else np.nan if v is None else v for v in row]
                           for row in expected["values"]], dtype=float)
        for c, name in enumerate(expected["colnames"]):
            column = _lookup(frame, name, case.get("aliases") or {})
            _close(column.to_numpy(dtype=float), values[:, c], case, name)
    elif kind == "allfit":  # the README's check: >= 2 fits, each at lme4's optimum
        objectives = result.summary()["objective"].dropna()
        assert len(objectives) >= case["check"]["min_optimizers"]
        np.testing.assert_allclose(objectives, expected["default_objective"],
                                   rtol=0, atol=case["check"]["abs_tol"])
    elif kind == "components":
        for name, part in expected["components"].items():
            _compare(result[name], part, case)
    elif kind == "residuals_uniform":
        _check_uniform_residuals(result, case["check"])
    elif kind == "residuals_overdispersed":
        _check_overdispersed_residuals(result, case["check"])
    else:  # pragma: no cover - a kind of the folder not built here
        raise AssertionError(kind)


def _rows_as_r(frame: pd.DataFrame, expected) -> pd.DataFrame:
    """The README's row matching: by the key columns (the emmeans grid, the contrasts'
    by variables) when the result has them, else by R's row names, else by position."""
    keys = {k: v for k, v in (expected.get("keys") or {}).items() if k in frame.columns
            and k != "contrast"}
    if "contrast" in (expected.get("keys") or {}):  # labels differ in form: by position
        assert len(frame) == len(expected["rownames"])
        for k, v in keys.items():
            assert list(frame[k].astype(str)) == list(map(str, v)), k
        return frame
    if keys:
        wanted = pd.MultiIndex.from_arrays([list(map(str, v)) for v in keys.values()])
        have = pd.MultiIndex.from_arrays([frame[k].astype(str).to_numpy() for k in keys])
        assert set(wanted) <= set(have), (list(wanted), list(have))
        return frame.set_axis(have).loc[wanted]
    names = list(frame.index.astype(str))
    if set(expected["rownames"]) <= set(names) and not isinstance(frame.index, pd.RangeIndex):
        return frame.set_axis(names).loc[expected["rownames"]]
    assert len(frame) == len(expected["rownames"])
    return frame


def _scaled_residuals(result, n):
    values = np.asarray(getattr(result, "scaled_residuals", result), dtype=float)
    assert values.shape == (n,) and np.all((values >= 0) & (values <= 1))
    return values


def _check_uniform_residuals(results, check):
    """The README's check: each set of residuals passes a KS test against U(0, 1)."""
    assert len(results) == check["n_sets"]
    for result in results:
        r = _scaled_residuals(result, check["n"])
        assert stats.kstest(r, "uniform").pvalue > check["ks_p_min"]


def _check_overdispersed_residuals(result, check):
    """The README's check: the residuals' variance exceeds the uniform's 1/12 by more than
    z_min of its standard error sqrt(1 / (180 n))."""
    r = _scaled_residuals(result, check["n"])
    z = (np.var(r, ddof=1) - 1 / 12) / np.sqrt(1 / (180 * check["n"]))
    assert z > check["z_min"]


@pytest.mark.parametrize("case", _cases())
def test_matches_r(case):
    data = load_diagnostics_dataset(case["dataset"])
    namespace = {"pylmer": pylmer, "data": data, "np": np, "pd": pd}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # R's own warnings are in the case (r_warnings)
        exec(case["pylmer_code"], namespace)  # noqa: S102 - the case's own test code
    _compare(namespace["result"], case["expected"], case)


def test_every_case_is_built():
    assert len(_cases()) == len(list(CASES.glob("*.json")))


def test_aic_of_one_model_is_a_number_and_names_are_checked():
    sleep = pylmer.load_dataset("sleepstudy")
    m = pylmer.lmer("Reaction ~ Days + (1 | Subject)", sleep)
    assert pylmer.AIC(m) == pytest.approx(m.AIC())
    table = pylmer.BIC(m, m, model_names=["a", "b"])
    assert list(table.index) == ["a", "b"] and list(table.columns) == ["df", "BIC"]
    with pytest.raises(pylmer.PylmerError, match="2 names for 3 models"):
        pylmer.AIC(m, m, m, model_names=["a", "b"])
    with pytest.raises(TypeError):
        pylmer.AIC()
    with pytest.raises(TypeError):
        pylmer.AIC(m, "not a model")


def test_overdispersion_flags_overdispersed_counts():
    """Mathematics, not R: counts with observation-level extra variation give a ratio well
    above 1 and a small p; counts simulated from the fitted Poisson model do not."""
    rng = np.random.default_rng(4)
    g = np.repeat(np.arange(40), 10)
    b = rng.normal(0, 0.5, 40)[g]
    over = rng.poisson(np.exp(1.0 + b + rng.normal(0, 0.8, 400)))
    fine = rng.poisson(np.exp(1.0 + b))
    data = pd.DataFrame({"g": pd.Categorical(g), "over": over, "fine": fine})
    m_over = pylmer.glmer("over ~ 1 + (1 | g)", data, family="poisson")
    m_fine = pylmer.glmer("fine ~ 1 + (1 | g)", data, family="poisson")
    o, f = pylmer.check_overdispersion(m_over), pylmer.check_overdispersion(m_fine)
    assert o["ratio"] > 1.5 and o["p"] < 1e-6
    assert 0.7 < f["ratio"] < 1.3 and f["p"] > 0.01
    with pytest.raises(pylmer.PylmerError, match="GLMMs"):
        pylmer.check_overdispersion(pylmer.lmer("Reaction ~ Days + (1 | Subject)",
                                                pylmer.load_dataset("sleepstudy")))


def test_hatvalues_are_the_derivatives_of_the_fitted_values():
    """Mathematics: at a fixed theta the fitted values (random effects included) are linear
    in y, fitted = H y, so h_i is the change of fitted value i when y_i moves by 1."""
    sleep = pylmer.load_dataset("sleepstudy")
    formula = "Reaction ~ Days + (Days | Subject)"
    m = pylmer.lmer(formula, sleep)
    h = pylmer.hatvalues(m).to_numpy()

    def fitted_at_theta(y):
        lf = pylmer.lFormula(formula, sleep.assign(Reaction=y))
        devfun = pylmer.mkLmerDevfun(lf)
        opt = pylmer.OptInfo("fixed", m.theta, devfun(m.theta), 0, 0, "")
        return pylmer.mkMerMod(lf, devfun, opt).fitted().to_numpy()

    y = sleep["Reaction"].to_numpy()
    base = fitted_at_theta(y)
    for i in (0, 57, 179):
        bumped = y.copy()
        bumped[i] += 1.0
        assert fitted_at_theta(bumped)[i] - base[i] == pytest.approx(h[i], rel=1e-8)
    assert np.all((h > 0) & (h < 1))


def test_ranova_removes_intercept_terms_and_refits_with_the_same_criterion():
    """Away from the references: Penicillin's two intercept terms are each removed; the
    LRT is twice the difference of the REML log-likelihoods of the fit and the refit."""
    pen = pylmer.load_dataset("Penicillin")
    m = pylmer.lmer("diameter ~ 1 + (1 | plate) + (1 | sample)", pen)
    table = pylmer.ranova(m)
    assert list(table.index) == ["<none>", "(1 | plate)", "(1 | sample)"]
    for label, kept in [("(1 | plate)", "(1 | sample)"), ("(1 | sample)", "(1 | plate)")]:
        r = pylmer.lmer(f"diameter ~ 1 + {kept}", pen)
        lrt = 2 * (float(m.logLik()) - float(r.logLik()))
        assert table.loc[label, "LRT"] == pytest.approx(lrt, rel=1e-8)
        assert table.loc[label, "Df"] == 1 and table.loc[label, "npar"] == 3
    with pytest.raises(pylmer.PylmerError, match="no random effects"):
        pylmer.ranova(pylmer.lmer("diameter ~ 1 + (1 | plate)", pen))


def test_lmlist_is_least_squares_per_group_with_na_where_a_group_cannot_say():
    sleep = pylmer.load_dataset("sleepstudy")
    data = sleep.assign(late=np.where(sleep["Days"] >= 5, "yes", "no"))
    data.loc[(data["Subject"] == "308") & (data["late"] == "yes"), "Reaction"] = np.nan
    table = pylmer.lmList("Reaction ~ Days + late | Subject", data)
    assert list(table.columns) == ["(Intercept)", "Days", "lateyes"]
    assert np.isnan(table.loc["308", "lateyes"])  # no late rows left for 308
    rows = data[(data["Subject"] == "309")]
    X = np.column_stack([np.ones(10), rows["Days"], rows["late"] == "yes"])
    coef = np.linalg.lstsq(X, rows["Reaction"].to_numpy(), rcond=None)[0]
    np.testing.assert_allclose(table.loc["309"].to_numpy(), coef, rtol=1e-10)
    with pytest.raises(pylmer.PylmerError, match="y ~ x \\| g"):
        pylmer.lmList("Reaction ~ Days", data)


def test_anova_type2_equals_type3_for_a_term_no_other_contains():
    """car's type 2 and type 3 tests coincide for a term contained in no other (the
    interaction, and every term of an additive model), and a single coefficient's test
    is its squared z value."""
    cake = pylmer.load_dataset("cake")
    m = pylmer.lmer("angle ~ recipe * temperature + (1 | recipe:replicate)", cake)
    two, three = pylmer.Anova(m, type=2), pylmer.Anova(m, type="III")
    assert two.loc["recipe:temperature", "Chisq"] == pytest.approx(
        three.loc["recipe:temperature", "Chisq"], rel=1e-10)
    sleep = pylmer.load_dataset("sleepstudy")
    s = pylmer.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    z = s.fixef()["Days"] / np.sqrt(s.vcov().loc["Days", "Days"])
    assert pylmer.Anova(s).loc["Days", "Chisq"] == pytest.approx(z**2, rel=1e-12)
    with pytest.raises(pylmer.PylmerError, match="type=4"):
        pylmer.Anova(s, type=4)


def test_influence_deletes_exactly():
    """Each deleted fit is lmer's fit of the data without that unit."""
    sleep = pylmer.load_dataset("sleepstudy")
    m = pylmer.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    infl = pylmer.influence(m, groups="Subject")
    assert list(infl.fixef_deleted.index) == list(sleep["Subject"].cat.categories)
    alone = pylmer.lmer("Reaction ~ Days + (Days | Subject)",
                        sleep[sleep["Subject"] != "335"])
    np.testing.assert_allclose(infl.fixef_deleted.loc["335"], alone.fixef(), rtol=1e-5)
    np.testing.assert_allclose(infl.dfbeta().loc["335"], alone.fixef() - m.fixef(),
                               rtol=1e-4)
    with pytest.raises(pylmer.PylmerError, match="not a column"):
        pylmer.influence(m, groups="Patient")


@pytest.mark.parametrize("function", [
    pylmer.hatvalues, pylmer.cooks_distance, pylmer.check_overdispersion,
    pylmer.r2_nakagawa, pylmer.icc, pylmer.ranova, pylmer.Anova, pylmer.influence,
    pylmer.allFit, pylmer.AIC, pylmer.BIC, pylmer.rstudent, pylmer.simulate_residuals])
def test_checks_refuse_what_is_not_a_model(function):
    with pytest.raises(TypeError, match="fitted model"):
        function("m")


def test_hostile_callers_of_the_checks_get_errors_naming_the_culprit():
    sleep = pylmer.load_dataset("sleepstudy")
    m = pylmer.lmer("Reaction ~ Days + (1 | Subject)", sleep)
    g = pylmer.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                     pylmer.load_dataset("cbpp"), family="binomial")
    with pytest.raises(pylmer.FormulaError, match="unknown column 'Nope'"):
        pylmer.lmList("Reaction ~ Days | Nope", sleep)
    with pytest.raises(pylmer.FormulaSyntaxError):  # formulas are data: nothing runs
        pylmer.lmList("Reaction ~ __import__('os').getcwd() | Subject", sleep)
    with pytest.raises(pylmer.FormulaError, match="no rows"):
        pylmer.lmList("Reaction ~ Days | Subject", sleep.iloc[:0])
    one = pylmer.lmList("Reaction ~ Days | Subject", sleep.iloc[:1])  # R: slope NA
    assert one.shape == (1, 2) and np.isnan(one.loc["308", "Days"])
    with pytest.raises(TypeError, match="formula must be a string"):
        pylmer.lmList(3, sleep)
    with pytest.raises(TypeError, match="data must be a pandas DataFrame"):
        pylmer.lmList("Reaction ~ Days | Subject", "sleep")
    with pytest.raises(pylmer.PylmerError, match="non-finite"):
        pylmer.lmList("Reaction ~ Days | Subject",
                      sleep.assign(Reaction=np.r_[np.inf, sleep["Reaction"].to_numpy()[1:]]))
    with pytest.raises(pylmer.PylmerError, match="n_jobs"):
        pylmer.allFit(m, n_jobs=0)
    with pytest.raises(pylmer.PylmerError, match="ranova is lmerTest's"):
        pylmer.ranova(g)
    with pytest.raises(pylmer.PylmerError, match="Gamma\\(log\\)"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the Gamma fit's own convergence message
        pylmer.r2_nakagawa(pylmer.glmer("Reaction ~ Days + (1 | Subject)", sleep,
                                        family=pylmer.Gamma(link="log")))
    within = sleep["Reaction"] - sleep.groupby("Subject", observed=True)["Reaction"] \
        .transform("mean")  # no between-subject variation: a singular fit
    with pytest.raises(pylmer.PylmerError, match="singular"):
        pylmer.icc(pylmer.lmer("y ~ 1 + (1 | Subject)", sleep.assign(y=within)))
