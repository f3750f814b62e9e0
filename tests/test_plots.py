"""Diagnostic plots (pylmer.plots): structure of the returned figures, not their pixels."""

from itertools import pairwise

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.figure import Figure
from scipy import stats

import pylmer
from pylmer.plots import (
    dotplot_ranef,
    plot_profile,
    plot_residuals,
    qqplot_ranef,
    qqplot_residuals,
)

Z95 = 1.959963984540054


@pytest.fixture(scope="module")
def sleep():
    return pylmer.lmer("Reaction ~ Days + (Days | Subject)", pylmer.load_dataset("sleepstudy"))


@pytest.fixture(scope="module")
def dyestuff_ml():
    return pylmer.lmer("Yield ~ 1 + (1 | Batch)", pylmer.load_dataset("Dyestuff"), REML=False)


@pytest.fixture(scope="module")
def cbpp():
    return pylmer.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                        pylmer.load_dataset("cbpp"))


@pytest.fixture(scope="module")
def two_groups():
    return pylmer.lmer("diameter ~ 1 + (1 | plate) + (1 | sample)",
                       pylmer.load_dataset("Penicillin"))


@pytest.fixture(scope="module")
def grouse():
    """INDEX has 403 levels, BROOD 118, LOCATION 63."""
    return pylmer.glmer("TICKS ~ YEAR + (1|INDEX) + (1|BROOD) + (1|LOCATION)",
                        pylmer.load_dataset("grouseticks"), family="poisson")


@pytest.fixture
def figure():
    """Collects the figures a test makes and closes them afterwards."""
    made = []

    def keep(fig):
        made.append(fig)
        return fig

    yield keep
    for fig in made:
        plt.close(fig)


def points(ax):
    """(x, y) of the scatter points on ``ax``."""
    (coll,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    xy = np.asarray(coll.get_offsets())
    return xy[:, 0], xy[:, 1]


def intervals(ax):
    """Horizontal segments on ``ax`` as arrays (y, x0, x1)."""
    (coll,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    segs = np.array([np.asarray(s) for s in coll.get_segments()])
    return segs[:, 0, 1], segs[:, 0, 0], segs[:, 1, 0]


def test_dotplot_panels_and_points(sleep, figure):
    fig = figure(dotplot_ranef(sleep))
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2
    assert [ax.get_title() for ax in fig.axes] == ["(Intercept)", "Days"]
    for ax in fig.axes:
        x, _ = points(ax)
        assert len(x) == 18 and len(intervals(ax)[0]) == 18
        assert any(line.get_xdata()[0] == 0 for line in ax.lines)  # the zero reference


def test_dotplot_intervals_are_modes_plus_minus_z_condsd(sleep, figure):
    re = sleep.ranef(condVar=True)
    modes, sd = re["Subject"], re.condsd("Subject")
    order = np.argsort(modes["(Intercept)"].to_numpy(), kind="stable")
    fig = figure(dotplot_ranef(sleep, "Subject"))
    for ax, column in zip(fig.axes, modes.columns):
        x, _ = points(ax)
        _, lo, hi = intervals(ax)
        np.testing.assert_allclose(x, modes[column].to_numpy()[order])
        np.testing.assert_allclose(hi - lo, 2 * Z95 * sd[column].to_numpy()[order], rtol=1e-9)
        np.testing.assert_allclose((hi + lo) / 2, x)


def test_dotplot_level(sleep, figure):
    sd = sleep.ranef(condVar=True).condsd("Subject")["Days"].to_numpy()
    fig = figure(dotplot_ranef(sleep, level=0.5))
    _, lo, hi = intervals(fig.axes[1])
    np.testing.assert_allclose(np.sort(hi - lo), np.sort(2 * 0.6744897501960817 * sd))
    with pytest.raises(ValueError, match="level"):
        dotplot_ranef(sleep, level=95)


def test_dotplot_levels_sorted_by_first_column(sleep, figure):
    modes = sleep.ranef(condVar=True)["Subject"]
    fig = figure(dotplot_ranef(sleep))
    x, y = points(fig.axes[0])
    assert np.all(np.diff(x) >= 0)
    np.testing.assert_array_equal(y, np.arange(18))
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    expected = [str(v) for v in modes.sort_values("(Intercept)").index]
    assert labels == expected
    # the Days panel keeps the same level order, so its values are not sorted
    days, _ = points(fig.axes[1])
    np.testing.assert_allclose(days, modes.loc[modes.sort_values("(Intercept)").index, "Days"])


def test_group_argument(two_groups, figure):
    default = figure(dotplot_ranef(two_groups))
    assert default._suptitle.get_text() == next(iter(two_groups.ranef()))
    fig = figure(dotplot_ranef(two_groups, group="sample"))
    assert len(fig.axes) == 1 and len(points(fig.axes[0])[0]) == 6
    fig = figure(dotplot_ranef(two_groups, group="plate"))
    assert len(points(fig.axes[0])[0]) == 24


@pytest.mark.parametrize("plot", [dotplot_ranef, qqplot_ranef])
def test_bad_group_names_the_available_ones(sleep, plot):
    with pytest.raises(ValueError, match="Subject") as err:
        plot(sleep, group="Nope")
    assert "Nope" in str(err.value)


def test_residual_plot(sleep, figure):
    fig = figure(plot_residuals(sleep))
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    x, y = points(ax)
    assert len(x) == 180
    np.testing.assert_allclose(x, sleep.fitted().to_numpy())
    np.testing.assert_allclose(y, sleep.residuals(type="pearson").to_numpy())
    assert any(np.all(np.asarray(line.get_ydata()) == 0) for line in ax.lines)


def test_qqplot(sleep, figure):
    fig = figure(qqplot_ranef(sleep))
    assert len(fig.axes) == 2
    modes = sleep.ranef(condVar=True)["Subject"]
    for ax, column in zip(fig.axes, modes.columns):
        x, y = points(ax)
        assert len(x) == 18
        np.testing.assert_allclose(x, np.sort(modes[column].to_numpy()))
        assert np.all(np.diff(y) > 0)
        np.testing.assert_allclose(y, -y[::-1])  # symmetric normal quantiles
        np.testing.assert_allclose(y[0], -1.9145058, atol=1e-6)  # R: qnorm(0.5 / 18)


def test_profile_plot_from_model_and_frame(dyestuff_ml, figure):
    prof = dyestuff_ml.profile()
    names = list(dict.fromkeys(prof["parameter"]))
    for source in (dyestuff_ml, prof):
        fig = figure(plot_profile(source))
        assert isinstance(fig, Figure) and len(fig.axes) == 3
        assert [ax.get_title() for ax in fig.axes] == names
        for ax, name in zip(fig.axes, names):
            part = prof[prof["parameter"] == name]
            (curve, *refs) = ax.lines
            assert len(curve.get_xdata()) == len(part)
            assert np.all(np.diff(curve.get_xdata()) > 0)
            levels = sorted(float(line.get_ydata()[0]) for line in refs)
            np.testing.assert_allclose(levels, [-Z95, Z95])


def test_profile_plot_rejects_bad_frame(dyestuff_ml):
    bad = dyestuff_ml.profile().drop(columns="zeta")
    with pytest.raises(ValueError, match="zeta"):
        plot_profile(bad)


def test_glmm(cbpp, figure):
    fig = figure(dotplot_ranef(cbpp))
    assert len(fig.axes) == 1
    x, _ = points(fig.axes[0])
    assert len(x) == 15
    sd = cbpp.ranef(condVar=True).condsd("herd")["(Intercept)"].to_numpy()
    _, lo, hi = intervals(fig.axes[0])
    np.testing.assert_allclose(np.sort(hi - lo), np.sort(2 * Z95 * sd))
    fig = figure(plot_residuals(cbpp))
    assert len(points(fig.axes[0])[0]) == 56
    fig = figure(qqplot_ranef(cbpp))
    assert len(fig.axes) == 1 and len(points(fig.axes[0])[0]) == 15


def test_missing_matplotlib_message(monkeypatch, sleep):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pylmer\[plot\] \(matplotlib\)"):
        plot_residuals(sleep)


# --------------------------------------------------------------------------- many levels


def ticklabels(ax):
    return [t.get_text() for t in ax.get_yticklabels()]


def test_dotplot_caps_a_large_factor_at_the_most_extreme_levels(grouse, figure):
    modes = grouse.ranef(condVar=True)["INDEX"]["(Intercept)"]
    assert len(modes) == 403
    fig = figure(dotplot_ranef(grouse, group="INDEX"))
    (ax,) = fig.axes
    x, y = points(ax)
    assert len(x) == 40 and len(intervals(ax)[0]) == 40
    np.testing.assert_array_equal(y, np.arange(40))
    assert np.all(np.diff(x) >= 0)
    # the 40 largest |mode|, either sign
    extreme = modes.abs().sort_values(ascending=False, kind="stable").index[:40]
    assert set(ticklabels(ax)) == {str(v) for v in extreme}
    np.testing.assert_allclose(x, np.sort(modes[extreme].to_numpy()))
    assert fig._suptitle.get_text() == "INDEX: 40 most extreme of 403 levels (363 not shown)"
    assert ax.get_ylabel() == "INDEX"


def test_dotplot_default_group_is_the_first_factor(grouse, figure):
    fig = figure(dotplot_ranef(grouse, max_levels=25))
    assert fig._suptitle.get_text().startswith("INDEX: 25 most extreme of 403 levels")
    assert len(points(fig.axes[0])[0]) == 25


def test_dotplot_pages(grouse, figure):
    modes = grouse.ranef(condVar=True)["BROOD"]["(Intercept)"]
    ordered = [str(v) for v in modes.sort_values(kind="stable").index]
    seen = []
    for page in (1, 2, 3):
        fig = figure(dotplot_ranef(grouse, group="BROOD", page=page))
        seen += ticklabels(fig.axes[0])
    assert seen == ordered  # 40 + 40 + 38 levels, in order, each once
    assert fig._suptitle.get_text() == ("BROOD: levels 81-118 of 118 (page 3 of 3; "
                                        "80 not shown)")
    with pytest.raises(ValueError, match="page must be an integer from 1 to 3"):
        dotplot_ranef(grouse, group="BROOD", page=4)
    with pytest.raises(ValueError, match="page must be an integer"):
        dotplot_ranef(grouse, group="BROOD", page=0)


def test_dotplot_all_levels_on_request(grouse, figure):
    fig = figure(dotplot_ranef(grouse, group="LOCATION", max_levels=None))
    assert len(points(fig.axes[0])[0]) == 63
    assert fig._suptitle.get_text() == "LOCATION"
    with pytest.raises(ValueError, match="max_levels"):
        dotplot_ranef(grouse, max_levels=0)


def test_dotplot_small_factor_is_not_capped(sleep, figure):
    fig = figure(dotplot_ranef(sleep, max_levels=18, page=1))
    assert fig._suptitle.get_text() == "Subject" and len(points(fig.axes[0])[0]) == 18
    with pytest.raises(ValueError, match="all 18 levels fit on page 1"):
        dotplot_ranef(sleep, page=2)
    # capped with two columns: both panels show the same levels
    fig = figure(dotplot_ranef(sleep, max_levels=6))
    assert len(fig.axes) == 2
    assert [len(points(ax)[0]) for ax in fig.axes] == [6, 6]
    assert "6 most extreme of 18 levels (12 not shown)" in fig._suptitle.get_text()


def test_large_factor_renders_readably(grouse, figure, tmp_path):
    """The labels of a capped plot do not overlap (each tick has its own row)."""
    fig = figure(dotplot_ranef(grouse))
    path = tmp_path / "index.png"
    fig.savefig(path, dpi=80)
    assert path.stat().st_size > 1000
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in fig.axes[0].get_yticklabels()]
    boxes.sort(key=lambda b: b.y0)
    assert all(lo.y1 <= hi.y0 + 0.5 for lo, hi in pairwise(boxes))


# --------------------------------------------------------------------------- residual plots


def test_qqplot_residuals(sleep, figure):
    fig = figure(qqplot_residuals(sleep))
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    x, y = points(ax)
    assert len(x) == 180
    r = sleep.residuals(type="pearson", scaled=True).to_numpy()
    np.testing.assert_allclose(y, np.sort(r))
    np.testing.assert_allclose(x, stats.norm.ppf((np.arange(1, 181) - 0.5) / 180))
    assert ax.get_xlabel() == "Standard normal quantiles"
    assert ax.get_ylabel() == "Standardized residuals"
    # lattice's qqmathline: through the (normal, sample) quartile pairs
    (line,) = ax.lines
    (x0, x1), (y0, y1) = line.get_xdata(), line.get_ydata()
    slope = (y1 - y0) / (x1 - x0)
    q1, q3 = np.quantile(r, [0.25, 0.75])
    z1, z3 = stats.norm.ppf([0.25, 0.75])
    np.testing.assert_allclose([y0 + slope * (z1 - x0), y0 + slope * (z3 - x0)], [q1, q3])
    assert not ax.texts


def test_qqplot_residuals_id_labels(sleep, figure):
    fig = figure(qqplot_residuals(sleep, id=0.05))
    r = sleep.residuals(type="pearson", scaled=True)
    beyond = r[np.abs(r) > 1.959963984540054]
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == sorted(str(i) for i in beyond.index) and len(texts) == 5
    with pytest.raises(ValueError, match="id"):
        qqplot_residuals(sleep, id=2)


def test_ppoints_as_r():
    from pylmer.plots import _ppoints

    # R: ppoints(5), ppoints(11)[1:2]
    np.testing.assert_allclose(_ppoints(5), [0.1190476, 0.3095238, 0.5, 0.6904762, 0.8809524],
                               atol=1e-7)
    np.testing.assert_allclose(_ppoints(11)[:2], [0.04545455, 0.13636364], atol=1e-8)


def test_residual_plot_labels(sleep, figure):
    ax = figure(plot_residuals(sleep)).axes[0]
    assert ax.get_xlabel() == "Fitted values" and ax.get_ylabel() == "Pearson residuals"


def test_glmm_residual_plots(cbpp, figure):
    fig = figure(qqplot_residuals(cbpp))
    x, y = points(fig.axes[0])
    assert len(x) == 56
    np.testing.assert_allclose(y, np.sort(cbpp.residuals(type="pearson", scaled=True)))
