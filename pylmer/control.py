"""Control settings: lme4's ``lmerControl()`` and ``glmerControl()`` (frozen).

Each data check has an action, spelled as in lme4: ``"ignore"``, ``"warning"`` or
``"stop"``. The defaults are lme4's; they differ between lmer and glmer where lme4's do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .exceptions import PylmerError
from .validate import check_bool, check_choice

__all__ = ["CHECK_ACTIONS", "OPTIMIZERS", "RANKX_ACTIONS", "GlmerControl", "LmerControl"]

CHECK_ACTIONS = ("ignore", "warning", "stop")
# nloptwrap and bobyqa: nlopt's BOBYQA; Nelder_Mead: lme4's (pylmer.neldermead);
# L-BFGS-B: scipy.optimize
OPTIMIZERS = ("nloptwrap", "bobyqa", "Nelder_Mead", "L-BFGS-B")
# glmer's stage 2 only: Nelder_Mead, or bobyqa for binomial and Poisson GLMMs
STAGE2_AUTO = "auto"
# the optimizer options pylmer passes on (nlopt's names; maxfun for Nelder_Mead, lme4's
# name, or maxfev; scipy's for L-BFGS-B)
OPT_OPTIONS = ("xtol_abs", "ftol_abs", "xtol_rel", "ftol_rel", "maxeval", "initial_step",
               "maxfev", "maxfun", "xatol", "fatol", "maxiter")


def _check_number(value: object, name: str, positive: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 \
            or (positive and not value > 0):
        raise TypeError(f"{name} must be a number {'> 0' if positive else '>= 0'}, got "
                        f"{value!r}")


RANKX_ACTIONS = ("message+drop.cols", "silent.drop.cols", "warn+drop.cols", "stop.deficient",
                 "ignore")


@dataclass(frozen=True)
class LmerControl:
    """Settings for ``lmer`` (R: ``lmerControl()``).

    Attributes
    ----------
    check_nobs_vs_nlev : str
        Every grouping factor must have fewer levels than observations.
    check_nlev_gtr_1 : str
        Every grouping factor must have more than one level.
    check_nlev_gtreq_5 : str
        Warn when a grouping factor has fewer than 5 levels (ignored by default).
    check_nobs_vs_nRE : str
        The number of observations must exceed the number of random effects of each term.
    check_rankX : str
        What to do with a rank-deficient fixed-effects matrix: ``"message+drop.cols"``
        (drop columns and say which), ``"silent.drop.cols"``, ``"warn+drop.cols"``,
        ``"stop.deficient"`` or ``"ignore"``.
    optimizer : str
        ``"nloptwrap"`` (lme4's default: nlopt's BOBYQA), ``"bobyqa"`` (the same
        algorithm), ``"Nelder_Mead"`` (lme4's own, :mod:`pylmer.neldermead`) or
        ``"L-BFGS-B"`` (scipy.optimize).
    optCtrl : dict
        Optimizer settings: ``xtol_abs``, ``ftol_abs``, ``maxeval`` (nlopt's names; lme4's
        defaults 1e-8, 1e-8, 100000); ``maxfun`` for Nelder_Mead (lme4's default 10000);
        scipy's options for L-BFGS-B.
    restart_edge : bool
        Restart the optimizer when it stops on a boundary that the deviance slopes away
        from (lme4's ``restart_edge``).
    boundary_tol : float
        Parameters closer than this to their bound are tried on the bound, and kept there
        if the deviance is no larger (lme4's ``boundary.tol``).
    calc_derivs : bool or None
        Compute the finite-difference gradient and Hessian at the optimum for the
        convergence checks (and, for glmer, the standard errors). True is lme4 1.1-31's
        default, whose numbers pylmer reproduces. None is the rule of lme4 1.1-38 and later:
        only for fewer than ``check_conv_nobsmax`` observations and fewer than
        ``check_conv_nparmax`` parameters, which saves a few evaluations on large models.
    check_conv_nobsmax, check_conv_nparmax : int
        The limits for ``calc_derivs=None`` (lme4's ``check.conv.nobsmax``,
        ``check.conv.nparmax``: 10000 observations; 10 parameters for lmer, 20 for glmer,
        counting the fixed effects).
    check_conv_grad, check_conv_grad_tol : str, float
        Warn (``ConvergenceWarning``) when the scaled gradient exceeds the tolerance.
    check_conv_singular, check_conv_singular_tol : str, float
        Singular fit check (``SingularFitWarning``, "boundary (singular) fit").
    check_conv_hess, check_conv_hess_tol : str, float
        Hessian checks (negative or tiny eigenvalues).
    check_scaleX : str
        lme4's ``check.scaleX``: predictors whose standard deviations differ by more than
        a factor of 1000, or lie outside 1e-3..1e3, "warning" (default) in lme4's words,
        "stop" or "ignore".
    """

    check_nobs_vs_nlev: str = "stop"
    check_nlev_gtr_1: str = "stop"
    check_nlev_gtreq_5: str = "ignore"
    check_nobs_vs_nRE: str = "stop"
    check_rankX: str = "message+drop.cols"
    optimizer: str = "nloptwrap"
    optCtrl: dict = field(default_factory=dict)
    restart_edge: bool = True
    boundary_tol: float = 1e-5
    calc_derivs: bool | None = True
    check_conv_nobsmax: int = 10_000
    check_conv_nparmax: int = 10
    check_conv_grad: str = "warning"
    check_conv_grad_tol: float = 2e-3
    check_conv_singular: str = "warning"
    check_conv_singular_tol: float = 1e-4
    check_conv_hess: str = "warning"
    check_conv_hess_tol: float = 1e-6
    check_scaleX: str = "warning"

    # lmer: a factor with one observation per level is an error; glmer allows it
    allow_n_levels_equal_nobs = False

    def __post_init__(self) -> None:
        for name in ("check_nobs_vs_nlev", "check_nlev_gtr_1", "check_nlev_gtreq_5",
                     "check_nobs_vs_nRE", "check_conv_grad", "check_conv_singular",
                     "check_conv_hess"):
            value = getattr(self, name)
            if value not in CHECK_ACTIONS:
                raise PylmerError(f"{name}={value!r}: use one of {', '.join(CHECK_ACTIONS)}")
        for stage, optimizer in enumerate(self.optimizer_stages()):
            if optimizer not in OPTIMIZERS and not (stage == 1 and optimizer == STAGE2_AUTO):
                raise PylmerError(
                    f"optimizer={optimizer!r}: use one of {', '.join(OPTIMIZERS)}")
        check_choice(self.check_scaleX, "check_scaleX", CHECK_ACTIONS)
        check_bool(self.restart_edge, "restart_edge")
        if self.calc_derivs is not None:
            check_bool(self.calc_derivs, "calc_derivs")
        for name in ("boundary_tol", "check_conv_grad_tol", "check_conv_singular_tol",
                     "check_conv_hess_tol"):
            _check_number(getattr(self, name), name)
        if not isinstance(self.optCtrl, dict):
            raise TypeError(f"optCtrl must be a dict of optimizer options, got "
                            f"{type(self.optCtrl).__name__}")
        for key, value in self.optCtrl.items():
            if key not in OPT_OPTIONS:
                raise PylmerError(f"optCtrl: unknown option {key!r}; use "
                                  + ", ".join(OPT_OPTIONS))
            if key != "initial_step":
                _check_number(value, f"optCtrl[{key!r}]", positive=key == "maxeval")
        stages = (self.optimizer,) if isinstance(self.optimizer, str) else tuple(self.optimizer)
        if len(stages) > (2 if isinstance(self, GlmerControl) else 1):
            raise PylmerError(f"optimizer={self.optimizer!r}: give one optimizer"
                              + (" or one for each of glmer's two stages"
                                 if isinstance(self, GlmerControl) else ""))
        if self.check_rankX not in RANKX_ACTIONS:
            raise PylmerError(
                f"check_rankX={self.check_rankX!r}: use one of {', '.join(RANKX_ACTIONS)}"
            )


    def derivs_wanted(self, nobs: int, npar: int) -> bool:
        """Whether to compute the derivatives at the optimum (``calc_derivs`` resolved)."""
        if self.calc_derivs is not None:
            return bool(self.calc_derivs)
        return nobs < self.check_conv_nobsmax and npar < self.check_conv_nparmax

    def optimizer_stages(self) -> tuple[str, ...]:
        """The optimizer of each stage (one for lmer, two for glmer)."""
        if isinstance(self.optimizer, str):
            return (self.optimizer,)
        return tuple(self.optimizer)


@dataclass(frozen=True)
class GlmerControl(LmerControl):
    """Settings for ``glmer`` (R: ``glmerControl()``); checks as in :class:`LmerControl`.

    Attributes
    ----------
    optimizer : str or (str, str)
        Optimizers of stage 1 (theta, nAGQ = 0) and stage 2 (theta and beta); one name
        serves both stages. Default ``("bobyqa", "auto")``: BOBYQA, then lme4's
        Nelder_Mead, lme4's default, except that binomial and Poisson GLMMs keep BOBYQA
        in stage 2. lme4's Laplace deviance jumps (by up to 1e-2 for Gamma and inverse
        Gaussian GLMMs) where PIRLS changes its number of iterations, and only lme4's own
        Nelder-Mead path ends where lme4's does; for binomial and Poisson GLMMs the jumps
        are smaller and rarer, and BOBYQA ends at lme4's optimum with a quarter to an
        eighth of the evaluations. ``("bobyqa", "Nelder_Mead")`` is lme4's default for every
        family.
    tolPwrss : float
        PIRLS convergence tolerance (relative change of the penalized deviance).
    restart_edge : bool
        Not used by glmer (as in lme4).
    agq_grid : {"product", "sparse"}
        The quadrature rule over d >= 3 effects per level with ``nAGQ > 1``: the
        k^d-point product rule, or Smolyak's sparse grid of Gauss-Hermite rules of up to
        k points (far fewer points, exact for polynomials of total degree up to k, but
        with negative weights; see :mod:`pylmer.agq`). Fewer effects always use the
        product rule.
    """

    optimizer: object = ("bobyqa", STAGE2_AUTO)
    restart_edge: bool = False
    calc_derivs: bool | None = True
    check_conv_nparmax: int = 20
    tolPwrss: float = 1e-7
    agq_grid: str = "product"

    allow_n_levels_equal_nobs = True

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_number(self.tolPwrss, "tolPwrss", positive=True)
        if self.agq_grid not in ("product", "sparse"):
            raise PylmerError(f"agq_grid={self.agq_grid!r}: use 'product' or 'sparse'")

    def optimizer_stages(self) -> tuple[str, str]:
        stages = super().optimizer_stages()
        return (stages[0], stages[0]) if len(stages) == 1 else (stages[0], stages[1])
