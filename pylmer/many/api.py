"""``lmer_many()`` and ``glmer_many()``: one formula, many responses."""

from __future__ import annotations

from collections.abc import Mapping

from ..control import GlmerControl, LmerControl
from ..family import Family
from ..validate import check_bool, check_client, check_count
from .fits import ManyFits, fit_table
from .spec import ManySpec, as_response_matrix, make_spec

__all__ = ["glmer_many", "lmer_many"]


def lmer_many(formula: str, data, responses, REML: bool = True, weights=None, offset=None,
              contrasts: Mapping[str, str] | None = None, control: LmerControl | None = None,
              n_jobs: int | None = None, client=None, progress: bool = True,
              names=None) -> ManyFits:
    """Fit one linear mixed model to many responses (R: a loop of ``lmer()`` over the
    columns of an expression matrix, as variancePartition's ``dream`` or lmerSeq run it).

    Parameters
    ----------
    formula : str
        An lme4 formula whose left side names a placeholder for each response, such as
        ``"y ~ Disease + Age + (1 | Individual) + (1 | Batch)"``, or a one-sided formula
        (``"~ Disease + Age + (1 | Individual)"``). A column of ``data`` with the
        placeholder's name is not used.
    data : pandas.DataFrame
        The design: one row per observation (polars DataFrames and dicts of columns are
        accepted). Not modified.
    responses : pandas.DataFrame or 2-D array
        One column per response, rows aligned with ``data`` (a DataFrame whose index is the
        data's, in any order, is aligned by index). A column with missing values is fitted
        on its own complete cases; a column that is not numeric, holds infinite values or
        is constant is not fitted, and its row says why.
    REML : bool, default True
        REML (True) or maximum likelihood (False), for every response.
    weights, offset, contrasts :
        As :func:`pylmer.lmer`, shared by every response.
    control : LmerControl, optional
        Its checks (numbers of levels and observations, rank of X) apply, once; the
        optimizer settings do not: the responses are optimized together by a batch Newton
        search (see the "Many models and clusters" guide). A response whose search does
        not converge is refitted alone with lmer's optimizer.
    n_jobs : int, optional
        Threads in this process (default 1). Ignored with ``client``.
    client : dask.distributed.Client, optional
        Fit chunks of responses on a Dask cluster; the table is the same as in-process.
    progress : bool, default True
        A progress bar (tqdm, on stderr) over the responses.
    names : list of str, optional
        The responses' names when ``responses`` is an array (default ``y1``, ``y2``, ...).

    Returns
    -------
    ManyFits
        ``.table`` (one row per response), ``.model(name)`` (a response's full
        ``LmerMod``), iteration over the names.

    Examples
    --------
    >>> import numpy as np
    >>> from pylmer import lmer_many, load_dataset
    >>> sleep = load_dataset("sleepstudy")
    >>> rng = np.random.default_rng(1)
    >>> Y = sleep["Reaction"].to_numpy()[:, None] + rng.normal(0, 10, (len(sleep), 3))
    >>> fits = lmer_many("y ~ Days + (Days | Subject)", sleep, Y, progress=False)
    >>> fits.table.shape[0]
    3
    """
    spec = make_spec(formula, data, REML, weights, offset, contrasts, control)
    return _fit(spec, responses, names, n_jobs, client, progress)


def glmer_many(formula: str, data, responses, family: Family | str = "binomial",
               nAGQ: int = 1, weights=None, offset=None,
               contrasts: Mapping[str, str] | None = None,
               control: GlmerControl | None = None, warm_start: bool = False,
               n_jobs: int | None = None, client=None, progress: bool = True,
               names=None) -> ManyFits:
    """Fit one generalized linear mixed model to many responses (R: a loop of ``glmer()``
    over genes, as glmmSeq runs it): binary (binomial), count (poisson, ``nbinom2()``,
    ``negative_binomial(theta)``) or continuous (Gamma, ``beta_family()``) responses.

    The model frame, X, Z, the PIRLS workspace and its symbolic factorization are built
    once per block of responses; each response gets lme4's two stages (``nAGQ``) from
    lme4's start, so each row is ``glmer``'s fit of that response.

    Parameters
    ----------
    formula, data, responses, weights, offset, contrasts, names, n_jobs, client, progress :
        As :func:`lmer_many`. ``weights`` are prior weights shared by every response
        (binomial: the numbers of trials, with proportions as responses).
    family : Family or str, default "binomial"
        As :func:`pylmer.glmer`.
    nAGQ : int, default 1
        Laplace (1), adaptive Gauss-Hermite quadrature (> 1) or nAGQ = 0, as glmer.
    control : GlmerControl, optional
        glmer's optimizer settings and checks.
    warm_start : bool, default False
        Start each response's first stage from the previous response's estimates (fewer
        evaluations; on flat likelihoods the optimum then moves within the optimizer's
        tolerance, so rows may differ slightly from glmer's).

    Returns
    -------
    ManyFits
        ``.table``: each coefficient, ``se_<name>``, ``z_<name>``, ``theta_1`` ...,
        ``sigma`` (families with an extra parameter: ``sigma(m)``), ``logLik``, ``AIC``,
        ``nobs``, ``converged``, ``feval``, ``warnings``; ``.model(name)``: the response's
        ``GlmerMod``.

    Examples
    --------
    >>> import numpy as np
    >>> from pylmer import glmer_many, load_dataset
    >>> cbpp = load_dataset("cbpp")
    >>> rng = np.random.default_rng(1)
    >>> Y = rng.binomial(1, 0.3, (len(cbpp), 3))
    >>> fits = glmer_many("y ~ period + (1 | herd)", cbpp, Y, family="binomial",
    ...                   progress=False)
    >>> fits.table.shape[0]
    3
    """
    nAGQ = check_count(nAGQ, "nAGQ")
    spec = make_spec(formula, data, True, weights, offset, contrasts, control,
                     family=family, nAGQ=nAGQ, warm_start=warm_start)
    return _fit(spec, responses, names, n_jobs, client, progress)


def _fit(spec: ManySpec, responses, names, n_jobs, client, progress) -> ManyFits:
    """Both functions' common part: the responses checked, then fitted here or on the
    cluster."""
    n_jobs = 1 if n_jobs is None else check_count(n_jobs, "n_jobs", 1)
    progress = check_bool(progress, "progress")
    if client is not None:
        check_client(client)
    Y, names, unusable = as_response_matrix(responses, len(spec.data), spec.data.index,
                                            names)
    if client is not None:
        from .cluster import fit_on_cluster
        out = fit_on_cluster(client, spec, Y, names, unusable, progress)
    else:
        out = fit_table(spec, Y, names, unusable, n_jobs, progress)
    return ManyFits(spec, Y, names, *out)
