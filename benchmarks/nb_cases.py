"""The ``nb`` group: negative binomial GLMMs (and a cumulative-link case) against R packages.

Unlike the other groups, every row pairs one pylmer call with one R call, each fitting the
same model on the same data:

* ``pylmer.glmer(formula, data, family=pylmer.nbinom2())`` against glmmTMB's
  ``glmmTMB(formula, data = d, family = nbinom2)`` (NB2, theta estimated, glmmTMB's Laplace
  approximation);
* ``pylmer.glmer_nb(formula, data)`` against lme4's ``glmer.nb(formula, data = d)`` (lme4's
  Laplace approximation, theta estimated);
* ``pylmer.clmm(formula, data, link="logit")`` against ordinal's ``clmm(formula, data = d,
  link = "logit")``: defined for when pylmer has ``clmm``; until then the row is skipped, on
  both sides, and the notes say so.

Data (``benchmarks/data/``, CSV plus ``.columns.json`` with the factor levels, read by both
sides as the other groups' data are): ``nb_speed_20k`` (20 000 rows, ``y ~ x + trt + (1 | g)``,
400 groups) and ``nb_speed_crossed_40k`` (40 000 rows, ``y ~ x + (1 | f1) + (1 | f2)``,
500 x 100 crossed levels), both simulated NB2 counts; ``wine`` (ordinal's wine data, 72 rows,
``rating`` an ordered factor).

glmer.nb on ``nb_speed_crossed_40k`` takes about 110 s per fit: lme4 fits it only with
``--slow-lme4`` (pylmer's side of the row still runs), and both sides then fit it
1 + ``--large-reps`` times. Every other row is fitted 1 + ``--reps`` times on each side; the
median is over the last fits, as in the other groups. pylmer fits in this process, R in one
Rscript process for all the rows (``system.time(m <- <call>)["elapsed"]``). A missing R
package (glmmTMB, ordinal) leaves its rows' R columns "absent" and the notes say why.

Reported: seconds and R / pylmer; evaluations (pylmer: ``optinfo.feval``; glmmTMB and clmm:
nlminb's function + gradient evaluations; glmer.nb: ``optinfo$feval`` of its last glmer
refit and the number of refits of its theta search); ``-2 logLik`` of both fits (obj diff:
pylmer - R) and the NB theta of both.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .cases import read_frame
from .memory import bench_results, run_measured
from .pylmer_side import time_fits
from .r_side import _PRELUDE, _r_string, load_code

DATA = Path(__file__).resolve().parent / "data"
SPEED_20K = "y ~ x + trt + (1 | g)"
SPEED_CROSSED = "y ~ x + (1 | f1) + (1 | f2)"
WINE = "rating ~ temp + contact + (1 | judge)"

# pylmer side: the attribute the call needs, its label, and the call.
PYLMER_CALLS = {
    "nbinom2": ("nbinom2", "glmer(family=nbinom2())",
                lambda pylmer, f, df: pylmer.glmer(f, df, family=pylmer.nbinom2())),
    "glmer_nb": ("glmer_nb", "glmer_nb()", lambda pylmer, f, df: pylmer.glmer_nb(f, df)),
    "clmm": ("clmm", 'clmm(link="logit")',
             lambda pylmer, f, df: pylmer.clmm(f, df, link="logit")),
}
# R side, by engine (the R package): its label and the call, ``d`` being the data.
R_CALLS = {
    "glmmTMB": ("glmmTMB nbinom2", "glmmTMB({f}, data = d, family = nbinom2)"),
    "lme4": ("lme4 glmer.nb", "glmer.nb({f}, data = d)"),
    "ordinal": ("ordinal clmm", 'clmm({f}, data = d, link = "logit")'),
}
ENGINES = tuple(R_CALLS)
INSTALL_HINT = {"glmmTMB": "r-cran-glmmtmb", "ordinal": "r-cran-ordinal", "lme4": "r-cran-lme4"}


@dataclass(frozen=True)
class PairCase:
    """One pylmer call against one R call on the same data.

    dataset : file stem in ``benchmarks/data``; formula : both sides'; pylmer : key of
    PYLMER_CALLS; engine : key of R_CALLS; slow_in_r : fitted by R only with
    ``--slow-lme4`` (and 1 + ``--large-reps`` times on both sides); slow_note : how slow.
    """

    dataset: str
    formula: str
    pylmer: str
    engine: str
    slow_in_r: bool = False
    slow_note: str = ""

    @property
    def name(self) -> str:
        """Unique key: the data set and the pylmer function."""
        return f"{self.dataset}:{self.pylmer}"

    @property
    def csv(self) -> str:
        return str(DATA / f"{self.dataset}.csv")

    @property
    def columns(self) -> dict:
        spec = DATA / f"{self.dataset}.columns.json"
        return json.loads(spec.read_text(encoding="utf-8"))["columns"]

    @property
    def pylmer_label(self) -> str:
        return PYLMER_CALLS[self.pylmer][1]

    @property
    def r_label(self) -> str:
        return R_CALLS[self.engine][0]

    @property
    def r_call(self) -> str:
        return R_CALLS[self.engine][1].format(f=self.formula)

    def reps(self, reps: int, large_reps: int) -> int:
        return large_reps if self.slow_in_r else reps


def nb_cases() -> list[PairCase]:
    """The rows of the ``nb`` group, in table order."""
    slow = "about 110 s per fit on a 2-core machine"
    return [
        PairCase("nb_speed_20k", SPEED_20K, "nbinom2", "glmmTMB"),
        PairCase("nb_speed_20k", SPEED_20K, "glmer_nb", "lme4"),
        PairCase("nb_speed_crossed_40k", SPEED_CROSSED, "nbinom2", "glmmTMB"),
        PairCase("nb_speed_crossed_40k", SPEED_CROSSED, "glmer_nb", "lme4",
                 slow_in_r=True, slow_note=slow),
        PairCase("wine", WINE, "clmm", "ordinal"),
    ]


def pylmer_missing(case: PairCase) -> str | None:
    """Why pylmer cannot fit ``case`` (it lacks the function), or None."""
    import pylmer

    attr = PYLMER_CALLS[case.pylmer][0]
    if hasattr(pylmer, attr):
        return None
    return (f"pylmer has no {attr} yet (no attribute pylmer.{attr}); the case is defined "
            "and runs once it exists")


def time_pylmer(case: PairCase, reps: int) -> dict:
    """Fit ``case`` with pylmer 1 + reps times: times, evaluations, -2 logLik, NB theta."""
    import pylmer

    call = PYLMER_CALLS[case.pylmer][2]
    df = read_frame(case.csv, case.columns)
    result, model = time_fits(lambda data: call(pylmer, case.formula, data), df, reps)
    if model is None:
        return result
    optinfo = getattr(model, "optinfo", None)
    result.update(nobs=int(model.nobs()), objective=-2.0 * float(model.logLik()),
                  feval=getattr(optinfo, "feval", None),
                  optimizer=getattr(optinfo, "optimizer", None),
                  theta=getattr(getattr(model, "family", None), "theta", None))
    return result


_R_BENCH = r"""
pair_figures <- function(m) {
  if (inherits(m, "merMod")) {
    theta <- if (is.null(attr(m, "nevals"))) NA else getME(m, "glmer.nb.theta")
    list(feval = m@optinfo$feval, ngrad = NA, refits = attr(m, "nevals"),
         optimizer = as.character(m@optinfo$optimizer), theta = theta)
  } else if (inherits(m, "glmmTMB")) {
    e <- m$fit$evaluations
    list(feval = e[["function"]], ngrad = e[["gradient"]], refits = NA, optimizer = "nlminb",
         theta = if (family(m)$family == "nbinom2") sigma(m) else NA)
  } else {
    e <- m$optRes$evaluations
    list(feval = if (is.null(e)) NA else e[["function"]],
         ngrad = if (is.null(e)) NA else e[["gradient"]], refits = NA,
         optimizer = as.character(m$control$method), theta = NA)
  }
}
bench_pair <- function(name, fit, reps) {
  times <- numeric(0); warns <- character(0)
  out <- tryCatch({
    for (i in seq_len(reps + 1)) {
      elapsed <- withCallingHandlers(
        system.time(m <- fit())[["elapsed"]],
        warning = function(w) { warns <<- union(warns, conditionMessage(w)); invokeRestart("muffleWarning") })
      times <- c(times, elapsed)
    }
    f <- pair_figures(m)
    sprintf('"times": [%s], "nobs": %d, "feval": %s, "ngrad": %s, "refits": %s, "optimizer": %s, "objective": %s, "theta": %s, "warnings": [%s]',
            paste(sprintf("%.3f", times), collapse = ", "), nobs(m), json_num(f$feval),
            json_num(f$ngrad), json_num(f$refits), json_str(f$optimizer),
            json_num(-2 * as.numeric(logLik(m))), json_num(f$theta),
            paste(vapply(warns, json_str, ""), collapse = ", "))
  }, error = function(e) sprintf('"error": %s', json_str(conditionMessage(e))))
  cat(sprintf('BENCH {"name": %s, %s}\n', json_str(name), out))
}
"""


def r_script(cases: list[tuple[PairCase, int]]) -> str:
    """An R script that benchmarks each (case, reps), every data file loaded once."""
    lines = [_PRELUDE, _R_BENCH]
    lines += [f"suppressPackageStartupMessages(library({engine}))"
              for engine in dict.fromkeys(c.engine for c, _ in cases) if engine != "lme4"]
    lines.append("frames <- list()")
    for dataset, case in {c.dataset: c for c, _ in cases}.items():
        lines.append(f"frames[[{_r_string(dataset)}]] <- {load_code(case.csv, case.columns)}")
    for case, reps in cases:
        lines.append(f"d <- frames[[{_r_string(case.dataset)}]]")
        lines.append(f"bench_pair({_r_string(case.name)}, function() {case.r_call}, {reps})")
    return "\n".join(lines) + "\n"


def r_engines() -> tuple[str | None, dict[str, tuple[str | None, str | None]]]:
    """(R's version, engine -> (version, None) when Rscript loads the R package, else
    (None, the reason)); R's version is None, and every reason the same, without R."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None, {e: (None, "Rscript not found on PATH") for e in ENGINES}
    packages = ", ".join(_r_string(e) for e in ENGINES)
    code = (f"for (p in c({packages})) cat(p, if (requireNamespace(p, quietly = TRUE)) "
            'format(packageVersion(p)) else "-", "\\n"); cat("R", R.version.string, "\\n")')
    try:
        probe = subprocess.run([rscript, "-e", code], capture_output=True, text=True,
                               timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, {e: (None, f"Rscript does not run ({exc})") for e in ENGINES}
    if probe.returncode != 0:
        why = f"Rscript failed: {probe.stderr.strip()[-200:]}"
        return None, {e: (None, why) for e in ENGINES}
    found = dict(line.strip().split(" ", 1) for line in probe.stdout.splitlines()
                 if " " in line.strip())
    out = {}
    for engine in ENGINES:
        version = found.get(engine, "-").strip()
        if version == "-":
            why = (f"the R package {engine} is not installed (Debian/Ubuntu: "
                   f"apt-get install {INSTALL_HINT[engine]})")
            out[engine] = (None, why)
        else:
            out[engine] = (f"{engine} {version}", None)
    return found.get("R", "R").strip(), out


def run_r(cases: list[tuple[PairCase, int]], workdir: Path) -> dict[str, dict]:
    """Benchmark (case, reps) pairs in one Rscript process; results by case name."""
    script = workdir / "bench_nb.R"
    script.write_text(r_script(cases), encoding="utf-8")
    code, out, err, _ = run_measured([shutil.which("Rscript") or "Rscript", str(script)])
    results = bench_results(out, err, code, [c.name for c, _ in cases], None, "Rscript")
    for result in results.values():
        times = result.get("times")
        if times and "error" not in result:
            result.update(first=times[0], median=statistics.median(times[1:] or times))
    return results


def run_nb(args, workdir: Path, log=print) -> dict:
    """Fit the ``nb`` group on both sides; cases, results per side and R package versions.

    ``args``: the runner's options (reps, large_reps, no_r, slow_lme4).
    """
    cases = nb_cases()
    if args.no_r:
        r_version, engines = None, {e: (None, "--no-r given") for e in ENGINES}
    else:
        r_version, engines = r_engines()
    pylmer_res, r_res, to_r = {}, {}, []
    for case in cases:
        reps = case.reps(args.reps, args.large_reps)
        missing = pylmer_missing(case)
        if missing:
            pylmer_res[case.name] = {"skipped": missing}
            r_res[case.name] = {"skipped": f"pylmer has no {case.pylmer} to compare with"}
            continue
        log(f"pylmer: {case.dataset} {case.pylmer_label}")
        pylmer_res[case.name] = time_pylmer(case, reps)
        version, why = engines[case.engine]
        if r_version is None:
            continue
        if version is None:
            r_res[case.name] = {"absent": why}
        elif case.slow_in_r and not args.slow_lme4:
            r_res[case.name] = {"skipped": f"slow in {case.engine} ({case.slow_note}); "
                                           "--slow-lme4 fits it", "slow": True}
        else:
            to_r.append((case, reps))
    if to_r:
        log(f"R: {', '.join(f'{c.dataset} {c.r_label}' for c, _ in to_r)}")
        r_res.update(run_r(to_r, workdir))
    return {"cases": cases, "pylmer": pylmer_res, "r": r_res if r_version else None,
            "r_version": r_version, "engines": {e: v for e, (v, _) in engines.items()},
            "engines_missing": {e: why for e, (_, why) in engines.items()}}


def to_json(res: dict) -> dict:
    """``run_nb``'s result for ``--json``."""
    return {**{k: v for k, v in res.items() if k != "cases"},
            "cases": [{"name": c.name, "formula": c.formula, "pylmer": c.pylmer_label,
                       "R": c.r_call, "engine": c.engine} for c in res["cases"]]}
