"""pylmer against lme4 and glmm: fit times, evaluations, objective agreement and peak memory.

Usage::

    python -m benchmarks [--models GROUPS] [--sizes N,N] [--binomial-sizes N,N] [--reps N]
                         [--large-reps N] [--no-r] [--slow-lme4] [--no-glmm]
                         [--glmm-python PATH] [--json FILE]

``make bench`` runs ``python -m benchmarks`` with the defaults.

Comparators: R's lme4 (through ``Rscript``) and glmm, a Rust mixed-model package with a Python
interface (``pip install glmm``; https://github.com/pawlenartowicz/glmm). glmm runs from its own
virtual environment, ``.venv-glmm`` next to ``.venv``, so that pylmer's environment does not
carry it::

    make glmm-venv        # = scripts/glmm-venv.sh: python3 -m venv .venv-glmm, then
                          #   .venv-glmm/bin/pip install glmm pandas numpy

``--glmm-python`` points at another interpreter with glmm and pandas. Without that interpreter
(or with ``--no-glmm``) the glmm columns stay empty and the output says why, as the lme4 ones do
without R. ``make test`` does not use it.

Models (``--models``, comma-separated groups; default ``all``):

* ``small``: every reference LMM of ``tests/reference/models`` except InstEval, with lme4's
  formula, data set and REML setting.
* ``insteval``: ``y ~ service + lectage + studage + (1|s) + (1|d) + (1|dept)``, REML,
  73421 rows.
* ``crossed``: simulated ``y = 1 + 0.5 x + a[f1] + b[f2] + e`` (f1: 1e3 levels, f2: 1e4
  levels, fixed seed), fitted as ``y ~ x + (1 | f1) + (1 | f2)`` with REML, for each row count
  of ``--sizes`` (default ``1e5,1e6``); and a crossed binomial GLMM for each row count of
  ``--binomial-sizes`` (default ``1e6``): 0/1 ``y`` with ``logit P(y = 1) = -0.5 + 0.3 x +
  a[f1] + b[f2]``, x ~ N(0, 1), f1 uniform over 1e4 levels with a ~ N(0, 0.8^2), f2 uniform over
  1e3 levels with b ~ N(0, 0.5^2) (fixed seed), fitted as ``y ~ x + (1 | f1) + (1 | f2)`` by
  glmer with the Laplace approximation. lme4 fits the binomial one only with ``--slow-lme4``:
  one lme4 fit of the 1e6-row design took 13 minutes on 2 cores (Nelder-Mead, 197
  evaluations), and each large case is fitted 1 + ``--large-reps`` times.
* ``glmm``: every reference GLMM of ``tests/reference/models`` (cbpp with Laplace, 25-point
  adaptive Gauss-Hermite and nAGQ = 0, cbpp's null model, grouseticks, VerbAgg, the simulated
  Gamma(log) and Poisson-with-offset data sets) with lme4's formula, data set, family, link
  and nAGQ, otherwise lme4's default control.
* ``nb``: negative binomial GLMMs on two simulated data sets shipped in ``benchmarks/data``
  (``nb_speed_20k``: ``y ~ x + trt + (1 | g)``, 20 000 rows; ``nb_speed_crossed_40k``:
  ``y ~ x + (1 | f1) + (1 | f2)``, 40 000 rows), each row one pair: ``pylmer.glmer(formula,
  data, family=pylmer.nbinom2())`` against R's ``glmmTMB(formula, data, family = nbinom2)``,
  and ``pylmer.glmer_nb(formula, data)`` against lme4's ``glmer.nb(formula, data)``. glmer.nb
  on the crossed one (about 110 s per fit) runs only with ``--slow-lme4``, then 1 +
  ``--large-reps`` times; the other rows 1 + ``--reps`` times. A clmm row (ordinal's ``clmm``
  against ``pylmer.clmm``, wine data) is skipped while pylmer has no ``clmm``. Needs the R
  packages glmmTMB (and ordinal for clmm); without them those columns read "absent". Printed
  as its own tables (see ``nb_cases.py``); glmm is not run on it.
* ``agq``: pylmer's adaptive Gauss-Hermite quadrature where lme4 has none (nAGQ > 1 for a
  vector-valued term and for nested terms): binomial GLMMs on data simulated with fixed seeds,
  ``y ~ x + (1 + x | g)`` (1 000 groups x 10 rows, correlated random intercept and slope) and
  ``y ~ x + (1 | a/b)`` (200 x 5 levels x 4 rows), each fitted by ``pylmer.glmer(formula,
  data, family="binomial", nAGQ=k)`` with k = 1 and 7, 1 + ``--reps`` times; and the time of
  one deviance evaluation of the first model at its nAGQ = 7 estimates for nAGQ = 1, 3, 7, 15.
  No comparator: lme4 cannot fit these models with nAGQ > 1 (and glmm is not run on them).
  Printed as its own tables with the target "the 2-d nAGQ = 7 fit under 5 s" (see
  ``agq_cases.py``).
* ``many``: one formula fitted to many responses: ``pylmer.lmer_many(formula, data, Y,
  n_jobs=1)`` against lme4's loop ``for (j in ...) refit(m0, Y[, j])`` (and, once, the loop
  of fresh ``lmer()`` fits), on the shared genomics design of ``tests/reference/many``
  (``y ~ Disease + Age + (1 | Individual) + (1 | Batch)``, REML, 300 samples x 2000 genes)
  and its random-slope design (``y ~ time + group + (time | subject)``, 300 responses); and
  ``pylmer.glmer_many(..., family="binomial", n_jobs=1)`` against lme4's refit loop of a
  ``glmer(..., family = binomial)`` fit on cbpp's design with 200 simulated 0/1 responses
  (``y ~ period + (1 | herd)``). One core per side (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS
  and MKL_NUM_THREADS = 1 in both timing processes; pylmer in its own process), the faster
  of 2 runs, ms per response; pylmer's n_jobs=2 (two threads) rows too. Also the fraction of
  pylmer's table that matches lme4's fresh fits by the reference README's rule (linear
  designs) and the logLik differences from lme4's refits (binary design). Target: lme4's
  refit loop / pylmer at least 15x on the genomics design (about 0.6 ms per response).
  Printed as its own tables (see ``many_cases.py``); glmm is not run on it. About 2 to 3
  minutes, nearly all of it in R.
* ``all``: the seven groups. The default run (all; 1e5 and 1e6; binomial 1e6; lme4 and glmm)
  takes 22 to 28 minutes on 2 cores, most of it in the 1e6 designs (glmm's two fits of the
  binomial one alone about 5 minutes), in R's negative binomial fits (6 fits each of
  about 12, 29 and 29 s) and in lme4's loops of the ``many`` group.

What is measured:

* Time: "formula + data frame in memory -> fitted model", i.e. ``lmer(formula, df, REML=...)``
  or ``glmer(formula, df, family=..., nAGQ=...)`` in Python (``time.perf_counter``),
  ``system.time(lmer(formula, data = d, REML = ...))`` or ``system.time(glmer(formula,
  data = d, family = ..., nAGQ = ...))`` in R, and ``glmm.fit(df, formula, family, link=...,
  nagq=..., reml=..., satterthwaite=False, anova_test="Wald")`` for glmm (no Satterthwaite
  pass and no likelihood-ratio refits, which lmer and glmer do not do either; see
  ``glmm_side.py``), the data loaded beforehand. Each model is fitted 1 + N times on each side,
  N = ``--reps`` (default 5) for small models (all but InstEval and the crossed designs; every
  reference GLMM is small) and ``--large-reps`` (default 1) for InstEval and the crossed
  designs. The table gives the median of the last N fits; the first fit, which carries
  first-call costs (lazy imports, caches), is shown separately for pylmer. The ratios are lme4
  median / pylmer median and glmm median / pylmer median (above 1: pylmer is faster). With
  N = 0 the median is the first fit.
* Evaluations: ``optinfo.feval`` (R: ``m@optinfo$feval``) of the last fit; for glmm
  ``fit.n_eval`` and, as ``+Ng``, the gradient evaluations ``fit.n_grad`` of its BFGS search.
* fit: REML or ML (LMMs); Laplace, AGQ <nAGQ> or nAGQ 0 (GLMMs).
* obj diff lme4 / glmm: pylmer - lme4 and pylmer - glmm of the REML criterion (REML fits),
  deviance (ML fits) or -2 logLik (GLMMs: the Laplace or adaptive Gauss-Hermite approximation
  of -2 log-likelihood, ``-2 * logLik(m)``); negative means pylmer found a lower (better)
  optimum. glmm's value is ``-2 * fit.loglik`` (``fit.deviance`` with nAGQ > 1, which leaves
  out the same constant as lme4's); where glmm's objective has another definition (Gamma
  GLMMs; REML with an ordered factor, which glmm codes with other contrasts) the notes say so.
* Memory, large models only (InstEval and crossed): each side fits each large model in its own
  fresh process (``python -m benchmarks.pylmer_side``, ``Rscript``, ``.venv-glmm/bin/python -m
  benchmarks.glmm_side``). "MB" in the table is the process's high-water RSS during the fits:
  the process resets the mark (Linux ``/proc/self/clear_refs``) after loading its libraries
  and the data, so the figure includes the resident interpreter, libraries and data frame.
  Under the tables: RSS before the fits, the whole process's high-water RSS (start-up and
  reading the CSV included; see ``memory.py``) and R's heap peak (``gc()`` max used, which
  misses CHOLMOD's and BLAS's own allocations).

Small models run in this process for pylmer, in one Rscript process for lme4 and in one
process of glmm's Python for glmm. All sides fit identical data: the shipped CSVs with the
factor levels of their ``.columns.json`` (R reads them with the same types and levels), and the
simulated data written to a temporary CSV that every side reads. Without Rscript or the lme4
package (or with ``--no-r``) lme4 is not run and the output says why; likewise glmm. glmm's
formulas accept less than lme4's: where an identical model can be written in glmm's syntax
(``cbind`` of an expression, ``scale()``, a factor response of a binomial model) glmm fits the
rewritten formula, listed under the tables; a model glmm cannot fit (nAGQ = 0, a random slope
without its intercept) is skipped, and the notes say why. Threads are left as configured:
pylmer's BLAS and CHOLMOD and glmm's Rust kernel (rayon) may use several cores (set
OMP_NUM_THREADS=1 and RAYON_NUM_THREADS=1 for single-threaded figures); R here uses its
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

from .agq_cases import run_agq
from .agq_cases import to_json as agq_json
from .cases import (
    INSTEVAL_ID,
    Case,
    crossed_binomial_case,
    crossed_case,
    glmm_cases,
    reference_cases,
)
from .glmm_side import DEFAULT_PYTHON, glmm_version, run_glmm
from .many_cases import format_many, run_many
from .many_cases import to_json as many_json
from .nb_cases import run_nb
from .nb_cases import to_json as nb_json
from .pylmer_side import time_case, time_case_in_child
from .r_side import lme4_version, run_lme4
from .table import format_agq, format_notes, format_pairs, format_table

GROUPS = ("small", "insteval", "crossed", "glmm", "nb", "agq", "many")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="all",
                        help="comma-separated: small, insteval, crossed, glmm, nb, agq, "
                             "many, all (default: all)")
    parser.add_argument("--sizes", default="1e5,1e6",
                        help="rows of the crossed designs, comma-separated (default: 1e5,1e6)")
    parser.add_argument("--reps", type=int, default=5,
                        help="timed fits per small model after the first (default: 5)")
    parser.add_argument("--large-reps", type=int, default=1,
                        help="timed fits per large model after the first (default: 1)")
    parser.add_argument("--binomial-sizes", default="1e6",
                        help="rows of the crossed binomial GLMMs, comma-separated (default: 1e6)")
    parser.add_argument("--no-r", action="store_true", help="do not run lme4")
    parser.add_argument("--slow-lme4", action="store_true",
                        help="also fit the crossed binomial GLMMs with lme4 and "
                             "nb_speed_crossed_40k with glmer.nb (slow)")
    parser.add_argument("--no-glmm", action="store_true", help="do not run glmm")
    parser.add_argument("--glmm-python", type=Path, default=DEFAULT_PYTHON,
                        help="Python with glmm and pandas (default: .venv-glmm/bin/python)")
    parser.add_argument("--json", type=Path, help="also write all results to this JSON file")
    args = parser.parse_args(argv)
    groups = {g.strip() for g in args.models.split(",")}
    if "all" in groups:
        groups = set(GROUPS)
    if not groups <= set(GROUPS):
        parser.error(f"--models: unknown group(s) {sorted(groups - set(GROUPS))}")
    args.groups = groups
    for option in ("sizes", "binomial_sizes"):
        text = getattr(args, option)
        try:
            setattr(args, option, [int(float(s)) for s in text.split(",") if s.strip()])
        except ValueError:
            parser.error(f"--{option.replace('_', '-')}: expected numbers such as 1e5,1e6, "
                         f"got {text!r}")
    if args.reps < 0 or args.large_reps < 0:
        parser.error("--reps and --large-reps must be >= 0")
    return args


def select_cases(groups: set[str], args: argparse.Namespace, workdir: Path) -> list[Case]:
    """The cases of ``groups``; the crossed designs are simulated and written to ``workdir``."""
    cases = []
    for case in reference_cases():
        if ("insteval" if case.name == INSTEVAL_ID else "small") in groups:
            cases.append(case)
    if "glmm" in groups:
        cases += glmm_cases()
    if "crossed" in groups:
        cases += [crossed_case(n, workdir) for n in args.sizes]
        cases += [crossed_binomial_case(n, workdir) for n in args.binomial_sizes]
    return sorted(cases, key=lambda case: case.large)  # small ones first, otherwise as listed


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(args: argparse.Namespace, workdir: Path) -> dict:
    """Fit every selected case on every available side; all results and versions."""
    load_before = _loadavg()
    r_version, r_missing = (None, "--no-r given") if args.no_r else lme4_version()
    g_version, g_missing = ((None, "--no-glmm given") if args.no_glmm
                            else glmm_version(args.glmm_python))
    cases = select_cases(args.groups - {"crossed"}, args, workdir)
    small = [c for c in cases if not c.large]
    pylmer = {}
    lme4 = {} if r_version else None
    glmm = {} if g_version else None
    if small:
        for case in small:
            log(f"pylmer: {case.name}")
            pylmer[case.name] = time_case(case, args.reps)
        if r_version:
            log(f"lme4: {len(small)} small models")
            lme4.update(run_lme4(small, args.reps, memory=False, workdir=workdir))
        if g_version:
            log(f"glmm: {len(small)} small models")
            glmm.update(run_glmm(small, args.reps, False, workdir, args.glmm_python))
    nb = run_nb(args, workdir, log) if "nb" in args.groups else None
    agq = run_agq(args, log) if "agq" in args.groups else None
    many = run_many(args, workdir, log) if "many" in args.groups else None
    if "crossed" in args.groups:
        # simulated and written only now: the write-back of a million-row CSV would
        # otherwise overlap the small models' timings (it doubled them in one run)
        log("preparing the simulated crossed designs ...")
        cases += select_cases({"crossed"}, args, workdir)
    for case in (c for c in cases if c.large):
        log(f"pylmer: {case.name} (own process)")
        pylmer[case.name] = time_case_in_child(case, args.large_reps, workdir)
        if r_version and case.slow_in_r and not args.slow_lme4:
            lme4[case.name] = {"skipped": "slow in lme4; --slow-lme4 fits it"}
        elif r_version:
            log(f"lme4: {case.name} (own process)")
            lme4.update(run_lme4([case], args.large_reps, memory=True, workdir=workdir))
        if g_version:
            log(f"glmm: {case.name} (own process)")
            glmm.update(run_glmm([case], args.large_reps, True, workdir, args.glmm_python))
    return {"cases": cases, "pylmer": pylmer, "lme4": lme4, "glmm": glmm, "nb": nb, "agq": agq,
            "many": many, "r_version": r_version, "r_missing": r_missing,
            "glmm_version": g_version, "glmm_missing": g_missing,
            "loadavg": [load_before, _loadavg()]}


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
        f"glmm: {res['glmm_version']}" if res["glmm_version"]
        else f"glmm was not run: {res['glmm_missing']}",
    ]
    if res["cases"]:
        header.append(
            f"seconds: median of {args.reps} (small) / {args.large_reps} (large) fits after a "
            "first fit; ratios above 1: pylmer faster; MB: peak RSS during the fits, own "
            "process (large models only); obj diff X: pylmer - X")
    header += [""] if res["cases"] else ["", ""]
    parts = []
    if res["cases"]:
        sides = (res["cases"], res["pylmer"], res["lme4"], res["glmm"])
        notes = format_notes(*sides)
        parts.append(format_table(*sides) + ("\n\n" + notes if notes else ""))
    if res["nb"] is not None:
        parts.append(format_pairs(res["nb"], args.reps, args.large_reps))
    if res["agq"] is not None:
        parts.append(format_agq(res["agq"], args.reps))
    if res["many"] is not None:
        parts.append(format_many(res["many"]))
    return "\n".join(header) + "\n\n\n".join(parts)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pylmer-bench-") as tmp:
        res = run(args, Path(tmp))
    print(report(args, res))
    if args.json:
        raw = {k: v for k, v in res.items() if k not in ("cases", "nb", "agq", "many")}
        raw["nb"] = nb_json(res["nb"]) if res["nb"] is not None else None
        raw["agq"] = agq_json(res["agq"]) if res["agq"] is not None else None
        raw["many"] = many_json(res["many"]) if res["many"] is not None else None
        raw["cases"] = [{"name": c.name, "formula": c.formula, "fit": c.fit_kind,
                         "family": c.family, "link": c.link} for c in res["cases"]]
        args.json.write_text(json.dumps(raw, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
