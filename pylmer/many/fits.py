"""The result of fitting one formula to many responses: one table row per response, and
any response's full model on demand."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..exceptions import PylmerError
from ..fitting import mkLmerDevfun
from ..modular import mkMerMod
from ..optimize import OptInfo
from ..results.lmermod import LmerMod
from .lmm import GroupFit, fit_responses
from .spec import ManySpec

__all__ = ["ManyFits", "fit_table", "fits_table"]


def fits_table(fit: GroupFit, names: list, coef_names: list, REML: bool) -> pd.DataFrame:
    """The per-response table: each coefficient's estimate, SE and t value, theta, sigma,
    the criterion, and the flags and messages."""
    cols: dict[str, object] = {}
    for c, name in enumerate(coef_names):
        cols[name] = fit.beta[:, c]
    for c, name in enumerate(coef_names):
        cols[f"se_{name}"] = fit.se[:, c]
    with np.errstate(invalid="ignore", divide="ignore"):
        for c, name in enumerate(coef_names):
            cols[f"t_{name}"] = fit.beta[:, c] / fit.se[:, c]
    for i in range(fit.theta.shape[1]):
        cols[f"theta_{i + 1}"] = fit.theta[:, i]
    cols["sigma"] = fit.sigma
    cols["REML" if REML else "deviance"] = fit.crit
    cols["nobs"] = fit.nobs
    cols["converged"] = fit.converged
    cols["iterations"] = fit.iterations
    cols["feval"] = fit.feval
    cols["warnings"] = [" | ".join(dict.fromkeys(m)) for m in fit.messages]
    table = pd.DataFrame(cols, index=pd.Index(names, name="response"))
    return table


class ManyFits:
    """One formula fitted to many responses (:func:`pylmer.lmer_many`).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per response (index: the responses' names). Columns: each fixed effect
        by its R name (``(Intercept)``, ``Diseasesick``), ``se_<name>``, ``t_<name>``,
        ``theta_1`` ... ``theta_k`` (lme4's order; names in ``theta_names``), ``sigma``,
        ``REML`` (or ``deviance`` for ML fits), ``nobs``, ``converged``, ``iterations``
        and ``feval`` (the search's work), and ``warnings``: lme4's messages, ``" | "``
        between them, such as the singular-fit message, or why a response was not
        fitted (its numbers are then NaN).
    theta_names : list of str
        lme4's names of theta's elements (``Individual.(Intercept)``).
    coef_names : list of str
        The fixed effects' names.
    """

    def __init__(self, spec: ManySpec, Y: np.ndarray, names: list, table: pd.DataFrame,
                 coef_names: list, theta_names: list):
        self._spec, self._Y, self._names = spec, Y, list(names)
        self._column = {name: j for j, name in enumerate(self._names)}
        self.table = table
        self.coef_names, self.theta_names = list(coef_names), list(theta_names)

    @property
    def formula(self) -> str:
        return self._spec.formula

    @property
    def names(self) -> list[str]:
        return list(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __getitem__(self, name: str) -> pd.Series:
        """The table's row of one response."""
        return self.table.loc[self._check(name)]

    def _check(self, name) -> str:
        if name not in self._column:
            near = ", ".join(self._names[:3])
            raise PylmerError(f"no response named {name!r} (the responses are {near}, ...)")
        return name

    def failed(self) -> list[str]:
        """The responses that could not be fitted (their rows say why)."""
        crit = self.table["REML" if self._spec.REML else "deviance"].to_numpy()
        return [n for n, c in zip(self._names, crit) if not np.isfinite(c)]

    def model(self, name: str) -> LmerMod:
        """The full ``LmerMod`` of one response, at its row's theta (its complete cases).

        Everything a fitted model has (summary, ranef, predict, confint, anova) is there;
        its estimates are the table's row.
        """
        row = self[name]
        theta = row[[f"theta_{i + 1}" for i in range(len(self.theta_names))]].to_numpy(
            dtype=float)
        if not np.all(np.isfinite(theta)):
            raise PylmerError(f"response {name!r} was not fitted: {row['warnings']}")
        y = self._Y[:, self._column[name]]
        spec = self._spec
        rows = np.flatnonzero(~np.isnan(y)) if np.isnan(y).any() else None
        lf = spec.lformula(y=y, rows=rows)
        devfun = mkLmerDevfun(lf, REML=spec.REML)
        fval = devfun(theta)
        messages = tuple(m for m in str(row["warnings"]).split(" | ") if m)
        opt = OptInfo("lmer_many", theta.copy(), float(fval), int(row["feval"]),
                      0 if bool(row["converged"]) else 1,
                      "batch Newton search" if bool(row["converged"]) else "not converged",
                      None, messages)
        return mkMerMod(lf, devfun, opt)

    def __repr__(self) -> str:
        kind = "REML" if self._spec.REML else "ML"
        failed = len(self.failed())
        singular = int(self.table["warnings"].str.contains("singular").sum())
        return (f"<ManyFits: {self.formula!r} ({kind}), {len(self)} responses; "
                f"{singular} singular, {failed} not fitted>")


def fit_table(spec, Y: np.ndarray, names: list, unusable: dict, n_jobs: int = 1,
              progress: bool = False):
    """The table of every response, in this process; with the coefficients' and theta's
    names."""
    with tqdm(total=len(names), desc="lmer_many", unit="response", file=sys.stderr,
              disable=not progress, dynamic_ncols=True) as bar:
        fit, lf0 = fit_responses(spec, Y, unusable, names, n_jobs=n_jobs, bar=bar)
    coef_names = list(lf0.X_colnames)
    return (fits_table(fit, names, coef_names, spec.REML), coef_names,
            list(lf0.reTrms.theta_names))
