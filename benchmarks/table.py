"""Plain-text results table and the notes under it (formatting only)."""

from __future__ import annotations

from .cases import Case

COLUMNS = ["model", "n", "pylmer s", "pylmer 1st s", "lme4 s", "lme4/pylmer",
           "pylmer feval", "lme4 feval", "obj diff", "pylmer MB", "lme4 MB"]


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
        case.name + ("" if case.REML else " (ML)"),
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
        cells = [row[0].ljust(widths[0])] + [v.rjust(w) for v, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells))
        if k == 0:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)


def format_notes(cases: list[Case], pylmer: dict, lme4: dict | None) -> str:
    """Failures, warnings and the memory details of the large cases."""
    lines = []
    for side, results in (("pylmer", pylmer), ("lme4", lme4 or {})):
        for case in cases:
            res = results.get(case.name, {})
            if "error" in res:
                lines.append(f"{side} failed on {case.name}: {res['error']}")
            for message in res.get("warnings", []):
                lines.append(f"{side} warning on {case.name}: {message}")
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
