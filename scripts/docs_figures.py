"""mkdocs hook: draw the figures of docs/plots.md with pylmer.plots before each build.

The figures are made from the shipped data sets on every build (never committed), so the
pictures in the documentation are always those of the current code.
"""

from __future__ import annotations

from pathlib import Path


def on_pre_build(config, **kwargs):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pylmer import lmer, load_dataset
    from pylmer.plots import dotplot_ranef, plot_profile, plot_residuals, qqplot_ranef

    out = Path(config["docs_dir"]) / "figures"
    out.mkdir(exist_ok=True)
    sleep = lmer("Reaction ~ Days + (Days | Subject)", load_dataset("sleepstudy"))
    dyestuff = lmer("Yield ~ 1 + (1 | Batch)", load_dataset("Dyestuff"))
    figures = {
        "dotplot_ranef.png": dotplot_ranef(sleep),
        "qqplot_ranef.png": qqplot_ranef(sleep),
        "plot_residuals.png": plot_residuals(sleep),
        "plot_profile.png": plot_profile(dyestuff),
    }
    for name, fig in figures.items():
        fig.savefig(out / name, dpi=90, bbox_inches="tight")
        plt.close(fig)
