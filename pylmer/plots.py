"""Diagnostic plots of fitted mixed models, after lme4's lattice methods.

matplotlib is an optional dependency (``pip install pylmer[plot]``); it is imported only
when a plot is drawn. Every function returns the matplotlib ``Figure`` and never calls
``plt.show()``, so the caller decides whether to show, save or close it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .exceptions import PylmerError
from .lazy import stats
from .validate import check_fraction, check_model

__all__ = ["dotplot_ranef", "plot_residuals", "qqplot_ranef", "qqplot_residuals",
           "plot_profile"]

MAX_LEVELS = 40  # dotplot_ranef's default cap on the levels drawn


def _pyplot():
    """matplotlib.pyplot, or an ImportError saying how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: install pylmer[plot] (matplotlib)") from err
    return plt


def _z(level: float) -> float:
    """Two-sided normal quantile for a confidence ``level`` (R: ``qnorm(1 - (1 - level)/2)``)."""
    level = check_fraction(level, "level")
    return float(stats.norm.ppf(0.5 + level / 2.0))


def _ranef_group(model, group: str | None) -> tuple[str, pd.DataFrame, pd.DataFrame | None]:
    """(group name, conditional modes, conditional SDs or None) for one grouping factor.

    ``group=None`` takes the first grouping factor, as lme4 lists them.
    """
    re = check_model(model).ranef(condVar=True)
    names = list(re.keys())
    if not names:
        raise PylmerError("the model has no random effects")
    if group is None:
        group = names[0]
    if group not in re:
        raise PylmerError(f"unknown grouping factor {group!r}; available: {', '.join(names)}")
    postvar = getattr(re, "postVar", None) or {}
    sd = re.condsd(group) if group in postvar else None
    return group, re[group], sd


def _panels(plt, n: int, max_cols: int = 4, sharey: bool = False, size=(3.2, 3.2)):
    """A figure with exactly ``n`` axes laid out in rows of at most ``max_cols``."""
    ncols = min(n, max_cols)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, sharey=sharey, squeeze=False,
                             figsize=(size[0] * ncols, size[1] * nrows))
    flat = list(axes.ravel())
    for ax in flat[n:]:
        fig.delaxes(ax)
    return fig, flat[:n]


def _modes_panel(ax, column, modes, half, y) -> None:
    """One panel of conditional modes at heights ``y``: points, intervals ``mode +/- half``
    (when conditional variances exist) and a dashed line at zero."""
    values = modes.to_numpy()
    if half is not None:
        ax.hlines(y, values - half, values + half, colors="C0", linewidth=1)
    ax.scatter(values, y, color="C0", s=14, zorder=3)
    ax.axvline(0.0, color="grey", linestyle="--", linewidth=0.8)
    ax.set_title(str(column))


def _shown_levels(values: np.ndarray, max_levels: int | None, page: int | None
                  ) -> tuple[np.ndarray, str | None]:
    """Which levels a caterpillar plot draws, in drawing order, and the note on those left
    out (None when all are drawn).

    Levels are ordered by ``values`` (the first column's modes). With more than
    ``max_levels`` levels, ``page=None`` keeps the ``max_levels`` levels of largest
    ``|value|`` (the most extreme modes, either sign); ``page=k`` the k-th run of
    ``max_levels`` levels in sorted order (1-based).
    """
    n = len(values)
    order = np.argsort(values, kind="stable")
    if max_levels is not None and (isinstance(max_levels, bool) or int(max_levels) != max_levels
                                   or max_levels < 1):
        raise PylmerError(f"max_levels must be a positive integer or None, got {max_levels!r}")
    if max_levels is None or n <= max_levels:
        if page not in (None, 1):
            raise PylmerError(f"page={page!r}: all {n} levels fit on page 1")
        return order, None
    max_levels = int(max_levels)
    if page is None:
        extreme = np.argsort(-np.abs(values), kind="stable")[:max_levels]
        keep = np.zeros(n, dtype=bool)
        keep[extreme] = True
        return (order[keep[order]],
                f"{max_levels} most extreme of {n} levels ({n - max_levels} not shown)")
    npages = -(-n // max_levels)
    if isinstance(page, bool) or int(page) != page or not 1 <= page <= npages:
        raise PylmerError(f"page must be an integer from 1 to {npages} "
                          f"({n} levels, {max_levels} a page), got {page!r}")
    start = (int(page) - 1) * max_levels
    stop = min(n, start + max_levels)
    note = (f"levels {start + 1}-{stop} of {n} (page {int(page)} of {npages}; "
            f"{n - (stop - start)} not shown)")
    return order[start:stop], note


def dotplot_ranef(model, group: str | None = None, level: float = 0.95,
                  max_levels: int | None = MAX_LEVELS, page: int | None = None):
    """Caterpillar plot of the conditional modes with their intervals.

    R: ``lattice::dotplot(ranef(m, condVar = TRUE))[[group]]``. One panel per random-effect
    column of ``group``; the levels are sorted by the first column's conditional mode (in
    every panel, as lme4 does) and drawn at the mode with a horizontal interval
    ``mode +/- z * condsd``, z the normal quantile for ``level``; a vertical line marks 0.

    A grouping factor with many levels (grouseticks' INDEX has 403) would give an
    unreadable column of labels, so at most ``max_levels`` levels are drawn: by default
    the most extreme ones (largest absolute mode of the first column), or, with ``page``,
    one page of consecutive levels in sorted order. The figure's title then says how many
    levels are shown and how many left out.

    Parameters
    ----------
    model : LmerMod or GlmerMod
        A fitted model.
    group : str, optional
        Grouping factor to draw; the first one by default.
    level : float
        Coverage of the intervals (R's ``level`` argument).
    max_levels : int or None
        Most levels drawn (default 40); None draws every level, as lattice does.
    page : int, optional
        With more than ``max_levels`` levels: draw page ``page`` (1, 2, ...) of the levels
        in sorted order instead of the most extreme ones.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    z = _z(level)
    group, modes, sd = _ranef_group(model, group)
    order, note = _shown_levels(modes.iloc[:, 0].to_numpy(dtype=float), max_levels, page)
    y = np.arange(len(order))
    labels = [str(v) for v in modes.index[order]]
    ncols = min(modes.shape[1], 4)
    fig, axes = _panels(plt, modes.shape[1], sharey=True,
                        size=(max(3.2, 5.0 / ncols) if note else 3.2,
                              max(3.0, 0.18 * len(order) + 1.2)))
    for j, (ax, column) in enumerate(zip(axes, modes.columns)):
        _modes_panel(ax, column, modes.iloc[order, j], None if sd is None else
                     z * sd.iloc[order, j].to_numpy(), y)
    axes[0].set_yticks(y)
    axes[0].set_yticklabels(labels)
    axes[0].set_ylim(-0.7, len(order) - 0.3)
    axes[0].set_ylabel(group)
    fig.suptitle(group if note is None else f"{group}: {note}",
                 fontsize=None if note is None else "medium")
    fig.tight_layout()
    return fig


def qqplot_ranef(model, group: str | None = None, level: float = 0.95):
    """Normal quantile plot of the conditional modes, one panel per column.

    R: ``lattice::qqmath(ranef(m, condVar = TRUE))[[group]]``: each column's sorted modes
    (x) against the standard normal quantiles ``qnorm((1:n - 0.5) / n)`` (y), with horizontal
    intervals ``mode +/- z * condsd`` when conditional variances are available.

    Parameters
    ----------
    model : LmerMod or GlmerMod
        A fitted model.
    group : str, optional
        Grouping factor to draw; the first one by default.
    level : float
        Coverage of the intervals.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    z = _z(level)
    group, modes, sd = _ranef_group(model, group)
    n = modes.shape[0]
    quantiles = stats.norm.ppf((np.arange(1, n + 1) - 0.5) / n)  # lme4: qnorm((rr - 0.5)/nr)
    fig, axes = _panels(plt, modes.shape[1])
    for j, (ax, column) in enumerate(zip(axes, modes.columns)):
        order = np.argsort(modes.iloc[:, j].to_numpy(), kind="stable")
        _modes_panel(ax, column, modes.iloc[order, j], None if sd is None else
                     z * sd.iloc[order, j].to_numpy(), quantiles)
    axes[0].set_ylabel("Standard normal quantiles")
    fig.suptitle(group)
    fig.tight_layout()
    return fig


def _ppoints(n: int) -> np.ndarray:
    """R's ``ppoints(n)``: (i - a) / (n + 1 - 2a), a = 3/8 for n <= 10, else 1/2."""
    a = 3.0 / 8.0 if n <= 10 else 0.5
    return (np.arange(1, n + 1) - a) / (n + 1 - 2 * a)


def qqplot_residuals(model, id: float | None = None):
    """Normal quantile plot of the standardized residuals.

    R: ``lattice::qqmath(m)`` for a ``merMod``: the sorted Pearson residuals divided by
    sigma (``residuals(m, "pearson", scaled = TRUE)``; y) against the normal quantiles
    ``qnorm(ppoints(n))`` (x), with lattice's ``panel.qqmathline``: the line through the
    pairs of quartiles.

    Parameters
    ----------
    model : LmerMod or GlmerMod
        A fitted model.
    id : float, optional
        As lme4's ``id``: label the observations (by their row labels in the data) whose
        standardized residual is beyond the two-sided normal quantile for ``id``
        (``abs(r) > -qnorm(id / 2)``); ``id=0.05`` labels those beyond 1.96.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    from .printing.rprint import quantile7

    resid = check_model(model).residuals(type="pearson", scaled=True)
    values = np.asarray(resid, dtype=float)
    n = len(values)
    order = np.argsort(values, kind="stable")
    x = stats.norm.ppf(_ppoints(n))
    y = values[order]
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(x, y, s=14, facecolors="none", edgecolors="C0")
    yq = quantile7(values, (0.25, 0.75))
    xq = stats.norm.ppf([0.25, 0.75])
    slope = (yq[1] - yq[0]) / (xq[1] - xq[0])
    ends = np.array([x[0], x[-1]])
    ax.plot(ends, yq[0] + slope * (ends - xq[0]), color="grey", linewidth=0.8)
    if id is not None:
        id = check_fraction(id, "id")
        beyond = np.abs(y) > -stats.norm.ppf(id / 2.0)
        labels = np.asarray(resid.index)[order]
        ax.margins(x=0.08)  # room for the labels of the outermost points
        for xi, yi, label in zip(x[beyond], y[beyond], labels[beyond]):
            ax.annotate(str(label), (xi, yi), xytext=(4, 0), textcoords="offset points",
                        fontsize=8, va="center")
    ax.set_xlabel("Standard normal quantiles")
    ax.set_ylabel("Standardized residuals")
    fig.tight_layout()
    return fig


def plot_residuals(model):
    """Pearson residuals against fitted values, with a horizontal line at zero.

    R: ``plot(m)`` for a ``merMod`` (``resid(., type = "pearson") ~ fitted(.)``).

    Parameters
    ----------
    model : LmerMod or GlmerMod
        A fitted model.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    fitted = np.asarray(check_model(model).fitted(), dtype=float)
    resid = np.asarray(model.residuals(type="pearson"), dtype=float)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(fitted, resid, s=14, facecolors="none", edgecolors="C0")
    ax.axhline(0.0, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("Fitted values")
    ax.set_ylabel("Pearson residuals")
    fig.tight_layout()
    return fig


def plot_profile(model_or_profile, level: float = 0.95):
    """Profile zeta against each parameter's value, one panel per parameter.

    R: ``lattice::xyplot(profile(m))``. Horizontal lines at ``+/- z`` (z = 1.96 for the
    default ``level``) cross each profile at the ends of the profile confidence interval.

    Parameters
    ----------
    model_or_profile : LmerMod or DataFrame
        A fitted model (its ``.profile()`` is computed) or the long DataFrame
        (parameter, value, zeta) that ``.profile()`` returns.
    level : float
        Confidence level of the reference lines.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    z = _z(level)
    prof = model_or_profile
    if not isinstance(prof, pd.DataFrame):
        prof = check_model(model_or_profile, "model_or_profile").profile()
    missing = {"parameter", "value", "zeta"} - set(prof.columns)
    if missing:
        raise PylmerError(f"profile DataFrame lacks columns: {', '.join(sorted(missing))}")
    names = list(pd.unique(prof["parameter"]))
    if not names:
        raise PylmerError("the profile is empty")
    fig, axes = _panels(plt, len(names), max_cols=3, sharey=True)
    for ax, name in zip(axes, names):
        part = prof[prof["parameter"] == name].sort_values("value")
        ax.plot(part["value"].to_numpy(), part["zeta"].to_numpy(), marker="o",
                markersize=3, color="C0")
        for h in (-z, z):
            ax.axhline(h, color="grey", linestyle="--", linewidth=0.8)
        ax.set_title(str(name))
    axes[0].set_ylabel(r"$\zeta$")
    fig.tight_layout()
    return fig
