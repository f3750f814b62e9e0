"""The same model with every optimizer (R: lme4's ``allFit``): a check that the optimum
does not depend on the optimizer."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from ..control import GlmerControl, LmerControl
from ..exceptions import PylmerError, WarningLog
from ..linalg.threads import single_threaded_blas
from ..validate import check_count, check_model
from .refit import update

__all__ = ["AllFit", "allFit"]

# each distinct optimizer once ("nloptwrap" is BOBYQA through nlopt, as "bobyqa" here)
ALLFIT_OPTIMIZERS = ("bobyqa", "Nelder_Mead", "L-BFGS-B")


class AllFit(Mapping):
    """The fits by optimizer (R: the value of ``allFit(m)``): a mapping from the
    optimizer's name to its fitted model, or to the error it raised."""

    def __init__(self, fits: dict, messages: dict):
        self._fits, self._messages = fits, messages

    def __getitem__(self, name):
        return self._fits[name]

    def __iter__(self):
        return iter(self._fits)

    def __len__(self) -> int:
        return len(self._fits)

    def summary(self) -> pd.DataFrame:
        """One row per optimizer: the objective (REML criterion or -2 logLik), the fixed
        effects, theta and the fit's warnings (R: ``summary(allFit(m))``)."""
        rows = {}
        for name, fit in self._fits.items():
            if isinstance(fit, Exception):
                rows[name] = {"objective": np.nan, "warnings": f"failed: {fit}"}
                continue
            row = {"objective": _objective(fit)}
            row.update(fit.fixef().to_dict())
            row.update({f"theta_{i + 1}": v for i, v in enumerate(fit.theta)})
            row["warnings"] = " | ".join(self._messages.get(name, []))
            rows[name] = row
        return pd.DataFrame.from_dict(rows, orient="index")


def _objective(fit) -> float:
    if fit.isREML():
        return float(fit.REMLcrit())
    return -2.0 * float(fit.logLik())


def allFit(model, n_jobs: int = 1) -> AllFit:
    """Refit the model with each optimizer pylmer has (R: lme4's ``allFit(m)``):
    BOBYQA, lme4's Nelder-Mead and L-BFGS-B, in ``n_jobs`` threads. A fit that fails is
    kept as its error; each fit's warnings are in :meth:`AllFit.summary`."""
    check_model(model)
    n_jobs = check_count(n_jobs, "n_jobs", 1)
    control = model.lf.control or (GlmerControl() if model.isGLMM() else LmerControl())

    def fit(name):
        log.working_on(name)
        changed = dataclasses.replace(control, optimizer=name if not model.isGLMM()
                                      else (name, name))
        try:
            return name, update(model, control=changed)
        except (PylmerError, ArithmeticError, ValueError, np.linalg.LinAlgError) as err:
            return name, err

    with WarningLog() as log, single_threaded_blas(), \
            ThreadPoolExecutor(max_workers=n_jobs) as pool:
        fits = dict(pool.map(fit, ALLFIT_OPTIMIZERS))
        messages = {name: log.take(name) for name in ALLFIT_OPTIMIZERS}
    return AllFit(fits, messages)
