"""The vignettes (vignettes/*.md) and the user-guide pages run, and agree with lme4.

Each page's fenced ```python blocks are executed in order, in one fresh namespace per page.
A block written as a doctest (``>>>`` prompts) is run with doctest, so its shown output is
checked too; so is the output of a block followed by a ```text block titled "pylmer output"
(the vignettes' comparisons with lme4 are such printed tables). The numbers themselves are
held to lme4's with stated tolerances by tests/test_*_reference.py; the vignettes and the
user-guide pages (docs/*.md) speak to readers, so they name no test file and no tolerance
(checked here).
Code fenced as ```r or ```text is never run.

The vignettes' figures: a block that draws matplotlib figures is followed by as many image
links, ``![...](figures/NAME.png)``, one per figure in order; scripts/docs_figures.py
(``make docs``) saves each figure to its link, and every linked image must exist.
"""

from __future__ import annotations

import contextlib
import doctest
import importlib.util
import io
import re
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_docs_figures():
    spec = importlib.util.spec_from_file_location("docs_figures",
                                                  ROOT / "scripts" / "docs_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


docs_figures = _load_docs_figures()
VIGNETTES = sorted((ROOT / "vignettes").glob("*.md"))
# user-guide pages whose examples are run as well (docs/r-migration.md has its own test);
# outofcore.md's examples that need an existing cluster or Dask data to read are fenced
# ```py, not ```python, and are not run
GUIDE = [ROOT / "docs" / f"{name}.md" for name in
         ("index", "families", "convergence", "inference", "prediction", "quadrature",
          "many", "outofcore", "checking")]
fenced_blocks = docs_figures.fenced_blocks


def python_blocks(text: str) -> list[tuple[int, str]]:
    """The ```python blocks of a Markdown text: (line number of the first code line, code)."""
    return [(start, code + "\n") for start, info, _, code, _ in fenced_blocks(text)
            if info == "python"]


def shown_outputs(text: str) -> dict[int, str]:
    """For each ```python block followed directly by a ```text block titled "pylmer output":
    the python block's first code line -> the output the page shows for it."""
    return {start: shown[3] for (start, info, *_), shown in pairwise(fenced_blocks(text))
            if info == "python" and shown[1] == "text" and 'title="pylmer output' in shown[2]}


TIMING = re.compile(r"\b\d+(\.\d+)? (s|ms)\b")


def same_text(printed: str, shown: str) -> bool:
    """Equal up to trailing blanks on each line, blank lines at either end, and timings
    ("3.1 s", "40 ms"), which differ from run to run."""
    def tidy(t):
        lines = t.strip("\n").splitlines()
        return "\n".join(TIMING.sub("<time>", line.rstrip()) for line in lines)
    return tidy(printed) == tidy(shown)


def run_page(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    namespace = {"__name__": f"page_{path.stem}"}
    text = path.read_text(encoding="utf-8")
    blocks = python_blocks(text)
    assert blocks, f"{path.name} has no ```python block"
    shown = shown_outputs(text)
    images = {lineno: links for lineno, _, links in docs_figures.python_blocks_with_images(text)}
    plt.close("all")
    try:
        for lineno, code in blocks:
            before = set(plt.get_fignums())
            if code.lstrip().startswith(">>>"):
                run_doctest(path, lineno, code, namespace)
            else:
                printed = io.StringIO()
                with contextlib.redirect_stdout(printed):
                    # padded, so that a traceback names the line of the Markdown file
                    exec(compile("\n" * (lineno - 1) + code, str(path), "exec"),  # noqa: S102
                         namespace)
                if lineno in shown:  # the page's "pylmer output" is what the code prints today
                    assert same_text(printed.getvalue(), shown[lineno]), (
                        f"{path.name}:{lineno}: the output shown after this block is not what "
                        f"it prints now:\n{printed.getvalue()}")
            drawn = len(set(plt.get_fignums()) - before)
            assert drawn == len(images[lineno]), (
                f"{path.name}:{lineno}: this block draws {drawn} figure(s) and "
                f"{len(images[lineno])} image(s) follow it; each figure a page draws is shown, "
                f"right after the code that draws it")
    finally:
        plt.close("all")


def run_doctest(path: Path, lineno: int, code: str, namespace: dict) -> None:
    test = doctest.DocTestParser().get_doctest(code, namespace, f"{path.name}:{lineno}",
                                               str(path), lineno - 1)
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    result = runner.run(test, out=report.append, clear_globs=False)
    namespace.update(test.globs)  # DocTest works on a copy; later blocks need its names
    assert result.failed == 0, "".join(report)


def page_id(path: Path) -> str:
    return path.stem


@pytest.mark.parametrize("path", VIGNETTES, ids=page_id)
def test_vignette_runs_and_matches_lme4(path):
    run_page(path)


@pytest.mark.parametrize("path", [p for p in GUIDE if p.exists()], ids=page_id)
def test_guide_examples_run(path):
    run_page(path)


def test_vignettes_check_their_numbers():
    """A vignette sets pylmer's numbers beside lme4's in output that is checked: doctests,
    or blocks followed by their "pylmer output"."""
    assert len(VIGNETTES) >= 6
    for path in VIGNETTES:
        text = path.read_text(encoding="utf-8")
        doctests = any(code.lstrip().startswith(">>>") for _, code in python_blocks(text))
        assert doctests or shown_outputs(text), f"{path.name} compares nothing"
        assert "lme4" in text


# what a vignette or a user-guide page says to its readers: nothing about this project's tests
TEST_TALK = re.compile(r"tests/|\brtol\b|\batol\b|test suite|test_\w+\.py|assert_allclose")
# docs/formula.md's opening paragraph still says "the test suite checks them against lme4";
# once it no longer does, drop this mark (strict: the page passing makes the mark fail).
NOT_YET: dict[str, str] = {}
DOC_PAGES = [pytest.param(path, marks=pytest.mark.xfail(reason=NOT_YET[path.name], strict=True))
             if path.name in NOT_YET else path
             for path in sorted((ROOT / "docs").glob("*.md"))]


def _speaks_to_users(path: Path) -> None:
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        found = TEST_TALK.search(line)
        assert not found, f"{path.name}:{lineno}: {found.group()!r} speaks of the tests: {line}"


@pytest.mark.parametrize("path", VIGNETTES, ids=page_id)
def test_vignette_speaks_to_users(path):
    """No test file names, no test tolerances, no "the test suite checks"."""
    _speaks_to_users(path)


@pytest.mark.parametrize("path", DOC_PAGES, ids=page_id)
def test_guide_page_speaks_to_users(path):
    """The same for the site's own pages, docs/*.md (the user guide, the CLI and API pages)."""
    _speaks_to_users(path)


@pytest.mark.parametrize("path", VIGNETTES, ids=page_id)
def test_vignette_images_exist(path):
    """Every image a vignette links is a file of the repository under vignettes/figures/,
    linked relatively (so that it shows on GitHub and on the site)."""
    for link in docs_figures.linked_images(path.read_text(encoding="utf-8")):
        assert "://" not in link and not link.startswith("/"), f"{path.name}: {link}"
        target = (path.parent / link).resolve()
        assert target.is_file(), f"{path.name} links {link}, which does not exist"
        assert docs_figures.FIGURES in target.parents, (
            f"{path.name}: {link} is not under vignettes/figures/")
        assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{link} is not a PNG"


def test_every_vignette_figure_is_linked():
    """No stray file in vignettes/figures/: each is an image some vignette shows."""
    linked = {(path.parent / link).resolve() for path in VIGNETTES
              for link in docs_figures.linked_images(path.read_text(encoding="utf-8"))}
    for png in docs_figures.FIGURES.glob("*"):
        assert png.resolve() in linked, f"vignettes/figures/{png.name} is linked by no vignette"


def test_figure_links_parser():
    page = ("```python\nfig = plot()\n```\n\n![a](figures/a.png)\n![b](figures/b.png \"t\")\n"
            "```text\n![not an image](x.png)\n```\n![c](figures/c.png)\n"
            "```python\nx = 1\n```\n")
    assert docs_figures.python_blocks_with_images(page) == [
        (2, "fig = plot()\n", ["figures/a.png", "figures/b.png"]), (12, "x = 1\n", [])]
    assert docs_figures.linked_images(page) == ["figures/a.png", "figures/b.png",
                                                "figures/c.png"]


def test_every_vignette_is_published():
    """docs/vignettes/<name>.md includes vignettes/<name>.md and mkdocs.yml lists it."""
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for path in VIGNETTES:
        page = ROOT / "docs" / "vignettes" / path.name
        assert page.exists(), f"docs/vignettes/{path.name} is missing"
        assert f'--8<-- "vignettes/{path.name}"' in page.read_text(encoding="utf-8")
        assert f"vignettes/{path.name}" in nav, f"mkdocs.yml does not list {path.name}"


def test_python_blocks_parser():
    text = "# t\n```python\na = 1\n```\n\n```text\nnot code\n```\n````python\nb = 2\n````\n"
    assert python_blocks(text) == [(3, "a = 1\n"), (10, "b = 2\n")]


@pytest.mark.parametrize("path", VIGNETTES + [p for p in GUIDE if p.exists()], ids=page_id)
def test_every_shown_output_is_checked(path):
    """Each "pylmer output" block follows the python block that prints it, so
    run_page compares it with what that code prints."""
    text = path.read_text(encoding="utf-8")
    assert len(shown_outputs(text)) == text.count('title="pylmer output')


def test_shown_output_comparison():
    page = ('```python\nprint(1)\n```\n\n```text title="pylmer output"\n1\n```\n'
            '```python\nx = 2\n```\n```text\nnot pylmer\n```\n')
    assert shown_outputs(page) == {2: "1"}
    assert same_text("fit: 3.1 s  \n", "\nfit: 4.25 s")
    assert not same_text("theta 0.5\n", "theta 0.6")
