"""Single-term deletions of the fixed part: lme4's ``drop1(m, test = "Chisq")``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import PylmerError, PylmerWarning, warn_user
from ..formula.rexpr import deparse
from ..lazy import stats
from ..validate import check_model
from .refit import refit_ML

__all__ = ["drop1"]


def _fixed_terms(model) -> list[tuple[str, frozenset]]:
    """The expanded fixed terms (``recipe * temperature`` -> recipe, temperature,
    recipe:temperature) as (R's label, set of variables), the intercept left out."""
    terms = model.lf.fixed.plan.terms
    return [(label, frozenset(term)) for label, term in zip(terms.term_labels, terms.terms)]


def _formula_without(model, drop: str, labels: list[str]) -> str:
    """The model's formula with one fixed term removed (random terms and offsets kept)."""
    parsed = model.lf.formula
    has_intercept = model.lf.fixed.plan.terms.intercept
    fixed = [label for label in labels if label != drop]
    parts = fixed or ["1"]
    rhs = " + ".join(parts) + ("" if has_intercept else " - 1")
    rhs += "".join(f" + offset({deparse(node)})" for node in parsed.offsets)
    rhs += "".join(f" + {term}" for term in parsed.random)
    return f"{deparse(parsed.response)} ~ {rhs}"


def drop1(model, test: str = "none") -> pd.DataFrame:
    """Refit without each fixed term that no other term contains, and compare by AIC,
    and with ``test="Chisq"`` by likelihood ratio (R: ``drop1(m)``, lme4's default
    ``test = "none"``, and ``drop1(m, test = "Chisq")``). REML fits are refitted by ML.

    Returns
    -------
    DataFrame
        Rows ``<none>`` and each droppable term (as R names it); columns npar (the term's
        number of parameters) and AIC, and with ``test="Chisq"`` LRT and Pr(Chi).
    """
    check_model(model)
    if test not in ("none", "Chisq"):
        raise PylmerError(f"test={test!r}: use 'none' (AIC only, lme4's default) or "
                          "'Chisq' (likelihood-ratio tests)")
    if model.isREML():
        warn_user("refitting model(s) with ML (instead of REML)", PylmerWarning)
        model = refit_ML(model)
    terms = _fixed_terms(model)
    labels = [label for label, _ in terms]
    # marginality: a term inside a higher-order term (recipe in recipe:temperature) stays
    droppable = [label for label, f in terms
                 if not any(f < other for _, other in terms)]
    base = model.logLik()
    rows = [("<none>", np.nan, model.AIC(), np.nan, np.nan)]
    for label in droppable:
        smaller = model.update(_formula_without(model, label, labels), REML=False) \
            if not model.isGLMM() else model.update(
                _formula_without(model, label, labels))
        ll = smaller.logLik()
        lrt = max(0.0, 2.0 * (float(base) - float(ll)))
        df = base.df - ll.df
        rows.append((label, df, smaller.AIC(), lrt, stats.chi2.sf(lrt, df)))
    table = pd.DataFrame(rows, columns=["term", "npar", "AIC", "LRT", "Pr(Chi)"])
    table = table.set_index("term").rename_axis(None)
    return table if test == "Chisq" else table[["npar", "AIC"]]
