"""The documentation's figures, drawn by pylmer itself.

Two sets:

- **The vignettes' figures**, vignettes/figures/*.png, committed with the vignettes so that
  they show on GitHub as well as on the site. Each is drawn by the vignette's own code:
  ``python scripts/docs_figures.py`` (run by ``make docs``) executes every vignette's
  ```` ```python ```` blocks in order, as a reader would, and saves the figures a block draws
  to the images linked right after it, ``![...](figures/NAME.png)``, in order. A file is
  rewritten only when its picture changed. ``python scripts/docs_figures.py sleepstudy``
  redraws one vignette's figures.
- **docs/plots.md's figures**, docs/figures/*.png (not committed): drawn from the shipped
  data sets before each site build, by this file as an mkdocs hook (``on_pre_build``).

As a hook this file also publishes vignettes/figures/ on the site (``on_files``): each page
of docs/vignettes/ includes vignettes/<name>.md, so a link ``figures/NAME.png`` resolves to
vignettes/figures/NAME.png on the site and on GitHub alike.
"""

from __future__ import annotations

import contextlib
import doctest
import io
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VIGNETTES = ROOT / "vignettes"
FIGURES = VIGNETTES / "figures"

FENCE = re.compile(r"^(`{3,})\s*(\S*)")
IMAGE = re.compile(r"!\[[^\]]*\]\(\s*([^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")


# --------------------------------------------------------------------------- pages


def fenced_blocks(text: str) -> list[tuple[int, str, str, str, int]]:
    """Every fenced block of a Markdown text: (line number of its first code line, info word,
    opening line, code without a final newline, line number of its closing fence)."""
    blocks, lines = [], text.splitlines()
    k = 0
    while k < len(lines):
        opening = FENCE.match(lines[k])
        if not opening:
            k += 1
            continue
        fence, info = opening.groups()
        end = k + 1
        while end < len(lines) and lines[end].strip() != fence:
            end += 1
        if end == len(lines):
            raise ValueError(f"line {k + 1}: code block never closed")
        blocks.append((k + 2, info, lines[k], "\n".join(lines[k + 1:end]), end + 1))
        k = end + 1
    return blocks


def python_blocks_with_images(text: str) -> list[tuple[int, str, list[str]]]:
    """The ```python blocks of a Markdown page, each with the images linked after it.

    Returns (line number of the block's first code line, code, image paths) for each block;
    the images are those linked between the end of the block and the next fenced block.
    """
    lines = text.splitlines()
    blocks = fenced_blocks(text)
    out = []
    for k, (start, info, _, code, end) in enumerate(blocks):
        if info != "python":
            continue
        following = blocks[k + 1][0] - 2 if k + 1 < len(blocks) else len(lines)
        images = [link for line in lines[end:following] for link in IMAGE.findall(line)]
        out.append((start, code + "\n", images))
    return out


def linked_images(text: str) -> list[str]:
    """Every image a Markdown page links, outside code blocks."""
    inside = {k for start, _, _, _, end in fenced_blocks(text) for k in range(start - 2, end)}
    return [link for k, line in enumerate(text.splitlines()) if k not in inside
            for link in IMAGE.findall(line)]


def run_page(path: Path, after_block=None) -> None:
    """Run a page's python blocks in order in one namespace, their printing swallowed.

    ``after_block(lineno, images, figures)`` is called after each block with the images
    linked after it and the matplotlib figures the block opened.
    """
    import matplotlib.pyplot as plt

    namespace = {"__name__": f"page_{path.stem}"}
    for lineno, code, images in python_blocks_with_images(path.read_text(encoding="utf-8")):
        before = set(plt.get_fignums())
        if code.lstrip().startswith(">>>"):
            examples = doctest.DocTestParser().get_examples(code)
            code = "".join(example.source for example in examples)
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile("\n" * (lineno - 1) + code, str(path), "exec"), namespace)  # noqa: S102
        figures = [plt.figure(n) for n in plt.get_fignums() if n not in before]
        if after_block is not None:
            after_block(lineno, images, figures)
    plt.close("all")


# --------------------------------------------------------------------------- saving


def png_bytes(fig, dpi: int = 90) -> bytes:
    """The figure as PNG; no software version in the metadata, so that the same picture
    gives the same bytes under any matplotlib release."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``data`` unless the file holds it already (keeps mkdocs serve from looping)."""
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def draw_vignette_figures(names: list[str] | None = None) -> list[Path]:
    """Run the vignettes (all, or those named) and save their figures; the files written."""
    import matplotlib

    matplotlib.use("Agg")
    written: list[Path] = []
    paths = sorted(VIGNETTES.glob("*.md"))
    if names:
        unknown = set(names) - {p.stem for p in paths}
        if unknown:
            raise SystemExit(f"no vignette named {', '.join(sorted(unknown))}")
        paths = [p for p in paths if p.stem in names]
    for path in paths:
        def save(lineno, images, figures, path=path):
            if len(images) != len(figures):
                raise SystemExit(f"{path.name}:{lineno}: the block draws {len(figures)} "
                                 f"figure(s) and {len(images)} image(s) follow it")
            for image, fig in zip(images, figures):
                target = (path.parent / image).resolve()
                if FIGURES not in target.parents:
                    raise SystemExit(f"{path.name}: {image} is not under vignettes/figures/")
                if write_if_changed(target, png_bytes(fig)):
                    written.append(target)

        run_page(path, save)
    return written


# --------------------------------------------------------------------------- mkdocs hook


def on_pre_build(config, **kwargs):
    """docs/plots.md's and docs/checking.md's figures, from the current code."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pylmer import glmer, influence, lmer, load_dataset, simulate_residuals
    from pylmer.diagnostic_plots import plot_diagnostics, plot_influence, plot_simulated_residuals
    from pylmer.plots import dotplot_ranef, plot_profile, plot_residuals, qqplot_ranef

    out = Path(config["docs_dir"]) / "figures"
    sleep = lmer("Reaction ~ Days + (Days | Subject)", load_dataset("sleepstudy"))
    dyestuff = lmer("Yield ~ 1 + (1 | Batch)", load_dataset("Dyestuff"))
    ticks = glmer("TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | LOCATION)",
                  load_dataset("grouseticks"), family="poisson")
    figures = {
        "dotplot_ranef.png": dotplot_ranef(sleep),
        "qqplot_ranef.png": qqplot_ranef(sleep),
        "plot_residuals.png": plot_residuals(sleep),
        "plot_profile.png": plot_profile(dyestuff),
        # checking.md's, drawn by the page's own calls
        "plot_diagnostics.png": plot_diagnostics(sleep),
        "plot_influence.png": plot_influence(influence(sleep, groups="Subject")),
        "plot_simulated_residuals.png": plot_simulated_residuals(
            simulate_residuals(ticks, n_sim=250, seed=1)),
    }
    for name, fig in figures.items():
        write_if_changed(out / name, png_bytes(fig))
        plt.close(fig)


def on_files(files, config, **kwargs):
    """Publish vignettes/figures/*.png at vignettes/figures/ of the site, beside the pages
    that include the vignettes."""
    from mkdocs.structure.files import File

    for png in sorted(FIGURES.glob("*.png")):
        files.append(File(f"vignettes/figures/{png.name}", src_dir=str(ROOT),
                          dest_dir=config["site_dir"],
                          use_directory_urls=config["use_directory_urls"]))
    return files


if __name__ == "__main__":
    changed = draw_vignette_figures(sys.argv[1:])
    for target in changed:
        print(f"wrote {target.relative_to(ROOT)}")
    if not changed:
        print("vignette figures up to date")
