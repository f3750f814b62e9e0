"""Time lme4 fits: generate an R script, run it with Rscript, parse its output.

The script reads each case's CSV with the column types and factor levels of its column spec,
as ``pylmer.load_dataset`` does, so both sides fit identical data. Timed quantity:
``system.time(lmer(formula, data = d, REML = ...))["elapsed"]`` (LMMs) or
``system.time(glmer(formula, data = d, family = f(link = "..."), nAGQ = ...))["elapsed"]``
(GLMMs, lme4's default control) with ``d`` already loaded (``system.time`` runs ``gc()``
first, untimed). Objective: ``REMLcrit(m)`` (REML), ``deviance(m)`` (ML LMMs) or
``-2 * logLik(m)`` (GLMMs; ``deviance()`` of a glmerMod is the residual deviance). As on
the pylmer side each case is fitted ``1 + reps`` times; the median is over the last ``reps``.

Memory (large cases, one Rscript process each): the process reads ``VmHWM`` (the process max
so far) and resets its RSS high-water mark after loading lme4 and the data, and reads
``VmHWM`` again after the fits (see ``memory.py``); it also reports R's own heap peak, the
sum of ``gc()``'s "max used" (Mb) over the fits, which leaves out memory that CHOLMOD and BLAS
allocate outside R's heap.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
from pathlib import Path

from .cases import Case
from .memory import bench_results, run_measured

_R_TYPES = {"numeric": "numeric", "integer": "integer", "factor": "character",
            "ordered": "character"}

_PRELUDE = r"""
suppressPackageStartupMessages(library(lme4))
status_mb <- function(key) {
  lines <- tryCatch(readLines("/proc/self/status"), error = function(e) character())
  hit <- lines[startsWith(lines, paste0(key, ":"))]
  if (length(hit)) as.numeric(gsub("[^0-9]", "", hit)) / 1024 else NA
}
reset_peak <- function() {
  tryCatch({ cat("5", file = "/proc/self/clear_refs"); TRUE }, condition = function(e) FALSE)
}
load_frame <- function(path, types, levels) {
  d <- read.csv(path, colClasses = types, check.names = FALSE)
  for (col in names(levels)) {
    d[[col]] <- factor(d[[col]], levels = levels[[col]], ordered = attr(levels, "ordered")[[col]])
  }
  d
}
json_num <- function(x) if (length(x) != 1 || !is.finite(x)) "null" else sprintf("%.17g", x)
json_str <- function(x) {
  sprintf('"%s"', gsub("\n", " ", gsub('(["\\\\])', "\\\\\\1", x)))
}
bench <- function(name, fit, reps, memory) {
  base <- NA; peak <- NA; heap <- NA; times <- numeric(0); warns <- character(0)
  load_peak <- NA; process_peak <- NA
  if (memory) {
    base <- status_mb("VmRSS"); load_peak <- status_mb("VmHWM")
    memory <- reset_peak(); invisible(gc(reset = TRUE))
  }
  out <- tryCatch({
    for (i in seq_len(reps + 1)) {
      elapsed <- withCallingHandlers(
        system.time(m <- fit())[["elapsed"]],
        warning = function(w) { warns <<- union(warns, conditionMessage(w)); invokeRestart("muffleWarning") })
      times <- c(times, elapsed)
    }
    if (memory) {
      peak <- status_mb("VmHWM")
      process_peak <- if (all(is.na(c(load_peak, peak)))) NA else max(load_peak, peak, na.rm = TRUE)
      g <- gc()
      heap <- sum(g[, which(colnames(g) == "max used") + 1])
    }
    obj <- if (isGLMM(m)) -2 * as.numeric(logLik(m)) else if (isREML(m)) REMLcrit(m) else deviance(m)
    sprintf('"times": [%s], "nobs": %d, "feval": %s, "optimizer": %s, "objective": %s, "base_mb": %s, "peak_mb": %s, "process_peak_mb": %s, "rheap_mb": %s, "warnings": [%s]',
            paste(sprintf("%.3f", times), collapse = ", "), nobs(m), json_num(m@optinfo$feval),
            json_str(as.character(m@optinfo$optimizer)),
            json_num(obj), json_num(base), json_num(peak), json_num(process_peak), json_num(heap),
            paste(vapply(warns, json_str, ""), collapse = ", "))
  }, error = function(e) sprintf('"error": %s', json_str(conditionMessage(e))))
  cat(sprintf('BENCH {"name": %s, %s}\n', json_str(name), out))
}
"""


def _r_string(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid R string literal


def _r_vector(values, names=None) -> str:
    items = [_r_string(v) if isinstance(v, str) else ("TRUE" if v else "FALSE") for v in values]
    if names is not None:
        items = [f"{_r_string(k)} = {v}" for k, v in zip(names, items)]
    return f"c({', '.join(items)})"


def _load_code(case: Case) -> str:
    return load_code(case.csv, case.columns)


def load_code(csv: str, cols: dict) -> str:
    """R code that reads ``csv`` with the column types and factor levels of ``cols``."""
    factors = [c for c, info in cols.items() if info["type"] in ("factor", "ordered")]
    levels = ", ".join(f"{_r_string(c)} = {_r_vector(cols[c]['levels'])}" for c in factors)
    ordered = _r_vector([cols[c]["type"] == "ordered" for c in factors], factors)
    types = _r_vector([_R_TYPES[info["type"]] for info in cols.values()], list(cols))
    return (f"load_frame({_r_string(csv)}, {types},\n"
            f"  structure(list({levels}), ordered = as.list({ordered})))")


def _fit_call(case: Case) -> str:
    if case.glmm:
        return (f"glmer({case.formula}, data = d, family = {case.family}(link = "
                f"{_r_string(case.link)}), nAGQ = {case.nAGQ})")
    return f"lmer({case.formula}, data = d, REML = {'TRUE' if case.REML else 'FALSE'})"


def r_script(cases: list[Case], reps: int, memory: bool) -> str:
    """An R script that loads each distinct data file once and benchmarks every case."""
    lines = [_PRELUDE, "frames <- list()"]
    for csv, case in {case.csv: case for case in cases}.items():
        lines.append(f"frames[[{_r_string(csv)}]] <- {_load_code(case)}")
    for case in cases:
        call = _fit_call(case)
        lines.append(f"d <- frames[[{_r_string(case.csv)}]]")
        lines.append(f"bench({_r_string(case.name)}, function() {call}, {reps}, "
                     f"{'TRUE' if memory else 'FALSE'})")
    return "\n".join(lines) + "\n"


def lme4_version() -> tuple[str | None, str | None]:
    """(R and lme4 versions, None) when Rscript with lme4 runs, else (None, the reason)."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None, "Rscript not found on PATH"
    probe_code = ('if (!requireNamespace("lme4", quietly = TRUE)) quit(status = 3); '
                  'cat(R.version.string, "with lme4", format(packageVersion("lme4")))')
    try:
        probe = subprocess.run([rscript, "-e", probe_code], capture_output=True, text=True,
                               timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"Rscript does not run ({exc})"
    if probe.returncode == 3:
        return None, "the R package lme4 is not installed"
    if probe.returncode != 0:
        return None, f"Rscript failed: {probe.stderr.strip()[-200:]}"
    return probe.stdout.strip(), None


def run_lme4(cases: list[Case], reps: int, memory: bool, workdir: Path) -> dict[str, dict]:
    """Benchmark ``cases`` in one Rscript process; results by case name."""
    script = workdir / f"bench_{cases[0].name}.R"
    script.write_text(r_script(cases, reps, memory), encoding="utf-8")
    code, out, err, maxrss = run_measured([shutil.which("Rscript") or "Rscript", str(script)])
    results = bench_results(out, err, code, [c.name for c in cases],
                            maxrss if memory else None, "Rscript")
    for result in results.values():
        times = result.get("times")
        if times and "error" not in result:
            result.update(first=times[0],
                          median=statistics.median(times[1:]) if reps else times[0])
    return results
