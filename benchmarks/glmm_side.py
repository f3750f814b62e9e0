"""Time glmm fits (the Rust package ``glmm``, PyPI) in its own Python environment.

glmm lives in a separate virtual environment, ``.venv-glmm`` (``make glmm-venv``, i.e.
``scripts/glmm-venv.sh``), so pylmer's environment stays free of it. The benchmark process
writes the cases to a JSON file and runs ``.venv-glmm/bin/python -m benchmarks.glmm_side
CASES.json REPS [--memory]`` from the repository root, as ``r_side.py`` runs Rscript. That
process imports ``benchmarks.cases`` (numpy and pandas) and ``benchmarks.memory`` but never
pylmer, reads each case's CSV with :func:`~benchmarks.cases.read_frame` (the column types and
factor levels the other sides use) and prints one ``BENCH {json}`` line per case.

Timed quantity: ``glmm.fit(df, formula, family, link=..., nagq=..., reml=...,
satterthwaite=False, anova_test="Wald")`` with ``df`` (a pandas DataFrame) in memory, 1 + reps
times, the median over the last reps. ``satterthwaite=False`` and ``anova_test="Wald"`` keep
glmm to what ``lmer``/``glmer`` do: its defaults add a Satterthwaite pass for Gaussian mixed
models and, for Poisson GLMMs, refit the model once per fixed term for likelihood-ratio tests.
glmm's exact-Hessian standard errors (its default) stay in the timing.

glmm's formula language is narrower than lme4's. Rewrites that keep the model identical are
made here, the derived columns computed before the timed calls (each is reported):
``cbind(s, <expression>)`` gets the expression as a column, ``scale(x)`` gets R's
``(x - mean) / sd`` as a column, and a factor response of a binomial model becomes 0/1 (1 for
every level but the first, as R's ``binomial()`` reads it). A model glmm refuses (nAGQ = 0,
or a ``ValueError`` from ``glmm.fit`` on the first fit) is reported as skipped, with why.

Objective, on the scale of the other sides' ``obj diff``: ``-2 * fit.loglik`` (for a REML fit
glmm's ``loglik`` is minus half the REML criterion), except with adaptive quadrature
(nAGQ > 1), where lme4's (and pylmer's) ``-2 * logLik`` leaves out the data-only constant
that glmm's ``fit.deviance`` leaves out as well, so that is used. None (see
:func:`objective_note`) for Gamma GLMMs, where lme4's ``logLik`` plugs the mean deviance in as
the dispersion (``Gamma()$aic``) and glmm estimates it by maximum likelihood, and for REML fits
with an ordered factor among the fixed effects, which glmm codes with treatment contrasts and
lme4 with ``contr.poly``: the same fit, but the REML criterion depends on the coding of X.
"""

from __future__ import annotations

import gc
import json
import math
import re
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from .cases import Case, read_frame
from .memory import PeakMeter, bench_results, run_measured

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PYTHON = PACKAGE_ROOT / ".venv-glmm" / "bin" / "python"
MAKE_HINT = "make glmm-venv (scripts/glmm-venv.sh) creates it"

# R's family and link names -> glmm's.
_FAMILIES = {"gaussian": "gaussian", "binomial": "binomial", "poisson": "poisson",
             "Gamma": "gamma", "inverse.gaussian": "inversegaussian"}
_LINKS = {"1/mu^2": "inverse_squared"}

_CBIND = re.compile(r"^\s*cbind\(\s*(\w+)\s*,\s*([^)]*?)\s*\)\s*~")
_SCALE = re.compile(r"\bscale\(\s*(\w+)\s*\)")


class Unsupported(Exception):
    """glmm cannot fit the case; the message says why."""


@dataclass
class GlmmCall:
    """How one case is fitted by glmm.

    Parameters
    ----------
    formula : str
        The formula passed to ``glmm.fit`` (the case's, or a rewrite of it).
    family : str
        glmm's family name.
    kwargs : dict
        The other keyword arguments of ``glmm.fit``.
    derived : dict
        Column name -> function of the data frame: columns the rewritten formula needs,
        computed before the timed calls.
    rewrites : list of str
        What was rewritten, for the report (empty: the case's own formula).
    """

    formula: str
    family: str
    kwargs: dict
    derived: dict = field(default_factory=dict)
    rewrites: list = field(default_factory=list)


def glmm_call(case: Case) -> GlmmCall:
    """The ``glmm.fit`` call equivalent to the case's lmer/glmer call.

    Raises
    ------
    Unsupported
        If glmm has no equivalent (nAGQ = 0, or a family glmm lacks).
    """
    family = _FAMILIES.get(case.family or "gaussian")
    if family is None:
        raise Unsupported(f"glmm has no {case.family} family")
    kwargs = {"satterthwaite": False, "anova_test": "Wald"}
    if not case.glmm:
        kwargs["reml"] = case.REML
    else:
        if case.nAGQ == 0:
            raise Unsupported("glmm has no nAGQ = 0 (its nagq runs from 1 = Laplace to 25)")
        kwargs.update(link=_LINKS.get(case.link, case.link), nagq=case.nAGQ)
    call = GlmmCall(case.formula, family, kwargs)
    _rewrite_cbind(call)
    _rewrite_scale(call)
    return call


def _rewrite_cbind(call: GlmmCall) -> None:
    # glmm's cbind() takes two column names; lme4's takes expressions.
    match = _CBIND.match(call.formula)
    if match is None or re.fullmatch(r"\w+", match.group(2)):
        return
    expr, name = match.group(2), "cbind_failures"
    call.derived[name] = lambda df, expr=expr: df.eval(expr)
    call.formula = (call.formula[:match.start(2)] + name
                    + call.formula[match.end(2):])
    call.rewrites.append(f"{expr} as a column")


def _rewrite_scale(call: GlmmCall) -> None:
    # glmm's formula has no scale(); R's scale() centres and divides by the sd (n - 1).
    for col in dict.fromkeys(_SCALE.findall(call.formula)):
        name = f"scale_{col}"
        call.derived[name] = lambda df, col=col: (df[col] - df[col].mean()) / df[col].std()
        call.formula = re.sub(rf"\bscale\(\s*{col}\s*\)", name, call.formula)
        call.rewrites.append(f"scale({col}) as a column")


def prepare_frame(case: Case, call: GlmmCall):
    """The case's data with the derived columns and, for binomial, a numeric response."""
    df = read_frame(case.csv, case.columns)
    for name, make in call.derived.items():
        df[name] = make(df)
    response = call.formula.split("~", 1)[0].strip()
    if call.family == "binomial" and response in df and df[response].dtype == "category":
        # R's binomial(): the first level is failure, every other level success.
        df[response] = (df[response].cat.codes > 0).astype("float64")
        call.rewrites.append(f"factor response {response} as 0/1")
    return df


def objective_note(case: Case) -> str | None:
    """Why glmm's objective is not comparable with the other sides' for ``case``, or None."""
    if case.family == "Gamma":
        return ("Gamma -2 logLik differs by definition (lme4: dispersion = mean deviance, "
                "glmm: maximum likelihood)")
    fixed = re.sub(r"\([^()]*\|[^()]*\)", "", case.formula.split("~", 1)[-1])
    ordered = [c for c, info in case.columns.items()
               if info["type"] == "ordered" and re.search(rf"\b{re.escape(c)}\b", fixed)]
    if case.REML and ordered:
        # The REML criterion depends on the coding of X (its log det(X'X) term).
        factors = f"factor{'s' if len(ordered) > 1 else ''} {', '.join(ordered)}"
        return (f"glmm codes the ordered {factors} with treatment "
                "contrasts, lme4 with contr.poly: the REML criteria differ by a constant")
    return None


def objective(case: Case, fit) -> float | None:
    """glmm's value of the quantity pylmer and lme4 report (see the module docstring)."""
    if objective_note(case) is not None:
        return None
    if case.glmm and case.nAGQ > 1:
        # only if the quadrature ran (glmm falls back to Laplace with a warning otherwise)
        return float(fit.deviance) if fit.nagq == case.nAGQ else None
    return -2.0 * float(fit.loglik)


def _short(text: str, limit: int = 160) -> str:
    # glmm's messages can list every affected level; the report needs the first sentence.
    text = text.split(". ")[0].rstrip(".")
    return text if len(text) <= limit else text[:limit - 4] + " ..."


def _messages(fit, caught) -> list[str]:
    """One line per glmm warning: its title and (the start of) its first sentence."""
    lines = [_short(f"{w['title']}: {w['message']}")
             for w in getattr(fit, "warnings", [])] if fit is not None else []
    lines += [_short(str(w.message)) for w in caught
              if not type(w.message).__module__.startswith("glmm")]
    if fit is not None and not fit.converged:
        lines.append("not converged (fit.converged is False)")
    return list(dict.fromkeys(lines))


def time_case(case: Case, reps: int, measure_memory: bool = False) -> dict:
    """Fit ``case`` 1 + reps times with glmm; times, evaluations, objective (and memory)."""
    import glmm

    try:
        call = glmm_call(case)
    except Unsupported as exc:
        return {"skipped": str(exc)}
    df = prepare_frame(case, call)
    result: dict = {"times": [], "warnings": []}
    if call.rewrites:
        result.update(formula=call.formula, rewrites=call.rewrites)
    meter = PeakMeter() if measure_memory else None
    fit = None
    for _ in range(reps + 1):
        gc.collect()
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                start = time.perf_counter()
                fit = glmm.fit(df, call.formula, call.family, **call.kwargs)
                result["times"].append(time.perf_counter() - start)
        except ValueError as exc:
            if not result["times"]:  # glmm validates the formula and options before fitting
                return {"skipped": f"glmm refuses the model: {exc}"}
            return {**result, "error": f"ValueError: {exc}"}
        except Exception as exc:  # noqa: BLE001 (report the failure, go on with the next model)
            return {**result, "error": f"{type(exc).__name__}: {exc}"}
        result["warnings"] = list(dict.fromkeys(result["warnings"] + _messages(fit, caught)))
    times = result["times"]
    value = objective(case, fit)
    if objective_note(case):
        result["objective_note"] = objective_note(case)
    result.update(nobs=int(fit.nobs), first=times[0],
                  median=statistics.median(times[1:]) if reps else times[0],
                  feval=int(fit.n_eval), ngrad=int(fit.n_grad),
                  objective=value if value is not None and math.isfinite(value) else None)
    if meter is not None:
        result.update(meter.result())
    return result


def glmm_version(python: Path = DEFAULT_PYTHON) -> tuple[str | None, str | None]:
    """(glmm and Python versions, None) when ``python`` imports glmm, else (None, the reason)."""
    if not Path(python).exists():
        return None, f"{python} not found; {MAKE_HINT}"
    code = ("import importlib.metadata as m, platform, glmm, pandas; "
            "print(m.version('glmm'), platform.python_version())")
    try:
        probe = subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                               timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{python} does not run ({exc})"
    if probe.returncode != 0:
        tail = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"{python} cannot import glmm and pandas ({tail}); {MAKE_HINT}"
    version, py_version = probe.stdout.split()
    return f"glmm {version} on Python {py_version} ({python})", None


def run_glmm(cases: list[Case], reps: int, memory: bool, workdir: Path,
             python: Path = DEFAULT_PYTHON) -> dict[str, dict]:
    """Benchmark ``cases`` in one process of glmm's Python; results by case name."""
    spec = workdir / f"glmm_{cases[0].name}.cases.json"
    spec.write_text(json.dumps([case.__dict__ for case in cases]), encoding="utf-8")
    cmd = [str(python), "-m", "benchmarks.glmm_side", str(spec), str(reps)]
    code, out, err, maxrss = run_measured(cmd + (["--memory"] if memory else []),
                                          cwd=PACKAGE_ROOT)
    return bench_results(out, err, code, [c.name for c in cases], maxrss if memory else None,
                         "glmm process")


def main(argv: list[str]) -> None:
    specs = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    reps, memory = int(argv[1]), "--memory" in argv[2:]
    for spec in specs:
        result = time_case(Case(**spec), reps, measure_memory=memory)
        print("BENCH " + json.dumps({"name": spec["name"], **result}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
