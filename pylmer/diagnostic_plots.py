"""Residual, influence and simulated-residual plots: R's ``plot.lm`` panels for a mixed
model, lme4's ``influence()`` measures, and DHARMa's ``plot`` of simulated residuals.

As in :mod:`pylmer.plots`, matplotlib is optional and imported only when a plot is drawn;
every function returns the ``Figure`` and never calls ``plt.show()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .exceptions import PylmerError
from .inference.diagnostics import hatvalues
from .inference.influence import Influence, influence
from .inference.simulated_residuals import SimulatedResiduals, testDispersion, testUniformity
from .lazy import stats
from .plots import _ppoints, _pyplot
from .validate import check_bool, check_count, check_model

if TYPE_CHECKING:  # matplotlib is optional: imported when a plot is drawn
    from matplotlib.figure import Figure

__all__ = ["plot_diagnostics", "plot_influence", "plot_simulated_residuals"]

COOK_LEVELS = (0.5, 1.0)  # plot.lm's cook.levels
SIGNAL = "red"  # DHARMa's signal colour for significant tests


def plot_diagnostics(model, n_labels: int = 3) -> Figure:
    """The four residual panels of R's ``plot.lm`` (``which = c(1, 2, 3, 5)``) for a mixed
    model.

    1. Pearson residuals against fitted values (the linear predictor for a GLMM, as
       ``plot.lm`` for a ``glm``), with their running median;
    2. normal QQ plot of the standardized Pearson residuals
       ``r / (sigma sqrt(1 - h))`` (lme4's ``rstudent`` for an LMM);
    3. scale-location: ``sqrt(|standardized residual|)`` against fitted values;
    4. standardized residuals against leverage ``h``, with the Cook's distance contours
       0.5 and 1 (``D = rs^2 h / (p (1 - h))``, lme4's ``cooks.distance``).

    h are lme4's hat values (:func:`pylmer.hatvalues`, the random effects included); for a
    GLMM they come with lme4's warning that the hat matrix may not make sense there.
    Observations with leverage 1 are left out of panels 2-4, as ``plot.lm`` does. The
    ``n_labels`` most extreme observations of each panel are labelled with their row
    labels.

    Returns
    -------
    matplotlib.figure.Figure
        Four axes, in the order above.
    """
    plt = _pyplot()
    check_model(model)
    n_labels = check_count(n_labels, "n_labels")
    pearson = model.residuals(type="pearson")
    r, labels = pearson.to_numpy(dtype=float), np.asarray(pearson.index)
    fitted = np.asarray(model.predict(), dtype=float)  # the link scale, as plot.lm's predict
    h = hatvalues(model).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        rs = np.where(h < 1, r / (model.sigma() * np.sqrt(1.0 - h)), np.nan)
    p = np.linalg.matrix_rank(model.getME("X"))
    fig, axes = plt.subplots(2, 2, figsize=(9, 8))
    ax1, ax2, ax3, ax4 = axes.ravel()
    fitted_label = "Predicted values" if model.isGLMM() else "Fitted values"

    _scatter(ax1, fitted, r, labels, np.abs(r), n_labels)
    ax1.axhline(0.0, color="grey", linestyle=":", linewidth=0.8)
    _trend(ax1, fitted, r)
    ax1.set(xlabel=fitted_label, ylabel="Pearson residuals", title="Residuals vs Fitted")

    ok = np.isfinite(rs)
    order = np.argsort(rs[ok], kind="stable")
    theoretical = stats.norm.ppf(_ppoints(int(ok.sum())))
    _scatter(ax2, theoretical, rs[ok][order], labels[ok][order],
             np.abs(rs[ok][order]), n_labels)
    ax2.plot(theoretical, theoretical, color="grey", linestyle=":", linewidth=0.8)
    ax2.set(xlabel="Theoretical quantiles", ylabel="Standardized residuals",
            title="Normal Q-Q")

    root = np.sqrt(np.abs(rs[ok]))
    _scatter(ax3, fitted[ok], root, labels[ok], root, n_labels)
    _trend(ax3, fitted[ok], root)
    ax3.set(xlabel=fitted_label, ylabel=r"$\sqrt{|\mathrm{Standardized\ residuals}|}$",
            title="Scale-Location")

    cook = rs[ok] ** 2 * h[ok] / (p * (1.0 - h[ok]))
    _scatter(ax4, h[ok], rs[ok], labels[ok], cook, n_labels)
    _cook_contours(ax4, h[ok], rs[ok], p)
    ax4.axhline(0.0, color="grey", linestyle=":", linewidth=0.8)
    ax4.set(xlabel="Leverage", ylabel="Standardized residuals",
            title="Residuals vs Leverage")
    fig.tight_layout()
    return fig


def _scatter(ax, x, y, labels, extremeness, n_labels: int) -> None:
    """Open circles, the ``n_labels`` most extreme ones labelled (plot.lm's ``id.n``)."""
    ax.scatter(x, y, s=14, facecolors="none", edgecolors="C0")
    for k in np.argsort(-extremeness, kind="stable")[:n_labels]:
        ax.annotate(str(labels[k]), (x[k], y[k]), xytext=(4, 0),
                    textcoords="offset points", fontsize=8, va="center")


def _trend(ax, x, y) -> None:
    """The running median of y over x in place of plot.lm's lowess smoother."""
    centres, medians = _binned_quantiles(x, y, (0.5,))
    ax.plot(centres, medians[0], color="C3", linewidth=1)


def _cook_contours(ax, h, rs, p: int) -> None:
    """plot.lm's dashed curves of constant Cook's distance, ``+-sqrt(D p (1 - h) / h)``,
    cut at the points' own range (they run off to infinity near h = 0)."""
    lo, hi = float(np.min(h)), float(np.max(h))
    hh = np.linspace(min(lo, hi / 100.0), hi, 101)
    hh = hh[hh > 0]
    for level in COOK_LEVELS:
        bound = np.sqrt(level * p * (1.0 - hh) / hh)
        ax.plot(hh, bound, color="C3", linestyle="--", linewidth=0.8,
                label=f"Cook's distance {level:g}")
        ax.plot(hh, -bound, color="C3", linestyle="--", linewidth=0.8)
    reach = 1.1 * float(np.max(np.abs(rs)))
    ax.set_ylim(-reach, reach)


def _binned_quantiles(x, y, quantiles, max_bins: int = 20):
    """Quantiles of y within groups of x: one group per value when x takes few values
    (DHARMa's ``asFactor`` rule: fewer than 10 values with more than 10 observations
    each), else equal-count bins of x (about 25 observations each, 3 to ``max_bins``).

    Returns (centres, values): the mean x of each group, and a (len(quantiles), groups)
    array of the quantiles of y (R's type 7)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    distinct, group = np.unique(x, return_inverse=True)
    if not (len(distinct) < 10 and len(x) / len(distinct) > 10):
        n_bins = int(np.clip(len(x) // 25, 3, max_bins))
        rank = np.argsort(np.argsort(x, kind="stable"), kind="stable")
        group = rank * n_bins // len(x)
    groups = np.unique(group)
    centres = np.array([np.mean(x[group == g]) for g in groups])
    values = np.array([[np.quantile(y[group == g], q) for g in groups] for q in quantiles])
    return centres, values


def plot_influence(model_or_influence, groups: str | None = None, dfbetas: bool = False,
                   n_labels: int = 3, progress: bool = False) -> Figure:
    """Cook's distance of each deleted unit, and optionally its dfbetas, by exact deletion.

    lme4 has no plot for ``influence(m, groups)``; this is the index plot R users draw
    with ``car::infIndexPlot`` or influence.ME's ``plot(..., which = "cook")``: a needle
    for each unit's ``cooks.distance(influence(m))`` with the usual ``4 / n`` guide
    (n units), the ``n_labels`` largest labelled; with ``dfbetas=True`` one more panel per
    fixed effect with the units' ``dfbetas`` and guides at ``+-2 / sqrt(n)``.

    Parameters
    ----------
    model_or_influence : LmerMod, GlmerMod or Influence
        A fitted model, refitted here without each unit (:func:`pylmer.influence`), or
        the :class:`~pylmer.Influence` such refits already gave.
    groups : str, optional
        With a model: delete the levels of this column instead of single observations.
    dfbetas : bool
        Also draw the dfbetas panels.
    n_labels : int
        How many of the largest distances to label.
    progress : bool
        With a model: show the refits' progress bar.

    Returns
    -------
    matplotlib.figure.Figure
        One axes (Cook's distance), plus one per fixed effect with ``dfbetas=True``.
    """
    plt = _pyplot()
    dfbetas = check_bool(dfbetas, "dfbetas")
    n_labels = check_count(n_labels, "n_labels")
    if isinstance(model_or_influence, Influence):
        if groups is not None:
            raise PylmerError("groups= is for a model; an Influence already has its units")
        infl = model_or_influence
    else:
        infl = influence(check_model(model_or_influence, "model_or_influence"),
                         groups=groups, progress=progress)
    cook = infl.cooks_distance()
    n = len(cook)
    panels = [("Cook's distance", cook.to_numpy(), [4.0 / n])]
    if dfbetas:
        table = infl.dfbetas()
        panels += [(f"dfbetas: {c}", table[c].to_numpy(), [-2 / np.sqrt(n), 2 / np.sqrt(n)])
                   for c in table.columns]
    fig, axes = plt.subplots(len(panels), 1, squeeze=False, sharex=True,
                             figsize=(max(6.0, 0.2 * n), 2.6 * len(panels) + 0.6))
    x, labels = np.arange(n), [str(u) for u in cook.index]
    for k, (ax, (title, values, guides)) in enumerate(zip(axes[:, 0], panels)):
        ax.vlines(x, 0.0, values, color="C0", linewidth=1)
        ax.scatter(x, values, color="C0", s=12, zorder=3)
        for g in guides:
            ax.axhline(g, color="C3", linestyle="--", linewidth=0.8)
        ax.set_title(title, fontsize="medium")
        if k == 0:
            for i in np.argsort(-values, kind="stable")[:n_labels]:
                ax.annotate(labels[i], (x[i], values[i]), xytext=(3, 3),
                            textcoords="offset points", fontsize=8)
    if n <= 40:
        axes[-1, 0].set_xticks(x)
        axes[-1, 0].set_xticklabels(labels, rotation=90, fontsize=8)
    axes[-1, 0].set_xlabel("deleted unit")
    fig.tight_layout()
    return fig


def plot_simulated_residuals(res: SimulatedResiduals,
                             quantiles=(0.25, 0.5, 0.75)) -> Figure:
    """DHARMa's two-panel plot of simulated residuals (R: ``plot(simulateResiduals(m))``).

    Left (``plotQQunif``): the sorted scaled residuals (y) against the uniform quantiles
    ``ppoints(n)`` (x) with the line y = x, and the p-values of :func:`testUniformity`
    (KS) and :func:`testDispersion`, red when below 0.05. Right (``plotResiduals``): the
    scaled residuals against the rank-transformed predictions (``rank / max(rank)`` of
    ``fitted_predicted``), dashed lines at ``quantiles`` and the residuals' quantiles
    within bins of the predictions as solid lines (DHARMa fits quantile regressions with
    qgam here; binned quantiles show the same departures without a smoother). Residuals
    at 0 or 1 (outside every simulation) are drawn as stars.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: the QQ plot and the residuals against the predictions.
    """
    plt = _pyplot()
    if not isinstance(res, SimulatedResiduals):
        raise TypeError(f"res must be simulated residuals (what simulate_residuals() "
                        f"returns), got {type(res).__name__}")
    quantiles = _check_quantiles(quantiles)
    r = res.scaled_residuals.to_numpy()
    fig, (qq, vs) = plt.subplots(1, 2, figsize=(10, 4.6))

    qq.scatter(_ppoints(len(r)), np.sort(r), marker="^", s=12, facecolors="none",
               edgecolors="black")
    qq.plot([0, 1], [0, 1], color="C3", linewidth=1)
    for where, test, name in [((0.02, 0.98), testUniformity(res), "KS test"),
                              ((0.35, 0.55), testDispersion(res), "Dispersion test")]:
        verdict = "significant" if test.p_value < 0.05 else "n.s."
        qq.text(*where, f"{name}: p = {test.p_value:.5g}\nDeviation {verdict}",
                transform=qq.transAxes, va="top", fontsize=8,
                color=SIGNAL if test.p_value < 0.05 else "black")
    qq.set(xlim=(0, 1), ylim=(0, 1), xlabel="Expected", ylabel="Observed",
           title="QQ plot residuals")

    predicted = stats.rankdata(res.fitted_predicted.to_numpy(), method="average")
    x = predicted / predicted.max()  # DHARMa's rankTransform
    outside = (r == 0) | (r == 1)
    vs.scatter(x[~outside], r[~outside], s=12, facecolors="none", edgecolors="black")
    vs.scatter(x[outside], r[outside], marker="*", s=30, color=SIGNAL)
    centres, values = _binned_quantiles(x, r, quantiles)
    for q, line in zip(quantiles, values):
        vs.axhline(q, color="grey", linestyle="--", linewidth=0.8)
        vs.plot(centres, line, color="C3", linewidth=1.5, label=f"{q:g} quantile")
    vs.set(xlim=(0, 1.02), ylim=(0, 1), yticks=(0, *quantiles, 1),
           xlabel="Model predictions (rank transformed)", ylabel="DHARMa residual",
           title="DHARMa residual vs. predicted")
    fig.suptitle("DHARMa residual")
    fig.tight_layout()
    return fig


def _check_quantiles(quantiles) -> tuple[float, ...]:
    try:
        values = tuple(float(q) for q in quantiles)
    except (TypeError, ValueError):
        raise TypeError(f"quantiles must be numbers between 0 and 1, got {quantiles!r}") \
            from None
    if not values or not all(0 < q < 1 for q in values):
        raise PylmerError(f"quantiles must be numbers strictly between 0 and 1, got "
                          f"{quantiles!r}")
    return values
