"""Plain-text results tables and the notes under them (formatting only).

Results come per side (pylmer, lme4, glmm) as dicts by case name; a side that was not run is
None. A result holds ``error`` (the fit failed), ``skipped`` (the side was not asked to fit the
case, or cannot: the reason) or the figures.
"""

from __future__ import annotations

from .cases import Case

TIME_COLUMNS = ["model", "fit", "n", "pylmer s", "pylmer 1st s", "lme4 s", "glmm s",
                "lme4/pylmer", "glmm/pylmer", "pylmer MB", "lme4 MB", "glmm MB"]
FIT_COLUMNS = ["model", "fit", "pylmer feval", "lme4 feval", "glmm feval", "obj diff lme4",
               "obj diff glmm"]
TEXT = 2  # left-aligned columns (model, fit); the others are right-aligned


def _num(value, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _seconds(res: dict) -> str:
    if "error" in res:
        return "FAILED"
    return "skip" if "skipped" in res else _num(res.get("median"), ".3f")


def _ratio(py: dict, other: dict) -> str:
    if py.get("median") and other.get("median") is not None:
        return format(other["median"] / py["median"], ".2f")
    return "-"


def _diff(py: dict, other: dict) -> str:
    if py.get("objective") is not None and other.get("objective") is not None:
        return format(py["objective"] - other["objective"], "+.2e")
    return "-"


def _glmm_feval(res: dict) -> str:
    """Objective evaluations, plus gradient evaluations (``g``) when glmm ran its BFGS."""
    if res.get("feval") is None:
        return "-"
    return f"{res['feval']}+{res['ngrad']}g" if res.get("ngrad") else str(res["feval"])


def _time_row(case: Case, py: dict, r: dict, g: dict) -> list[str]:
    nobs = py.get("nobs", r.get("nobs", g.get("nobs")))
    return [case.name, case.fit_kind, _num(nobs, "d"), _seconds(py), _num(py.get("first"), ".3f"),
            _seconds(r), _seconds(g), _ratio(py, r), _ratio(py, g),
            _num(py.get("peak_mb"), ".0f"), _num(r.get("peak_mb"), ".0f"),
            _num(g.get("peak_mb"), ".0f")]


def _fit_row(case: Case, py: dict, r: dict, g: dict) -> list[str]:
    return [case.name, case.fit_kind, _num(py.get("feval"), "d"), _num(r.get("feval"), "d"),
            _glmm_feval(g), _diff(py, r), _diff(py, g)]


def _layout(columns: list[str], rows: list[list[str]], text: int = TEXT) -> str:
    """Columns padded to their widths, the first ``text`` left-aligned, the others right."""
    rows = [columns] + rows
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    lines = []
    for k, row in enumerate(rows):
        cells = ([v.ljust(w) for v, w in zip(row[:text], widths[:text])]
                 + [v.rjust(w) for v, w in zip(row[text:], widths[text:])])
        lines.append("  ".join(cells))
        if k == 0:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)


def format_table(cases: list[Case], pylmer: dict, lme4: dict | None,
                 glmm: dict | None = None) -> str:
    """Two tables, one row per case: times, ratios and memory; evaluations and objectives.

    Parameters
    ----------
    cases : list of Case
        The rows, in order.
    pylmer, lme4, glmm : dict or None
        Each side's results by case name; None for a side that was not run.

    Returns
    -------
    str
        The two tables, separated by a blank line.
    """
    def sides(case: Case) -> tuple[dict, dict, dict]:
        return (pylmer[case.name], (lme4 or {}).get(case.name) or {},
                (glmm or {}).get(case.name) or {})

    timing = _layout(TIME_COLUMNS, [_time_row(c, *sides(c)) for c in cases])
    fits = _layout(FIT_COLUMNS, [_fit_row(c, *sides(c)) for c in cases])
    return timing + "\n\n" + fits


def _feval_notes(cases: list[Case], pylmer: dict, lme4: dict | None,
                 glmm: dict | None) -> list[str]:
    """What the feval columns count (GLMMs with nAGQ > 0 have two optimization stages)."""
    lines = []
    two_stage = [c for c in cases if c.glmm and c.nAGQ > 0]
    if two_stage:
        def optimizers(results: dict) -> str:
            names = {results.get(c.name, {}).get("optimizer") for c in two_stage} - {None}
            return "/".join(sorted(names)) or "-"

        text = ("GLMM feval (nAGQ > 0): pylmer counts both optimization stages (theta with "
                "nAGQ = 0, then theta and beta), lme4's optinfo$feval only the second; "
                f"second-stage optimizer: pylmer {optimizers(pylmer)}")
        if lme4 is not None:
            text += f", lme4 {optimizers(lme4)}"
        lines.append(text)
    if glmm is not None:
        lines.append("glmm feval: objective evaluations of its optimizers (n_eval), + the "
                     "gradient evaluations (n_grad) of its BFGS search where it ran one")
    return lines


def _glmm_notes(cases: list[Case], glmm: dict | None) -> list[str]:
    """The formula rewrites glmm needed and the objectives it cannot compare."""
    if glmm is None:
        return []
    lines, rewrites = [], {}
    for case in cases:
        res = glmm.get(case.name, {})
        if res.get("rewrites"):
            key = f"{'; '.join(res['rewrites'])}: {res['formula']}"
            rewrites.setdefault(key, []).append(case.name)
    if rewrites:
        lines.append("glmm fitted the same models with rewritten formulas (derived columns "
                     "computed before the timed calls):")
        lines += [f"  {', '.join(names)}: {key}" for key, names in rewrites.items()]
    for case in cases:
        note = glmm.get(case.name, {}).get("objective_note")
        if note:
            lines.append(f"glmm obj diff not shown for {case.name}: {note}")
    return lines


def _process_max(res: dict) -> float | None:
    # The child's own high-water mark; ru_maxrss (maxrss_mb) also counts the parent's RSS.
    return res.get("process_peak_mb", res.get("maxrss_mb"))


def _memory_notes(cases: list[Case], sides: list[tuple[str, dict | None]]) -> list[str]:
    large = [c for c in cases if c.large]
    if not large:
        return []
    header = ("memory of the large cases, MB (base = RSS before the fits; fit peak = high-water "
              "RSS during the fits; process max = whole process incl. CSV read; R heap = gc() "
              "max used):")
    lines = [header]
    for case in large:
        parts = []
        for side, results in sides:
            if results is None:
                continue
            res = results.get(case.name, {})
            if "skipped" in res:
                parts.append(f"{side} not run")
                continue
            text = (f"{side} base {_num(res.get('base_mb'), '.0f')}, "
                    f"fit peak {_num(res.get('peak_mb'), '.0f')}, "
                    f"process max {_num(_process_max(res), '.0f')}")
            if side == "lme4":
                text += f", R heap {_num(res.get('rheap_mb'), '.0f')}"
            parts.append(text)
        lines.append(f"  {case.name}: " + " | ".join(parts))
    return lines


def format_notes(cases: list[Case], pylmer: dict, lme4: dict | None,
                 glmm: dict | None = None) -> str:
    """Failures, skipped fits, warnings, glmm's rewrites, what the evaluations count and the
    memory of the large cases."""
    sides = [("pylmer", pylmer), ("lme4", lme4), ("glmm", glmm)]
    lines = []
    for side, results in sides:
        for case in cases:
            res = (results or {}).get(case.name, {})
            if "error" in res:
                lines.append(f"{side} failed on {case.name}: {res['error']}")
            if "skipped" in res:
                lines.append(f"{side} skipped {case.name}: {res['skipped']}")
            for message in res.get("warnings", []):
                lines.append(f"{side} warning on {case.name}: {message}")
    lines += _glmm_notes(cases, glmm)
    lines += _feval_notes(cases, pylmer, lme4, glmm)
    lines += _memory_notes(cases, sides)
    return "\n".join(lines)


# The nb group (``nb_cases.py``): one pylmer call against one R call per row.
PAIR_TIME_COLUMNS = ["model", "pylmer", "R", "n", "pylmer s", "pylmer 1st s", "R s",
                     "R/pylmer"]
PAIR_FIT_COLUMNS = ["model", "pylmer", "R", "pylmer feval", "R feval", "obj diff R",
                    "pylmer theta", "R theta"]


def _pair_seconds(res: dict) -> str:
    if "absent" in res:
        return "absent"
    if res.get("slow"):
        return "skip (--slow-lme4)"
    return _seconds(res)


def _r_feval(res: dict) -> str:
    """nlminb: function + gradient evaluations; glmer.nb: its last refit's, of how many."""
    text = _glmm_feval(res)
    if res.get("refits") is not None and text != "-":
        text += f" (last of {res['refits']})"
    return text


def format_pairs(res: dict, reps: int, large_reps: int) -> str:
    """The nb group's two tables (times and ratios; evaluations, objectives, NB theta) and
    their notes, from ``nb_cases.run_nb``'s result."""
    cases, py_all, r_all = res["cases"], res["pylmer"], res["r"] or {}
    time_rows, fit_rows = [], []
    for case in cases:
        py, r = py_all.get(case.name, {}), r_all.get(case.name, {})
        label = [case.dataset, case.pylmer_label, case.r_label]
        nobs = py.get("nobs", r.get("nobs"))
        time_rows.append(label + [_num(nobs, "d"), _seconds(py), _num(py.get("first"), ".3f"),
                                  _pair_seconds(r), _ratio(py, r)])
        fit_rows.append(label + [_num(py.get("feval"), "d"), _r_feval(r), _diff(py, r),
                                 _num(py.get("theta"), ".4f"), _num(r.get("theta"), ".4f")])
    versions = [v for v in res["engines"].values() if v]
    if res["r_version"] is None:
        r_line = f"R was not run: {next(iter(res['engines_missing'].values()))}"
    else:
        r_line = f"{res['r_version']}; " + (", ".join(versions) or "none of the R packages")
    header = [
        ("negative binomial GLMMs (and clmm): pylmer against R's glmmTMB, lme4 glmer.nb and "
         "ordinal clmm, one pair per row (--models nb; glmm does not fit this group)"),
        r_line,
        (f"seconds: median of {reps} fits after a first fit ({large_reps} for rows fitted by R "
         "only with --slow-lme4); R/pylmer above 1: pylmer faster; obj diff R: pylmer - R of "
         "-2 logLik; theta: the NB dispersion (var = mu + mu^2 / theta)"),
        "",
    ]
    tables = (_layout(PAIR_TIME_COLUMNS, time_rows) + "\n\n"
              + _layout(PAIR_FIT_COLUMNS, fit_rows))
    notes = _pair_notes(res)
    return "\n".join(header) + tables + ("\n\n" + "\n".join(notes) if notes else "")


def _pair_notes(res: dict) -> list[str]:
    lines = []
    for case in res["cases"]:
        row = f"{case.dataset} ({case.pylmer_label} / {case.r_label})"
        for side, results in (("pylmer", res["pylmer"]), (case.engine, res["r"] or {})):
            r = results.get(case.name, {})
            if "error" in r:
                lines.append(f"{side} failed on {row}: {r['error']}")
            if "skipped" in r:
                lines.append(f"{side} skipped {row}: {r['skipped']}")
            if "absent" in r:
                lines.append(f"{side} not run on {row}: {r['absent']}")
            lines += [f"{side} warning on {row}: {w}" for w in r.get("warnings", [])]
    lines.append("feval: pylmer optinfo.feval (NB: one optimizer over theta, beta and the "
                 "NB log theta); glmmTMB, clmm: nlminb's function + gradient (g) evaluations; "
                 "glmer.nb: optinfo$feval of its last glmer fit, and (last of N) the number "
                 "of fits of its theta search")
    return lines


# The agq group (``agq_cases.py``): pylmer alone, no comparator.
AGQ_FIT_COLUMNS = ["model", "fit", "n", "pylmer s", "pylmer 1st s", "feval", "-2 logLik",
                   "theta"]
AGQ_DEVFUN_COLUMNS = ["nAGQ", "points/group", "ms per eval", "x Laplace", "deviance",
                      "minus nAGQ 15"]


def _agq_devfun_rows(devfun: dict) -> list[list[str]]:
    last = devfun[max(devfun)].get("deviance")
    rows = []
    for k, res in devfun.items():
        label = "1 (Laplace)" if k == 1 else str(k)
        if "error" in res:
            rows.append([label, str(k * k), "FAILED", "-", "-", "-"])
            continue
        diff = (res["deviance"] - last) if last is not None else None
        rows.append([label, str(k * k), _num(res.get("ms"), ".2f"),
                     _num(res.get("ratio"), ".1f"), _num(res.get("deviance"), ".4f"),
                     _num(diff, "+.2e")])
    return rows


def format_agq(res: dict, reps: int) -> str:
    """The agq group's tables (fits; one deviance evaluation by nAGQ), the target line and
    the notes, from ``agq_cases.run_agq``'s result."""
    from .agq_cases import DATASETS, DEVFUN_CALLS, TARGET_CASE, TARGET_NAGQ

    header = [
        ("adaptive Gauss-Hermite quadrature for vector-valued and nested random effects "
         "(--models agq): pylmer only; lme4 cannot fit these models with nAGQ > 1 (its "
         "glmer takes nAGQ > 1 only for a single scalar random-effect term), so there is no "
         "R comparator (and glmm is not run on this group)"),
        "data simulated with fixed seeds (see benchmarks/agq_cases.py), family binomial: "
        + "; ".join(f"{name}: {formula}" for name, (formula, _) in DATASETS.items()),
        (f"seconds: median of {reps} fits after a first fit; feval: optinfo.feval (both "
         "optimization stages); theta: getME('theta'), lme4's order"),
        "",
    ]
    rows = []
    for case in res["cases"]:
        py = res["fits"].get(case.name, {})
        theta = ", ".join(format(t, ".4f") for t in py.get("theta", [])) or "-"
        rows.append([case.dataset, case.fit_kind, _num(py.get("nobs"), "d"), _seconds(py),
                     _num(py.get("first"), ".3f"), _num(py.get("feval"), "d"),
                     _num(py.get("objective"), ".4f"), theta])
    text = _layout(AGQ_FIT_COLUMNS, rows)
    target = res["target"]
    verdict = "PASS" if target["pass"] else "FAIL"
    text += (f"\n\ntarget: the 2-d nAGQ = {TARGET_NAGQ} fit under {target['limit']:g} s: "
             f"{verdict} ({_num(target['seconds'], '.3f')} s, {TARGET_CASE})")
    text += (f"\n\none deviance evaluation of {TARGET_CASE} at the nAGQ = {TARGET_NAGQ} "
             f"estimates, devfun(concatenate([theta, beta])): median of {DEVFUN_CALLS} calls "
             "after a warm-up; nAGQ 1 = updateGlmerDevfun(mkGlmerDevfun(lf, fam), 1), "
             "others mkGlmerDevfun(lf, fam, nAGQ=k)\n\n")
    if res["devfun"] is None:
        text += f"not run: {res['devfun_skipped']}"
    else:
        text += _layout(AGQ_DEVFUN_COLUMNS, _agq_devfun_rows(res["devfun"]), text=1)
    notes = _agq_notes(res)
    return "\n".join(header) + text + ("\n\n" + "\n".join(notes) if notes else "")


def _agq_notes(res: dict) -> list[str]:
    lines = []
    for case in res["cases"]:
        py = res["fits"].get(case.name, {})
        row = f"{case.dataset} ({case.fit_kind})"
        if "error" in py:
            lines.append(f"pylmer failed on {row}: {py['error']}")
        lines += [f"pylmer warning on {row}: {w}" for w in py.get("warnings", [])]
    for k, r in (res["devfun"] or {}).items():
        if "error" in r:
            lines.append(f"deviance evaluation with nAGQ = {k} failed: {r['error']}")
        lines += [f"deviance evaluation with nAGQ = {k} warned: {w}"
                  for w in r.get("warnings", [])]
    names = dict.fromkeys((case.dataset, tuple(py["theta_names"]))
                          for case in res["cases"]
                          if (py := res["fits"].get(case.name, {})).get("theta_names"))
    if names:
        lines.append("theta elements: " + "; ".join(f"{dataset}: {', '.join(n)}"
                                                     for dataset, n in names))
    return lines
