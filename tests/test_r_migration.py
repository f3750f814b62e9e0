"""The R migration guide, run: docs/r-migration.md's tables and code blocks.

The guide's first Python block (the set-up) is executed once per module; every table row's
pylmer code (its code spans) is then evaluated in a copy of that namespace and checked by the
function registered for the row's topic, mostly against lme4 1.1-31 / lmerTest values. A
row without a check, or a check without a row, fails the suite, so table and tests cannot
drift apart. Bootstrap sizes written in the guide (``nsim=500``) are capped at 10 here.
"""

from __future__ import annotations

import ast
import contextlib
import html
import io
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sps

from pylmer import (
    FormulaError,
    GroupingFactorWarning,
    MissingDataWarning,
    PylmerWarning,
    SingularFitWarning,
)

DOC = Path(__file__).resolve().parent.parent / "docs" / "r-migration.md"
HEADER = ["topic", "R (lme4, lmerTest, stats)", "pylmer", "notes"]
NSIM_CAP = 10

# ---------------------------------------------------------------------------- the guide


def _code_spans(cell: str) -> list[str]:
    """Code in a table cell, in order: ``<code>...</code>`` (entities such as ``&#124;``
    decoded: a raw pipe would split the cell) and backtick spans."""
    out = []
    for match in re.finditer(r"<code>(.*?)</code>|`([^`]+)`", cell):
        out.append(html.unescape(match[1]) if match[1] is not None else match[2])
    return out


def _parse(text: str):
    """The guide's table rows (topic -> cells) and the problems found in them."""
    rows: dict[str, list[str]] = {}
    problems: list[str] = []
    header = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in line.strip()[1:-1].split("|")]
        if header is None:
            header = cells
            continue
        if header != HEADER or set(line) <= set("|-: "):
            continue
        if len(cells) != len(HEADER):
            problems.append(f"line {number}: {len(cells)} cells (a raw '|' in a cell?)")
            continue
        topic = cells[0]
        if topic in rows:
            problems.append(f"line {number}: topic {topic!r} repeated")
        if not _code_spans(cells[2]):
            problems.append(f"line {number}: no pylmer code in row {topic!r}")
        rows[topic] = cells
    return rows, problems


TEXT = DOC.read_text(encoding="utf-8")
ROWS, PROBLEMS = _parse(TEXT)
BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, flags=re.DOTALL)


def _cap_nsim(code: str) -> str:
    return re.sub(r"\bnsim=(\d+)", lambda m: f"nsim={min(int(m[1]), NSIM_CAP)}", code)


def _exec(source, ns: dict, name: str) -> None:
    """Run the guide's own code: executing it is what these tests are for."""
    exec(compile(source, name, "exec"), ns)  # noqa: S102


def _evaluate(code: str, ns: dict):
    """An expression's value; ``name = expr`` binds and gives the value; else None."""
    tree = ast.parse(code)
    body = tree.body
    if len(body) == 1 and isinstance(body[0], ast.Expr):
        return eval(compile(ast.Expression(body[0].value), "<guide>", "eval"), ns)
    if (len(body) == 1 and isinstance(body[0], ast.Assign) and len(body[0].targets) == 1
            and isinstance(body[0].targets[0], ast.Name)):
        value = eval(compile(ast.Expression(body[0].value), "<guide>", "eval"), ns)
        ns[body[0].targets[0].id] = value
        return value
    _exec(tree, ns, "<guide>")
    return None


@dataclass
class Row:
    """One table row, ready to run in its own copy of the set-up namespace."""

    topic: str
    code: list[str]
    ns: dict
    caught: list = field(default_factory=list)
    stdout: str = ""

    def run(self) -> list:
        out = io.StringIO()
        values = []
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out):
            warnings.simplefilter("always")
            try:
                for code in self.code:
                    values.append(_evaluate(_cap_nsim(code), self.ns))
            finally:
                self.caught = list(caught)
                self.stdout = out.getvalue()
        return values

    def warned(self, category) -> list[str]:
        return [str(w.message) for w in self.caught if issubclass(w.category, category)]


@pytest.fixture(scope="module")
def setup_ns() -> dict:
    ns: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error", PylmerWarning)  # the set-up models fit cleanly
        _exec(BLOCKS[0], ns, "<guide set-up>")
    return ns


# ---------------------------------------------------------------------------- checks

CHECKS = {}


def check(topic: str):
    def register(fn):
        assert topic not in CHECKS, topic
        CHECKS[topic] = fn
        return fn

    return register


def close(actual, expected, rel=1e-6, abs=0.0):
    np.testing.assert_allclose(np.asarray(actual, dtype=float), expected, rtol=rel, atol=abs)


CBPP_FORMULA = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
# lme4 1.1-31
CBPP_FIXEF = [-1.398342864, -0.991924975, -1.128216216, -1.579745414]
SLEEP_FIXEF = [251.4051049, 10.46728596]


def assert_sleepstudy_ml(m):
    """lmer(Reaction ~ Days + (Days | Subject), sleepstudy, REML = FALSE), as lme4 1.1-31."""
    assert m.REML is False
    close(m.logLik(), -875.9696722, rel=1e-7)


# --- fitting

@check("data")
def _(row):
    data, listing = row.run()
    assert data.shape == (180, 3)
    assert isinstance(data["Subject"].dtype, pd.CategoricalDtype)
    assert list(data["Subject"].cat.categories[:3]) == ["308", "309", "310"]
    assert {"sleepstudy", "cbpp", "gamma_sim"} <= set(listing["name"])


@check("lmer")
def _(row):
    (m,) = row.run()
    close(m.REMLcrit(), 1743.6282719599626, rel=1e-8)
    close(m.fixef(), SLEEP_FIXEF)


@check("REML")
def _(row):
    (m,) = row.run()
    assert_sleepstudy_ml(m)


@check("glmer-binomial")
def _(row):
    (g,) = row.run()
    close(g.fixef(), CBPP_FIXEF, abs=1e-4)
    close(g.logLik(), -92.02656639, rel=1e-6)
    # the family as R's bare `binomial` (the class)
    same = row.ns["glmer"](CBPP_FORMULA, row.ns["cbpp"], family=row.ns["binomial"])
    close(same.fixef(), g.fixef(), rel=1e-10)


@check("glmer-probit")
def _(row):
    (g,) = row.run()
    assert g.family.link.name == "probit"
    close(g.fixef(), [-0.8354749, -0.5280327, -0.6168543, -0.7995726], abs=1e-4)


@check("glmer-poisson")
def _(row):
    (g,) = row.run()
    assert g.family.family == "poisson"
    close(g.fixef(), [0.3514450313, 1.3449308776, -0.9041793374], abs=1e-4)
    close(g.logLik(), -1015.293772, rel=1e-6)


@check("glmer-Gamma")
def _(row):
    (g,) = row.run()
    assert (g.family.family, g.family.link.name) == ("Gamma", "log")
    # lme4: herd sd 0.2990, residual 0.4773, fixef 1.0171 0.4983, logLik -1624.234
    close(g.VarCorr().as_frame()["sdcor"][0], 0.2990, abs=5e-4)
    close(g.sigma(), 0.4773, abs=5e-4)
    close(g.fixef(), [1.0171, 0.4983], abs=5e-4)
    close(g.logLik(), -1624.234, abs=1e-3)


@check("glmer.nb")
def _(row):
    (m,) = row.run()
    # lme4's objective at its converged optimum (glmer.nb's own fit stops 7e-4 short)
    close(m.logLik(), -869.114994413, abs=1e-4)
    close(row.ns["getME"](m, "glmer.nb.theta"), 0.6390172427, rel=5e-3)


@check("glmmTMB")
def _(row):
    (m,) = row.run()
    close(m.logLik(), -869.1661480082, abs=1e-4)  # glmmTMB 1.1.5
    close(row.ns["sigma"](m), 0.6390482062, rel=5e-3)


@check("clmm")
def _(row):
    (m,) = row.run()
    close(m.logLik(), -81.565409292, abs=1e-4)  # ordinal 2022.11-16
    assert list(m.alpha.index) == ["1|2", "2|3", "3|4", "4|5"]
    close(m.alpha, [-1.623663666, 1.513364337, 4.228524807, 6.088770141], abs=1e-2)


@check("nAGQ")
def _(row):
    agq, zero = row.run()
    assert (agq.nAGQ, zero.nAGQ) == (25, 0)
    close(agq.logLik(), -50.00501527, rel=1e-6)
    close(zero.fixef(), [-1.3604757276, -0.9761732361, -1.1110727836, -1.5596756838],
          abs=1e-5)
    with pytest.raises(ValueError, match="crossed effects cannot be integrated"):
        row.ns["glmer"]("cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | period)",
                        row.ns["cbpp"], family="binomial", nAGQ=5)


@check("cbind")
def _(row):
    (g,) = row.run()
    close(g.fixef(), CBPP_FIXEF, abs=1e-4)
    close(g.fixef(), row.ns["g"].fixef(), abs=1e-4)


@check("weights")
def _(row):
    (m,) = row.run()
    close(m.fixef(), [248.16969051, 11.00652168], rel=1e-6)


@check("offset-term")
def _(row):
    (g,) = row.run()
    close(g.fixef(), [-0.5800455, 0.3284443], abs=1e-5)


@check("offset-arg")
def _(row):
    (g,) = row.run()
    close(g.fixef(), [-0.5800455, 0.3284443], abs=1e-5)


@check("na-omit")
def _(row):
    (m,) = row.run()
    assert m.nobs() == 178
    (message,) = row.warned(MissingDataWarning)
    assert "dropped 2 of 180 rows" in message and "Reaction (2)" in message


@check("na-exclude")
def _(row):
    (fit,) = row.run()
    assert len(fit) == 180
    assert list(fit.index[fit.isna()]) == [0, 5]
    assert row.warned(MissingDataWarning)


@check("na-fail")
def _(row):
    with pytest.raises(ValueError, match=r"Reaction \(2\)"):
        row.run()


@check("contrasts")
def _(row):
    (g,) = row.run()
    assert list(g.fixef().index) == ["(Intercept)", "period1", "period2", "period3"]
    close(g.fixef(), [-2.32337159613, 0.92497946324, -0.06697906185, -0.20326275891],
          abs=1e-4)


@check("factor")
def _(row):
    (m,) = row.run()
    assert list(m.fixef().index) == ["(Intercept)"] + [f"factor(Days){k}" for k in range(1, 10)]
    # balanced data: the estimates are the cell means' differences
    means = row.ns["sleepstudy"].groupby("Days")["Reaction"].mean().to_numpy()
    close(m.fixef(), np.concatenate([[means[0]], means[1:] - means[0]]), rel=1e-8)
    with pytest.raises(FormulaError, match=r"function besselJ\(\)"):  # not on the list
        row.ns["lmer"]("Reaction ~ besselJ(Days, 0) + (1 | Subject)", row.ns["sleepstudy"])


@check("dot")
def _(row):
    (m,) = row.run()
    assert list(m.fixef().index) == ["(Intercept)", "Days"]
    # without "- Subject", . includes the grouping column as a fixed factor too, as in R
    every = row.ns["lmer"]("Reaction ~ . + (1 | Subject)", row.ns["sleepstudy"])
    assert list(every.fixef().index)[:3] == ["(Intercept)", "Days", "Subject309"]
    assert len(every.fixef()) == 19


# --- random-effect terms

@check("double-bar")
def _(row):
    (m,) = row.run()
    frame = m.VarCorr().as_frame()
    assert list(frame["grp"]) == ["Subject", "Subject.1", "Residual"]
    close(frame["sdcor"], [25.051328325, 5.988186674, 25.565279202], rel=1e-5)


@check("nested")
def _(row):
    (m,) = row.run()
    assert m.ngrps() == {"cask:batch": 30, "batch": 10}


@check("interaction")
def _(row):
    (m,) = row.run()
    assert m.ngrps() == {"batch:cask": 30}


@check("crossed")
def _(row):
    (m,) = row.run()
    assert m.ngrps() == {"plate": 24, "sample": 6}


# --- results

@check("print")
def _(row):
    row.run()
    assert "Linear mixed model fit by REML" in row.stdout
    assert "Formula: Reaction ~ Days + (Days | Subject)" in row.stdout


@check("fixef")
def _(row):
    a, b = row.run()
    pd.testing.assert_series_equal(a, b)
    assert list(a.index) == ["(Intercept)", "Days"]
    close(a, SLEEP_FIXEF)


@check("ranef")
def _(row):
    a, b = row.run()
    pd.testing.assert_frame_equal(a, b)
    assert a.shape == (18, 2) and list(a.columns) == ["(Intercept)", "Days"]
    close(a.loc["308"], [2.25855095, 9.198975766], rel=1e-5)


@check("postVar")
def _(row):
    post, sd = row.run()
    assert post.shape == (18, 2, 2)
    # R: attr(ranef(m, condVar = TRUE)$Subject, "postVar")[, , 1]
    close(post[0], [[145.7055875, -21.444503598], [-21.4445036, 5.312282912]], rel=1e-5)
    close(sd.loc["308"], np.sqrt(np.diag(post[0])), rel=1e-12)


@check("coef")
def _(row):
    (c,) = row.run()
    close(c.loc["308"], [253.6636558, 19.666261725], rel=1e-6)


@check("VarCorr")
def _(row):
    _, cov, sigma = row.run()
    assert "Subject" in row.stdout and "Residual" in row.stdout
    close(cov, [[612.10016101, 9.60440846], [9.60440846, 35.07171456]], rel=1e-5)
    close(sigma, 25.59179572, rel=1e-7)


@check("VarCorr-frame")
def _(row):
    (frame,) = row.run()
    assert list(frame.columns) == ["grp", "var1", "var2", "vcov", "sdcor"]
    assert list(frame["grp"]) == ["Subject", "Subject", "Subject", "Residual"]
    assert list(frame["var1"][:3]) == ["(Intercept)", "Days", "(Intercept)"]
    assert pd.isna(frame["var2"][0]) and frame["var2"][2] == "Days"
    close(frame["sdcor"], [24.7406575, 5.9221375, 0.0655513, 25.5917957], rel=1e-5)


@check("getME")
def _(row):
    X, Z, theta, Lambdat = row.run()
    assert isinstance(X, np.ndarray) and X.shape == (180, 2)
    assert sps.issparse(Z) and Z.shape == (180, 36)
    assert sps.issparse(Lambdat) and Lambdat.shape == (36, 36)
    assert list(theta.index) == ["Subject.(Intercept)", "Subject.Days.(Intercept)",
                                 "Subject.Days"]
    close(theta, [0.9667417740, 0.0151690589, 0.2309099532], rel=1e-5)
    with pytest.raises(ValueError, match="available"):
        row.ns["getME"](row.ns["m"], "ALL")


@check("isSingular")
def _(row):
    assert row.run() == [False, False]


@check("sigma")
def _(row):
    s_m, s_g = row.run()
    close(s_m, 25.59179572, rel=1e-7)
    assert s_g == 1.0


@check("logLik")
def _(row):
    ll, df = row.run()
    close(ll, -871.8141, abs=1e-4)
    assert df == 6 and ll.nobs == 180
    assert repr(ll) == "'log Lik.' -871.8141 (df=6)"


@check("AIC-BIC")
def _(row):
    close(row.run(), [1755.628272, 1774.786013], rel=1e-8)


@check("deviance")
def _(row):
    reml, ml, glmm = row.run()
    close(reml, 1743.628272, rel=1e-8)
    close(ml, 1751.986, abs=1e-3)
    close(glmm, 73.47428, rel=1e-5)


@check("REMLcrit")
def _(row):
    close(row.run(), [1743.628272], rel=1e-8)


@check("fitted")
def _(row):
    fm, fg = row.run()
    assert len(fm) == 180 and len(fg) == 56
    close(fm[:2], [253.6636558, 273.3299175], rel=1e-7)
    assert ((fg > 0) & (fg < 1)).all()


@check("residuals")
def _(row):
    pearson, deviance, scaled, working = row.run()
    close(pearson[:2], [-4.103656, -14.625218], abs=1e-5)
    close(deviance[:2], [-1.437708, 0.988472], abs=1e-4)
    close(scaled, pearson / row.ns["m"].sigma(), rel=1e-12)
    close(working[:3], [-4.10365579838611, -14.62521752354803, -42.19557924870989],
          abs=1e-5)  # lme4 1.1-31


@check("vcov")
def _(row):
    (v,) = row.run()
    assert list(v.index) == list(v.columns) == ["(Intercept)", "Days"]
    close(np.sqrt(np.diag(v)), [6.824597, 1.545790], rel=1e-5)


@check("counts")
def _(row):
    assert row.run() == [180, {"Subject": 18}, 174]


# --- summaries and tests

@check("summary")
def _(row):
    _, coefs, gcoefs = row.run()
    assert "REML criterion at convergence: 1743.6" in row.stdout
    assert list(coefs.columns) == ["Estimate", "Std. Error", "t value"]
    assert list(gcoefs.columns) == ["Estimate", "Std. Error", "z value", "Pr(>|z|)"]
    close(gcoefs["Std. Error"], [0.2312140481, 0.3031506445, 0.3228301532, 0.4220491594],
          rel=1e-3)


@check("summary-lmerTest")
def _(row):
    _, kr, satt = row.run()
    assert "t-tests use Satterthwaite's method" in row.stdout
    close(satt["df"], [17.0, 17.0], abs=1e-3)
    close(satt["Pr(>|t|)"]["Days"], 3.264e-06, rel=1e-3)
    assert {"df", "Pr(>|t|)"} <= set(kr.columns)
    close(kr["df"], [17.0, 17.0], abs=1e-2)


@check("anova-LRT")
def _(row):
    named, numbered = row.run()
    assert list(named.index) == ["m0", "m"] and list(numbered.index) == ["m1", "m2"]
    close(named["Chisq"]["m"], 42.1393, rel=1e-5)
    assert named["Df"]["m"] == 2
    close(named["Pr(>Chisq)"]["m"], 7.0724e-10, rel=1e-4)
    assert row.warned(PylmerWarning)


@check("anova-typeIII")
def _(row):
    (table,) = row.run()
    assert list(table.index) == ["Days"]
    close(table.loc["Days", "F value"], 45.853, rel=1e-4)
    close(table.loc["Days", "DenDF"], 17.0, abs=1e-3)


@check("anova-types")
def _(row):
    type2_kr, type1 = row.run()
    close(type2_kr.loc["temperature", ["F value", "DenDF"]], [20.514081079964, 220],
          rel=1e-4)  # lmerTest 3.1-3
    close(type2_kr.loc["recipe", "Sum Sq"], 10.1887300891, rel=1e-4)
    close(type1.loc["Days", ["F value", "DenDF"]], [45.8529615559, 16.9999837256], rel=1e-4)


@check("drop1")
def _(row):
    lmm, glmm = row.run()
    close(lmm.loc["Days", ["LRT", "Pr(Chi)"]], [23.537, 1.226e-06], rel=1e-3)
    assert list(glmm.index) == ["<none>", "period"] and glmm.loc["period", "npar"] == 3
    assert list(glmm.columns) == ["npar", "AIC"]  # lme4's default: test = "none"


@check("confint-Wald")
def _(row):
    a, b = row.run()
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == ["2.5 %", "97.5 %"]
    assert a.loc[".sig01"].isna().all()
    close(a.loc["(Intercept)"], [238.02914112, 264.78106858], rel=1e-7)


@check("confint-profile")
def _(row):
    (ci,) = row.run()
    assert list(ci.index) == [".sig01", ".sigma", "(Intercept)", "Days"]
    close(ci, [[26.007120, 52.93598], [27.813847, 34.59105], [231.992326, 270.81788],
               [8.886551, 12.04802]], rel=1e-4)


@check("confint-boot")
def _(row):
    (ci,) = row.run()
    assert list(ci.index) == [".sig01", ".sig02", ".sig03", ".sigma", "(Intercept)", "Days"]
    assert np.isfinite(ci.to_numpy()).all() and (ci["2.5 %"] <= ci["97.5 %"]).all()


@check("oldNames")
def _(row):
    (ci,) = row.run()
    assert list(ci.index) == ["sd_(Intercept)|Subject", "cor_Days.(Intercept)|Subject",
                              "sd_Days|Subject", "sigma", "(Intercept)", "Days"]


@check("profile")
def _(row):
    (prof,) = row.run()
    assert list(prof.columns) == ["parameter", "value", "zeta"]
    assert set(prof["parameter"]) == {"sd_(Intercept)|Subject", "sigma", "(Intercept)",
                                      "Days"}
    for _, part in prof.groupby("parameter"):
        assert (np.diff(part["zeta"].to_numpy()) > 0).all()
        assert (part["zeta"] == 0).sum() == 1


@check("bootMer")
def _(row):
    (reps,) = row.run()
    assert reps.shape == (NSIM_CAP, 2)
    assert np.isfinite(reps.to_numpy()).all()
    close(reps.mean(), SLEEP_FIXEF, rel=0.05)
    default = row.ns["bootMer"](row.ns["m0"], nsim=2, seed=1)
    assert list(default.columns) == list(row.ns["confint"](row.ns["m0"], oldNames=False).index)


# --- prediction, simulation, refitting

@check("predict")
def _(row):
    everything, first = row.run()
    pd.testing.assert_series_equal(everything, row.ns["m"].fitted(), check_names=False)
    close(first, [253.6636558], rel=1e-7)


@check("re.form-NA")
def _(row):
    new, old = row.run()
    close(new, [251.4051049, 303.7415346], rel=1e-7)
    m = row.ns["m"]
    close(old, m.getME("X") @ m.beta, rel=1e-12)


@check("re.form-terms")
def _(row):
    (p,) = row.run()
    close(p[:2], [252.9177696, 263.3850556], rel=1e-6)


@check("allow.new.levels")
def _(row):
    (p,) = row.run()
    close(p, [253.6636558, 303.7415346], rel=1e-7)
    with pytest.raises(ValueError, match="new"):
        row.ns["m"].predict(row.ns["nd"])


@check("type-response")
def _(row):
    (p,) = row.run()
    close(p[:3], [0.3081647241, 0.1417733703, 0.1259855552], abs=1e-5)
    close(p, row.ns["g"].fitted(), rel=1e-12)


@check("simulate")
def _(row):
    (sims,) = row.run()
    assert sims.shape == (180, 2) and list(sims.columns) == ["sim_1", "sim_2"]
    pd.testing.assert_frame_equal(sims, row.run()[0])  # the seed reproduces them


@check("use.u")
def _(row):
    (sims,) = row.run()
    assert sims.shape == (180, 1)
    # the subjects' own effects are kept: close to the conditional fitted values
    assert np.corrcoef(sims["sim_1"], row.ns["m"].fitted())[0, 1] > 0.7


@check("refit")
def _(row):
    (new,) = row.run()
    assert new.formula == row.ns["m"].formula and new.nobs() == 180
    assert not np.allclose(new.fixef(), row.ns["m"].fixef())


# --- checks after a fit (R's numbers: tests/reference/diagnostics, lme4 1.1-31,
# performance 0.10.2)

@check("AIC-table")
def _(row):
    named, default = row.run()
    assert list(named.index) == ["m0", "m"] and list(default.index) == ["m1", "m2"]
    close(named["df"], [4, 6], abs=1e-12)
    close(named["AIC"], [1794.465085394921, 1755.628271959952], rel=1e-6)
    close(default["BIC"], [1807.2369127984819, 1774.7860130652932], rel=1e-6)


@check("hatvalues")
def _(row):
    (h,) = row.run()
    assert h.shape == (180,) and h.between(0, 1).all()
    close(h.iloc[:3], [0.2293040377402628, 0.1697299937991398, 0.1268237150199163],
          rel=1e-4)


@check("cooks.distance")
def _(row):
    (d,) = row.run()
    assert d.shape == (180,) and (d >= 0).all()
    close(d.iloc[:3], [0.004963132514815038, 0.0402062018556089, 0.22609918475812252],
          rel=1e-4)


@check("influence")
def _(row):
    (infl,) = row.run()
    d = infl.cooks_distance()
    assert d.shape == (18,)
    close(d.iloc[:3], [0.08214840506940913, 0.13202079795775515, 0.09824074429175013],
          rel=1e-3)  # lme4 1.1-31


@check("allFit")
def _(row):
    table, fits = row.run()
    assert list(table.index) == ["bobyqa", "Nelder_Mead", "L-BFGS-B"]
    close(table["objective"], 1743.628271959952, abs=1e-4)  # lme4's default fit
    assert set(fits) == set(table.index)


@check("check_overdispersion")
def _(row):
    (o,) = row.run()
    close(o[["chisq", "ratio", "rdf"]], [63.067427494941064, 1.2366162253910014, 51],
          rel=1e-3)
    close(o["p"], 0.11966458623791554, abs=1e-3)


@check("car-Anova")
def _(row):
    type2, type3 = row.run()
    close(type2.loc["period"], [25.488178855894134, 3, 1.2205492405521726e-05], rel=1e-3)
    assert list(type3.index) == ["(Intercept)", "Days"]  # car 3.1-1's rows
    close(type3.loc["Days", "Df"], 1, abs=0)


@check("ranova")
def _(row):
    (table,) = row.run()
    assert list(table.index) == ["<none>", "Days in (Days | Subject)"]
    close(table.loc["Days in (Days | Subject)", ["npar", "logLik", "LRT", "Df"]],
          [4, -893.2325426974605, 42.836813434969145, 2], rel=1e-4)  # lmerTest 3.1-3


@check("lmList")
def _(row):
    (table,) = row.run()
    assert table.shape == (18, 2) and list(table.columns) == ["(Intercept)", "Days"]
    close(table.loc["308"], [244.19266909090925, 21.76470242424241], rel=1e-10)  # lme4


@check("r2_nakagawa")
def _(row):
    r2, icc = row.run()
    close(r2[["conditional", "marginal"]], [0.799219922782924, 0.27865105816187524],
          rel=1e-4)
    assert 0 < icc["adjusted"] < 1


@check("rstudent")
def _(row):
    (r,) = row.run()
    close(r[:3], [-0.182653763074070, -0.627179564317935, -1.764473851177433],
          rel=1e-5)  # lme4 1.1-31


@check("simulateResiduals")
def _(row):
    res, dispersion = row.run()
    r = np.asarray(res.scaled_residuals)
    assert r.shape == (56,) and ((r >= 0) & (r <= 1)).all()
    again = row.ns["simulate_residuals"](row.ns["g"], n_sim=250, seed=1)
    assert np.array_equal(np.asarray(again.scaled_residuals), r)  # seeded
    assert 0 <= dispersion.p_value <= 1 and dispersion.statistic > 0


@check("plot-diagnostics")
def _(row):
    import matplotlib.pyplot as plt

    panel, infl = row.run()
    assert len(panel.axes) == 4 and len(infl.axes) >= 1
    plt.close("all")


@check("emmeans")
def _(row):
    recipe, period = row.run()
    close(recipe["emmean"], [33.12222222222341, 31.64444444444426, 31.59999999999991],
          rel=1e-6)  # emmeans 1.8.4
    close(recipe["SE"], [1.73683339740492] * 3, rel=1e-4)
    close(recipe["df"], [42] * 3, rel=1e-3)
    close(period["emmean"], [0.19807920550963967, 0.08391783927507487, 0.07401713700729759,
                             0.048425646005762824], rel=1e-3)
    assert np.isinf(period["df"]).all()


@check("ref_grid")
def _(row):
    cake_grid, days = row.run()
    assert len(cake_grid) == 18 and list(cake_grid.columns) == ["recipe", "temperature"]
    assert list(cake_grid["recipe"][:3]) == ["A", "B", "C"]  # the first factor fastest
    assert list(days["Days"]) == [0.0, 9.0]


@check("contrast")
def _(row):
    recipe_pairs, period_ctrl = row.run()
    assert list(recipe_pairs["contrast"]) == ["A - B", "A - C", "B - C"]
    close(recipe_pairs["estimate"], [1.4777778, 1.5222222, 0.0444444], rel=1e-5)  # R printed 7 digits
    close(recipe_pairs["p.value"], [0.8200, 0.8102, 0.9998], abs=1e-4)
    assert list(period_ctrl["contrast"]) == ["period2 - period1", "period3 - period1",
                                             "period4 - period1"]
    close(period_ctrl["estimate"], [-0.9919249749757388, -1.1282162159433398,
                                    -1.579745413649192], rel=1e-3)


@check("ls_means")
def _(row):
    recipe, diffs = row.run()
    assert list(recipe.index) == ["recipeA", "recipeB", "recipeC"]
    close(recipe["lower"], [29.61715052188913, 28.13937274383905, 28.09492829939309],
          rel=1e-6)  # lmerTest 3.1-3
    assert "recipeA - recipeB" in diffs.index and "temperature175 - temperature185" in diffs.index


# --- many responses

@check("refit-loop")
def _(row):
    (fits,) = row.run()
    assert list(fits.table.index) == [f"r{k}" for k in range(5)]
    for name in fits:  # each row is a fresh lmer() of its response
        one = row.ns["lmer"]("Reaction ~ Days + (Days | Subject)",
                             row.ns["sleepstudy"].assign(Reaction=row.ns["Y"][name]))
        assert fits[name]["REML"] <= one.REMLcrit() + 1e-6
        close(fits[name]["REML"], one.REMLcrit(), abs=1e-6)
        close(fits[name][["(Intercept)", "Days"]], one.fixef(), rel=1e-5)


@check("glmer-loop")
def _(row):
    (fits,) = row.run()
    for name in fits:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            one = row.ns["glmer"]("y ~ period + (1 | herd)",
                                  row.ns["cbpp"].assign(y=row.ns["Yb"][name]),
                                  family="binomial")
        close(fits[name]["logLik"], float(one.logLik()), abs=1e-8)


@check("update-formula")
def _(row):
    (new,) = row.run()
    assert list(new.fixef().index) == ["(Intercept)"]
    assert new.formula == "Reaction ~ (Days | Subject)"  # R's formula(update(m, . ~ . - Days))
    direct = row.ns["lmer"]("Reaction ~ (Days | Subject)", row.ns["sleepstudy"])
    close(new.REMLcrit(), direct.REMLcrit(), rel=1e-8)


@check("update-args")
def _(row):
    (new,) = row.run()
    assert_sleepstudy_ml(new)


# --- control

@check("optimizer")
def _(row):
    (m,) = row.run()
    assert m.optinfo.optimizer == "Nelder_Mead"
    close(m.fixef(), SLEEP_FIXEF, rel=1e-5)


@check("optCtrl")
def _(row):
    bobyqa, nelder_mead = row.run()
    assert bobyqa.optCtrl == {"maxeval": 1000}
    lmer, data = row.ns["lmer"], row.ns["sleepstudy"]
    for control in (bobyqa, nelder_mead):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # optCtrl's names are the optimizer's own
            fit = lmer("Reaction ~ Days + (Days | Subject)", data, control=control)
        close(fit.fixef(), SLEEP_FIXEF, rel=1e-5)


@check("check-actions")
def _(row):
    (control,) = row.run()
    assert control.check_nobs_vs_nlev == "ignore"
    data = row.ns["sleepstudy"]
    three = data[data["Subject"].isin(["308", "309", "310"])]
    with pytest.warns(GroupingFactorWarning, match="< 5 sampled levels"):
        row.ns["lmer"]("Reaction ~ Days + (1 | Subject)", three, control=control)


@check("check-conv")
def _(row):
    (control,) = row.run()
    with warnings.catch_warnings():
        warnings.simplefilter("error", SingularFitWarning)
        fit = row.ns["lmer"]("Yield ~ 1 + (1 | Batch)", row.ns["load_dataset"]("Dyestuff2"),
                             control=control)
    assert fit.isSingular()


@check("glmerControl")
def _(row):
    lme4_pair, single = row.run()
    assert lme4_pair.optimizer_stages() == ("bobyqa", "Nelder_Mead")
    assert single.optimizer_stages() == ("bobyqa", "bobyqa")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the two-stage fit warns of nothing
        fit = row.ns["glmer"](CBPP_FORMULA, row.ns["cbpp"], family="binomial",
                              control=lme4_pair)
    assert fit.optinfo.optimizer == "Nelder_Mead"
    close(fit.fixef(), CBPP_FIXEF, abs=1e-4)


@check("singular")
def _(row):
    (m,) = row.run()
    assert m.isSingular()
    (message,) = row.warned(SingularFitWarning)
    assert message == "boundary (singular) fit: see help('isSingular')"


# ---------------------------------------------------------------------------- tests


def test_tables_are_well_formed():
    assert not PROBLEMS, "\n".join(PROBLEMS)
    assert len(ROWS) >= 60


def test_every_row_has_a_check_and_every_check_a_row():
    assert sorted(set(ROWS) - set(CHECKS)) == [], "rows of the guide without a check"
    assert sorted(set(CHECKS) - set(ROWS)) == [], "checks for rows the guide no longer has"


@pytest.mark.parametrize("topic", list(ROWS))
def test_row(topic, setup_ns):
    if topic not in CHECKS:
        pytest.fail(f"no check for the guide's row {topic!r}")
    CHECKS[topic](Row(topic, _code_spans(ROWS[topic][2]), dict(setup_ns)))


def test_code_blocks_run(setup_ns):
    assert len(BLOCKS) >= 3
    ns = dict(setup_ns)
    for block in BLOCKS[1:]:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PylmerWarning)  # the blocks filter their own
            _exec(block, ns, "<guide block>")
    assert ns["m2"].isSingular()  # the warnings example: fitted, its warning filtered
    # the string-levels example: the Categorical's order is the order of the effects
    d = ns["d"]
    fit = ns["lmer"]("y ~ 1 + (1 | g)", d, control=ns["LmerControl"](
        check_conv_singular="ignore"))
    assert list(fit.ranef()["g"].index) == ["a", "A", "b", "B"]
    plain = ns["lmer"]("y ~ 1 + (1 | g)", d.assign(g=d["g"].astype(str)),
                       control=ns["LmerControl"](check_conv_singular="ignore"))
    assert list(plain.ranef()["g"].index) == ["A", "B", "a", "b"]  # code point order


def test_every_row_shows_the_r_call():
    assert [topic for topic, cells in ROWS.items() if not _code_spans(cells[1])] == []
