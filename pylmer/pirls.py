"""GLMM objective: PIRLS, the Laplace approximation and adaptive Gauss-Hermite quadrature.

For given theta (and beta, when nAGQ > 0) penalized iteratively reweighted least squares
finds the conditional modes u of the spherical random effects: each step reweights the
cross-products (an O(n) accumulation, the symbolic factorization kept), solves the penalized
weighted least squares problem and halves the step until the penalized deviance
``sum(dev.resids) + |u|^2`` decreases (lme4's ``pwrssUpdate``). Then, as lme4:

- Laplace (nAGQ 0 and 1):  ``ldL2 + |u|^2 + aic(y, n, mu, wt)``;
- AGQ (nAGQ > 1): see :mod:`pylmer.agq` (one grouping factor's effects, or nested
  scalar terms); for a single scalar term lme4's ``sum_i devc_i(u) + ldL2 - 2 sum_i
  log(m_i)``, ``m_i`` the Gauss-Hermite sum over knots scaled by each level's conditional sd.

Each evaluation starts from the same linear predictor ``lp0`` (lme4's behaviour), so the
objective is a function of its arguments alone (the ordinal family's optimizer search
aside: see ``GlmerDevfun._eta_start``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import numpy as np

from . import _pirls, agq, pwrss
from .exceptions import PirlsError, PylmerError
from .linalg.pls import PLSWorkspace
from .linalg.solution import PLSSnapshot
from .response import Response

__all__ = ["EXTRA_TOL", "GlmmSnapshot", "GlmmState", "GlmerDevfun"]

# PIRLS's tolerance (relative change of the penalized deviance) for families with an
# estimated extra parameter: lme4's 1e-7 leaves 5e-4..1e-3 of -2 logLik for the negative
# binomial (Fisher scoring converges linearly), more than the references allow
EXTRA_TOL = 1e-12
EXTRA_MAXIT = 1000


def _rounding_noise(y, pw) -> float:
    """A bound on the rounding error of the sum of the deviance residuals: each is a
    difference of terms of size about y log y, so with large counts the sum carries an
    error far above 1e-12 of its value. Changes smaller than this are not progress, and
    increases smaller than this are not failures."""
    y = np.abs(np.asarray(y, dtype=float))
    return float(64.0 * np.finfo(float).eps * np.sum(np.abs(pw) * (y + 1.0)
                                                      * (np.log1p(y) + 1.0)))


@dataclass(frozen=True)
class GlmmState:
    """The conditional modes and everything computed with them."""

    theta: np.ndarray
    beta: np.ndarray
    u: np.ndarray
    eta: np.ndarray
    mu: np.ndarray
    devres: np.ndarray
    ldL2: float
    pdev: float
    iterations: int
    L_diag: np.ndarray | None = None
    aic: float | None = None  # the family's aic at mu, where PIRLS computed it
    extra: np.ndarray | None = None  # an estimated extra parameter, optimizer coordinates
    laplace_done: bool = False  # ldL2 and L_diag are at the Laplace weights already


@dataclass(frozen=True)
class GlmmSnapshot:
    """What a fitted GLMM keeps from its devfun at the optimum: the PIRLS state (beta, u,
    eta, mu, the deviance residuals, ldL2) and the penalized least squares solution at the
    PIRLS weights there (RX, RZX, ldRX2: lme4's ``pp`` after the last PIRLS step), whichever
    PIRLS path ran."""

    state: GlmmState
    pls: PLSSnapshot


class GlmerDevfun:
    """The GLMM deviance (R: the function ``mkGlmerDevfun`` returns).

    ``nAGQ = 0``: a function of theta, beta profiled inside PIRLS. ``nAGQ >= 1``: a function
    of ``concatenate([theta, beta])``, beta entering as an offset.

    Parameters
    ----------
    lf : LFormula (from ``glFormula``)
    family : Family
    nAGQ : int
    tol : float
        PIRLS convergence tolerance on the relative change of the penalized deviance
        (lme4's ``tolPwrss``).
    maxit : int
    scalar_solver : bool
        Solve PIRLS's steps with the compiled scalar solver where it applies (the default);
        False: always on the workspace (tests compare the two).
    agq_grid : {"product", "sparse"}
        The quadrature rule over three or more effects per level (see :mod:`pylmer.agq`).
    """

    def __init__(self, lf, family, nAGQ: int = 0, tol: float = 1e-7, maxit: int = 100,
                 backend: str | None = None, scalar_solver: bool = True,
                 agq_grid: str = "product"):
        self.lf = lf
        self.tol, self.maxit = tol, maxit
        self.agq_grid = agq_grid
        # a family's extra parameter, when estimated, is the last of the devfun's arguments
        # (on the log scale); PIRLS then converges tightly, as the references require
        self.n_extra = family.n_par if family.estimates_extra else 0
        self._max_eta_step = 0.0
        self.warm_start = True
        self._par_cache = self._start_cache = None
        # the loop factors the Laplace weights at the modes where they are not PIRLS's
        # (the observed information of glmmTMB's and ordinal's families)
        self._exact_final = family.has_extra and family.laplace == "exact"
        if family.has_extra:
            # Fisher scoring (glmer_nb's weights) converges linearly: at 1e-12 it can take
            # a few hundred iterations
            self.tol, self._max_eta_step = min(tol, EXTRA_TOL), 10.0
            self.maxit = max(maxit, EXTRA_MAXIT)
        self._family_given = family
        self.offset = np.zeros(lf.n) if lf.offset is None else np.asarray(lf.offset, float)
        rt = lf.reTrms
        self._Lind = rt.Lind
        self.p = lf.X.shape[1]
        self.ntheta = len(rt.theta)
        self.ws = PLSWorkspace(lf.X, np.zeros(lf.n), rt.Zt, rt.Lambdat, rt.Lind,
                               weights=np.ones(lf.n), reweightable=True, backend=backend)
        mustart = self._set_response(lf)
        # PIRLS, written once (pylmer._pirls), over this model's solver and its response
        self._loop = _pirls.Pirls(pwrss.solver(self.ws, scalar_solver),
                                  self.response.loop_kernel)
        self._start(mustart, nAGQ)

    def _set_response(self, lf) -> np.ndarray:
        """The response's part of the devfun: y, prior weights, the family (an extra
        parameter's start comes from y), the response kernel; mustart."""
        family = self._family_given
        init = family.initialize(lf.y, lf.weights)
        self.y = np.asarray(init.y, dtype=float)
        self.pw = np.asarray(init.weights, dtype=float)
        self._noise = _rounding_noise(self.y, self.pw) if family.has_extra else 0.0
        if family.has_extra and family.extra is None:
            family = family.with_extra(family.extra_start(self.y, self.pw))
        self.family = family
        self.n_trials = np.asarray(family.n_trials(lf.y), dtype=float)
        self.response = Response(family, self.y, self.pw, self.n_trials)
        return np.asarray(init.mustart, dtype=float)

    def _start(self, mustart, nAGQ: int) -> None:
        """lme4: one nAGQ = 0 PIRLS at the starting theta from mustart gives lp0."""
        self.feval = 0
        eta_start = self.family.eta_start(mustart)
        self.theta0 = self.lf.reTrms.theta.copy()
        state = self.pirls(self.theta0, None, eta_start)
        self.beta0 = state.beta
        self.lp0 = state.eta - self.offset
        self.state = state
        self._configure(nAGQ)

    def with_response(self, y) -> GlmerDevfun:
        """The same model for another response (``glmer_many``), at nAGQ = 0: the
        workspace, its symbolic analysis and the compiled loop are shared with this devfun
        (as :meth:`updated`'s are), so devfuns made this way are used one at a time. The
        start is lme4's for the new response."""
        out = copy.copy(self)
        out.lf = replace(self.lf, fr=replace(self.lf.fr, response=y))
        out._par_cache = None
        out._start(out._set_response(out.lf), 0)
        return out

    # ------------------------------------------------------------------ set-up
    @staticmethod
    def check_nAGQ_for(lf, nAGQ: int, grid: str = "product") -> None:
        """Whether adaptive Gauss-Hermite quadrature with nAGQ points can integrate the
        model's random effects (a clear error when it cannot)."""
        agq.plan(lf, nAGQ, grid)

    def updated(self, nAGQ: int) -> GlmerDevfun:
        """The stage-2 deviance (R: ``updateGlmerDevfun``): a function of
        ``concatenate([theta, beta])`` for ``nAGQ >= 1``, each PIRLS starting from the
        linear predictor of this devfun's current state (stage 1's optimum). This devfun is
        left as it is; the two share their PIRLS workspaces, each evaluation recomputing
        all it needs."""
        out = copy.copy(self)
        out._configure(nAGQ)
        out.feval = 0
        return out

    def _configure(self, nAGQ: int) -> None:
        """Arguments and rule for ``nAGQ``; lp0 from the current state."""
        rt = self.lf.reTrms
        self.rule = agq.plan(self.lf, nAGQ, self.agq_grid)
        self.nAGQ = int(nAGQ)
        self.lp0 = self.state.eta - self.offset
        lower = rt.lower
        self.lower = np.concatenate([lower, np.full(0 if nAGQ == 0 else self.p, -np.inf),
                                     np.full(self.n_extra, -np.inf)])

    @property
    def start(self) -> np.ndarray:
        """Stage 1's start: lme4's theta, and the log of the extra parameter's start."""
        return np.concatenate([self.theta0, self.extra_par()])

    def extra_par(self) -> np.ndarray:
        """The estimated extra parameter's coordinates at the current family (none if
        nothing is estimated)."""
        return self.family.extra_par() if self.n_extra else np.zeros(0)

    def split(self, pars):
        """(theta, beta or None, the extra parameter's coordinates or None)."""
        pars = np.asarray(pars, dtype=float)
        k = self.ntheta
        beta = None if self.nAGQ == 0 else pars[k: k + self.p]
        extra = pars[len(pars) - self.n_extra:] if self.n_extra else None
        return pars[:k], beta, extra

    def _set_extra(self, par) -> None:
        if par is not None and not np.array_equal(par, self._par_now):
            self.family = self.family.with_par(par)
            self.response = self.response.with_family(self.family)
            self._par_now = np.array(par, dtype=float)

    @property
    def _par_now(self) -> np.ndarray:
        """The coordinates the current family was set from (computed once per family)."""
        if self._par_cache is None or self._par_cache[0] is not self.family:
            self._par_cache = (self.family, self.extra_par())
        return self._par_cache[1]

    @_par_now.setter
    def _par_now(self, value) -> None:
        self._par_cache = (self.family, value)

    # ------------------------------------------------------------------ PIRLS
    def pirls(self, theta, beta, eta_start) -> GlmmState:
        """Conditional modes at theta from the linear predictor ``eta_start`` (offset
        excluded); beta fixed (given) or estimated (None). One call of the compiled loop
        (:class:`pylmer._pirls.Pirls`), whichever solver and response kernel it holds."""
        theta = np.asarray(theta, dtype=float)
        loop = self._loop
        kernel = self.response.loop_kernel
        if loop.response is not kernel:  # another response (with_response), or family
            loop.set_response(kernel)
        loop.solver.set_theta(theta, theta[self._Lind])
        offset = self.offset if beta is None else self.offset + self.lf.X @ beta
        eta = np.empty(self.lf.n)
        status = loop.run(np.ascontiguousarray(offset, dtype=float),
                          self._linear_start(eta_start), self.maxit,
                          self.tol, eta, beta is None, self._noise, self._max_eta_step,
                          self._exact_final)
        if status == _pirls.NOT_POSITIVE_DEFINITE:
            raise np.linalg.LinAlgError("the penalized weighted cross-product is not "
                                        "positive definite")
        if status == _pirls.FIXED_NOT_POSITIVE_DEFINITE:
            raise np.linalg.LinAlgError("the fixed-effects cross-product is not positive "
                                        "definite at this theta")
        if status == _pirls.HALVING_FAILED:
            raise PirlsError("PIRLS step-halvings failed to reduce deviance in pwrssUpdate")
        if status == _pirls.NOT_CONVERGED:
            raise PirlsError(f"pwrssUpdate did not converge in {self.maxit} iterations")
        u, b, mu, devres, L_diag = loop.state()
        b = b if beta is None else np.asarray(beta, dtype=float).copy()
        return GlmmState(theta.copy(), b, u, eta, mu, devres, loop.solver.ldL2, loop.pdev,
                         loop.iterations, L_diag,
                         self.response.aic_from_loglik(loop.loglik),
                         laplace_done=self._exact_final)

    def _linear_start(self, eta_start) -> np.ndarray:
        """The loop's start, ``eta_start + offset`` (the same array for the same lp0: most
        evaluations start from lme4's fixed lp0)."""
        cached = self._start_cache
        if cached is None or cached[0] is not eta_start:
            cached = self._start_cache = (eta_start, np.ascontiguousarray(
                eta_start + self.offset, dtype=float))
        return cached[1]

    def _eta_start(self) -> np.ndarray:
        """Where PIRLS starts: lme4's fixed lp0, so that the deviance is a function of its
        arguments alone. While the optimizer searches (``warm_start``), a family whose
        PIRLS is Newton's method on a concave log-likelihood (the ordinal family) starts
        from the last evaluation's linear predictor instead: it converges quadratically,
        to modes that depend on the start only at the 1e-9 level of the deviance, and saves
        iterations. The convergence check's derivatives and the final value are computed
        from lp0 (optimizeGlmer turns ``warm_start`` off), because finite differences
        would see that 1e-9."""
        if self.warm_start and getattr(self.family, "newton_pirls", False) \
                and self.state.extra is not None:
            return self.state.eta - self.offset
        return self.lp0

    def _with_extra(self, state: GlmmState) -> GlmmState:
        """The state with the extra parameter's coordinates."""
        if not self.n_extra and not self.response.extra:
            return state
        return replace(state, extra=self._par_now if self.n_extra else None)

    def snapshot(self, pars) -> GlmmSnapshot:
        """The state at ``pars`` (theta, or theta and beta at nAGQ > 0) and the penalized
        least squares solution at its PIRLS weights, copied."""
        theta, beta, extra = self.split(pars)
        state = self.state
        if not (np.array_equal(state.theta, theta) and (
                extra is None or np.array_equal(state.extra, extra)) and (
                beta is None or np.array_equal(state.beta, beta))):
            self(pars)
            state = self.state
        return GlmmSnapshot(state, self._sync_workspace(state).snapshot())

    def _sync_workspace(self, state: GlmmState) -> PLSWorkspace:
        """The workspace decomposed at a state's weights (for RX, RZX and the factor)."""
        w, z = self.response.working(state.eta, None, self.offset)
        return self.ws.reweight(z, w).set_theta(state.theta)

    # ------------------------------------------------------------------ objective
    def laplace(self, state: GlmmState) -> float:
        aic = state.aic if state.aic is not None else self.response.aic(state.mu,
                                                                         state.devres)
        return state.ldL2 + float(state.u @ state.u) + aic

    def agq(self, state: GlmmState) -> float:
        """The adaptive Gauss-Hermite deviance at the conditional modes (see
        :mod:`pylmer.agq`); a single scalar term uses the PIRLS factor's scales, as lme4."""
        w = None
        if self.rule.needs_weights:
            w = self.response.laplace_weights(state.eta)
            if w is None:
                w = self.response.working(state.eta, None, self.offset)[0]
        L_diag = state.L_diag if state.L_diag is not None else self.ws.L_diagonal()
        return self.rule.deviance(state, w, self.response, L_diag=L_diag, ldL2=state.ldL2)

    def _check_pars(self, pars) -> np.ndarray:
        """The arguments as a float vector of the right length (a clear error otherwise)."""
        if type(pars) is np.ndarray and pars.dtype == np.float64 \
                and pars.shape == self.lower.shape and np.isfinite(pars).all():
            return pars  # the optimizers' calls
        parts = [f"theta ({self.ntheta})"]
        if self.nAGQ > 0:
            parts.append(f"beta ({self.p})")
        if self.n_extra:
            name = self.family.extra_name
            parts.append(f"{'log ' + name if self.n_extra == 1 else name + ' coordinates'} "
                         f"({self.n_extra}; fix it with the family's {name}= to leave it out)")
        try:
            pars = np.asarray(pars, dtype=float)
        except (TypeError, ValueError):
            raise PylmerError("the deviance function takes numbers: "
                              + ", ".join(parts)) from None
        if pars.shape != (len(self.lower),):
            raise PylmerError(f"the deviance function takes {len(self.lower)} values, "
                              f"{', then '.join(parts)}; got shape {pars.shape}")
        if not np.all(np.isfinite(pars)):
            raise PylmerError(f"the deviance function's arguments must be finite, got "
                              f"{pars.tolist()}")
        return pars

    def __call__(self, pars) -> float:
        self.feval += 1
        pars = self._check_pars(pars)
        theta, beta, extra = self.split(pars)
        before = (self.family, self.response, self._par_cache)
        self._set_extra(extra)
        if self.response.kernel is not None and self.family.family == "cumulative":
            # the compiled kernel is shared with the stage-1 / stage-2 twin of this devfun
            self.response.kernel.set_bounds(self.family.bounds)
        try:
            if self.response.kernel is None:  # NumPy's passes: overflow far from the
                with np.errstate(all="ignore"):  # optimum is PIRLS's to report
                    state = self._with_extra(self.pirls(theta, beta, self._eta_start()))
            else:  # the compiled pass is quiet (NumPy's vectorized one set by the loop)
                state = self._with_extra(self.pirls(theta, beta, self._eta_start()))
        except Exception as exc:
            # a failed evaluation leaves the family at the state's parameter (the shared
            # kernel's thresholds are set again by the next evaluation)
            self.family, self.response, self._par_cache = before
            if isinstance(exc, np.linalg.LinAlgError):
                raise PirlsError(f"{exc} at {pars.tolist()}") from exc
            raise
        self.state = state
        value = self.laplace(state) if self.nAGQ <= 1 else self.agq(state)
        if self.nAGQ > 1 and self.response.extra:
            # lme4's quadrature deviance leaves out the saturated log-likelihood; for a
            # family with an extra parameter that term depends on the parameter, so it is
            # put back: -2 logLik with every constant, as the Laplace value
            aic = self.response.aic(state.mu, state.devres)
            value += aic - float(np.sum(state.devres))
        if not np.isfinite(value):
            raise FloatingPointError(f"the GLMM deviance is not finite at {pars.tolist()}")
        return value
