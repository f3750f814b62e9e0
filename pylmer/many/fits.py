"""The result of fitting one formula to many responses: one table row per response, and
any response's full model on demand."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..exceptions import PylmerError, WarningLog
from ..fitting import mkGlmerDevfun, mkLmerDevfun, updateGlmerDevfun
from ..modular import mkMerMod
from ..optimize import OptInfo
from ..results.glmermod import GlmerMod
from ..results.lmermod import LmerMod
from .glmm import GlmmFit, fit_glmm_responses
from .lmm import GroupFit, fit_responses
from .spec import ManySpec

__all__ = ["RESERVED", "ManyFits", "estimate_columns", "fit_table", "fits_table",
           "glmm_table"]


# the table's own columns, besides each coefficient's
RESERVED = {"sigma", "REML", "deviance", "nobs", "converged", "iterations", "feval",
            "warnings", "logLik", "AIC"}


def estimate_columns(coef_names: list, stat: str, k: int) -> list[str]:
    """The estimates' column names: each coefficient's R name, or ``est_<name>`` where
    that name is one of the table's other columns (a predictor called ``sigma``)."""
    others = RESERVED | {f"theta_{i + 1}" for i in range(k)} | {
        f"{prefix}_{name}" for name in coef_names for prefix in ("se", stat)}
    return [f"est_{name}" if name in others else name for name in coef_names]


def _estimates(beta, se, theta, coef_names: list, stat: str) -> dict:
    """The table's first columns: each coefficient, its SE and its t (or z) value, then
    theta."""
    labels = estimate_columns(coef_names, stat, theta.shape[1])
    cols: dict[str, object] = {label: beta[:, c] for c, label in enumerate(labels)}
    cols.update({f"se_{name}": se[:, c] for c, name in enumerate(coef_names)})
    with np.errstate(invalid="ignore", divide="ignore"):
        cols.update({f"{stat}_{name}": beta[:, c] / se[:, c]
                     for c, name in enumerate(coef_names)})
    cols.update({f"theta_{i + 1}": theta[:, i] for i in range(theta.shape[1])})
    return cols


def fits_table(fit: GroupFit, names: list, coef_names: list, REML: bool) -> pd.DataFrame:
    """The per-response table: each coefficient's estimate, SE and t value, theta, sigma,
    the criterion, and the flags and messages."""
    cols = _estimates(fit.beta, fit.se, fit.theta, coef_names, "t")
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
        by its R name (``(Intercept)``, ``Diseasesick``; ``est_<name>`` where the name is
        one of the table's other columns, such as a predictor called ``sigma``),
        ``se_<name>``, ``t_<name>`` (``z_<name>`` for GLMMs),
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
                 coef_names: list, theta_names: list, opts: list | None = None):
        self._spec, self._Y, self._names = spec, Y, list(names)
        self._opts = opts
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
        if name not in self._column and str(name) in self._column:
            return str(name)  # names are kept as strings (a DataFrame's 0, 1, ... too)
        if name not in self._column:
            near = ", ".join(repr(n) for n in self._names[:3])
            raise PylmerError(f"no response named {name!r} (the responses are {near}, ...)")
        return name

    @property
    def _criterion(self) -> str:
        if self._spec.family is not None:
            return "logLik"
        return "REML" if self._spec.REML else "deviance"

    def failed(self) -> list[str]:
        """The responses that could not be fitted (their rows say why)."""
        crit = self.table[self._criterion].to_numpy()
        return [n for n, c in zip(self._names, crit) if not np.isfinite(c)]

    def model(self, name: str) -> LmerMod | GlmerMod:
        """The full model of one response at its row's estimates, on its complete cases:
        an ``LmerMod`` at the row's theta, or a ``GlmerMod`` at the optimum the fit
        recorded.

        Everything a fitted model has (summary, ranef, predict, confint, anova) is there;
        its estimates are the table's row.
        """
        row = self[name]
        theta = row[[f"theta_{i + 1}" for i in range(len(self.theta_names))]].to_numpy(
            dtype=float)
        if not np.all(np.isfinite(theta)):
            why = str(row["warnings"]).removeprefix("not fitted: ")
            raise PylmerError(f"response {name!r} was not fitted: {why}")
        name = self._check(name)
        y = self._Y[:, self._column[name]]
        spec = self._spec
        rows = np.flatnonzero(~np.isnan(y)) if np.isnan(y).any() else None
        lf = spec.lformula(y=y, rows=rows)
        if spec.family is not None:  # lme4's stage-2 devfun at the recorded optimum
            opt = self._opts[self._column[name]]
            devfun = mkGlmerDevfun(lf, spec.family, nAGQ=0, control=spec.control)
            if spec.nAGQ > 0:
                extra = opt.par[len(opt.par) - devfun.n_extra:] if devfun.n_extra else []
                # stage 1's state at the optimum's theta, where stage 2 starts its PIRLS
                devfun(np.concatenate([opt.par[: devfun.ntheta], extra]))
                devfun = updateGlmerDevfun(devfun, spec.nAGQ)
            return mkMerMod(lf, devfun, opt)
        devfun = mkLmerDevfun(lf, REML=spec.REML)
        fval = devfun(theta)
        messages = tuple(m for m in str(row["warnings"]).split(" | ") if m)
        opt = OptInfo("lmer_many", theta.copy(), float(fval), int(row["feval"]),
                      0 if bool(row["converged"]) else 1,
                      "batch Newton search" if bool(row["converged"]) else "not converged",
                      None, messages)
        return mkMerMod(lf, devfun, opt)

    def __repr__(self) -> str:
        kind = ("REML" if self._spec.REML else "ML") if self._spec.family is None else \
            f"{self._spec.family.family}, nAGQ = {self._spec.nAGQ}"
        failed = len(self.failed())
        singular = int(self.table["warnings"].str.contains("singular").sum())
        return (f"<ManyFits: {self.formula!r} ({kind}), {len(self)} responses; "
                f"{singular} singular, {failed} not fitted>")


def fit_table(spec, Y: np.ndarray, names: list, unusable: dict, n_jobs: int = 1,
              progress: bool = False):
    """The table of every response, in this process; the coefficients' and theta's names;
    and, for GLMMs, each response's optimizer record (None for LMMs)."""
    what = "lmer_many" if spec.family is None else "glmer_many"
    with tqdm(total=len(names), desc=what, unit="response", file=sys.stderr,
              disable=not progress, dynamic_ncols=True) as bar:
        if spec.family is None:
            with WarningLog() as log:
                fit, lf0 = fit_responses(spec, Y, unusable, names, n_jobs=n_jobs, bar=bar,
                                         log=log)
            coef_names = list(lf0.X_colnames)
            table = fits_table(fit, names, coef_names, spec.REML)
            opts = None
        else:
            fit, lf0 = fit_glmm_responses(spec, Y, unusable, names, n_jobs=n_jobs, bar=bar)
            coef_names = list(lf0.X_colnames)
            table = glmm_table(fit, names, coef_names)
            opts = fit.opts
    return table, coef_names, list(lf0.reTrms.theta_names), opts


def glmm_table(fit: GlmmFit, names: list, coef_names: list) -> pd.DataFrame:
    """The per-response table of GLMM fits: estimates, SEs and z values, theta, the
    extra parameter (``sigma``, as ``sigma(m)``; NaN for families without one),
    logLik, AIC, and the flags and messages."""
    cols = _estimates(fit.beta, fit.se, fit.theta, coef_names, "z")
    if np.isfinite(fit.sigma).any():
        cols["sigma"] = fit.sigma
    cols["logLik"] = fit.loglik
    npar = len(coef_names) + fit.theta.shape[1] + int(np.isfinite(fit.sigma).any())
    cols["AIC"] = -2.0 * fit.loglik + 2.0 * npar
    cols["nobs"] = fit.nobs
    cols["converged"] = fit.converged
    cols["feval"] = fit.feval
    cols["warnings"] = [" | ".join(dict.fromkeys(m)) for m in fit.messages]
    return pd.DataFrame(cols, index=pd.Index(names, name="response"))
