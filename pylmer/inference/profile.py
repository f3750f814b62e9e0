"""Profile-likelihood confidence intervals for LMMs: lme4's ``confint(m, method = "profile")``.

As lme4, profiles are of the ML deviance (a REML fit is refitted by ML first), in the
standard-deviation / correlation / sigma scale for the variance parameters. For a focal
parameter fixed at v, the deviance is minimized over all the others, and the interval ends
are where ``zeta(v) = sign(v - v_hat) sqrt(D(v) - D(v_hat))`` reaches the normal quantiles.
Where lme4 interpolates a spline through profile points, the ends are found here by root
finding on the profile itself.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..design import covariance
from ..exceptions import ConvergenceWarning, NotAvailableError
from ..fitting import mkGlmerDevfun, updateGlmerDevfun
from ..lazy import optimize, stats
from ..linalg.pls import PLSWorkspace
from ..linalg.threads import single_threaded_blas
from ..objective import LmerDevfun
from ..optimize import minimize
from ..validate import check_bool, check_count, check_fraction, check_model
from .names import parameter_names
from .refit import refit_ML

__all__ = ["profile_confint", "profile"]



def psi_to_theta(psi: np.ndarray, blocks: list[int]) -> np.ndarray | None:
    """(sd, cor per term, sigma) -> theta, lme4's layout; None where the correlations do
    not form a positive semi-definite matrix."""
    sigma = psi[-1]
    out, at = [], 0
    for nc in blocks:
        k = covariance.n_theta(nc)
        values = psi[at: at + k]
        sd = np.array([values[covariance.theta_index(i, i, nc)] for i in range(nc)])
        R = np.eye(nc)
        for j in range(nc):
            for i in range(j + 1, nc):
                R[i, j] = R[j, i] = values[covariance.theta_index(i, j, nc)]
        try:
            block = np.linalg.cholesky(np.outer(sd, sd) * R + 1e-300 * np.eye(nc)) / sigma
        except np.linalg.LinAlgError:
            return None
        out.append(covariance.block_to_theta(block))
        at += k
    return np.concatenate(out)


def theta_to_psi(theta: np.ndarray, sigma: float, blocks: list[int]) -> np.ndarray:
    """theta, sigma -> (sd, cor per term, sigma)."""
    out, at = [], 0
    for nc in blocks:
        k = covariance.n_theta(nc)
        block = covariance.theta_to_block(theta[at: at + k], nc) * sigma
        C = block @ block.T
        sd = np.sqrt(np.diag(C))
        values = np.zeros(k)
        for j in range(nc):
            for i in range(j, nc):
                values[covariance.theta_index(i, j, nc)] = sd[i] if i == j else (
                    C[i, j] / (sd[i] * sd[j]) if sd[i] * sd[j] > 0 else 0.0)
        out.append(values)
        at += k
    return np.concatenate(out + [[sigma]])


class _Deviance:
    """ML deviance as a function of (sd, cor, sigma) parameters, beta profiled: the ML
    devfun's snapshots (of the model, or of one with a fixed effect moved into the
    response: X and y given)."""

    def __init__(self, lf, X=None, y=None):
        rt = lf.reTrms
        self.n = lf.n
        self.blocks = [len(cols) for _, cols in rt.cnms]
        ws = None
        if X is not None:
            ws = PLSWorkspace(X, y, rt.Zt, rt.Lambdat, rt.Lind, weights=lf.weights,
                              offset=lf.offset)
        self.devfun = LmerDevfun(lf, REML=False, workspace=ws, theta0=rt.theta)

    def theta(self, psi: np.ndarray) -> np.ndarray | None:
        return psi_to_theta(psi, self.blocks)

    def psi(self, theta: np.ndarray, sigma: float) -> np.ndarray:
        return theta_to_psi(theta, sigma, self.blocks)

    def __call__(self, psi: np.ndarray) -> float:
        theta = self.theta(psi)
        if theta is None:
            return np.inf
        return self.devfun.snapshot(theta, factor=False).criterion(self.n, 0, False,
                                                                   sigma=psi[-1])

    def profiled_sigma(self, theta: np.ndarray) -> float:
        """ML deviance at theta with sigma (and beta) profiled out."""
        return self.devfun.snapshot(theta, factor=False).criterion(self.n, 0, False)


def _bounds(dev: _Deviance):
    lower, upper = _bounds_for(dev.blocks)
    return np.append(lower, 1e-10), np.append(upper, np.inf)


def _ends(zeta, estimate: float, scale: float, lower_bound: float, upper_bound: float,
          z: float) -> tuple[float, float]:
    """Where zeta reaches -z and +z, searching outward from the estimate."""
    out = []
    for side, target in ((-1, -z), (1, z)):
        step = max(scale, 1e-8)
        inner = estimate
        for _ in range(60):
            outer = estimate + side * step
            bound = lower_bound if side < 0 else upper_bound
            if (side < 0 and outer <= bound) or (side > 0 and outer >= bound):
                outer = bound
                if abs(zeta(outer)) < z:  # the profile never reaches the quantile
                    out.append(bound)
                    break
            if abs(zeta(outer)) >= z:
                out.append(optimize.brentq(lambda v, t=target: zeta(v) - t, min(inner, outer),
                                           max(inner, outer), xtol=1e-10 * max(1, abs(outer))))
                break
            inner, step = outer, step * 2
        else:
            out.append(np.nan)
    return out[0], out[1]


def _minimum_with_one_fixed(deviance, estimates, k, v, lower, upper, options) -> float:
    """The deviance minimized over every parameter but the k-th, which is held at v."""
    others = [i for i in range(len(estimates)) if i != k]

    def inner(x):
        full = estimates.copy()
        full[others] = x
        full[k] = v
        return deviance(full)

    if not others:
        return inner(np.zeros(0))
    # always from the estimates: the profile must not depend on the search path
    x0 = np.clip(estimates[others], lower[others] + 1e-12, upper[others] - 1e-12)
    return minimize(inner, x0, lower[others], upper[others], options=options).fval


@dataclass(frozen=True)
class _Profile1D:
    """zeta(v) for one parameter, with where it is estimated and may go."""

    name: str
    zeta: Callable[[float], float]
    estimate: float
    scale: float
    lower: float
    upper: float
    # a parameter profiled on another scale (the log of a dispersion): its interval is
    # reported under this name after this monotone map
    reported: tuple[str, Callable[[np.ndarray], np.ndarray]] | None = None


def _glmm_profiles(model) -> list[_Profile1D]:
    """GLMMs (binomial, Poisson, negative binomial, Beta): profiles of the Laplace / AGQ
    deviance over (sd / cor, beta, and the log of an estimated dispersion)."""
    family = model.family
    if family.family == "cumulative":
        raise NotAvailableError("profiles of clmm fits are not available (nor in "
                                  "ordinal); use method='Wald' or 'boot'")
    if family.estimates_dispersion or model.nAGQ == 0:
        raise NotAvailableError("profiles of GLMMs need nAGQ >= 1 and a family without "
                                  "lme4's dispersion estimate (binomial, Poisson, negative "
                                  "binomial, Beta); use method='Wald' or 'boot'")
    lf = model.lf
    blocks = [len(cols) for _, cols in lf.reTrms.cnms]
    devfun = mkGlmerDevfun(lf, family, nAGQ=0, control=lf.control)
    extra = devfun.extra_par()  # the estimate, when the family estimates one
    devfun(np.concatenate([model.theta, extra]))  # PIRLS starts from the estimates' eta
    devfun = updateGlmerDevfun(devfun, model.nAGQ)
    nv = len(model.theta)
    start = np.concatenate([theta_to_psi(model.theta, 1.0, blocks)[:-1], model.beta, extra])

    def deviance(x):
        theta = psi_to_theta(np.append(x[:nv], 1.0), blocks)
        return np.inf if theta is None else devfun(np.concatenate([theta, x[nv:]]))

    d0 = deviance(start)
    lo_v, hi_v = _bounds_for(blocks)
    lower = np.concatenate([lo_v, np.full(len(model.beta) + len(extra), -np.inf)])
    upper = np.concatenate([hi_v, np.full(len(model.beta) + len(extra), np.inf)])
    se = np.concatenate([np.sqrt(np.diag(model.vcov().to_numpy())),
                         np.full(len(extra), 0.1)])
    names = parameter_names(model) + list(model.fixef().index)
    reported = [None] * len(names)
    if len(extra):
        names.append(f"log({family.extra_name})")
        reported.append((family.extra_name, np.exp))
    out = []
    for k in range(len(start)):
        def zeta(v, k=k):
            value = _minimum_with_one_fixed(deviance, start, k, v, lower, upper,
                                            {"xtol_abs": 1e-8, "ftol_abs": 1e-10})
            return np.sign(v - start[k]) * np.sqrt(max(value - d0, 0.0))

        scale = 0.2 * max(abs(start[k]), 0.05) if k < nv else se[k - nv]
        out.append(_Profile1D(names[k], zeta, start[k], scale, lower[k], upper[k],
                              reported[k]))
    return out


def _bounds_for(blocks: list[int]):
    lower, upper = [], []
    for nc in blocks:
        lo = np.full(covariance.n_theta(nc), -1.0)
        hi = np.full(covariance.n_theta(nc), 1.0)
        for i in range(nc):
            lo[covariance.theta_index(i, i, nc)] = 0.0
            hi[covariance.theta_index(i, i, nc)] = np.inf
        lower.append(lo)
        upper.append(hi)
    return np.concatenate(lower), np.concatenate(upper)


def _lmm_profiles(model) -> list[_Profile1D]:
    """LMMs: ML profiles (a REML fit refitted by ML, as lme4) in the sd / cor / sigma
    scale, and of each fixed effect with the others and theta re-optimized."""
    ml = refit_ML(model)
    lf = ml.lf
    dev = _Deviance(lf)
    psi_hat = dev.psi(ml.theta, ml.sigma())
    d0 = dev(psi_hat)
    lower_b, upper_b = _bounds(dev)
    se = np.sqrt(np.diag(ml.vcov().to_numpy()))
    names = parameter_names(model) + list(model.fixef().index)
    out = []
    for k in range(len(psi_hat)):
        def zeta(v, k=k):
            value = _minimum_with_one_fixed(dev, psi_hat, k, v, lower_b, upper_b,
                                            {"xtol_abs": 1e-10, "ftol_abs": 1e-12})
            return np.sign(v - psi_hat[k]) * np.sqrt(max(value - d0, 0.0))

        out.append(_Profile1D(names[k], zeta, psi_hat[k], 0.2 * max(abs(psi_hat[k]), 0.05),
                              lower_b[k], upper_b[k]))
    beta_hat, X = ml.beta, lf.X
    for j in range(len(beta_hat)):
        keep = [c for c in range(X.shape[1]) if c != j]

        def zeta(v, j=j, keep=keep):
            reduced = _Deviance(lf, X=X[:, keep], y=lf.y - v * X[:, j])
            opt = minimize(reduced.profiled_sigma, ml.theta, lf.reTrms.lower,
                           options={"xtol_abs": 1e-10, "ftol_abs": 1e-12})
            return np.sign(v - beta_hat[j]) * np.sqrt(max(opt.fval - d0, 0.0))

        out.append(_Profile1D(names[len(psi_hat) + j], zeta, beta_hat[j], se[j], -np.inf,
                              np.inf))
    return out


def _profiles(model) -> list[_Profile1D]:
    return _glmm_profiles(model) if model.isGLMM() else _lmm_profiles(model)


def _progress(profiles: list[_Profile1D], progress: bool):
    """The profiles, with a progress bar (tqdm, on stderr) over them unless ``progress``
    is false."""
    return tqdm(profiles, desc="profile", unit="param", file=sys.stderr,
                disable=not progress, dynamic_ncols=True)


@contextmanager
def _inner_fits() -> Iterator[None]:
    """Around the profile's many small fits: their tolerances (1e-10, 1e-12) are meant to
    reach roundoff, so nlopt's "roundoff limited" stop (code -4) is expected there and not
    worth a warning (it would also break the progress bar). Other warnings pass."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"convergence code -4\b",
                                category=ConvergenceWarning)
        yield


def profile_confint(model, level: float = 0.95, progress: bool = True) -> pd.DataFrame:
    """Profile-likelihood intervals (R: ``confint(m, method = "profile")``); ``progress``:
    a progress bar over the parameters profiled."""
    z = stats.norm.ppf(0.5 + level / 2.0)
    # Profiling is thousands of small fits: keep BLAS on one thread, as fitting does.
    with single_threaded_blas():
        profiles = _profiles(model)
        with _inner_fits():
            rows = np.array([_ends(p.zeta, p.estimate, p.scale, p.lower, p.upper, z)
                             for p in _progress(profiles, progress)], dtype=float)
    for i, p in enumerate(profiles):
        if p.reported is not None:
            rows[i] = p.reported[1](rows[i])
    lo_name = f"{100 * (1 - level) / 2:.3g} %"
    hi_name = f"{100 * (1 + level) / 2:.3g} %"
    return pd.DataFrame({lo_name: rows[:, 0], hi_name: rows[:, 1]},
                        index=[p.name if p.reported is None else p.reported[0]
                               for p in profiles])


def profile(model, alphamax: float = 0.01, npoints: int = 11,
            progress: bool = True) -> pd.DataFrame:
    """The likelihood profiles themselves (R: ``profile(m)``), for plotting.

    For each parameter, ``zeta`` (the signed square root of the deviance increase) at
    ``npoints`` values on each side of the estimate, out to where |zeta| reaches the
    normal quantile of ``1 - alphamax / 2`` (lme4's default range). ``progress``: a
    progress bar (tqdm, on stderr) over the parameters; ``False`` for none.

    Returns
    -------
    DataFrame
        Long format: parameter, value, zeta (0 at the estimate).
    """
    check_model(model)
    alphamax = check_fraction(alphamax, "alphamax")
    npoints = check_count(npoints, "npoints", 2)
    progress = check_bool(progress, "progress")
    zmax = stats.norm.ppf(1 - alphamax / 2)
    rows = []
    with single_threaded_blas():  # thousands of small fits, as in profile_confint
        profiles = _profiles(model)
        with _inner_fits():
            for p in _progress(profiles, progress):
                lo, hi = _ends(p.zeta, p.estimate, p.scale, p.lower, p.upper, zmax)
                grid = np.unique(np.concatenate([np.linspace(lo, p.estimate, npoints),
                                                 np.linspace(p.estimate, hi, npoints)]))
                rows += [(p.name, v, 0.0 if v == p.estimate else p.zeta(v)) for v in grid
                         if np.isfinite(v)]
    return pd.DataFrame(rows, columns=["parameter", "value", "zeta"])
