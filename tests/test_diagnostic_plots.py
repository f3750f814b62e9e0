"""pylmer.diagnostic_plots: the figures' structure and data, not their pixels."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.figure import Figure
from scipy import stats

import pylmer


@pytest.fixture(scope="module")
def sleep():
    return pylmer.lmer("Reaction ~ Days + (Days | Subject)", pylmer.load_dataset("sleepstudy"))


@pytest.fixture(scope="module")
def cbpp():
    return pylmer.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                        pylmer.load_dataset("cbpp"), family="binomial")


@pytest.fixture
def figure():
    """Collects the figures a test makes and closes them afterwards."""
    made = []

    def keep(fig):
        assert isinstance(fig, Figure)
        made.append(fig)
        return fig

    yield keep
    for fig in made:
        plt.close(fig)


def scatters(ax):
    """The (x, y) offsets of each scatter on ``ax``."""
    return [np.asarray(c.get_offsets()) for c in ax.collections
            if isinstance(c, PathCollection)]


def ppoints(n):
    a = 3 / 8 if n <= 10 else 0.5
    return (np.arange(1, n + 1) - a) / (n + 1 - 2 * a)


def test_plot_diagnostics_draws_plot_lms_four_panels(sleep, figure):
    fig = figure(pylmer.plot_diagnostics(sleep))
    assert len(fig.axes) == 4
    fitted, r = sleep.fitted().to_numpy(), sleep.residuals(type="pearson").to_numpy()
    h = pylmer.hatvalues(sleep).to_numpy()
    rs = r / (sleep.sigma() * np.sqrt(1 - h))
    np.testing.assert_allclose(rs, pylmer.rstudent(sleep), rtol=1e-12)  # LMM: the same
    (xy1,), (xy2,), (xy3,), (xy4,) = (scatters(ax) for ax in fig.axes)
    np.testing.assert_allclose(xy1, np.column_stack([fitted, r]))
    np.testing.assert_allclose(xy2, np.column_stack([stats.norm.ppf(ppoints(180)),
                                                     np.sort(rs)]))
    np.testing.assert_allclose(xy3, np.column_stack([fitted, np.sqrt(np.abs(rs))]))
    np.testing.assert_allclose(xy4, np.column_stack([h, rs]))
    # the Cook's distance contours: D = rs^2 h / (p (1 - h)) equals lme4's cooks.distance
    contour = next(line for line in fig.axes[3].lines if "0.5" in line.get_label())
    hh, bound = contour.get_data()
    np.testing.assert_allclose(bound**2 * hh / (2 * (1 - hh)), 0.5, rtol=1e-12)
    cook = rs**2 * h / (2 * (1 - h))
    np.testing.assert_allclose(cook, pylmer.cooks_distance(sleep), rtol=1e-10)
    labels = {t.get_text() for t in fig.axes[3].texts}
    assert labels == {str(i) for i in np.argsort(-cook)[:3]}  # the 3 largest distances


def test_plot_diagnostics_of_a_glmm_uses_the_link_scale_and_warns(cbpp, figure):
    with pytest.warns(pylmer.PylmerWarning, match="hat matrix may not make sense"):
        fig = figure(pylmer.plot_diagnostics(cbpp, n_labels=0))
    assert len(fig.axes) == 4 and not fig.axes[0].texts
    (xy1,) = scatters(fig.axes[0])
    np.testing.assert_allclose(xy1[:, 0], cbpp.predict())  # eta, as plot.lm for a glm
    np.testing.assert_allclose(xy1[:, 1], cbpp.residuals(type="pearson"))


@pytest.fixture(scope="module")
def infl(sleep):
    return pylmer.influence(sleep, groups="Subject")


def test_plot_influence_draws_cooks_distance_per_unit(infl, figure):
    fig = figure(pylmer.plot_influence(infl))
    (ax,) = fig.axes
    cook = infl.cooks_distance().to_numpy()
    (xy,) = scatters(ax)
    np.testing.assert_allclose(xy, np.column_stack([np.arange(18), cook]))
    (needles,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(needles.get_segments()) == 18
    assert [line.get_ydata()[0] for line in ax.lines] == [pytest.approx(4 / 18)]
    labels = {t.get_text() for t in ax.texts}
    assert labels == set(infl.cooks_distance().nlargest(3).index)
    assert [t.get_text() for t in ax.get_xticklabels()] == list(infl.cooks_distance().index)


def test_plot_influence_adds_a_dfbetas_panel_per_fixed_effect(infl, figure):
    fig = figure(pylmer.plot_influence(infl, dfbetas=True))
    assert len(fig.axes) == 3
    for ax, column in zip(fig.axes[1:], ["(Intercept)", "Days"]):
        (xy,) = scatters(ax)
        np.testing.assert_allclose(xy[:, 1], infl.dfbetas()[column])
        assert sorted(line.get_ydata()[0] for line in ax.lines) == pytest.approx(
            [-2 / np.sqrt(18), 2 / np.sqrt(18)])
    with pytest.raises(pylmer.PylmerError, match="groups= is for a model"):
        pylmer.plot_influence(infl, groups="Subject")
    with pytest.raises(TypeError, match="model_or_influence must be a fitted model"):
        pylmer.plot_influence("m")
    with pytest.raises(TypeError, match="dfbetas must be True or False"):
        pylmer.plot_influence(infl, dfbetas="yes")


def test_plot_influence_refits_a_model_itself(figure):
    pen = pylmer.lmer("diameter ~ 1 + (1 | plate)", pylmer.load_dataset("Penicillin"))
    fig = figure(pylmer.plot_influence(pen, groups="plate"))
    (xy,) = scatters(fig.axes[0])
    assert len(xy) == 24  # one needle per plate


def test_plot_simulated_residuals_draws_dharmas_two_panels(cbpp, figure):
    res = pylmer.simulate_residuals(cbpp, seed=1)
    r = res.scaled_residuals.to_numpy()
    fig = figure(pylmer.plot_simulated_residuals(res))
    qq, vs = fig.axes
    (xy,) = scatters(qq)
    np.testing.assert_allclose(xy, np.column_stack([ppoints(56), np.sort(r)]))
    texts = " ".join(t.get_text() for t in qq.texts)
    assert f"{res.test_uniformity().p_value:.5g}" in texts
    assert f"{res.test_dispersion().p_value:.5g}" in texts
    # right: residuals against rank-transformed predictions (4 periods: 4 groups)
    points = np.vstack(scatters(vs))
    rank = stats.rankdata(res.fitted_predicted)
    rank = rank / rank.max()  # DHARMa's rankTransform
    assert sorted(map(tuple, points)) == sorted(zip(rank, r))
    quantile_lines = [line for line in vs.lines if "quantile" in line.get_label()]
    assert len(quantile_lines) == 3
    for q, line in zip((0.25, 0.5, 0.75), quantile_lines):
        x, y = line.get_data()
        np.testing.assert_allclose(x, np.unique(rank))
        np.testing.assert_allclose(y, [np.quantile(r[rank == v], q) for v in np.unique(rank)])
    with pytest.raises(TypeError, match="res must be simulated residuals"):
        pylmer.plot_simulated_residuals(cbpp)
    with pytest.raises(pylmer.PylmerError, match="quantiles"):
        pylmer.plot_simulated_residuals(res, quantiles=(0.5, 1.5))


def test_plot_simulated_residuals_bins_continuous_predictions(sleep, figure):
    res = pylmer.simulate_residuals(sleep, n_sim=50, seed=2)
    fig = figure(pylmer.plot_simulated_residuals(res, quantiles=(0.5,)))
    (median,) = [line for line in fig.axes[1].lines if "quantile" in line.get_label()]
    x, y = median.get_data()
    assert len(x) == 7 and np.all(np.diff(x) > 0)  # 180 // 25 equal-count bins
    assert np.all((y > 0) & (y < 1))
