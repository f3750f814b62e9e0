"""Parametric bootstrap: lme4's ``bootMer`` and ``confint(m, method = "boot")``.

Each replicate simulates a response from the fitted model (new random effects, as
``simulate(use_u=False)``), refits the same structure to it and applies ``fun``. Replicates
are reproducible from ``seed`` (one independent stream per replicate, so results do not
depend on the number of threads, or on a Dask cluster's workers).
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..design import covariance
from ..exceptions import PylmerError, PylmerWarning, WarningLog, warn_user
from ..linalg.threads import single_threaded_blas
from ..validate import (
    check_bool,
    check_client,
    check_count,
    check_fraction,
    check_model,
    check_seed,
)
from .names import parameter_names
from .refit import refit

__all__ = ["bootMer", "boot_confint"]


def _parameters(model) -> np.ndarray:
    """sd / cor per term, sigma (where the model has one), then the fixed effects; then
    an estimated extra parameter (the NB theta, Beta's phi, clmm's thresholds)."""
    frame = model.VarCorr().as_frame()
    values = []
    for term in model.VarCorr().terms:
        nc = len(term.columns)
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
    return np.concatenate([out, model.beta, _extra(model)[1]])


def _extra(model) -> tuple[list[str], np.ndarray]:
    """Names and values of a GLMM family's estimated extra parameter (none otherwise)."""
    family = getattr(model, "family", None)
    if family is None or not getattr(family, "estimates_extra", False):
        return [], np.zeros(0)
    if hasattr(model, "alpha"):
        return list(model.alpha.index), model.alpha.to_numpy()
    return [family.extra_name], np.array([float(family.extra)])


def _statistic_names(value, default: bool, model) -> list[str] | None:
    """Column names for ``fun``'s values: the parameter names for the default statistic,
    the labels of a named result (a Series, as ``fixef``, or a dict), else None (``t1``,
    ``t2``, ... as R's ``boot`` prints them)."""
    if default:
        return parameter_names(model) + list(model.fixef().index) + _extra(model)[0]
    if isinstance(value, pd.Series):
        return [str(k) for k in value.index]
    if isinstance(value, Mapping):
        return [str(k) for k in value]
    return None


def _as_row(value, labels: list | None, size: int) -> np.ndarray:
    """One replicate's statistic as a row; a named result is matched to the original
    statistic's names (a label a refit lacks, e.g. a column dropped as rank deficient,
    gives NaN)."""
    if labels is not None and isinstance(value, pd.Series):
        value = value.reindex(labels)
    elif labels is not None and isinstance(value, Mapping):
        value = [value.get(k, np.nan) for k in labels]
    row = np.atleast_1d(np.asarray(value, dtype=float)).ravel()
    if row.size != size:
        raise PylmerError(f"fun returned {row.size} values for a refit, {size} for the model")
    return row


def _summary(counts: Counter, refits: int, nsim: int, what: str) -> str:
    """"3 of 100 refits gave warnings: message (2); other message (1)"."""
    listed = "; ".join(f"{message} ({n})" for message, n in counts.most_common())
    return f"{refits} of {nsim} refits {what}: {listed}"


def bootMer(model, fun: Callable | None = None, nsim: int = 100, seed=None,
            n_jobs: int = 1, progress: bool = True, client=None) -> pd.DataFrame:
    """Parametric bootstrap (R: ``bootMer(m, FUN, nsim, seed)``).

    Parameters
    ----------
    fun : callable, optional
        Applied to each refitted model; returns a number, a 1-d array, or a named
        result (a Series such as ``fixef``, or a dict) whose names become the columns.
        Default: the parameters as ``confint`` names them (sd / cor, sigma, fixed effects).
    nsim : int
        Number of replicates.
    seed : int, optional
        Replicates are reproducible from it, whatever ``n_jobs`` is and wherever they run.
    n_jobs : int
        Worker threads (the numerical kernels release the GIL for most of their work).
    progress : bool
        Show a progress bar (tqdm, on stderr) over the replicates; ``False`` for none.
    client : dask.distributed.Client, optional
        Run the replicates on a Dask cluster, in chunks (the model goes to each worker
        once; ``fun`` must be picklable, as lambdas are with cloudpickle). The same seed
        gives the same table as in-process.

    Returns
    -------
    DataFrame
        One row per replicate (R: the ``t`` matrix of a ``boot`` object). Columns are the
        statistic's names (as lme4: ``names(FUN(m))``, e.g. ``(Intercept)``, ``Days`` for
        ``fixef``), or ``t1``, ``t2``, ... for an unnamed statistic. ``attrs["failed"]``
        counts failed refits (rows of NaN), ``attrs["warnings"]`` lists the refits' warnings.

    Warns
    -----
    PylmerWarning
        Once, at the end, if some refits gave warnings (singular or unconverged fits,
        common in a bootstrap) or failed: how many, and which messages.
    """
    check_model(model)
    nsim = check_count(nsim, "nsim", 1)
    seed = check_seed(seed)
    n_jobs = check_count(n_jobs, "n_jobs", 1)
    progress = check_bool(progress, "progress")
    if fun is not None and not callable(fun):
        raise TypeError(f"fun must be a function of a fitted model (such as fixef), got "
                        f"{type(fun).__name__}")
    if client is not None:
        check_client(client)
    default = fun is None
    fun = fun or _parameters
    # one stream per replicate, spawned from one entropy: the same wherever they run (a
    # Generator's next draws are that entropy)
    entropy = (np.random.SeedSequence(seed).entropy if not isinstance(seed, np.random.Generator)
               else int(seed.integers(0, 2**63)))
    first = fun(model)
    if first is None:
        raise TypeError("fun returned None for the fitted model: it must return a number, "
                        "an array or a named result (a Series or a dict), e.g. fixef")
    labels = _statistic_names(first, default, model)
    size = len(labels) if labels is not None else np.size(first)
    names = labels if labels is not None else [f"t{k + 1}" for k in range(size)]
    # refits' named results are matched by name (the default statistic is an array)
    match = None if default or labels is None or len(set(labels)) < len(labels) else labels
    job = _Job(fun, entropy, nsim, match, size)
    rows: dict[int, np.ndarray] = {}
    by_replicate: dict[int, list[str]] = {}
    errors: dict[int, str] = {}
    with tqdm(total=nsim, desc="bootMer", unit="refit", file=sys.stderr,
              disable=not progress, dynamic_ncols=True) as bar:
        parts = (_on_cluster(client, model, job) if client is not None
                 else _in_process(model, job, n_jobs))
        for k, row, error, messages in parts:
            rows[k] = row
            if error:
                errors[k] = error
            if messages:
                by_replicate[k] = messages
            bar.update(1)
    table = pd.DataFrame(np.vstack([rows[k] for k in range(nsim)]), columns=names)
    table.attrs["failed"] = len(errors)
    table.attrs["warnings"] = [m for k in sorted(by_replicate) for m in by_replicate[k]]
    # lme4 keeps the refits' warnings with the bootstrap object and says how many runs
    # failed; here they are summarised in one warning rather than one line per refit
    parts = []
    if by_replicate:
        counts = Counter(m for messages in by_replicate.values() for m in set(messages))
        parts.append(_summary(counts, len(by_replicate), nsim, "gave warnings"))
    if errors:
        parts.append(_summary(Counter(errors.values()), len(errors), nsim,
                              "failed (rows of NaN)"))
    if len(errors) == nsim:
        raise PylmerError("bootMer: " + parts[-1] + "; no replicate succeeded")
    if parts:
        warn_user("bootMer: " + "\n".join(parts), PylmerWarning)
    return table


@dataclass(frozen=True)
class _Job:
    """What every replicate needs besides the model: the statistic, the seed's entropy,
    the number of replicates, and how to read the statistic."""

    fun: Callable
    entropy: int
    nsim: int
    match: list | None
    size: int


def _replicate(model, job: _Job, stream, k: int, log: WarningLog):
    """Replicate k: (k, its row, its error or None, its warnings)."""
    log.working_on(k)
    y = model.simulate(nsim=1, seed=np.random.default_rng(stream)).iloc[:, 0].to_numpy()
    try:
        row, error = _as_row(job.fun(refit(model, y)), job.match, job.size), None
    except (ValueError, RuntimeError, ArithmeticError, np.linalg.LinAlgError) as err:
        row, error = np.full(job.size, np.nan), f"{type(err).__name__}: {err}"
    return k, row, error, log.take(k)


def _replicates(model, job: _Job, ks) -> list:
    """Replicates ``ks`` one after another (a cluster's task)."""
    streams = np.random.SeedSequence(job.entropy).spawn(job.nsim)
    with WarningLog() as log, single_threaded_blas():
        return [_replicate(model, job, streams[k], k, log) for k in ks]


def _in_process(model, job: _Job, n_jobs: int):
    streams = np.random.SeedSequence(job.entropy).spawn(job.nsim)
    # one BLAS thread throughout: a refit's last digits then do not depend on how many
    # threads the BLAS had, so replicates are the same whatever n_jobs is
    with WarningLog() as log, single_threaded_blas(), \
            ThreadPoolExecutor(max_workers=max(1, n_jobs)) as pool:
        yield from pool.map(lambda k: _replicate(model, job, streams[k], k, log),
                            range(job.nsim))


def _on_cluster(client, model, job: _Job):
    """The replicates in chunks on a Dask cluster, as they finish."""
    from distributed import as_completed

    workers = check_client(client)
    chunks = np.array_split(np.arange(job.nsim), min(job.nsim, 4 * workers))
    model_future = client.scatter(model, broadcast=True)
    futures = [client.submit(_replicates, model_future, job, ks, pure=False)
               for ks in chunks if len(ks)]
    for fut in as_completed(futures):
        yield from fut.result()


def boot_confint(model, level: float = 0.95, nsim: int = 500, seed=None,
                 n_jobs: int = 1, progress: bool = True) -> pd.DataFrame:
    """Percentile bootstrap intervals (R: ``confint(m, method = "boot")``); ``progress``:
    a progress bar over the replicates (see :func:`bootMer`)."""
    level = check_fraction(level, "level")
    if check_count(nsim, "nsim", 1) < 2:
        raise PylmerError(f"nsim={nsim}: percentile intervals need at least 2 replicates "
                          "(lme4's default is 500)")
    reps = bootMer(model, nsim=nsim, seed=seed, n_jobs=n_jobs, progress=progress)
    alpha = (1 - level) / 2
    lo = reps.quantile(alpha, interpolation="linear")
    hi = reps.quantile(1 - alpha, interpolation="linear")
    lo_name = f"{100 * alpha:.3g} %"
    hi_name = f"{100 * (1 - alpha):.3g} %"
    return pd.DataFrame({lo_name: lo.to_numpy(), hi_name: hi.to_numpy()}, index=reps.columns)
