"""The ``many`` group: one formula fitted to many responses, pylmer's ``lmer_many`` and
``glmer_many`` against lme4's ``refit()`` loop.

Designs (each: a data frame, a matrix of responses with one column per response):

* ``genes``: the shared genomics reference of ``tests/reference/many`` (``genes_data.csv``
  with the factor levels of ``genes_design.json``; ``genes_responses.csv.gz``, 300 samples x
  2000 genes, its column ``sample`` dropped), ``y ~ Disease + Age + (1 | Individual) +
  (1 | Batch)``, REML.
* ``slope``: random slopes (``tests/reference/many/slope_*``, 40 subjects x 6 times, 300
  responses), ``y ~ time + group + (time | subject)``, REML.
* ``cbpp_binary``: cbpp's design (``pylmer.load_dataset("cbpp")``: 56 rows, 15 herds,
  4 periods) with 200 simulated 0/1 responses (:func:`simulate_binary`, fixed seed: for
  each response herd effects b ~ N(0, 1), logit P(y = 1) = -0.5 + b[herd]), written to a
  temporary CSV that both sides read; ``y ~ period + (1 | herd)``, binomial (logit), Laplace.

Measured, on one core per side (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and
``MKL_NUM_THREADS`` set to 1 in the environment of both timing processes):

* pylmer, in its own process (``python -m benchmarks.many_cases SPEC.json``, so that BLAS
  starts with one thread whatever the runner's process loaded): the wall time of the whole
  call, ``lmer_many(formula, data, Y, REML=True, n_jobs=1, progress=False)`` or
  ``glmer_many(formula, data, Y, family="binomial", n_jobs=1, progress=False)`` (model
  frame, design, fits and table), with ``data`` and ``Y`` in memory: the faster of 2 runs,
  in ms per response. The same with ``n_jobs=2`` (two threads, the row says so).
* lme4, in one Rscript process: ``m0 <- lmer(formula, data = d, REML = TRUE)`` (or
  ``glmer(formula, data = d, family = binomial)``) with ``d$y`` the first response,
  untimed; then ``for (j in seq_len(ncol(Y))) refit(m0, Y[, j])`` under ``system.time``, as
  users loop over genes: the faster of 2 runs, in ms per response. Also one run of the
  fresh loop ``d$y <- Y[, j]; lmer(formula, data = d, REML = TRUE, control =
  lmerControl(calc.derivs = FALSE))`` (how lme4's reference table was made) or ``d$y <-
  Y[, j]; glmer(formula, data = d, family = binomial)``. lme4's messages and warnings
  (singular fits) are muffled inside the timed loops.
* Agreement: for the linear designs, the fraction of pylmer's timed table (n_jobs=1) that
  matches lme4's fresh fits (``<design>_lme4.csv``) by the reference README's rule
  (``tests/many_reference.py::mismatches``, the rule of ``tests/test_many.py``), and the
  range of pylmer's REML criterion minus lme4's; for the binary design, pylmer's logLik
  minus that of lme4's refits and of lme4's fresh fits of this run (the binary design's
  models of the loops are kept, their logLik read after the timing). lme4's refit starts
  each response's search from m0's estimates, a fresh fit (and pylmer) from lme4's default
  start, so refits can stop at other points of a flat likelihood. Also whether the n_jobs=2
  table equals the n_jobs=1 table to the last bit.

Target (``genes``): lme4's refit loop / pylmer's n_jobs=1 call at least 15x, about
0.6 ms per response (lme4's refit takes about 9 ms per gene). Without Rscript or lme4 (or
with ``--no-r``) the lme4 columns read "absent" and the notes say why.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .cases import _EXACT_FLOATS, read_frame
from .memory import bench_results
from .pylmer_side import time_fits
from .r_side import _PRELUDE, _r_string, lme4_version, load_code
from .table import _layout, _num

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
REFERENCE = PACKAGE_ROOT / "tests" / "reference" / "many"
THREAD_VARS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
RUNS = 2  # timed runs per side; the faster counts
N_JOBS = (1, 2)  # pylmer's rows; the first is the timed table that is checked
GENES_FORMULA = "y ~ Disease + Age + (1 | Individual) + (1 | Batch)"
SLOPE_FORMULA = "y ~ time + group + (time | subject)"
BINARY_FORMULA = "y ~ period + (1 | herd)"
BINARY_SEED = 20261207
BINARY_RESPONSES = 200
BINARY_INTERCEPT, BINARY_HERD_SD = -0.5, 1.0
TARGET_CASE, TARGET_RATIO, TARGET_MS = "genes", 15.0, 0.6


@dataclass(frozen=True)
class ManyCase:
    """One design: data (CSV and its column spec), responses (CSV), formula, family.

    drop : columns of the responses' CSV that are not responses; family : None for
    ``lmer_many`` (REML), else glmer_many's family; reference : the design's name in
    ``tests/many_reference.py`` whose lme4 table the rows are checked against (None: the
    binary design, checked against this run's lme4 refits).
    """

    name: str
    formula: str
    data_csv: str
    columns: dict
    responses_csv: str
    drop: tuple = ()
    family: str | None = None
    reference: str | None = None
    description: str = field(default="", compare=False)

    @property
    def fit_kind(self) -> str:
        return "REML" if self.family is None else f"{self.family}, Laplace"

    @property
    def function(self) -> str:
        return "lmer_many" if self.family is None else "glmer_many"

    @property
    def criterion(self) -> str:
        return "REML" if self.family is None else "logLik"

    def to_dict(self) -> dict:
        out = asdict(self)
        out["drop"] = list(self.drop)
        return out

    @classmethod
    def from_dict(cls, spec: dict) -> ManyCase:
        return cls(**{**spec, "drop": tuple(spec.get("drop", ()))})


def _sorted_levels(csv: Path, columns: list[str]) -> dict:
    """Factor specs with R's default (sorted) levels for string columns of ``csv``."""
    frame = pd.read_csv(csv, usecols=columns, dtype=str)
    return {c: {"type": "factor", "levels": sorted(frame[c].unique())} for c in columns}


def simulate_binary(seed: int = BINARY_SEED, responses: int = BINARY_RESPONSES):
    """(design, responses): cbpp's herd and period, and 0/1 responses with
    logit P(y = 1) = -0.5 + b[herd], b ~ N(0, 1) drawn anew for each response.

    ``numpy.random.default_rng(seed)`` draws b (herds x responses), then one uniform per
    observation and response (y = 1 where it is below the probability).
    """
    import pylmer

    cbpp = pylmer.load_dataset("cbpp")
    design = cbpp[["herd", "period"]].copy()
    herd = design["herd"].cat.codes.to_numpy()
    rng = np.random.default_rng(seed)
    b = rng.normal(0.0, BINARY_HERD_SD, (len(design["herd"].cat.categories), responses))
    p = 1.0 / (1.0 + np.exp(-(BINARY_INTERCEPT + b[herd])))
    Y = (rng.random(p.shape) < p).astype(np.int64)
    width = len(str(responses))
    return design, pd.DataFrame(Y, columns=[f"b{j + 1:0{width}d}" for j in range(responses)])


def many_cases(workdir: Path) -> list[ManyCase]:
    """The group's designs, in table order; the binary one is written to ``workdir``."""
    design = json.loads((REFERENCE / "genes_design.json").read_text(encoding="utf-8"))
    genes_cols = {c: spec for c, spec in design["columns"].items()
                  if spec["type"] in ("numeric", "integer", "factor", "ordered")}
    slope_cols = {"time": {"type": "numeric"},
                  **_sorted_levels(REFERENCE / "slope_data.csv", ["subject", "group"])}
    data, Y = simulate_binary()
    data_csv, y_csv = workdir / "many_binary_data.csv", workdir / "many_binary_responses.csv"
    data.to_csv(data_csv, index=False)
    Y.to_csv(y_csv, index=False)
    binary_cols = {c: {"type": "factor", "levels": list(data[c].cat.categories)}
                   for c in ("herd", "period")}
    return [
        ManyCase("genes", GENES_FORMULA, str(REFERENCE / "genes_data.csv"), genes_cols,
                 str(REFERENCE / "genes_responses.csv.gz"), drop=("sample",),
                 reference="genes", description="300 samples x 2000 genes"),
        ManyCase("slope", SLOPE_FORMULA, str(REFERENCE / "slope_data.csv"), slope_cols,
                 str(REFERENCE / "slope_responses.csv.gz"), reference="slope",
                 description="40 subjects x 6 times, 300 responses"),
        ManyCase("cbpp_binary", BINARY_FORMULA, str(data_csv), binary_cols, str(y_csv),
                 family="binomial",
                 description=(f"cbpp's 56 rows, {BINARY_RESPONSES} simulated 0/1 responses "
                              f"(seed {BINARY_SEED}: logit P = {BINARY_INTERCEPT} + b[herd], "
                              f"b ~ N(0, {BINARY_HERD_SD:g}))")),
    ]


# ---------------------------------------------------------------------------- pylmer side

def _many_reference():
    """tests/many_reference.py, which holds the reference designs and the match rule."""
    path = PACKAGE_ROOT / "tests" / "many_reference.py"
    spec = importlib.util.spec_from_file_location("many_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_responses(case: ManyCase) -> pd.DataFrame:
    return pd.read_csv(case.responses_csv, **_EXACT_FLOATS).drop(columns=list(case.drop))


def _agreement(case: ManyCase, fits) -> dict:
    """The timed table against lme4: the README rule's matches (linear designs) or the
    logLik column for the comparison with lme4's refits (binary design)."""
    T = fits.table
    out = {"failed": len(fits.failed()), "converged": int(T["converged"].sum())}
    if case.reference is None:
        out["loglik"] = [None if not np.isfinite(v) else float(v) for v in T["logLik"]]
        return out
    ref_mod = _many_reference()
    _data, _Y, ref = ref_mod.load(case.reference)
    bad = ref_mod.mismatches(fits, ref, REML=True)
    diff = T["REML"].to_numpy(float) - ref.loc[T.index, "crit"].to_numpy(float)
    out.update(matched=len(T) - len(bad), compared=len(T), mismatches=list(bad),
               crit_diff_max=float(np.nanmax(diff)), crit_diff_min=float(np.nanmin(diff)),
               lower_by_1e6=int(np.sum(diff < -1e-6)), higher_by_1e6=int(np.sum(diff > 1e-6)))
    return out


def time_many(case: ManyCase, n_jobs_list=N_JOBS, runs: int = RUNS) -> dict:
    """Time pylmer's call on ``case`` ``runs`` times for each n_jobs; the agreement of the
    first n_jobs's table; whether the other n_jobs give the same table."""
    import pylmer

    data = read_frame(case.data_csv, case.columns)
    Y = read_responses(case)
    if case.family is None:
        def call(n_jobs):
            return pylmer.lmer_many(case.formula, data, Y, REML=True, n_jobs=n_jobs,
                                    progress=False)
    else:
        def call(n_jobs):
            return pylmer.glmer_many(case.formula, data, Y, family=case.family,
                                     n_jobs=n_jobs, progress=False)
    result: dict = {"responses": int(Y.shape[1]), "nobs": len(data), "runs": {}}
    first_table = None
    for n_jobs in n_jobs_list:
        res, fits = time_fits(lambda _, n_jobs=n_jobs: call(n_jobs), None, runs - 1)
        if fits is None:  # the call raised: res says how; go on
            result["runs"][str(n_jobs)] = res
            continue
        res["best"] = min(res["times"])
        res["ms"] = 1000.0 * res["best"] / Y.shape[1]
        if first_table is None:
            first_table = fits.table
            try:
                result["agreement"] = _agreement(case, fits)
            except Exception as exc:  # noqa: BLE001
                result["agreement"] = {"error": f"{type(exc).__name__}: {exc}"}
        else:
            res["same_table"] = bool(fits.table.equals(first_table))
        result["runs"][str(n_jobs)] = res
    return result


def run_pylmer(cases: list[ManyCase], workdir: Path) -> dict[str, dict]:
    """:func:`time_many` of every case in one fresh Python process with one BLAS thread."""
    spec = workdir / "many_cases.json"
    spec.write_text(json.dumps([c.to_dict() for c in cases]), encoding="utf-8")
    env = {**os.environ, **THREAD_VARS}
    proc = subprocess.run([sys.executable, "-m", "benchmarks.many_cases", str(spec)],
                          capture_output=True, text=True, cwd=PACKAGE_ROOT, env=env,
                          check=False)
    return bench_results(proc.stdout, proc.stderr, proc.returncode, [c.name for c in cases],
                         None, "pylmer process")


def main(argv: list[str]) -> None:
    for spec in json.loads(Path(argv[0]).read_text(encoding="utf-8")):
        case = ManyCase.from_dict(spec)
        try:
            result = time_many(case)
        except Exception as exc:  # noqa: BLE001 (one line per case, whatever happens)
            result = {"error": f"{type(exc).__name__}: {exc}"}
        print("BENCH " + json.dumps({"name": case.name, **result}), flush=True)


# ---------------------------------------------------------------------------- R side

_R_MANY = r"""
read_responses <- function(path, drop) {
  r <- read.csv(path, check.names = FALSE)
  as.matrix(r[setdiff(names(r), drop)])
}
bench_many <- function(name, d, Y, fit0, fresh, keep, runs) {
  out <- tryCatch({
    G <- ncol(Y)
    d$y <- Y[, 1]
    m0 <- suppressMessages(suppressWarnings(fit0(d)))
    times <- numeric(0); best <- Inf; kept <- NULL
    for (run in seq_len(runs)) {
      fits <- if (keep) vector("list", G) else NULL
      elapsed <- system.time(suppressMessages(suppressWarnings(
        for (j in seq_len(G)) { m <- refit(m0, Y[, j]); if (keep) fits[[j]] <- m }
      )))[["elapsed"]]
      times <- c(times, elapsed)
      if (elapsed < best) { best <- elapsed; kept <- fits }
    }
    loglik <- function(ms) {
      if (keep) vapply(ms, function(m) as.numeric(logLik(m)), 0) else numeric(0)
    }
    ll <- loglik(kept)
    fresh_time <- NA; fresh_ll <- numeric(0)
    if (!is.null(fresh)) {
      fits <- if (keep) vector("list", G) else NULL
      fresh_time <- system.time(suppressMessages(suppressWarnings(
        for (j in seq_len(G)) { d$y <- Y[, j]; m <- fresh(d); if (keep) fits[[j]] <- m }
      )))[["elapsed"]]
      fresh_ll <- loglik(fits)
    }
    sprintf(paste0('"responses": %d, "nobs": %d, "refit_times": [%s], "fresh_time": %s, ',
                   '"loglik": [%s], "fresh_loglik": [%s]'),
            G, nrow(d), paste(sprintf("%.3f", times), collapse = ", "), json_num(fresh_time),
            paste(vapply(ll, json_num, ""), collapse = ", "),
            paste(vapply(fresh_ll, json_num, ""), collapse = ", "))
  }, error = function(e) sprintf('"error": %s', json_str(conditionMessage(e))))
  cat(sprintf('BENCH {"name": %s, %s}\n', json_str(name), out))
}
"""


def r_script(cases: list[ManyCase], runs: int = RUNS) -> str:
    """One R script for every case: lme4's refit loop (and the fresh loop)."""
    lines = [_PRELUDE, _R_MANY]
    for case in cases:
        lines.append(f"d <- {load_code(case.data_csv, case.columns)}")
        drop = ", ".join(_r_string(c) for c in case.drop)
        lines.append(f"Y <- read_responses({_r_string(case.responses_csv)}, c({drop}))")
        if case.family is None:
            fit0 = f"function(d) lmer({case.formula}, data = d, REML = TRUE)"
            fresh = (f"function(d) lmer({case.formula}, data = d, REML = TRUE, "
                     "control = lmerControl(calc.derivs = FALSE))")
        else:
            fit0 = f"function(d) glmer({case.formula}, data = d, family = {case.family})"
            fresh = fit0
        keep = "FALSE" if case.family is None else "TRUE"
        lines.append(f"bench_many({_r_string(case.name)}, d, Y, {fit0}, {fresh}, {keep}, "
                     f"{runs})")
    return "\n".join(lines) + "\n"


def run_r(cases: list[ManyCase], workdir: Path) -> dict[str, dict]:
    """lme4's loops of every case in one Rscript process with one BLAS thread."""
    script = workdir / "bench_many.R"
    script.write_text(r_script(cases), encoding="utf-8")
    env = {**os.environ, **THREAD_VARS}
    proc = subprocess.run([shutil.which("Rscript") or "Rscript", str(script)],
                          capture_output=True, text=True, env=env, check=False)
    results = bench_results(proc.stdout, proc.stderr, proc.returncode,
                            [c.name for c in cases], None, "Rscript")
    for res in results.values():
        if res.get("refit_times") and "error" not in res:
            res["refit_ms"] = 1000.0 * min(res["refit_times"]) / res["responses"]
            if res.get("fresh_time") is not None:
                res["fresh_ms"] = 1000.0 * res["fresh_time"] / res["responses"]
    return results


# ---------------------------------------------------------------------------- the group

def _loglik_diff(py: dict, r: dict, key: str) -> dict | None:
    """pylmer's logLik minus lme4's (``key``: ``loglik`` of the refits, ``fresh_loglik`` of
    the fresh fits), response by response (binary design)."""
    ours = (py.get("agreement") or {}).get("loglik")
    theirs = r.get(key)
    if not ours or not theirs or len(ours) != len(theirs):
        return None
    pairs = [(a, b) for a, b in zip(ours, theirs) if a is not None and b is not None]
    if not pairs:
        return None
    diff = np.array([a - b for a, b in pairs])
    return {"compared": len(pairs), "max": float(diff.max()), "min": float(diff.min()),
            "max_abs": float(np.abs(diff).max()), "over_1e4": int(np.sum(np.abs(diff) > 1e-4)),
            "higher": int(np.sum(diff > 1e-4))}


def run_many(args, workdir: Path, log=print) -> dict:
    """Both sides of the ``many`` group; ``args``: the runner's options (no_r)."""
    cases = many_cases(workdir)
    log(f"pylmer: {', '.join(c.name for c in cases)} ({'/'.join(c.function for c in cases)}; "
        "own process, one BLAS thread)")
    pylmer_res = run_pylmer(cases, workdir)
    r_version, r_missing = (None, "--no-r given") if args.no_r else lme4_version()
    r_res = None
    if r_version:
        log(f"lme4: refit loops of {', '.join(c.name for c in cases)} (one Rscript process; "
            "a few minutes)")
        r_res = run_r(cases, workdir)
    loglik = {}
    for case in cases:
        if case.reference is None and r_res is not None:
            py, r = pylmer_res.get(case.name, {}), r_res.get(case.name, {})
            loglik[case.name] = {"refit": _loglik_diff(py, r, "loglik"),
                                 "fresh": _loglik_diff(py, r, "fresh_loglik")}
    return {"cases": cases, "pylmer": pylmer_res, "r": r_res, "r_version": r_version,
            "r_missing": r_missing, "loglik_diff": loglik, "threads": THREAD_VARS,
            "runs": RUNS, "n_jobs": list(N_JOBS)}


def to_json(res: dict) -> dict:
    """``run_many``'s result for ``--json`` (without the long logLik columns)."""
    def strip(side):
        out = {}
        for name, r in (side or {}).items():
            r = dict(r)
            r.pop("loglik", None)
            r.pop("fresh_loglik", None)
            if isinstance(r.get("agreement"), dict):
                r["agreement"] = {k: v for k, v in r["agreement"].items() if k != "loglik"}
            out[name] = r
        return out

    return {**{k: v for k, v in res.items() if k not in ("cases", "pylmer", "r")},
            "pylmer": strip(res["pylmer"]),
            "r": strip(res["r"]) if res["r"] is not None else None,
            "cases": [{"name": c.name, "formula": c.formula, "fit": c.fit_kind,
                       "function": c.function, "description": c.description}
                      for c in res["cases"]]}


# ---------------------------------------------------------------------------- the tables

MANY_TIME_COLUMNS = ["model", "fit", "n", "responses", "pylmer", "pylmer ms/resp",
                     "lme4 refit ms/resp", "lme4 fresh ms/resp", "refit/pylmer",
                     "fresh/pylmer"]
MANY_FIT_COLUMNS = ["model", "compared with", "match (README rule)", "crit",
                    "pylmer - lme4 max", "min", "max |diff|"]


def _ms(value) -> str:
    return _num(value, ".3f" if value is not None and value < 10 else ".1f")


def _r_cell(res: dict | None, key: str, why: str) -> str:
    if res is None:
        return "absent"
    if "error" in res:
        return "FAILED"
    value = res.get(key)
    return why if value is None else _ms(value)


def _time_rows(res: dict) -> list[list[str]]:
    rows = []
    for case in res["cases"]:
        py = res["pylmer"].get(case.name, {})
        r = None if res["r"] is None else res["r"].get(case.name, {})
        for k, n_jobs in enumerate(res["n_jobs"]):
            run = (py.get("runs") or {}).get(str(n_jobs), {})
            label = f"{case.function} n_jobs={n_jobs}"
            if n_jobs > 1:
                label += f" ({n_jobs} threads)"
            ms = run.get("ms")
            if "error" in py or "error" in run:
                py_cell = "FAILED"
            else:
                py_cell = _ms(ms)
            refit = None if r is None else r.get("refit_ms")
            fresh = None if r is None else r.get("fresh_ms")
            rows.append([
                case.name if k == 0 else "", case.fit_kind if k == 0 else "",
                _num(py.get("nobs", (r or {}).get("nobs")), "d") if k == 0 else "",
                _num(py.get("responses", (r or {}).get("responses")), "d") if k == 0 else "",
                label, py_cell,
                _r_cell(r, "refit_ms", "-") if k == 0 else "",
                _r_cell(r, "fresh_ms", "-") if k == 0 else "",
                _num(refit / ms, ".1f") if refit and ms else "-",
                _num(fresh / ms, ".1f") if fresh and ms else "-",
            ])
    return rows


def _fit_rows(res: dict) -> list[list[str]]:
    rows = []
    for case in res["cases"]:
        agree = res["pylmer"].get(case.name, {}).get("agreement") or {}
        if case.reference is not None:
            if "matched" in agree:
                share = 100.0 * agree["matched"] / agree["compared"]
                match = f"{agree['matched']}/{agree['compared']} ({share:.1f}%)"
                span = [_num(agree["crit_diff_max"], "+.2e"), _num(agree["crit_diff_min"], "+.2e"),
                        _num(max(abs(agree["crit_diff_max"]), abs(agree["crit_diff_min"])),
                             ".2e")]
            else:
                match, span = ("FAILED" if "error" in agree else "-"), ["-", "-", "-"]
            rows.append([case.name, f"lme4 fresh fits ({case.name}_lme4.csv)", match,
                         case.criterion] + span)
            continue
        diffs = res["loglik_diff"].get(case.name) or {}
        for k, (key, what) in enumerate((("refit", "lme4 refits (this run)"),
                                         ("fresh", "lme4 fresh glmer fits (this run)"))):
            diff = diffs.get(key)
            if res["r"] is None:
                span = ["absent"] * 3
            elif diff is None:
                span = ["-", "-", "-"]
            else:
                span = [_num(diff["max"], "+.2e"), _num(diff["min"], "+.2e"),
                        _num(diff["max_abs"], ".2e")]
            rows.append([case.name if k == 0 else "", what, "-", case.criterion] + span)
    return rows


def _target_line(res: dict) -> str:
    py = res["pylmer"].get(TARGET_CASE, {})
    ms = ((py.get("runs") or {}).get("1") or {}).get("ms")
    r = None if res["r"] is None else res["r"].get(TARGET_CASE, {})
    refit = None if r is None else r.get("refit_ms")
    head = (f"target ({TARGET_CASE}): lme4 refit loop / pylmer lmer_many n_jobs=1 at least "
            f"{TARGET_RATIO:g}x (about {TARGET_MS:g} ms per response): ")
    if ms is None:
        return head + "FAIL (pylmer did not run)"
    if refit is None:
        why = res["r_missing"] if res["r"] is None else "lme4's loop failed"
        verdict = "PASS" if ms <= TARGET_MS else "FAIL"
        return (head + f"ratio not measured ({why}); pylmer {ms:.3f} ms per response "
                f"against {TARGET_MS:g} ms: {verdict}")
    ratio = refit / ms
    verdict = "PASS" if ratio >= TARGET_RATIO else "FAIL"
    return head + f"{verdict} ({ratio:.1f}x; pylmer {ms:.3f} ms, lme4 {refit:.2f} ms per response)"


def format_many(res: dict) -> str:
    """The many group's tables (times and ratios; agreement), target line and notes."""
    threads = " ".join(f"{k}={v}" for k, v in res["threads"].items())
    header = [
        ("one formula, many responses (--models many): pylmer's lmer_many / glmer_many "
         "against lme4's refit() loop (glmm is not run on this group)"),
        f"lme4: {res['r_version']}" if res["r_version"]
        else f"lme4 was not run: {res['r_missing']}",
        (f"one core per side ({threads} in both timing processes; pylmer in its own "
         f"process); ms/resp: the faster of {res['runs']} runs / responses; pylmer: the "
         "whole call (design, fits, table); lme4 refit: the loop refit(m0, Y[, j]) over the "
         "responses, m0 fitted beforehand; lme4 fresh: one run of the loop of fresh fits, "
         "lmer(..., control = lmerControl(calc.derivs = FALSE)) or glmer(..., family = "
         "binomial); ratios above 1: pylmer faster"),
        "",
    ]
    text = _layout(MANY_TIME_COLUMNS, _time_rows(res), text=5)
    text += "\n\n" + _target_line(res) + "\n\n"
    text += _layout(MANY_FIT_COLUMNS, _fit_rows(res), text=4)
    notes = _many_notes(res)
    return "\n".join(header) + text + ("\n\n" + "\n".join(notes) if notes else "")


def _many_notes(res: dict) -> list[str]:
    lines = []
    for case in res["cases"]:
        py = res["pylmer"].get(case.name, {})
        if "error" in py:
            lines.append(f"pylmer failed on {case.name}: {py['error']}")
        for n_jobs, run in (py.get("runs") or {}).items():
            where = f"{case.name} (n_jobs={n_jobs})"
            if "error" in run:
                lines.append(f"pylmer failed on {where}: {run['error']}")
            if run.get("same_table") is not None:
                same = "identical to" if run["same_table"] else "DIFFERS from"
                lines.append(f"{where}: the table is {same} the n_jobs=1 table")
            lines += [f"pylmer warning on {where}: {w}" for w in run.get("warnings", [])]
        agree = py.get("agreement") or {}
        if "error" in agree:
            lines.append(f"agreement check of {case.name} failed: {agree['error']}")
        if agree.get("mismatches"):
            shown = ", ".join(agree["mismatches"][:10])
            more = len(agree["mismatches"]) - 10
            lines.append(f"{case.name}: no match with lme4: {shown}"
                         + (f" and {more} more" if more > 0 else ""))
        if "lower_by_1e6" in agree:
            lines.append(f"{case.name}: pylmer's REML criterion lower than lme4's by more "
                         f"than 1e-6 on {agree['lower_by_1e6']} responses, higher on "
                         f"{agree['higher_by_1e6']}")
        if agree.get("failed"):
            lines.append(f"{case.name}: {agree['failed']} responses not fitted by pylmer")
        unconverged = py.get("responses", 0) - agree.get("converged", py.get("responses", 0))
        if unconverged > 0:
            lines.append(f"{case.name}: {unconverged} of {py['responses']} responses with "
                         "converged = False in pylmer's table (their warnings column says why)")
        if res["r"] is not None:
            r = res["r"].get(case.name, {})
            if "error" in r:
                lines.append(f"lme4 failed on {case.name}: {r['error']}")
        for key, diff in (res["loglik_diff"].get(case.name) or {}).items():
            if diff is not None and diff["over_1e4"]:
                lines.append(f"{case.name}: |logLik difference| from lme4's {key} fits above "
                             f"1e-4 on {diff['over_1e4']} of {diff['compared']} responses "
                             f"(pylmer higher on {diff['higher']})")
    if res["r"] is None:
        lines.append(f"lme4 columns absent: {res['r_missing']}")
    lines.append("data: " + "; ".join(f"{c.name}: {c.formula}, {c.description}"
                                       for c in res["cases"]))
    lines.append("match (README rule): tests/many_reference.py mismatches(), the rule of "
                 "tests/test_many.py (criterion within 1e-6 or lower and estimates, SEs, "
                 "sigma, theta within tolerance; or a lower criterion at the row's own "
                 "model); cbpp_binary: pylmer's glmer_many logLik minus that of lme4's "
                 "refit() and fresh glmer() of each response (lme4's refit starts from m0's "
                 "estimates, glmer and pylmer from lme4's default start)")
    return lines


if __name__ == "__main__":
    main(sys.argv[1:])
