"""Parametric bootstrap: lme4's ``bootMer`` and ``confint(m, method = "boot")``.

Each replicate simulates a response from the fitted model (new random effects, as
``simulate(use_u=False)``), refits the same structure to it and applies ``fun``. Replicates
are reproducible from ``seed`` (one independent stream per replicate, so results do not
depend on the number of workers).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from ..exceptions import PylmerError
from ..linalg.threads import single_threaded_blas
from .confint import parameter_names

__all__ = ["bootMer", "boot_confint", "refit"]


def refit(model, newresp):
    """The model refitted to a new response (R: ``refit(m, newresp)``), same structure,
    starting from the fitted theta."""
    from dataclasses import replace

    lf = model.lf
    newresp = np.asarray(newresp, dtype=float)
    if newresp.shape[0] != lf.n:
        raise PylmerError(f"newresp has {newresp.shape[0]} values; the model has {lf.n} rows")
    if np.ndim(lf.y) == 2 and newresp.ndim == 1:  # binomial counts: proportions -> cbind
        trials = lf.y.sum(axis=1)
        newresp = np.column_stack([newresp * trials, (1.0 - newresp) * trials])
    new_lf = replace(lf, fr=replace(lf.fr, response=newresp))
    if hasattr(model, "family"):
        from ..glmm import mkGlmerDevfun, optimizeGlmer
        from ..results.glmermod import GlmerMod

        control = lf.control
        devfun = mkGlmerDevfun(new_lf, model.family, nAGQ=0, control=control)
        opt = optimizeGlmer(devfun, control, nAGQ=model.nAGQ, start=model.theta)
        return GlmerMod(new_lf, devfun, opt)
    from ..modular import mkLmerDevfun, mkMerMod, optimizeLmer

    devfun = mkLmerDevfun(new_lf, REML=model.REML)
    return mkMerMod(new_lf, devfun, optimizeLmer(devfun, lf.control, start=model.theta))


def _parameters(model) -> np.ndarray:
    """sd / cor per term, sigma (where the model has one), then the fixed effects."""
    frame = model.VarCorr().as_frame()
    values = []
    for term in model.VarCorr().terms:
        nc = len(term.columns)
        from ..design import covariance

        block = np.zeros(covariance.n_theta(nc))
        corr = term.corr
        for j in range(nc):
            for i in range(j, nc):
                block[covariance.theta_index(i, j, nc)] = (
                    term.stddev[i] if i == j else corr[i, j])
        values.append(block)
    out = np.concatenate(values)
    if "Residual" in set(frame["grp"]):
        out = np.append(out, model.sigma())
    return np.concatenate([out, model.beta])


def bootMer(model, fun: Callable | None = None, nsim: int = 100, seed=None,
            n_jobs: int = 1, progress: bool | None = None) -> pd.DataFrame:
    """Parametric bootstrap (R: ``bootMer(m, FUN, nsim, seed)``).

    Parameters
    ----------
    fun : callable, optional
        Applied to each refitted model; returns a number or a 1-d array. Default: the
        parameters as ``confint`` names them (sd / cor, sigma, fixed effects).
    nsim : int
        Number of replicates.
    seed : int, optional
        Replicates are reproducible from it, whatever ``n_jobs`` is.
    n_jobs : int
        Worker threads (the numerical kernels release the GIL for most of their work).
    progress : bool, optional
        Print progress to stderr; by default for runs of more than 20 replicates.

    Returns
    -------
    DataFrame
        One row per replicate (R: the ``t`` matrix of a ``boot`` object).
    """
    if nsim < 1:
        raise PylmerError(f"nsim={nsim!r}: run at least one replicate")
    fun = fun or _parameters
    streams = np.random.SeedSequence(seed).spawn(nsim)
    first = fun(model)
    names = (parameter_names(model) + list(model.fixef().index)) if fun is _parameters else (
        [f"t{k + 1}" for k in range(np.size(first))])
    show = nsim > 20 if progress is None else progress

    def replicate(k):
        rng = np.random.default_rng(streams[k])
        y = model.simulate(nsim=1, seed=rng).iloc[:, 0].to_numpy()
        try:
            return np.atleast_1d(np.asarray(fun(refit(model, y)), dtype=float))
        except (ValueError, RuntimeError, ArithmeticError, np.linalg.LinAlgError):
            return np.full(np.size(first), np.nan)  # a failed refit, counted below

    results = []
    # replicates' warnings (singular or unconverged refits) are counted, not shown: lme4
    # keeps them with the bootstrap object too
    # one BLAS thread throughout: a refit's last digits then do not depend on how many
    # threads the BLAS had, so replicates are the same whatever n_jobs is
    with warnings.catch_warnings(record=True) as caught, single_threaded_blas(), \
            ThreadPoolExecutor(max_workers=max(1, n_jobs)) as pool:
        warnings.simplefilter("always")
        for k, row in enumerate(pool.map(replicate, range(nsim))):
            results.append(row)
            if show and ((k + 1) % max(1, nsim // 20) == 0 or k + 1 == nsim):
                print(f"\rbootMer: {k + 1}/{nsim} replicates", end="", file=sys.stderr)
    if show:
        print(file=sys.stderr)
    table = pd.DataFrame(np.vstack(results), columns=names)
    table.attrs["failed"] = int(table.isna().any(axis=1).sum())
    table.attrs["warnings"] = [str(w.message) for w in caught]
    return table


def boot_confint(model, level: float = 0.95, nsim: int = 500, seed=None,
                 n_jobs: int = 1) -> pd.DataFrame:
    """Percentile bootstrap intervals (R: ``confint(m, method = "boot")``)."""
    reps = bootMer(model, nsim=nsim, seed=seed, n_jobs=n_jobs)
    alpha = (1 - level) / 2
    lo = reps.quantile(alpha, interpolation="linear")
    hi = reps.quantile(1 - alpha, interpolation="linear")
    lo_name = f"{100 * alpha:.3g} %"
    hi_name = f"{100 * (1 - alpha):.3g} %"
    return pd.DataFrame({lo_name: lo.to_numpy(), hi_name: hi.to_numpy()}, index=reps.columns)
