"""Confidence intervals: lme4's ``confint(m, method = "Wald")``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import PylmerError
from ..lazy import stats
from ..validate import check_bool, check_choice, check_fraction, check_model
from .bootstrap import boot_confint
from .names import parameter_names
from .profile import profile_confint

__all__ = ["confint"]


def _old_names(model) -> list[str]:
    """lme4's default names: ``.sig01``, ``.sig02``, ... then ``.sigma``."""
    names = parameter_names(model)
    out, k = [], 0
    for name in names:
        if name == "sigma":
            out.append(".sigma")
        else:
            k += 1
            out.append(f".sig{k:02d}")
    return out


def confint(model, method: str = "profile", level: float = 0.95, nsim: int = 500,
            seed=None, n_jobs: int = 1, oldNames: bool = True,
            progress: bool = True) -> pd.DataFrame:
    """Confidence intervals (R: ``confint(m, method, level, oldNames)``).

    ``method`` is ``"profile"`` by default, as in lme4; ``"Wald"`` is the quick one.

    Rows: the variance parameters, named ``.sig01``, ``.sig02``, ..., ``.sigma`` (lme4's
    default, ``oldNames=True``) or ``sd_(Intercept)|Subject``, ``cor_...``, ``sigma``
    (``oldNames=False``), then the fixed effects.

    ``progress``: a progress bar (tqdm, on stderr) over the parameters profiled
    (``"profile"``) or the bootstrap replicates (``"boot"``); ``False`` for none.
    """
    check_model(model)
    method = check_choice(method, "method", ("profile", "Wald", "boot"))
    level = check_fraction(level, "level")
    oldNames = check_bool(oldNames, "oldNames")
    progress = check_bool(progress, "progress")
    table = _confint(model, method, level, nsim, seed, n_jobs, progress)
    if oldNames:
        variance = len(parameter_names(model))
        table.index = _old_names(model) + list(table.index[variance:])
    return table


def _confint(model, method: str, level: float, nsim: int, seed, n_jobs: int,
             progress: bool = True) -> pd.DataFrame:
    """Confidence intervals (R: ``confint(m, method, level, oldNames = FALSE)``).

    ``method="Wald"``: normal intervals for the fixed effects, NaN for the variance
    parameters (as lme4). ``method="profile"``: profile-likelihood intervals for every
    parameter (LMMs; see :mod:`pylmer.inference.profile`). ``method="boot"``: percentile
    intervals from ``nsim`` parametric bootstrap replicates (``seed``, ``n_jobs``).
    """
    if method == "profile":
        return profile_confint(model, level=level, progress=progress)
    if method == "boot":
        return boot_confint(model, level=level, nsim=nsim, seed=seed, n_jobs=n_jobs,
                            progress=progress)
    if method != "Wald":
        raise PylmerError(f"confint(method={method!r}): use 'Wald', 'profile' or 'boot'")
    if not 0 < level < 1:
        raise PylmerError(f"level={level!r} must be between 0 and 1")
    z = stats.norm.ppf(0.5 + level / 2.0)
    beta = model.fixef()
    se = np.sqrt(np.diag(model.vcov().to_numpy()))
    lo_name = f"{100 * (1 - level) / 2:.3g} %"
    hi_name = f"{100 * (1 + level) / 2:.3g} %"
    variance = parameter_names(model)
    names, est = list(beta.index), beta.to_numpy()
    if hasattr(model, "threshold_table"):  # clmm: the thresholds first, as ordinal's
        table = model.threshold_table()
        names, est = list(table.index) + names, np.concatenate([table["Estimate"], est])
        se = np.concatenate([table["Std. Error"], se])
    lower = np.concatenate([np.full(len(variance), np.nan), est - z * se])
    upper = np.concatenate([np.full(len(variance), np.nan), est + z * se])
    return pd.DataFrame({lo_name: lower, hi_name: upper}, index=variance + names)
