"""Out-of-core fits: ``lmer(formula, ddf)`` of a Dask DataFrame.

The fit equals ``lmer(formula, ddf.compute())`` (REML criterion or deviance to a relative
1e-10, fixed effects to 1e-8, theta to an absolute 1e-6), on the local scheduler and on a
two-worker ``distributed`` cluster, without the rows ever reaching the client; what needs
the rows raises pylmer's NotAvailableError, bad input pylmer's errors naming the culprit.
Data are simulated with fixed seeds, a few thousand to 2e4 rows in 5 to 8 partitions.
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")

import pylmer
from pylmer import lmer
from pylmer.exceptions import (
    FormulaError,
    MissingDataWarning,
    NotAvailableError,
    PylmerError,
)
from pylmer.results.outofcore import OutOfCoreLmerMod

REML_RTOL, FIXEF_RTOL, THETA_ATOL = 1e-10, 1e-8, 1e-6


def simulate(n: int, seed: int) -> pd.DataFrame:
    """y = 1 + 0.5 x + effects of f1 (300 text levels), f2 (40 integer levels), a slope of
    x by g (60 levels), a 3-level text factor c and a Categorical h (levels in a
    non-alphabetical order), with b nested in a; w are positive weights."""
    rng = np.random.default_rng(seed)
    f1 = rng.integers(0, 300, n)
    f2 = rng.integers(0, 40, n)
    g = rng.integers(0, 60, n)
    a = rng.integers(0, 12, n)
    b = rng.integers(0, 5, n)
    x = rng.standard_normal(n)
    c = rng.choice(["mid", "high", "low"], n)
    h = pd.Categorical(rng.choice(["q", "p", "r"], n), categories=["r", "q", "p"])
    y = (1.0 + 0.5 * x + rng.normal(0, 0.8, 300)[f1] + rng.normal(0, 0.5, 40)[f2]
         + (rng.normal(0, 0.6, 60) + rng.normal(0, 0.3, 60) * x[:, None])[np.arange(n), g]
         + rng.normal(0, 0.7, (12, 5))[a, b] + 0.3 * (c == "high") - 0.2 * (h == "p")
         + rng.standard_normal(n))
    return pd.DataFrame({
        "y": y, "x": x, "z": rng.uniform(0.5, 3.0, n), "f1": [f"s{k:03d}" for k in f1],
        "f2": f2, "g": g, "a": a, "b": b, "c": c, "h": h, "w": rng.uniform(0.5, 2.0, n)})


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return simulate(12_000, 1)


@pytest.fixture(scope="module")
def ddf(data):
    return dd.from_pandas(data, npartitions=6)


@pytest.fixture(scope="module")
def incomplete():
    """A data set with missing values in the response, a predictor, a text factor and a
    grouping column (None and NaN), in 8 partitions."""
    frame = simulate(8_000, 2)
    rng = np.random.default_rng(3)
    frame.loc[rng.choice(len(frame), 60, replace=False), "x"] = np.nan
    frame.loc[rng.choice(len(frame), 40, replace=False), "y"] = np.nan
    frame["c"] = frame["c"].astype(object)
    frame.loc[rng.choice(len(frame), 30, replace=False), "c"] = None
    frame["f2"] = frame["f2"].astype(float)
    frame.loc[rng.choice(len(frame), 20, replace=False), "f2"] = np.nan
    return dd.from_pandas(frame, npartitions=8)


def _criterion(m) -> float:
    return m.REMLcrit() if m.REML else m.deviance()


def fit_both(formula: str, ddf, **kwargs):
    """The out-of-core fit and the in-memory fit of the computed data, each with the
    warnings it gave."""
    with warnings.catch_warnings(record=True) as w_ooc:
        warnings.simplefilter("always")
        m = lmer(formula, ddf, **kwargs)
    with warnings.catch_warnings(record=True) as w_mem:
        warnings.simplefilter("always")
        r = lmer(formula, ddf.compute(), **kwargs)
    return m, r, [str(w.message) for w in w_ooc], [str(w.message) for w in w_mem]


def assert_same_fit(m, r) -> None:
    assert isinstance(m, OutOfCoreLmerMod)
    np.testing.assert_allclose(_criterion(m), _criterion(r), rtol=REML_RTOL, atol=0)
    assert list(m.fixef().index) == list(r.fixef().index)
    # relative to max(|b|, SE), the lmer_many reference's scale: a coefficient near zero
    # (1.7e-4 with an SE of 1e-2) differs by 7e-12 between two optimizer end points
    scale = np.maximum(np.abs(r.fixef().to_numpy()), np.sqrt(np.diag(r.vcov().to_numpy())))
    np.testing.assert_array_less(np.abs(m.fixef().to_numpy() - r.fixef().to_numpy()),
                                 FIXEF_RTOL * scale)
    np.testing.assert_allclose(m.theta, r.theta, rtol=0, atol=THETA_ATOL)
    assert m.nobs() == r.nobs()
    assert m.ngrps() == r.ngrps()


FORMULAS = [
    pytest.param("y ~ x + (1 | f1) + (1 | f2)", {}, id="crossed"),
    pytest.param("y ~ x + (1 | a/b)", {}, id="nested"),
    pytest.param("y ~ x + (x | g)", {}, id="random-slope"),
    pytest.param("y ~ x + c + h + (1 | f1)", {}, id="text-and-categorical-factors"),
    pytest.param("y ~ x * c + (1 | f2) + (0 + x | g)", {"REML": False}, id="interaction-ML"),
    pytest.param("y ~ x + (1 | f1) + (1 | g)", {"weights": "w"}, id="weights"),
    pytest.param("y ~ x + c + (x || g) + (1 | f2)", {"weights": "1 / z", "REML": False},
                 id="weights-expression-ML"),
    pytest.param("log(z) ~ I(x^2) + factor(b) + (1 | a:b)", {}, id="row-wise-transforms"),
    pytest.param("y ~ x + (1 | g)", {"offset": "x / 3"}, id="offset"),
]


@pytest.mark.parametrize(("formula", "kwargs"), FORMULAS)
def test_equals_the_fit_in_memory(ddf, formula, kwargs):
    m, r, w_ooc, w_mem = fit_both(formula, ddf, **kwargs)
    assert_same_fit(m, r)
    assert w_ooc == w_mem  # the same singular-fit and convergence messages


ONE_EVALUATION = pylmer.LmerControl(optCtrl={"maxeval": 1}, calc_derivs=False,
                                    restart_edge=False, boundary_tol=0)


@pytest.mark.parametrize(("formula", "kwargs"), [
    ("y ~ x + c + (1 | f1)", {}), ("y ~ x + (x | g) + (1 | f2)", {"REML": False}),
    ("y ~ x + c + (1 | f1) + (1 | g)", {"weights": "w"})])
def test_the_deviance_function_is_the_in_memory_one(data, formula, kwargs):
    """At the same theta (one evaluation at the in-memory optimum) the criterion and the
    profiled fixed effects agree to rounding, on data sorted by x (each partition a range
    of x), filtered so that the first partitions are empty, and sorted by f1 (each level
    in one partition). The optimizer then ends where the in-memory one does, to its
    tolerance: a difference of 1e-13 in the criterion can end it one evaluation apart."""
    for frame in (dd.from_pandas(data.sort_values("x"), npartitions=6),
                  dd.from_pandas(data.sort_values("f1"), npartitions=7)):
        for ddf in (frame, frame[frame["x"] > 0.5]):
            r = lmer(formula, ddf.compute(), **kwargs)
            with pytest.warns(pylmer.ConvergenceWarning, match="maxeval"):
                m = lmer(formula, ddf, start=r.theta, control=ONE_EVALUATION, **kwargs)
            np.testing.assert_allclose(m.theta, r.theta, rtol=1e-15, atol=0)  # nlopt's x0
            np.testing.assert_allclose(_criterion(m), _criterion(r), rtol=1e-12, atol=0)
            np.testing.assert_allclose(m.fixef(), r.fixef(), rtol=1e-10, atol=0)
            np.testing.assert_allclose(m.sigma(), r.sigma(), rtol=1e-10)
            m = lmer(formula, ddf, **kwargs)
            np.testing.assert_allclose(_criterion(m), _criterion(r), rtol=REML_RTOL, atol=0)
            np.testing.assert_allclose(m.theta, r.theta, rtol=0, atol=THETA_ATOL)
            np.testing.assert_allclose(m.fixef(), r.fixef(), rtol=1e-7, atol=0)


def test_missing_values_are_dropped_as_in_memory(incomplete):
    """Rows with a missing value in a model column are dropped in each partition; the
    warning gives the totals, in the in-memory fit's words."""
    for formula, kwargs in [("y ~ x + c + (1 | f1) + (1 | f2)", {}),
                            ("y ~ x + (x | g)", {"REML": False, "weights": "w"})]:
        m, r, w_ooc, w_mem = fit_both(formula, incomplete, **kwargs)
        assert_same_fit(m, r)
        assert w_ooc == w_mem
        assert any(s.startswith("dropped ") for s in w_ooc)
    with pytest.warns(MissingDataWarning, match=r"dropped \d+ of 8000 rows .* x \(60\)"):
        lmer("y ~ x + (1 | g)", incomplete)


def test_what_does_not_need_the_rows_is_the_in_memory_model(ddf, data):
    m = lmer("y ~ x + c + (x | g) + (1 | f2)", ddf)
    r = lmer("y ~ x + c + (x | g) + (1 | f2)", data)
    for group in ("g", "f2"):
        pd.testing.assert_index_equal(m.ranef()[group].index, r.ranef()[group].index)
        assert list(m.ranef()[group].columns) == list(r.ranef()[group].columns)
        np.testing.assert_allclose(m.ranef()[group], r.ranef()[group], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(m.ranef().postVar[group], r.ranef().postVar[group],
                                   rtol=1e-6, atol=1e-10)
        np.testing.assert_allclose(m.coef()[group], r.coef()[group], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(m.sigma(), r.sigma(), rtol=1e-8)
    np.testing.assert_allclose(m.vcov(), r.vcov(), rtol=1e-6)
    np.testing.assert_allclose(float(m.logLik()), float(r.logLik()), rtol=1e-10)
    assert m.logLik().df == r.logLik().df
    np.testing.assert_allclose([m.AIC(), m.BIC(), m.deviance(REML=False)],
                               [r.AIC(), r.BIC(), r.deviance(REML=False)], rtol=1e-10)
    vc_m, vc_r = m.VarCorr(), r.VarCorr()
    assert str(vc_m) == str(vc_r)
    np.testing.assert_allclose(vc_m.terms[0].stddev, vc_r.terms[0].stddev, rtol=1e-6)
    pd.testing.assert_series_equal(m.getME("theta"), r.getME("theta"), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(m.getME("beta"), r.getME("beta"), rtol=1e-8)
    np.testing.assert_allclose(m.getME("Lambda").toarray(), r.getME("Lambda").toarray(),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(m.getME("u"), r.getME("u"), rtol=1e-6, atol=1e-6)
    assert m.getME("cnms") == r.getME("cnms") and m.getME("q") == r.getME("q")
    assert m.getME("devcomp")["dims"] == r.getME("devcomp")["dims"]
    assert m.isSingular() == r.isSingular()
    np.testing.assert_allclose(m.confint(method="Wald").iloc[-3:], r.confint(
        method="Wald").iloc[-3:], rtol=1e-7)
    # printed as lme4 prints it; the summary without the scaled residuals (one per row)
    assert repr(m) == repr(r)
    assert m.summary().format() == r.summary().format(show_resids=False)
    assert "Scaled residuals" not in str(m.summary())
    assert "pylmer-coef" in m.summary()._repr_html_()
    # predictions for new data (a pandas DataFrame) as in memory
    new = data.iloc[:50]
    np.testing.assert_allclose(m.predict(new), r.predict(new), rtol=1e-7)
    assert "out of core: 6 partitions" in str(m.lf) and m.npartitions == 6


def test_methods_needing_the_rows_say_why_and_what_to_do(ddf):
    m = lmer("y ~ x + (1 | g)", ddf)
    calls = {
        "fitted()": m.fitted, "residuals()": m.residuals, "predict()": m.predict,
        "simulate()": m.simulate, "refit()": lambda: m.refit(np.zeros(m.nobs())),
        "profile()": m.profile, "confint(method='profile')": m.confint,
        "confint(method='boot')": lambda: m.confint(method="boot"),
        "getME('X')": lambda: m.getME("X"), "getME('y')": lambda: m.getME("y"),
        "getME('Zt')": lambda: m.getME("Zt"), "satterthwaite()": m.satterthwaite,
        "kenward_roger()": m.kenward_roger,
        "summary(ddf='Satterthwaite')": lambda: m.summary(ddf="Satterthwaite"),
        "bootMer()": lambda: pylmer.bootMer(m, nsim=2, progress=False),
    }
    for name, call in calls.items():
        with pytest.raises(NotAvailableError, match=r"Dask DataFrame.*\.compute\(\)") as info:
            call()
        assert name in str(info.value)
    with pytest.raises(NotAvailableError, match="call lmer.*again"):
        m.update(REML=False)
    with pytest.raises(NotAvailableError, match="rows"):
        m.lf.X  # noqa: B018
    # anova() checks that the models share their response, row by row
    with pytest.raises(NotAvailableError, match="response"):
        pylmer.anova(m, lmer("y ~ 1 + (1 | g)", ddf))


def test_levels_follow_the_in_memory_rules(ddf, data):
    """Text sorted (as R's factor()), a Categorical in its categories' order, integers by
    value; partitions whose Categoricals differ are united as dask's compute() unites
    them."""
    m = lmer("y ~ c + h + factor(b) + (1 | f2)", ddf)
    assert list(m.fixef().index) == ["(Intercept)", "clow", "cmid", "hq", "hp",
                                     "factor(b)1", "factor(b)2", "factor(b)3", "factor(b)4"]
    assert list(m.ranef()["f2"].index) == [str(k) for k in range(40)]

    def recode(part):  # each partition's own categories: the first lacks "low"
        if len(part) and part.index[0] == 0:
            part = part[part["c"] != "low"]
            return part.assign(c=pd.Categorical(part["c"], categories=["mid", "high"]))
        return part.assign(c=pd.Categorical(part["c"], categories=["high", "low", "mid"]))

    mixed = ddf.map_partitions(recode, meta=data.iloc[:0].assign(c=pd.Categorical([])))
    m, r, *_ = fit_both("y ~ x + c + (1 | c:g)", mixed)
    assert_same_fit(m, r)
    assert list(m.fixef().index) == ["(Intercept)", "x", "chigh", "clow"]  # dask's union
    pd.testing.assert_index_equal(m.ranef()["c:g"].index, r.ranef()["c:g"].index)


def test_rank_deficiency_and_scale_checks_as_in_memory(ddf):
    wide = ddf.assign(x2=ddf["x"] * 2.0, big=ddf["x"] * 1e5)
    m, r, w_ooc, w_mem = fit_both("y ~ x + x2 + (1 | g)", wide)
    assert_same_fit(m, r)
    assert m.lf.fixed.dropped == r.lf.fixed.dropped == ("x2",)
    assert w_ooc == w_mem and any("rank deficient" in s for s in w_ooc)
    m, r, w_ooc, w_mem = fit_both("y ~ big + (1 | g)", wide)
    assert w_ooc == w_mem and any("different scales" in s for s in w_ooc)


def test_the_callers_data_are_not_changed(data):
    frame = data.copy()
    ddf = dd.from_pandas(frame, npartitions=5)
    before = ddf.compute()
    lmer("y ~ x + c + (1 | f1)", ddf, weights="w")
    pd.testing.assert_frame_equal(ddf.compute(), before)
    pd.testing.assert_frame_equal(frame, data)


# --------------------------------------------------------------------------- distributed

@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                       dashboard_address=None)
    client = distributed.Client(cluster, set_as_default=False)  # active in its tests only
    yield client
    client.close()
    cluster.close()


def test_on_a_distributed_cluster(client, ddf):
    """Fitted on two worker processes (the active Client is dask's scheduler), each
    working on some partitions; the result is the in-memory fit."""
    from distributed import get_task_stream

    with client.as_current(), get_task_stream(client) as stream:
        m = lmer("y ~ x + c + (x | g) + (1 | f1)", ddf)
    workers = {task["worker"] for task in stream.data}
    assert workers == set(client.scheduler_info()["workers"])
    assert any("partition_sums" in str(task["key"]) for task in stream.data)
    r = lmer("y ~ x + c + (x | g) + (1 | f1)", ddf.compute())
    assert_same_fit(m, r)
    with client.as_current(), pytest.raises(FormulaError, match=r"cut\(x, 3\)"):
        lmer("y ~ cut(x, 3) + (1 | g)", ddf)  # found on a worker, raised here


# --------------------------------------------------------------------------- errors

def test_glmms_of_dask_data_are_not_available(ddf):
    binary = ddf.assign(k=(ddf["y"] > 1).astype(int))
    for call in (lambda: pylmer.glmer("k ~ x + (1 | g)", binary, family="binomial"),
                 lambda: pylmer.glmer_nb("k ~ x + (1 | g)", binary),
                 lambda: pylmer.clmm("k ~ x + (1 | g)", binary)):
        with pytest.raises(NotAvailableError, match=r"linear mixed models only.*\.compute"):
            call()
    with pytest.raises(NotAvailableError, match="only lmer"):
        pylmer.lFormula("y ~ x + (1 | g)", ddf)


@pytest.mark.parametrize(("formula", "kwargs", "error", "match"), [
    ("y ~ scale(x) + (1 | g)", {}, FormulaError, r"scale\(\) \(in 'scale\(x\)'\).*whole"),
    ("y ~ poly(x, 2) + (1 | g)", {}, FormulaError, r"poly\(\).*whole column"),
    ("y ~ ns(x, 3) + (1 | g)", {}, FormulaError, r"ns\(\).*whole column"),
    ("y ~ I(x - mean(x)) + (1 | g)", {}, FormulaError, r"mean\(\).*whole column"),
    ("y ~ cut(x, 3) + (1 | g)", {}, FormulaError, r"cut\(x, 3\).*whole column"),
    ("y ~ x + (1 | g)", {"weights": "w / sum(w)"}, FormulaError, r"sum\(\).*weights="),
    ("y ~ as.numeric(factor(c)) + (1 | g)", {}, FormulaError, "level codes"),
    ("y ~ nope + (1 | g)", {}, FormulaError, "unknown column 'nope'.*columns: y, x"),
    ("y ~ x + (1 | nope)", {}, FormulaError, "unknown column 'nope'"),
    ("y ~ x + (1 | g)", {"weights": "nope"}, FormulaError, "unknown column 'nope'"),
    ("y ~ x + (1 | g)", {"weights": np.ones(12_000)}, PylmerError,
     "weights= for a Dask DataFrame must be a column name"),
    ("y ~ x + (1 | g)", {"offset": [0.0] * 12_000}, PylmerError, "offset= for a Dask"),
    ("y ~ x", {}, PylmerError, "no random effects terms"),
    ("c ~ x + (1 | g)", {}, FormulaError, "response 'c' is not numeric"),
    ("y ~ x + (1 | g)", {"na_action": "drop"}, FormulaError, "na_action='drop'"),
    ("y ~ x + (1 | g)", {"start": [1.0, 2.0]}, PylmerError, "start must have 1"),
    ("y ~ x + c + (1 | g)", {"contrasts": {"c": "contr.nope"}}, FormulaError, "contr.nope"),
])
def test_bad_input_raises_pylmers_error_naming_it(ddf, formula, kwargs, error, match):
    with pytest.raises(error, match=match):
        lmer(formula, ddf, **kwargs)


def test_bad_data_raise_pylmers_errors(ddf, incomplete):
    with pytest.raises(PylmerError, match="Dask Series, not a Dask DataFrame"):
        lmer("y ~ x + (1 | g)", ddf["y"])
    with pytest.raises(PylmerError, match="response 'k' is constant"):
        lmer("k ~ x + (1 | g)", ddf.assign(k=1.0))
    with pytest.raises(FormulaError, match="'d' holds dates"):
        lmer("y ~ d + (1 | g)", ddf.assign(d=pd.Timestamp("2020-01-01")))
    with pytest.raises(FormulaError, match="weights are all zero"):
        lmer("y ~ x + (1 | g)", ddf.assign(w0=0.0), weights="w0")
    with pytest.raises(PylmerError, match="> 1 sampled level"):
        lmer("y ~ x + (1 | one)", ddf.assign(one="a"))
    with pytest.raises(PylmerError, match="lmer needs one numeric response"):
        lmer("cbind(y, x) ~ z + (1 | g)", ddf)
    with pytest.raises(FormulaError, match=r"missing values in columns used .* x \(60\)"):
        lmer("y ~ x + (1 | g)", incomplete, na_action="fail")
    with pytest.raises(FormulaError, match="no complete rows"), \
            pytest.warns(MissingDataWarning, match="dropped 12000 of 12000"):
        lmer("y ~ x + (1 | g)", ddf.assign(x=np.nan))
    with pytest.raises(FormulaError, match="the data has no rows"):
        lmer("y ~ x + (1 | g)", ddf[ddf["x"] > 100])
    with pytest.raises(PylmerError, match="failed in the first pass.*ZeroDivisionError"):
        lmer("y ~ x + (1 | g)", ddf.map_partitions(lambda d: d.assign(x=d["x"] / 0 if len(
            d) > 1 else d["x"]).assign(y=1 // 0 if len(d) > 1 else d["y"]), meta=ddf._meta))


def test_import_pylmer_does_not_need_dask():
    """dask is imported by a fit of Dask data only: pylmer imports, and fits pandas data,
    where dask cannot be imported at all."""
    code = ("import sys\n"
            "sys.modules['dask'] = None  # any import of dask fails\n"
            "import pylmer\n"
            "m = pylmer.lmer('Reaction ~ Days + (Days | Subject)',"
            " pylmer.load_dataset('sleepstudy'))\n"
            "assert not any(k.startswith('dask') and sys.modules[k] for k in sys.modules)\n"
            "print(round(m.REMLcrit(), 4))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "1743.6283"


@pytest.mark.parametrize("mean", [1e6, 1e8])
def test_a_large_mean_costs_no_digits_out_of_core(mean):
    """Each partition sums its response about its own mean and the sums combine to the
    mean of both (Chan's rule): y'Wy does not carry the mean, so a response of 1e8 +
    noise gives the in-memory fit (before, 1e-2 off at 1e6, and no fit at 1e8)."""
    sleep = pylmer.load_dataset("sleepstudy")
    rng = np.random.default_rng(1)
    e = rng.normal(0, 1, len(sleep)) + rng.normal(0, 1, 18)[sleep["Subject"].cat.codes]
    d = sleep.assign(y=e + mean)[["y", "Days", "Subject"]]
    m = lmer("y ~ Days + (Days | Subject)", dd.from_pandas(d, npartitions=4))
    r = lmer("y ~ Days + (Days | Subject)", d)
    assert m.REMLcrit() == pytest.approx(r.REMLcrit(), abs=1e-5)
    np.testing.assert_allclose(m.theta, r.theta, atol=1e-4)
    np.testing.assert_allclose(m.fixef(), r.fixef(), rtol=1e-12, atol=1e-7)
