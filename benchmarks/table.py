"""Plain-text results table and the notes under it (formatting only)."""

from __future__ import annotations

from .cases import Case

COLUMNS = ["model", "fit", "n", "pylmer s", "pylmer 1st s", "lme4 s", "lme4/pylmer",
           "pylmer feval", "lme4 feval", "obj diff", "pylmer MB", "lme4 MB"]
TEXT = 2  # left-aligned columns (model, fit); the others are right-aligned


def _num(value, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _row(case: Case, py: dict, r: dict | None) -> list[str]:
    r = r or {}
    ratio = diff = None
    if py.get("median") and r.get("median") is not None:
        ratio = r["median"] / py["median"]
    if py.get("objective") is not None and r.get("objective") is not None:
        diff = py["objective"] - r["objective"]
    return [
        case.name,
        case.fit_kind,
        _num(py.get("nobs", r.get("nobs")), "d"),
        "FAILED" if "error" in py else _num(py.get("median"), ".3f"),
        _num(py.get("first"), ".3f"),
        "FAILED" if "error" in r else _num(r.get("median"), ".3f"),
        _num(ratio, ".2f"),
        _num(py.get("feval"), "d"),
        _num(r.get("feval"), "d"),
        _num(diff, "+.2e"),
        _num(py.get("peak_mb"), ".0f"),
        _num(r.get("peak_mb"), ".0f"),
    ]


def format_table(cases: list[Case], pylmer: dict, lme4: dict | None) -> str:
    """One row per case; ``lme4`` is None when lme4 was not run."""
    rows = [COLUMNS] + [_row(c, pylmer[c.name], (lme4 or {}).get(c.name)) for c in cases]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = []
    for k, row in enumerate(rows):
        cells = ([v.ljust(w) for v, w in zip(row[:TEXT], widths[:TEXT])]
                 + [v.rjust(w) for v, w in zip(row[TEXT:], widths[TEXT:])])
        lines.append("  ".join(cells))
        if k == 0:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)


def _glmm_feval_notes(cases: list[Case], pylmer: dict, lme4: dict | None) -> list[str]:
    """What the feval columns count for GLMMs with nAGQ > 0 (two optimization stages)."""
    two_stage = [c for c in cases if c.glmm and c.nAGQ > 0]
    if not two_stage:
        return []

    def optimizers(results: dict) -> str:
        names = {results.get(c.name, {}).get("optimizer") for c in two_stage} - {None}
        return "/".join(sorted(names)) or "-"

    text = ("GLMM feval (nAGQ > 0): pylmer counts both optimization stages (theta with "
            "nAGQ = 0, then theta and beta), lme4's optinfo$feval only the second; "
            f"second-stage optimizer: pylmer {optimizers(pylmer)}")
    if lme4 is not None:
        text += f", lme4 {optimizers(lme4)}"
    return [text]


def format_notes(cases: list[Case], pylmer: dict, lme4: dict | None) -> str:
    """Failures, warnings, what GLMM evaluations count and the memory of the large cases."""
    lines = []
    for side, results in (("pylmer", pylmer), ("lme4", lme4 or {})):
        for case in cases:
            res = results.get(case.name, {})
            if "error" in res:
                lines.append(f"{side} failed on {case.name}: {res['error']}")
            for message in res.get("warnings", []):
                lines.append(f"{side} warning on {case.name}: {message}")
    lines += _glmm_feval_notes(cases, pylmer, lme4)
    large = [c for c in cases if c.large]
    if large:
        lines.append("memory of the large cases, MB (base = RSS before the fits; fit peak = "
                     "high-water RSS during the fits; process max = whole process incl. CSV "
                     "read; R heap = gc() max used):")
    for case in large:
        py, r = pylmer.get(case.name, {}), (lme4 or {}).get(case.name, {})
        text = (f"  {case.name}: pylmer base {_num(py.get('base_mb'), '.0f')}, "
                f"fit peak {_num(py.get('peak_mb'), '.0f')}, "
                f"process max {_num(py.get('maxrss_mb'), '.0f')}")
        if lme4 is not None:
            text += (f" | lme4 base {_num(r.get('base_mb'), '.0f')}, "
                     f"fit peak {_num(r.get('peak_mb'), '.0f')}, "
                     f"process max {_num(r.get('maxrss_mb'), '.0f')}, "
                     f"R heap {_num(r.get('rheap_mb'), '.0f')}")
        lines.append(text)
    return "\n".join(lines)
