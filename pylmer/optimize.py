"""Optimizer adaptors: nlopt's BOBYQA (lme4's ``nloptwrap``) and scipy's alternatives.

Each takes an objective, a start, bounds and options, and returns an :class:`OptInfo`
with the fields lme4 keeps in ``optinfo`` (par, fval, feval, conv, message); the fitting
steps add the derivatives and convergence messages. lme4's boundary steps
(``restart_edge``, ``check.boundary``) are here too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import nlopt
import numpy as np

from .exceptions import ConvergenceWarning, PylmerError, warn_user
from .lazy import optimize as so
from .neldermead import nelder_mead

__all__ = ["OptInfo", "minimize", "NLOPT_DEFAULTS", "check_boundary", "restart_edge"]

# lme4's nloptwrap defaults
NLOPT_DEFAULTS = {"xtol_abs": 1e-8, "ftol_abs": 1e-8, "maxeval": 100000}

# nloptr's messages, which lme4's warnings quote
_NLOPT_MESSAGES = {
    1: "NLOPT_SUCCESS: Generic success return value.",
    2: "NLOPT_STOPVAL_REACHED: Optimization stopped because stopval (above) was reached.",
    3: "NLOPT_FTOL_REACHED: Optimization stopped because ftol_rel or ftol_abs (above) was "
       "reached.",
    4: "NLOPT_XTOL_REACHED: Optimization stopped because xtol_rel or xtol_abs (above) was "
       "reached.",
    5: "NLOPT_MAXEVAL_REACHED: Optimization stopped because maxeval (above) was reached.",
    6: "NLOPT_MAXTIME_REACHED: Optimization stopped because maxtime (above) was reached.",
    -1: "NLOPT_FAILURE: Generic failure code.",
    -2: "NLOPT_INVALID_ARGS: Invalid arguments (e.g. lower bounds are bigger than upper "
        "bounds, an unknown algorithm was specified, etcetera).",
    -3: "NLOPT_OUT_OF_MEMORY: Ran out of memory.",
    -4: "NLOPT_ROUNDOFF_LIMITED: Roundoff errors led to a breakdown of the optimization "
        "algorithm. In this case, the returned minimum may still be useful. (e.g. this "
        "error occurs in NEWUOA if one tries to achieve a tolerance too close to machine "
        "precision.)",
    -5: "NLOPT_FORCED_STOP: Halted because of a forced termination: the user called "
        "nlopt_force_stop(opt) on the optimization's nlopt_opt object opt from the user's "
        "objective function or from R.",
}


@dataclass(frozen=True)
class OptInfo:
    """What the optimization did (R: ``m@optinfo``).

    Attributes
    ----------
    optimizer : str
    par : numpy.ndarray
        The optimum: theta (lmer, glmer with nAGQ = 0) or (theta, beta).
    fval : float
        The objective there.
    feval : int
        Objective evaluations by the optimizer (restarts and stages included).
    conv : int
        0 on success; otherwise the optimizer's code (lme4's ``optinfo$conv$opt``).
    message : str
        The optimizer's message.
    derivs : Derivs or None
        Finite-difference gradient and Hessian at the optimum.
    messages : tuple of str
        lme4's convergence messages (singular fit, gradient, Hessian).
    """

    optimizer: str
    par: np.ndarray
    fval: float
    feval: int
    conv: int
    message: str
    derivs: object = None
    messages: tuple[str, ...] = ()


def _nlopt_bobyqa(fn, x0, lower, upper, options, name):
    n = len(x0)
    opts = {**NLOPT_DEFAULTS, **options}
    opt = nlopt.opt(nlopt.LN_BOBYQA, n)
    opt.set_lower_bounds(np.asarray(lower, dtype=float))
    opt.set_upper_bounds(np.asarray(upper, dtype=float))
    opt.set_min_objective(lambda x, grad: float(fn(x)))
    opt.set_xtol_abs(opts["xtol_abs"])
    opt.set_ftol_abs(opts["ftol_abs"])
    if "xtol_rel" in opts:
        opt.set_xtol_rel(opts["xtol_rel"])
    if "ftol_rel" in opts:
        opt.set_ftol_rel(opts["ftol_rel"])
    opt.set_maxeval(int(opts["maxeval"]))
    if "initial_step" in opts:
        opt.set_initial_step(opts["initial_step"])
    try:
        par = opt.optimize(np.asarray(x0, dtype=float))
        status = opt.last_optimize_result()
    except nlopt.RoundoffLimited:
        par, status = np.asarray(x0, dtype=float), -4
    fval = opt.last_optimum_value()
    conv = status if (status < 0 or status == 5) else 0
    return OptInfo(name, np.asarray(par, dtype=float), float(fval), int(opt.get_numevals()),
                   conv, _NLOPT_MESSAGES.get(status, f"NLOPT status {status}"))


def _lme4_nelder_mead(fn, x0, lower, upper, options, name):
    """lme4's Nelder_Mead: ``initial_step`` is its ``xst`` (default 0.02), ``maxfun`` (or
    ``maxfev``) its evaluation limit (default 10000); lme4 has no other setting that acts."""
    maxfun = options.get("maxfun", options.get("maxfev", 10000))
    result = nelder_mead(fn, x0, lower, upper, xst=options.get("initial_step"),
                         maxfun=int(maxfun))
    return OptInfo(name, result.par, result.fval, result.feval, result.convergence,
                   result.message)


def _scipy(fn, x0, lower, upper, options, name):
    bounds = list(zip(lower, upper))
    count = [0]

    def counted(x):
        count[0] += 1
        return float(fn(x))

    options = {k: v for k, v in options.items() if k != "initial_step"}
    res = so.minimize(counted, np.asarray(x0, dtype=float), method="L-BFGS-B", bounds=bounds,
                      options={"maxfun": 100000, **options})
    return OptInfo(name, np.asarray(res.x, dtype=float), float(res.fun), count[0],
                   0 if res.success else int(res.status or 1), str(res.message))


def _traced(fn: Callable[[np.ndarray], float]) -> Callable[[np.ndarray], float]:
    """The objective, printing each evaluation as lme4's ``verbose = 1`` does (nloptwrap's
    ``iteration: k`` and ``f(x) = ...``)."""
    count = [0]

    def traced(x: np.ndarray) -> float:
        value = float(fn(x))
        count[0] += 1
        print(f"iteration: {count[0]}\n\tf(x) = {value:.6f}", flush=True)
        return value

    return traced


def minimize(fn: Callable[[np.ndarray], float], x0, lower, upper=None,
             optimizer: str = "nloptwrap", options: Mapping | None = None,
             verbose: int = 0) -> OptInfo:
    """Minimize ``fn`` over a box, with the named optimizer; ``verbose > 0`` prints every
    evaluation."""
    if verbose:
        fn = _traced(fn)
    x0 = np.asarray(x0, dtype=float)
    upper = np.full(len(x0), np.inf) if upper is None else np.asarray(upper, dtype=float)
    options = dict(options or {})
    if optimizer in ("nloptwrap", "bobyqa"):
        result = _nlopt_bobyqa(fn, x0, lower, upper, options, optimizer)
    elif optimizer == "Nelder_Mead":
        result = _lme4_nelder_mead(fn, x0, lower, upper, options, optimizer)
    elif optimizer == "L-BFGS-B":
        result = _scipy(fn, x0, lower, upper, options, optimizer)
    else:
        raise PylmerError(f"unknown optimizer {optimizer!r}")
    if result.conv != 0:  # lme4's optwrap, in its words
        warn_user(f"convergence code {result.conv} from {optimizer}: {result.message}",
                  ConvergenceWarning)
    return result


def restart_edge(devfun, opt: OptInfo, optimizer: str, options: Mapping) -> OptInfo:
    """lme4's ``restart_edge``: if the deviance decreases away from a bound the optimizer
    stopped on, optimize again from there."""
    on_bound = np.flatnonzero(opt.par == devfun.lower)
    if len(on_bound) == 0:
        return opt
    d0 = devfun(opt.par)
    btol = 1e-5
    for i in on_bound:
        theta = opt.par.copy()
        theta[i] = devfun.lower[i] + btol
        if (devfun(theta) - d0) / btol < 0:
            again = minimize(devfun, opt.par, devfun.lower, optimizer=optimizer,
                             options=options)
            return replace(again, feval=opt.feval + again.feval)
    return opt


def check_boundary(devfun, opt: OptInfo, tol: float) -> OptInfo:
    """lme4's ``check.boundary``: parameters within ``tol`` of a bound are tried on it."""
    diff = opt.par - devfun.lower
    near = np.flatnonzero((diff > 0) & (diff < tol))
    if len(near) == 0:
        return opt
    par = opt.par.copy()
    for i in near:
        trial = par.copy()
        trial[i] = devfun.lower[i]
        if devfun(trial) < opt.fval:
            par[i] = trial[i]
    return replace(opt, par=par, fval=devfun(par))
