"""Time pylmer fits: in this process (small models) or in a child process (large models).

Timed quantity: ``lmer(formula, df, REML=...)`` (LMMs) or
``glmer(formula, df, family=..., nAGQ=...)`` (GLMMs) with ``df`` already in memory
(``time.perf_counter`` around the call). Each case is fitted ``1 + reps`` times: the first
fit is reported separately (first-call effects: lazy imports, caches), the median is over
the other ``reps`` fits.

Run as ``python -m benchmarks.pylmer_side CASE.json REPS`` it fits one case in a fresh
process, with peak memory, and prints the result as JSON on its last line.
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

from .cases import Case, load_case_data
from .memory import PeakMeter, run_measured

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def _fitter(case: Case):
    """A function of the data frame that fits ``case`` as the timed call does."""
    import pylmer

    if not case.glmm:
        return lambda df: pylmer.lmer(case.formula, df, REML=case.REML)
    # R's family names: binomial, poisson, Gamma, gaussian, inverse.gaussian.
    family = getattr(pylmer, case.family.replace(".", "_"))(link=case.link)
    return lambda df: pylmer.glmer(case.formula, df, family=family, nAGQ=case.nAGQ)


def objective(case: Case, model) -> float:
    """REML criterion (REML LMMs), deviance (ML LMMs) or -2 log-likelihood (GLMMs: the
    Laplace / adaptive Gauss-Hermite approximation, as lme4's ``-2 * logLik(m)``)."""
    if case.glmm:
        return -2.0 * float(model.logLik())
    return float(model.REMLcrit() if case.REML else model.deviance())


def time_fits(fit, df, reps: int) -> tuple[dict, object]:
    """Call ``fit(df)`` 1 + reps times: (times, first, median and warnings; the last model).

    The model is None, and the dict holds ``error``, if a fit raised.
    """
    result: dict = {"times": [], "warnings": []}
    try:
        for _ in range(reps + 1):
            gc.collect()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                start = time.perf_counter()
                model = fit(df)
                result["times"].append(time.perf_counter() - start)
            result["warnings"] += [str(w.message) for w in caught
                                   if str(w.message) not in result["warnings"]]
    except Exception as exc:  # noqa: BLE001 (report the failure, go on with the next model)
        result["error"] = f"{type(exc).__name__}: {exc}"
        return result, None
    times = result["times"]
    result.update(first=times[0], median=statistics.median(times[1:]) if reps else times[0])
    return result, model


def time_case(case: Case, reps: int, measure_memory: bool = False) -> dict:
    """Fit ``case`` 1 + reps times; times, evaluations, objective (and memory) as a dict."""
    fit = _fitter(case)
    df = load_case_data(case)
    meter = PeakMeter() if measure_memory else None
    result, model = time_fits(fit, df, reps)
    if model is None:
        return result
    result.update(
        nobs=int(model.nobs()),
        feval=int(model.optinfo.feval),
        optimizer=str(model.optinfo.optimizer),
        objective=objective(case, model),
    )
    if meter is not None:
        result.update(meter.result())
    return result


def time_case_in_child(case: Case, reps: int, workdir: Path) -> dict:
    """:func:`time_case` with memory, in a fresh Python process (one per case)."""
    spec = workdir / f"{case.name}.case.json"
    spec.write_text(case.to_json(), encoding="utf-8")
    code, out, err, maxrss = run_measured(
        [sys.executable, "-m", "benchmarks.pylmer_side", str(spec), str(reps)],
        cwd=PACKAGE_ROOT)
    lines = out.strip().splitlines()
    if code != 0 or not lines:
        tail = (err.strip().splitlines() or ["no output"])[-1]
        return {"error": f"pylmer process exited with {code}: {tail}"}
    result = json.loads(lines[-1])
    result["maxrss_mb"] = maxrss
    return result


def main(argv: list[str]) -> None:
    case = Case.from_json(Path(argv[0]).read_text(encoding="utf-8"))
    print(json.dumps(time_case(case, int(argv[1]), measure_memory=True)))


if __name__ == "__main__":
    main(sys.argv[1:])
