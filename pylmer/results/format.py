"""Text layout of fitted models, in lme4's print format."""

from __future__ import annotations


def format_varcorr(vc) -> str:
    """lme4's ``print(VarCorr(m))``: Groups, Name, Std.Dev. (and Corr)."""
    rows = []
    for term in vc.terms:
        for i, col in enumerate(term.columns):
            rows.append((term.group if i == 0 else "", col, f"{term.stddev[i]:.4g}"))
    if vc.sigma is not None:
        rows.append(("Residual", "", f"{vc.sigma:.4g}"))
    widths = [max(len(r[k]) for r in rows + [("Groups", "Name", "Std.Dev.")]) for k in range(3)]
    head = ("Groups", "Name", "Std.Dev.")
    lines = [" ".join(h.ljust(w) for h, w in zip(head, widths))]
    lines += [" ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(" " + line.rstrip() for line in lines)


def format_lmermod(m) -> str:
    """lme4's ``print(m)`` of a fitted lmerMod."""
    crit = "REML criterion at convergence" if m.REML else "deviance"
    value = m.REMLcrit() if m.REML else m.deviance()
    lines = [
        "Linear mixed model fit by " + ("REML" if m.REML else "maximum likelihood"),
        f"Formula: {m.formula}",
        f"{crit}: {value:.4f}",
        "Random effects:",
        format_varcorr(m.VarCorr()),
        f"Number of obs: {m.nobs()}, groups:  "
        + ", ".join(f"{g}, {k}" for g, k in m.ngrps().items()),
        "Fixed Effects:",
        m.fixef().to_string(),
    ]
    return "\n".join(lines)
