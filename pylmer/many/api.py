"""``lmer_many()`` and ``glmer_many()``: one formula, many responses."""

from __future__ import annotations

from collections.abc import Mapping

from ..control import LmerControl
from ..validate import check_bool, check_count
from .fits import ManyFits, fit_table
from .spec import as_response_matrix, make_spec

__all__ = ["lmer_many"]


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
    n_jobs = 1 if n_jobs is None else check_count(n_jobs, "n_jobs", 1)
    progress = check_bool(progress, "progress")
    Y, names, unusable = as_response_matrix(responses, len(spec.data), spec.data.index,
                                            names)
    if client is not None:
        from .cluster import fit_on_cluster
        table, coef_names, theta_names = fit_on_cluster(client, spec, Y, names, unusable,
                                                        progress)
    else:
        table, coef_names, theta_names = fit_table(spec, Y, names, unusable, n_jobs,
                                                   progress)
    return ManyFits(spec, Y, names, table, coef_names, theta_names)
