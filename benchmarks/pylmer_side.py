"""Time pylmer fits: in this process (small models) or in a child process (large models).

Timed quantity: ``lmer(formula, df, REML=...)`` with ``df`` already in memory
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
from .memory import proc_status_mb, reset_peak, run_measured

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def time_case(case: Case, reps: int, measure_memory: bool = False) -> dict:
    """Fit ``case`` 1 + reps times; times, evaluations, objective (and memory) as a dict."""
    from pylmer import lmer

    df = load_case_data(case)
    result: dict = {"times": [], "warnings": []}
    if measure_memory:
        result["base_mb"] = proc_status_mb().get("rss")
        measure_memory = reset_peak()
    try:
        for _ in range(reps + 1):
            gc.collect()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                start = time.perf_counter()
                model = lmer(case.formula, df, REML=case.REML)
                result["times"].append(time.perf_counter() - start)
            result["warnings"] += [str(w.message) for w in caught
                                   if str(w.message) not in result["warnings"]]
    except Exception as exc:  # noqa: BLE001 (report the failure, go on with the next model)
        result["error"] = f"{type(exc).__name__}: {exc}"
        return result
    times = result["times"]
    result.update(
        nobs=int(model.nobs()),
        first=times[0],
        median=statistics.median(times[1:]) if reps else times[0],
        feval=int(model.optinfo.feval),
        objective=float(model.REMLcrit() if case.REML else model.deviance()),
    )
    if measure_memory:
        result["peak_mb"] = proc_status_mb().get("hwm")
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
