"""The middle modular steps: the deviance functions and their optimization.

``mkLmerDevfun`` -> ``optimizeLmer`` for an LMM; ``mkGlmerDevfun`` -> ``optimizeGlmer``
(lme4's two stages) for a GLMM. :func:`fit_lmer` and :func:`fit_glmer` run them in order
on a model's :class:`~pylmer.lformula.LFormula`, with the checks ``lmer()`` and ``glmer()``
make, and return the devfun and the optimum: what ``mkMerMod`` turns into a fitted model.
``lmer()``, ``glmer()``, ``update()`` and every refit (``refit``, ``bootMer``, the ML refit
of ``anova``) go through them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from .control import STAGE2_AUTO, GlmerControl, LmerControl
from .convergence import check_conv, deriv12
from .design.fixed import badly_scaled
from .exceptions import DeprecatedUseWarning, PirlsError, PylmerError, warn_user
from .family import Family, get_family
from .lformula import LFormula, clmFormula, glFormula, lFormula
from .linalg.threads import single_threaded_blas
from .objective import LmerDevfun
from .optimize import OptInfo, check_boundary, minimize, restart_edge
from .pirls import GlmerDevfun
from .validate import check_bool, check_choice, check_control, check_count, check_start

__all__ = ["check_identifiable", "clmm_steps", "fit_glmer", "fit_lmer", "glmer_steps",
           "lmer_steps", "mkGlmerDevfun", "mkLmerDevfun", "optimizeGlmer", "optimizeLmer",
           "optimize_lmm", "updateGlmerDevfun"]


# --------------------------------------------------------------------------- LMM

def mkLmerDevfun(lf: LFormula, REML: bool | None = None, backend: str | None = None,
                 dense: bool | None = None) -> LmerDevfun:
    """The profiled deviance / REML criterion as a function of theta (R: ``mkLmerDevfun``).

    ``backend`` ("cholmod" or "scipy") chooses the sparse factorization and ``dense``
    forces (True) or forbids (False) the dense path used for small models.

    Returns
    -------
    LmerDevfun
        Callable ``devfun(theta) -> float``, with ``lower``, ``theta0`` (lme4's start)
        and ``feval``.
    """
    if not isinstance(lf, LFormula):
        raise TypeError(f"mkLmerDevfun takes what lFormula() returns, got {type(lf).__name__}")
    return LmerDevfun(lf, REML=REML, backend=backend, dense=dense)


def optimizeLmer(devfun: LmerDevfun, control: LmerControl | None = None, start=None,
                 verbose: int = 0) -> OptInfo:
    """Minimize an LMM devfun over theta (R: ``optimizeLmer``).

    nlopt's BOBYQA by default, from lme4's start, with lme4's ``restart_edge``, boundary
    check and convergence checks (warnings in lme4's words).
    """
    control = control or LmerControl()
    start = check_start(start, devfun.lower, "lmer")
    x0 = devfun.theta0 if start is None else start
    optimizer = control.optimizer_stages()[0]
    with single_threaded_blas(not devfun.workspace.wants_threads()):
        opt = minimize(devfun, x0, devfun.lower, optimizer=optimizer,
                       options=control.optCtrl, verbose=verbose)
        if control.restart_edge:
            opt = restart_edge(devfun, opt, optimizer, control.optCtrl)
        if control.boundary_tol > 0:
            opt = check_boundary(devfun, opt, control.boundary_tol)
        derivs = None
        if control.derivs_wanted(devfun.lf.n, len(devfun.lower)):
            derivs = deriv12(devfun, opt.par, opt.fval)
        fval = devfun(opt.par)
    messages = check_conv(derivs, opt.par, devfun.lower, control)
    return OptInfo(opt.optimizer, opt.par.copy(), fval, opt.feval, opt.conv, opt.message,
                   derivs, messages)


def _check_identifiable(lf: LFormula) -> None:
    y = lf.y
    check_identifiable(lf.fr.response_name, y.shape[1] if y.ndim == 2 else 1,
                       y.ndim == 1 and np.ptp(y) == 0, lf.n,
                       lf.X.shape[1] + len(lf.reTrms.theta) + 1)


def check_identifiable(response: str, columns: int, constant: bool, n: int,
                       n_par: int) -> None:
    """lmer's checks that a model can be fitted: one response column, not constant, at
    least as many observations as parameters (from totals: an out-of-core fit has no
    rows)."""
    if columns != 1:
        raise PylmerError(f"response {response!r} has {columns} columns; lmer "
                          "needs one numeric response (cbind(successes, failures) is for "
                          "glmer's binomial family)")
    if constant:
        raise PylmerError(f"the response {response!r} is constant (zero variance): "
                          "there is nothing to model")
    if n < n_par:
        raise PylmerError(f"{n} observations are fewer than the {n_par} parameters of the "
                          "model (fixed effects, variance parameters and the residual variance)")


def fit_lmer(lf: LFormula, REML: bool | None = None, control: LmerControl | None = None,
             start=None, verbose: int = 0) -> tuple[LmerDevfun, OptInfo]:
    """``lmer()``'s steps after ``lFormula``: checks, devfun, optimum."""
    _check_identifiable(lf)
    devfun = mkLmerDevfun(lf, REML=REML)
    return devfun, optimize_lmm(devfun, control or lf.control, start=start, verbose=verbose)


def optimize_lmm(devfun: LmerDevfun, control: LmerControl, start=None,
                 verbose: int = 0) -> OptInfo:
    """:func:`optimizeLmer`, a factorization that fails explained in words a user can act
    on (every LMM fit, in memory or out of core, ends here)."""
    try:
        return optimizeLmer(devfun, control, start=start, verbose=verbose)
    except np.linalg.LinAlgError as exc:
        raise PylmerError(f"{exc}: the model cannot be fitted; check for predictors on very "
                          "different scales and for zero or extreme weights") from exc


def _check_verbose(verbose) -> int:
    return int(verbose) if isinstance(verbose, bool) else check_count(verbose, "verbose")


def lmer_steps(formula: str, data, REML: bool = True, weights=None, offset=None,
               na_action: str = "omit", control: LmerControl | None = None, start=None,
               contrasts: Mapping[str, str] | None = None, verbose: int = 0,
               ) -> tuple[LFormula, LmerDevfun, OptInfo]:
    """Everything ``lmer()`` does before ``mkMerMod`` (its arguments, checked, and the
    steps); ``update()`` runs it again with changed arguments."""
    control = check_control(control, LmerControl, "lmer")
    REML = check_bool(REML, "REML")
    lf = lFormula(formula, data, REML=REML, weights=weights, offset=offset,
                  na_action=na_action, control=control, contrasts=contrasts)
    devfun, opt = fit_lmer(lf, control=control, start=start, verbose=_check_verbose(verbose))
    return lf, devfun, opt


# --------------------------------------------------------------------------- GLMM

def mkGlmerDevfun(lf: LFormula, family: Family | str, nAGQ: int = 0,
                  control: GlmerControl | None = None) -> GlmerDevfun:
    """The GLMM deviance function (R: ``mkGlmerDevfun``), first at nAGQ = 0."""
    control = control or GlmerControl()
    return GlmerDevfun(lf, get_family(family), nAGQ=nAGQ, tol=control.tolPwrss,
                       agq_grid=control.agq_grid)


def _stage2_steps(devfun: GlmerDevfun, pars) -> np.ndarray:
    """lme4's initial simplex for stage 2: 0.2 * (0.1 for theta, min(sd(beta), 10)), the
    sd from ``pp$unsc()`` at the working weights of the PIRLS fit at ``pars`` (stage 1's
    theta, and the beta PIRLS estimated there)."""
    RXinv = np.linalg.inv(devfun.snapshot(pars).pls.RX)
    beta_sd = np.sqrt(np.sum(RXinv**2, axis=1))
    # an estimated extra parameter (log scale) moves as theta does
    return 0.2 * np.concatenate([np.full(devfun.ntheta, 0.1), np.minimum(beta_sd, 10.0),
                                 np.full(devfun.n_extra, 0.1)])


def _stage2_defaults(optimizer: str) -> dict:
    """Stage 2's BOBYQA stops when the deviance changes by less than 1e-10, not nloptwrap's
    1e-8: the Laplace deviance is flat along the intercept, and at 1e-8 BOBYQA can stop
    where rounding decides the last digits of beta (VerbAgg: a gradient of 0.003 and an
    intercept 1.4e-4 from lme4's). lme4's stage-2 Nelder-Mead ends as close as 1e-10."""
    return {"ftol_abs": 1e-10} if optimizer in ("nloptwrap", "bobyqa") else {}


def _stage1_defaults(devfun: GlmerDevfun, final: bool) -> dict:
    """Stage 1 only starts stage 2 for the families with an extra parameter, whose stage 2
    re-optimizes every parameter on a smooth deviance: it may stop at a change of 1e-3
    (a third fewer evaluations on the ordinal and negative binomial references, the same
    optimum). lme4's families keep lme4's stage 1, which decides where stage 2 ends."""
    return {"ftol_abs": 1e-3} if not final and devfun.family.has_extra else {}


def _stage2_optimizer(optimizer: str, family: Family) -> str:
    """Stage 2's optimizer: ``"auto"`` is lme4's Nelder_Mead, except for binomial and
    Poisson GLMMs, where BOBYQA ends at lme4's optimum with far fewer evaluations.

    lme4's Laplace deviance is not smooth: each evaluation runs PIRLS from the same linear
    predictor until the penalized deviance changes by less than ``tolPwrss``, and where the
    number of iterations changes the deviance jumps. For binomial and Poisson GLMMs the
    family's ``aic()`` is the deviance plus a constant, which PIRLS minimizes, so the
    jumps come from log|L| alone, smaller and rarer, and BOBYQA ends where lme4's
    Nelder-Mead does. With a dispersion family (Gamma, inverse Gaussian, gaussian with a
    link) they reach 1e-2, lme4's Nelder-Mead often ends next to one (and then warns), and
    BOBYQA ends on another piece, up to 3e-2 higher and silent.
    From lme4's stage-1 estimates, :func:`pylmer.neldermead.nelder_mead` repeats lme4's
    stage 2 evaluation for evaluation. The families with an extra parameter (negative
    binomial, Beta, ordinal) converge PIRLS to 1e-12, which leaves no jumps to speak of:
    BOBYQA.
    """
    if optimizer != STAGE2_AUTO:
        return optimizer
    smooth = family.family in ("binomial", "poisson") or family.has_extra
    return "bobyqa" if smooth else "Nelder_Mead"


def updateGlmerDevfun(devfun: GlmerDevfun, nAGQ: int = 1) -> GlmerDevfun:
    """The stage-2 deviance function (R: ``updateGlmerDevfun``): a function of
    ``concatenate([theta, beta])`` with the Laplace (nAGQ = 1) or adaptive Gauss-Hermite
    (nAGQ > 1) approximation, PIRLS starting from the linear predictor at the stage-1
    devfun's last evaluation. The stage-1 devfun is unchanged."""
    if not isinstance(devfun, GlmerDevfun):
        raise TypeError(f"updateGlmerDevfun takes what mkGlmerDevfun() returns, got "
                        f"{type(devfun).__name__}")
    return devfun.updated(check_count(nAGQ, "nAGQ"))


def optimizeGlmer(devfun: GlmerDevfun, control: GlmerControl | None = None, stage: int = 1,
                  start=None, verbose: int = 0, final: bool = True) -> OptInfo:
    """One stage of lme4's glmer optimization (R: ``optimizeGlmer(..., stage = )``).

    Stage 1 minimizes the nAGQ = 0 devfun over theta (BOBYQA), from ``start`` or lme4's
    start. Stage 2 minimizes the devfun that :func:`updateGlmerDevfun` made over
    (theta, beta), from its state (stage 1's optimum, or ``start``) with lme4's initial
    steps, by the second optimizer of ``control``. With ``final`` (the last stage of the
    fit) the finite-difference derivatives and lme4's convergence checks are added.
    """
    if not isinstance(devfun, GlmerDevfun):
        raise TypeError(f"optimizeGlmer takes what mkGlmerDevfun() or updateGlmerDevfun() "
                        f"returns, got {type(devfun).__name__}")
    control = check_control(control, GlmerControl, "optimizeGlmer")
    stage1, stage2 = control.optimizer_stages()
    ntheta = devfun.ntheta
    if stage not in (1, 2) or (stage == 1) != (devfun.nAGQ == 0):
        raise PylmerError(f"optimizeGlmer(stage={stage!r}) with an nAGQ = {devfun.nAGQ} "
                          "devfun: stage 1 takes mkGlmerDevfun()'s, stage 2 "
                          "updateGlmerDevfun()'s")
    with single_threaded_blas():
        if stage == 1:
            start = check_start(start, devfun.lower[:ntheta], "glmer")
            x0 = devfun.start if start is None else np.concatenate(
                [start, devfun.start[ntheta:]])
            opt = minimize(devfun, x0, devfun.lower, optimizer=stage1,
                           options={**_stage1_defaults(devfun, final), **control.optCtrl},
                           verbose=verbose)
            devfun(opt.par)
        else:
            start = check_start(start, devfun.lower[:ntheta + devfun.p], "glmer",
                                what="theta and beta")
            x0 = np.concatenate([devfun.state.theta, devfun.state.beta] if start is None
                                else [start])
            x0 = np.concatenate([x0, devfun.extra_par()])
            optimizer = _stage2_optimizer(stage2, devfun.family)
            options = {"initial_step": _stage2_steps(devfun, x0),
                       **_stage2_defaults(optimizer), **control.optCtrl}
            opt = minimize(devfun, x0, devfun.lower, optimizer=optimizer, options=options,
                           verbose=verbose)
        if control.boundary_tol > 0:
            opt = check_boundary(devfun, opt, control.boundary_tol)
        if not final:
            return opt
        devfun.warm_start = False  # derivatives and the final value from lme4's lp0
        derivs = (deriv12(devfun, opt.par, opt.fval, delta=_derivative_step(devfun))
                  if control.derivs_wanted(devfun.lf.n, len(opt.par)) else None)
        if derivs is not None and devfun.family.has_extra:
            opt = _newton_polish(devfun, opt, derivs)
        fval = devfun(opt.par)
    messages = check_conv(derivs, opt.par[:ntheta], devfun.lower[:ntheta], control)
    return OptInfo(opt.optimizer, opt.par.copy(), fval, opt.feval, opt.conv, opt.message,
                   derivs, messages)


def _derivative_step(devfun: GlmerDevfun) -> float:
    """The finite-difference step of the convergence check's derivatives: lme4's 1e-4, and
    1e-3 for glmmTMB's and ordinal's families, whose references come from exact Hessians.
    Their deviance is smooth but carries PIRLS's stopping error (up to about 1e-8 where
    the number of iterations changes), which the Hessian divides by the step squared: at
    1e-4 that moved the standard errors by up to 1 % (Salamanders, nbinom2), at 1e-3 by
    1e-4; the truncation error of the larger step is of the order 1e-6. lme4's own
    objectives (glmer_nb, negative_binomial) keep lme4's step, as lme4's vcov does."""
    return 1e-3 if getattr(devfun.family, "laplace", "fisher") == "exact" else 1e-4


def _newton_polish(devfun: GlmerDevfun, opt: OptInfo, derivs) -> OptInfo:
    """One Newton step from the optimizer's end, kept where it lowers the deviance.

    For the families of glmmTMB and ordinal the references are optima found with
    gradients (TMB's, ordinal's), and PIRLS's tight tolerance makes the deviance smooth
    enough for the finite-difference gradient and Hessian of the convergence check to
    take that last step: a derivative-free optimizer stops 1e-6 to 1e-5 short in logLik.
    """
    try:
        step = np.linalg.solve(derivs.Hessian, derivs.gradient)
    except np.linalg.LinAlgError:
        return opt
    par = opt.par - step
    if not np.all(np.isfinite(par)) or np.any(par < devfun.lower) or \
            np.max(np.abs(step)) > 0.1:
        return opt
    try:
        value = devfun(par)
    except (PirlsError, np.linalg.LinAlgError, FloatingPointError):
        return opt
    return replace(opt, par=par, fval=value, feval=opt.feval + 1) if value < opt.fval \
        else opt


def fit_glmer(lf: LFormula, family: Family, nAGQ: int = 1,
              control: GlmerControl | None = None, start=None,
              verbose: int = 0, devfun: GlmerDevfun | None = None,
              ) -> tuple[GlmerDevfun, OptInfo]:
    """``glmer()``'s steps after ``glFormula``: devfun, both stages; a PIRLS failure is
    explained in words a user can act on. ``devfun``: stage 1's, made already (by
    ``GlmerDevfun.with_response``)."""
    control = control or lf.control
    if nAGQ > 1:
        GlmerDevfun.check_nAGQ_for(lf, nAGQ, control.agq_grid)
    try:
        with single_threaded_blas():
            if devfun is None:
                devfun = mkGlmerDevfun(lf, family, nAGQ=0, control=control)
            opt = optimizeGlmer(devfun, control, stage=1, start=start, verbose=verbose,
                                final=nAGQ == 0)
            if nAGQ > 0:
                devfun = updateGlmerDevfun(devfun, nAGQ)
                stage1_feval = opt.feval
                opt = optimizeGlmer(devfun, control, stage=2, verbose=verbose)
                opt = replace(opt, feval=stage1_feval + opt.feval)  # both stages
    except (PirlsError, np.linalg.LinAlgError) as exc:
        raise PirlsError(_diagnose(lf, family, exc)) from exc
    return devfun, opt


def glmer_steps(formula: str, data, family: Family | str = "binomial", nAGQ: int = 1,
                weights=None, offset=None, na_action: str = "omit",
                control: GlmerControl | None = None, start=None,
                contrasts: Mapping[str, str] | None = None, verbose: int = 0,
                ) -> tuple[LFormula, GlmerDevfun | LmerDevfun, OptInfo]:
    """Everything ``glmer()`` does before ``mkMerMod``. The gaussian family with the
    identity link is lme4's deprecated shortcut to ``lmer()`` (warned): an LMM's steps."""
    control = check_control(control, GlmerControl, "glmer")
    nAGQ = check_count(nAGQ, "nAGQ")
    verbose = _check_verbose(verbose)
    fam = get_family(family)
    if fam.family == "gaussian" and fam.link.name == "identity":
        warn_user("calling glmer() with family=gaussian (identity link) as a shortcut to "
                  "lmer() is deprecated; please call lmer() directly",
                  DeprecatedUseWarning)
        return lmer_steps(formula, data, weights=weights, offset=offset,
                          na_action=na_action, contrasts=contrasts)
    lf = glFormula(formula, data, family=fam, weights=weights, offset=offset,
                   na_action=na_action, control=control, contrasts=contrasts)
    devfun, opt = fit_glmer(lf, fam, nAGQ=nAGQ, control=control, start=start,
                            verbose=verbose)
    return lf, devfun, opt


def clmm_steps(formula: str, data, link: str = "logit", nAGQ: int = 1, weights=None,
               offset=None, na_action: str = "omit", control: GlmerControl | None = None,
               start=None, contrasts: Mapping[str, str] | None = None, verbose: int = 0,
               ) -> tuple[LFormula, GlmerDevfun, OptInfo]:
    """Everything ``clmm()`` does before ``mkMerMod``: ``clmFormula``, then glmer's two
    stages with the thresholds estimated beside theta (and beta)."""
    control = check_control(control, GlmerControl, "clmm")
    nAGQ = check_count(nAGQ, "nAGQ")
    link = check_choice(link, "link", ("logit", "probit", "cloglog"))
    lf = clmFormula(formula, data, link=link, weights=weights, offset=offset,
                    na_action=na_action, control=control, contrasts=contrasts)
    devfun, opt = fit_glmer(lf, lf.family, nAGQ=nAGQ, control=control, start=start,
                            verbose=_check_verbose(verbose))
    return lf, devfun, opt


def _diagnose(lf: LFormula, family: Family, exc: Exception) -> str:
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
    if family.family in ("nbinom1", "nbinom2") or family.family.startswith("Negative"):
        return (f"{message}: PIRLS failed for the negative binomial family; if the counts "
                "show no overdispersion its dispersion parameter runs to its limit: try "
                "family='poisson' (or glmer_nb / nbinom2, which reach that limit more "
                "gracefully than nbinom1)")
    return f"{message}: PIRLS failed; check the response and the predictors' scales"


def _separating_columns(lf: LFormula) -> list[str]:
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
