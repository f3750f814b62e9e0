"""``glmer()``: lme4's two-stage GLMM fit.

Stage 1 optimizes theta with beta profiled inside PIRLS (nAGQ = 0). Stage 2, unless
``nAGQ = 0``, optimizes (theta, beta) jointly with the Laplace (nAGQ = 1) or adaptive
Gauss-Hermite (nAGQ > 1) deviance, starting from stage 1's estimates. As lme4, standard
errors of the fixed effects come from the finite-difference Hessian of that deviance.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from .api import lmer
from .control import GlmerControl
from .convergence import check_conv, deriv12
from .design.fixed import badly_scaled
from .exceptions import DeprecatedUseWarning
from .family import Family, get_family
from .linalg.threads import single_threaded_blas
from .modular import OptInfo, check_boundary, glFormula
from .optimize import minimize
from .pirls import GlmerDevfun, PirlsError
from .validate import check_control, check_count, check_start

if TYPE_CHECKING:  # pragma: no cover
    from .results.glmermod import GlmerMod
    from .results.lmermod import LmerMod

__all__ = ["glmer", "mkGlmerDevfun", "optimizeGlmer"]


def mkGlmerDevfun(lf, family: Family | str, nAGQ: int = 0,
                  control: GlmerControl | None = None) -> GlmerDevfun:
    """The GLMM deviance function (R: ``mkGlmerDevfun``), first at nAGQ = 0."""
    control = control or GlmerControl()
    return GlmerDevfun(lf, get_family(family), nAGQ=nAGQ, tol=control.tolPwrss)


def _stage2_steps(devfun, theta, beta) -> np.ndarray:
    """lme4's initial simplex for stage 2: 0.2 * (0.1 for theta, min(sd(beta), 10)), the
    sd from ``pp$unsc()`` at the working weights of the PIRLS fit at stage 1's theta."""
    devfun(theta)  # the PIRLS state at theta (every path), and its weights below
    ws = devfun.sync_workspace(devfun.state)
    RXinv = np.linalg.inv(ws.RX)
    beta_sd = np.sqrt(np.sum(RXinv**2, axis=1))
    return 0.2 * np.concatenate([np.full(len(theta), 0.1), np.minimum(beta_sd, 10.0)])


def _stage2_defaults(optimizer: str) -> dict:
    """Stage 2's BOBYQA stops when the deviance changes by less than 1e-10, not nloptwrap's
    1e-8: the Laplace deviance is flat along the intercept, and at 1e-8 BOBYQA can stop
    where rounding decides the last digits of beta (VerbAgg: a gradient of 0.003 and an
    intercept 1.4e-4 from lme4's). lme4's stage-2 Nelder-Mead ends as close as 1e-10."""
    return {"ftol_abs": 1e-10} if optimizer in ("nloptwrap", "bobyqa") else {}


def optimizeGlmer(devfun: GlmerDevfun, control: GlmerControl | None = None,
                  nAGQ: int = 1, start=None, verbose: int = 0) -> OptInfo:
    """Both stages of lme4's glmer optimization (R: ``optimizeGlmer`` twice)."""
    control = control or GlmerControl()
    stage1, stage2 = control.optimizer_stages()
    start = check_start(start, devfun.lower[:devfun.ntheta], "glmer")
    x0 = devfun.theta0 if start is None else start
    with single_threaded_blas():
        opt = minimize(devfun, x0, devfun.lower, optimizer=stage1, options=control.optCtrl,
                       verbose=verbose)
        devfun(opt.par)
        if control.boundary_tol > 0:
            opt = check_boundary(devfun, opt, control.boundary_tol)
        feval = opt.feval
        if nAGQ > 0:
            theta1, beta1 = opt.par, devfun.state.beta
            steps = _stage2_steps(devfun, theta1, beta1)
            devfun.set_nAGQ(nAGQ)
            options = {"initial_step": steps, **_stage2_defaults(stage2), **control.optCtrl}
            opt = minimize(devfun, np.concatenate([theta1, beta1]), devfun.lower,
                           optimizer=stage2, options=options, verbose=verbose)
            feval += opt.feval
            if control.boundary_tol > 0:
                opt = check_boundary(devfun, opt, control.boundary_tol)
        derivs = (deriv12(devfun, opt.par, opt.fval)
                  if control.derivs_wanted(devfun.lf.n, len(opt.par)) else None)
        fval = devfun(opt.par)  # leave the PIRLS state at the optimum
    ntheta = devfun.ntheta
    messages = check_conv(derivs, opt.par[:ntheta], devfun.lower[:ntheta], control)
    return OptInfo(opt.optimizer, opt.par.copy(), fval, feval, opt.conv, opt.message,
                   derivs, messages)


def glmer(formula: str, data, family: Family | str = "binomial", nAGQ: int = 1,
          weights=None, offset=None, na_action: str = "omit",
          control: GlmerControl | None = None, start=None,
          contrasts: Mapping[str, str] | None = None, verbose: int = 0) -> GlmerMod | LmerMod:
    """Fit a generalized linear mixed-effects model (R: ``lme4::glmer``).

    Parameters
    ----------
    formula : str
        lme4 formula; binomial responses as 0/1, logical, a two-level factor (first level =
        failure), ``cbind(successes, failures)``, or proportions with ``weights=`` trials.
    data : pandas.DataFrame
    family : str or Family
        ``"binomial"``, ``"poisson"``, ``"Gamma"``, ... or ``binomial(link="probit")``.
    nAGQ : int, default 1
        0: beta estimated inside PIRLS (fast, approximate); 1: the Laplace approximation;
        > 1: adaptive Gauss-Hermite quadrature with that many points (a single scalar
        random-effects term only).
    weights : str or array-like, optional
        Prior weights (R: ``glmer(weights = )``). For a binomial response given as
        proportions, the numbers of trials: ``glmer("prop ~ x + (1 | g)", data,
        weights="size")`` fits what ``cbind(y, size - y)`` fits. For other families each
        row's contribution to the deviance is multiplied by its weight. A column name, an R
        expression of columns evaluated by pylmer's own formula interpreter, never as Python
        (``weights="n / 10"``), or a vector of one value per row of ``data``. Non-negative
        and finite, not all zero; rows where it is missing are handled by ``na_action``.
    offset : str or array-like, optional
        An offset: a known part of the linear predictor (on the link scale), with
        coefficient 1 (R: ``glmer(offset = )``), e.g. ``offset="log(n)"`` for a Poisson rate
        per ``n`` units of exposure. A column name, an R expression of columns, or a vector
        of one value per row of ``data``. It adds to the formula's ``offset()`` terms, if
        any.
    control : GlmerControl, optional
        Optimizers for the two stages, ``tolPwrss``, check actions (R: ``glmerControl``).
    start : array-like or {"theta": ...}, optional
        Starting theta for stage 1.
    verbose : int, default 0
        1 or more prints the optimizers' progress (R: lme4's ``verbose = 1``).

    Returns
    -------
    GlmerMod

    Notes
    -----
    Dispersion families (Gamma, inverse Gaussian, gaussian with a link) are fitted as lme4
    fits them, which is not exact maximum likelihood: the Laplace deviance uses the family's
    ``aic()`` with the dispersion estimated as deviance / n, and ``sigma()`` is lme4's
    ``sqrt((Pearson chi-square + |u|^2) / n)``. On the shipped ``gamma_sim`` data (true
    random-effect sd 0.5) this gives lme4's 0.30, not the 0.5 an exact ML fit aims at;
    pylmer reproduces lme4 here on purpose.
    """
    from .results.glmermod import GlmerMod

    control = check_control(control, GlmerControl, "glmer")
    nAGQ = check_count(nAGQ, "nAGQ")
    verbose = int(verbose) if isinstance(verbose, bool) else check_count(verbose, "verbose")
    fam = get_family(family)
    if fam.family == "gaussian" and fam.link.name == "identity":
        warnings.warn("calling glmer() with family=gaussian (identity link) as a shortcut to "
                      "lmer() is deprecated; please call lmer() directly",
                      DeprecatedUseWarning, stacklevel=2)
        return lmer(formula, data, weights=weights, offset=offset, na_action=na_action,
                    contrasts=contrasts)
    lf = glFormula(formula, data, family=fam, weights=weights, offset=offset,
                   na_action=na_action, control=control, contrasts=contrasts)
    if nAGQ > 1:
        GlmerDevfun.check_nAGQ_for(lf, nAGQ)
    try:
        with single_threaded_blas():
            devfun = mkGlmerDevfun(lf, fam, nAGQ=0, control=control)
            opt = optimizeGlmer(devfun, control, nAGQ=int(nAGQ), start=start,
                                verbose=verbose)
    except (PirlsError, np.linalg.LinAlgError) as exc:
        raise PirlsError(_diagnose(lf, fam, exc)) from exc
    return GlmerMod(lf, devfun, opt)


def _diagnose(lf, family: Family, exc: Exception) -> str:
    """What PIRLS's failure most likely means, in words a user can act on."""
    message = str(exc)
    separating = _separating_columns(lf) if family.family == "binomial" else []
    if separating:
        return (f"{message}: the response is completely separated by "
                + ", ".join(separating) + " (the fixed effect diverges to +-infinity); "
                "remove or merge that term, or use a penalized (bias-reduced) model")
    if badly_scaled(lf.X):
        return (f"{message}: PIRLS failed with predictors on very different scales; "
                "rescale them (e.g. scale(x) in the formula)")
    return f"{message}: PIRLS failed; check the response and the predictors' scales"


def _separating_columns(lf) -> list[str]:
    """Columns of X that separate a binary response: every success on one side of every
    failure (a numeric column), or one value of the response wherever an indicator is 1."""
    y = np.asarray(lf.y, dtype=float)
    if y.ndim == 2:  # cbind(successes, failures): the proportions
        with np.errstate(invalid="ignore", divide="ignore"):
            y = y[:, 0] / y.sum(axis=1)
    ones, zeros = y >= 1.0, y <= 0.0
    if not (ones | zeros).all() or not ones.any() or not zeros.any():
        return []
    out = []
    for name, x in zip(lf.X_colnames, lf.X.T):
        if name == "(Intercept)" or np.ptp(x) == 0:
            continue
        if set(np.unique(x)) <= {0.0, 1.0}:
            inside = x == 1
            if inside.any() and (np.all(ones[inside]) or np.all(zeros[inside])):
                out.append(f"{name} (the response is {'1' if np.all(ones[inside]) else '0'} "
                           "wherever it is 1)")
        elif x[ones].min() >= x[zeros].max() or x[ones].max() <= x[zeros].min():
            out.append(name)
    return out
