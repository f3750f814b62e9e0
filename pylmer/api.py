"""``lmer()``: lme4's modular steps, in order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from .control import LmerControl
from .exceptions import PylmerError
from .modular import lFormula, mkLmerDevfun, mkMerMod, optimizeLmer
from .validate import check_bool, check_control, check_count

if TYPE_CHECKING:  # pragma: no cover
    from .results.lmermod import LmerMod

__all__ = ["lmer"]


def _check_identifiable(lf) -> None:
    y = lf.y
    if y.ndim == 2:
        raise PylmerError(f"response {lf.fr.response_name!r} has {y.shape[1]} columns; lmer "
                          "needs one numeric response (cbind(successes, failures) is for "
                          "glmer's binomial family)")
    if np.ptp(y) == 0:
        raise PylmerError(f"the response {lf.fr.response_name!r} is constant (zero variance): "
                         "there is nothing to model")
    n_par = lf.X.shape[1] + len(lf.reTrms.theta) + 1
    if lf.n < n_par:
        raise PylmerError(f"{lf.n} observations are fewer than the {n_par} parameters of the "
                         "model (fixed effects, variance parameters and the residual variance)")


def lmer(formula: str, data, REML: bool = True, weights=None, offset=None,
         na_action: str = "omit", control: LmerControl | None = None, start=None,
         contrasts: Mapping[str, str] | None = None, verbose: int = 0) -> LmerMod:
    """Fit a linear mixed-effects model (R: ``lme4::lmer``).

    Parameters
    ----------
    formula : str
        lme4 formula, e.g. ``"Reaction ~ Days + (Days | Subject)"``.
    data : pandas.DataFrame
        The data (polars DataFrames and dicts of columns are accepted). Not modified.
    REML : bool, default True
        Fit by REML (True) or maximum likelihood (False).
    weights : str or array-like, optional
        Prior weights (R: ``lmer(weights = )``): observation i has residual variance
        ``sigma**2 / weights[i]``. A column name (``weights="w"``), an R expression of
        columns evaluated by pylmer's own formula interpreter, never as Python
        (``weights="n / 10"``, ``weights="1 / sqrt(n)"``), or a vector of one value per row
        of ``data``. Non-negative and finite, not all zero; rows where it is missing are
        handled by ``na_action``.
    offset : str or array-like, optional
        An offset: a known part of the linear predictor, with coefficient 1 (R:
        ``lmer(offset = )``). A column name, an R expression of columns
        (``offset="log(n)"``), or a vector of one value per row of ``data``. It adds to the
        formula's ``offset()`` terms, if any.
    na_action : {"omit", "exclude", "fail"}
        What to do with rows holding missing values in model columns.
    control : LmerControl, optional
        Optimizer, tolerances and the action of each check (R: ``lmerControl()``).
    start : array-like or {"theta": array-like}, optional
        Starting theta (default: lme4's).
    contrasts : dict, optional
        Contrasts by factor, e.g. ``{"recipe": "contr.sum"}``.
    verbose : int, default 0
        1 or more prints the optimizer's progress, each evaluation's deviance (R: lme4's
        ``verbose = 1``).

    Returns
    -------
    LmerMod

    Examples
    --------
    >>> from pylmer import lmer, load_dataset
    >>> m = lmer("Reaction ~ Days + (Days | Subject)", load_dataset("sleepstudy"))
    >>> round(m.REMLcrit(), 4)
    1743.6283
    """
    control = check_control(control, LmerControl, "lmer")
    REML = check_bool(REML, "REML")
    lf = lFormula(formula, data, REML=REML, weights=weights, offset=offset,
                  na_action=na_action, control=control, contrasts=contrasts)
    _check_identifiable(lf)
    devfun = mkLmerDevfun(lf)
    verbose = int(verbose) if isinstance(verbose, bool) else check_count(verbose, "verbose")
    try:
        opt = optimizeLmer(devfun, control, start=start, verbose=verbose)
    except np.linalg.LinAlgError as exc:
        raise PylmerError(f"{exc}: the model cannot be fitted; check for predictors on very "
                          "different scales and for zero or extreme weights") from exc
    return mkMerMod(lf, devfun, opt)
