"""pylmer against lme4: fit times, evaluations, objective agreement and peak memory.

Usage::

    python -m benchmarks [--models GROUPS] [--sizes N,N] [--reps N] [--large-reps N]
                         [--no-r] [--json FILE]

``make bench`` runs ``python -m benchmarks`` with the defaults.

Models (``--models``, comma-separated groups; default ``all``):

* ``small``: every reference LMM of ``tests/reference/models`` except InstEval, with lme4's
  formula, data set and REML setting.
* ``insteval``: ``y ~ service + lectage + studage + (1|s) + (1|d) + (1|dept)``, REML,
  73421 rows.
* ``crossed``: simulated ``y = 1 + 0.5 x + a[f1] + b[f2] + e`` (f1: 1e3 levels, f2: 1e4
  levels, fixed seed), fitted as ``y ~ x + (1 | f1) + (1 | f2)`` with REML, for each row count
  of ``--sizes`` (default ``1e5,1e6``).
* ``glmm``: every reference GLMM of ``tests/reference/models`` (cbpp with Laplace, 25-point
  adaptive Gauss-Hermite and nAGQ = 0, cbpp's null model, grouseticks, VerbAgg, the simulated
  Gamma(log) and Poisson-with-offset data sets) with lme4's formula, data set, family, link
  and nAGQ, otherwise lme4's default control.
* ``all``: the four groups. The default run (all, 1e5 and 1e6) takes about 7 minutes on 2
  cores, most of it in the crossed 1e6 design; ``--sizes 1e5`` takes about 3 minutes.

What is measured:

* Time: "formula + data frame in memory -> fitted model", i.e. ``lmer(formula, df, REML=...)``
  or ``glmer(formula, df, family=..., nAGQ=...)`` in Python (``time.perf_counter``) and
  ``system.time(lmer(formula, data = d, REML = ...))`` or ``system.time(glmer(formula,
  data = d, family = ..., nAGQ = ...))`` in R, the data loaded beforehand. Each model is
  fitted 1 + N times on each side, N = ``--reps`` (default 5) for small models (all but
  InstEval and the crossed designs; every GLMM is small) and ``--large-reps`` (default 1) for
  InstEval and the crossed designs. The table gives the median of the last N fits; the first
  fit, which carries first-call costs (lazy imports, caches), is shown separately for pylmer.
  The ratio is lme4 median / pylmer median (above 1: pylmer is faster). With N = 0 the median
  is the first fit.
* Evaluations: ``optinfo.feval`` (R: ``m@optinfo$feval``) of the last fit.
* fit: REML or ML (LMMs); Laplace, AGQ <nAGQ> or nAGQ 0 (GLMMs).
* obj diff: pylmer - lme4 of the REML criterion (REML fits), deviance (ML fits) or -2 logLik
  (GLMMs: the Laplace or adaptive Gauss-Hermite approximation of -2 log-likelihood,
  ``-2 * logLik(m)``); negative means pylmer found a lower (better) optimum.
* Memory, large models only (InstEval and crossed): each side fits each large model in its own
  fresh process (``python -m benchmarks.pylmer_side`` / ``Rscript``). "MB" in the table is the
  process's high-water RSS during the fits: the process resets the mark (Linux
  ``/proc/self/clear_refs``) after loading its libraries and the data, so the figure includes
  the resident interpreter, libraries and data frame. Under the table: RSS before the fits,
  the whole process's max RSS (``os.wait4`` rusage, includes reading the CSV) and R's heap peak
  (``gc()`` max used, which misses CHOLMOD's and BLAS's own allocations).

Small models run in this process for pylmer and in one Rscript process for lme4. Both sides
fit identical data: the shipped CSVs with the factor levels of their ``.columns.json`` (R reads
them with the same types and levels), and the simulated data written to a temporary CSV that
both sides read. Without Rscript or the lme4 package (or with ``--no-r``) only pylmer is run and
the output says why lme4 was not. Threads are left as configured: pylmer's BLAS and CHOLMOD may
use several cores (set OMP_NUM_THREADS=1 for single-threaded figures); R here uses its
reference BLAS.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from .cases import INSTEVAL_ID, Case, crossed_case, glmm_cases, reference_cases
from .pylmer_side import time_case, time_case_in_child
from .r_side import lme4_version, run_lme4
from .table import format_notes, format_table

GROUPS = ("small", "insteval", "crossed", "glmm")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="all",
                        help="comma-separated: small, insteval, crossed, glmm, all (default: all)")
    parser.add_argument("--sizes", default="1e5,1e6",
                        help="rows of the crossed designs, comma-separated (default: 1e5,1e6)")
    parser.add_argument("--reps", type=int, default=5,
                        help="timed fits per small model after the first (default: 5)")
    parser.add_argument("--large-reps", type=int, default=1,
                        help="timed fits per large model after the first (default: 1)")
    parser.add_argument("--no-r", action="store_true", help="do not run lme4")
    parser.add_argument("--json", type=Path, help="also write all results to this JSON file")
    args = parser.parse_args(argv)
    groups = {g.strip() for g in args.models.split(",")}
    if "all" in groups:
        groups = set(GROUPS)
    if not groups <= set(GROUPS):
        parser.error(f"--models: unknown group(s) {sorted(groups - set(GROUPS))}")
    args.groups = groups
    try:
        args.sizes = [int(float(s)) for s in args.sizes.split(",")]
    except ValueError:
        parser.error(f"--sizes: expected numbers such as 1e5,1e6, got {args.sizes!r}")
    if args.reps < 0 or args.large_reps < 0:
        parser.error("--reps and --large-reps must be >= 0")
    return args


def select_cases(groups: set[str], sizes: list[int], workdir: Path) -> list[Case]:
    cases = []
    for case in reference_cases():
        if ("insteval" if case.name == INSTEVAL_ID else "small") in groups:
            cases.append(case)
    if "glmm" in groups:
        cases += glmm_cases()
    if "crossed" in groups:
        cases += [crossed_case(n, workdir) for n in sizes]
    return sorted(cases, key=lambda case: case.large)  # small ones first, otherwise as listed


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(args: argparse.Namespace, workdir: Path) -> dict:
    load_before = _loadavg()
    r_version, r_missing = (None, "--no-r given") if args.no_r else lme4_version()
    cases = select_cases(args.groups - {"crossed"}, args.sizes, workdir)
    small = [c for c in cases if not c.large]
    pylmer, lme4 = {}, ({} if r_version else None)
    if small:
        for case in small:
            log(f"pylmer: {case.name}")
            pylmer[case.name] = time_case(case, args.reps)
        if r_version:
            log(f"lme4: {len(small)} small models")
            lme4.update(run_lme4(small, args.reps, memory=False, workdir=workdir))
    if "crossed" in args.groups:
        # simulated and written only now: the write-back of a million-row CSV would
        # otherwise overlap the small models' timings (it doubled them in one run)
        log("preparing the simulated crossed designs ...")
        cases += select_cases({"crossed"}, args.sizes, workdir)
    for case in (c for c in cases if c.large):
        log(f"pylmer: {case.name} (own process)")
        pylmer[case.name] = time_case_in_child(case, args.large_reps, workdir)
        if r_version:
            log(f"lme4: {case.name} (own process)")
            lme4.update(run_lme4([case], args.large_reps, memory=True, workdir=workdir))
    return {"cases": cases, "pylmer": pylmer, "lme4": lme4, "r_version": r_version,
            "r_missing": r_missing, "loadavg": [load_before, _loadavg()]}


def _loadavg() -> float | None:
    """1-minute load average: other work on the machine inflates the timings."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def report(args: argparse.Namespace, res: dict) -> str:
    import pylmer

    header = [
        (f"pylmer {pylmer.__version__} on Python {platform.python_version()}, "
         f"{platform.machine()}, {os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M')}; "
         "load average before/after " + "/".join(map(str, res["loadavg"]))),
        f"lme4: {res['r_version']}" if res["r_version"]
        else f"lme4 was not run: {res['r_missing']}",
        (f"seconds: median of {args.reps} (small) / {args.large_reps} (large) fits after a "
         "first fit; MB: peak RSS during the fits, own process (large models only)"),
        "",
    ]
    table = format_table(res["cases"], res["pylmer"], res["lme4"])
    notes = format_notes(res["cases"], res["pylmer"], res["lme4"])
    return "\n".join(header) + table + ("\n\n" + notes if notes else "")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pylmer-bench-") as tmp:
        res = run(args, Path(tmp))
    print(report(args, res))
    if args.json:
        raw = {k: v for k, v in res.items() if k != "cases"}
        raw["cases"] = [{"name": c.name, "formula": c.formula, "fit": c.fit_kind,
                         "family": c.family, "link": c.link} for c in res["cases"]]
        args.json.write_text(json.dumps(raw, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
