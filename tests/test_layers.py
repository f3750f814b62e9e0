"""The package's imports flow one way.

An AST walk over ``pylmer/`` reads every import, at module level and inside functions
alike (an import hidden in a function is still a dependency). The tests check:

- the modules' import graph has no cycle;
- no private name (``_x``) is imported from another package of pylmer;
- each layer imports only from the layers below it (``LAYERS``);
- every module is small (at most 600 lines), the compiled sources included;
- the test files mirror the modules: each tests/test_*.py is named after the module it
  tests (pylmer/a.py: test_a.py, pylmer/pkg/b.py: test_pkg_b.py, a package's
  ``__init__``: test_pkg.py; a compiled pylmer/_x.pyx is tested with the module that wraps
  it) or is about the package as a whole and listed in ``CROSS_CUTTING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "pylmer"
TESTS = Path(__file__).resolve().parent

# From the bottom up. A module may import from its own layer and those below; a package
# named here stands for all its modules. ``__init__`` (the public names) and the command
# line sit above everything.
LAYERS = [
    {"exceptions", "rstyle", "validate", "control", "links", "family", "datasets", "linalg",
     "lazy", "optimize", "neldermead", "convergence", "formula", "printing", "design", "_kernels",
     "_pirls", "_response", "_families"},
    {"lformula", "objective", "scalar_pirls", "pwrss", "response", "agq", "pirls"},
    {"fitting"},
    {"predict", "inference"},
    {"results"},
    {"modular", "outofcore"},
    {"api", "plots", "diagnostic_plots", "many"},
    {"cli", "__init__"},
]

# The test files about the package as a whole rather than one module, and why.
CROSS_CUTTING = {
    "test_bad_input.py": "bad input at every public entry point gets an error naming it",
    "test_cluster.py": "lmer_many and bootMer on one real Dask LocalCluster, shared",
    "test_diagnostics_reference.py": "the checks after a fit against R's numbers",
    "test_families_reference.py": "NB, Beta and ordinal fits against glmmTMB, lme4, ordinal",
    "test_formula_extra.py": "the formula path, lFormula to lmer, against lme4 (differential)",
    "test_formula_extra2.py": "formula handling, glmer and predict against lme4 (round 2)",
    "test_formula_properties.py": "random formulas through the front end: fit or refuse",
    "test_formula_reference.py": "R's formula functions through lFormula, lmer, predict vs lme4",
    "test_formula_safety.py": "no formula, argument or CLI text runs Python, at any entry",
    "test_glmer_behaviour.py": "glmer() end to end beyond the reference set",
    "test_glmer_reference.py": "glmer() against lme4 for every reference GLMM",
    "test_layers.py": "the package's structure: import layers, module sizes, test files",
    "test_lformula_models.py": "lFormula of every reference model against lme4's names, sizes",
    "test_lmer_behaviour.py": "lmer() end to end beyond the reference set",
    "test_lmer_reference.py": "lmer() against lme4 for every reference LMM",
    "test_packaging.py": "the sdist, the declared dependencies, annotations, a fresh install",
    "test_progress.py": "the progress bars of bootMer, profile and confint",
    "test_properties.py": "invariants of the random-effects structure over random data",
    "test_r_migration.py": "docs/r-migration.md's tables and code blocks, run",
    "test_stage2.py": "glmer's stage 2 (PIRLS, Nelder-Mead, checks) against lme4's fits",
    "test_structure.py": "lFormula's reTrms and X against lme4's for every structure model",
    "test_summary.py": "printed LMM summary, model and VarCorr against R's text",
    "test_summary_glmm.py": "printed GLMM summary, model and VarCorr against R's text",
    "test_summary_satterthwaite.py": "the printed Satterthwaite summary against lmerTest's",
    "test_vignettes.py": "the vignettes and user-guide pages run and agree with lme4",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(source: str, module: str, is_package: bool = False):
    """(line, imported module or name, names taken) for every pylmer import in ``source``,
    at any depth, resolved to absolute names; imports under ``if TYPE_CHECKING:``
    (annotations only, never run) are left out."""
    tree = ast.parse(source)
    annotations_only = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            annotations_only |= {id(n) for n in ast.walk(node)}
    package = module if is_package else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if id(node) in annotations_only:
            continue
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names if a.name.startswith("pylmer")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("pylmer"):
                out.append((target, [a.name for a in node.names]))
    return out


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in ROOT.rglob("*.py")}


def _mirror_name(module: str) -> str:
    """The test file of a module: pylmer.a.b -> test_a_b.py, pylmer.a (a package) -> test_a.py."""
    return "test_" + "_".join(module.split(".")[1:]) + ".py"


def _mirrors() -> dict[str, str]:
    """Mirror file name -> module, for every module but pylmer's own ``__init__``."""
    modules = [m for m in _modules() if m != "pylmer"]
    mirrors = {_mirror_name(m): m for m in modules}
    assert len(mirrors) == len(modules), "two modules have the same test file name"
    return mirrors


def _graph() -> dict[str, set[str]]:
    """Module -> the pylmer modules it imports (a name imported from a package counts as
    its module when it is one)."""
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for target, names in _imports(path.read_text(), name, path.name == "__init__.py"):
            for candidate in [f"{target}.{n}" for n in names] + [target]:
                while candidate not in modules and "." in candidate:
                    candidate = candidate.rpartition(".")[0]
                if candidate in modules and candidate not in (name, "pylmer"):
                    graph[name].add(candidate)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def _layer_of(module: str) -> int:
    parts = module.split(".")
    key = parts[1] if len(parts) > 1 else "__init__"
    for k, layer in enumerate(LAYERS):
        if key in layer:
            return k
    raise AssertionError(f"{module} is in no layer of tests/test_layers.py: place it")


def test_no_import_cycle():
    assert _cycles(_graph()) == []


def test_each_layer_imports_only_from_below():
    graph = _graph()
    upward = [(m, t) for m, targets in graph.items() for t in targets
              if _layer_of(t) > _layer_of(m)]
    assert upward == []


def test_packages_do_not_import_each_other_both_ways():
    graph = _graph()

    def package(module):
        return module.split(".")[1] if module.count(".") else module

    edges = {(package(m), package(t)) for m, ts in graph.items() for t in ts
             if package(m) != package(t)}
    assert sorted((a, b) for a, b in edges if (b, a) in edges) == []


def test_no_private_name_is_imported_from_another_package():
    """``from pylmer.x import _y`` only within x's own package."""
    leaks = []
    for name, path in _modules().items():
        is_package = path.name == "__init__.py"
        home = name if is_package else name.rpartition(".")[0]
        for target, names in _imports(path.read_text(), name, is_package):
            if target.rpartition(".")[0] != home and target != home:
                leaks += [f"{name}: {target}.{n}" for n in names
                          if n.startswith("_") and not n.startswith("__")]
    assert leaks == []


@pytest.mark.parametrize("path", sorted(p.relative_to(ROOT).as_posix()
                                        for p in [*ROOT.rglob("*.py"), *ROOT.rglob("*.pyx")]))
def test_module_is_at_most_600_lines(path):
    lines = len((ROOT / path).read_text().splitlines())
    assert lines <= 600, f"{path} has {lines} lines"


def test_the_walk_sees_imports_inside_functions_and_skips_annotations():
    """A cycle held together by imports inside functions is a cycle: the walk reads them;
    imports for annotations alone are not dependencies."""
    source = ("from typing import TYPE_CHECKING\n"
              "if TYPE_CHECKING:\n    from .c import C\n"
              "def f():\n    from .b import g\n    return g\n")
    found = {target for target, _ in _imports(source, "pylmer.a")}
    assert found == {"pylmer.b"}


def test_each_test_file_mirrors_a_module_or_is_cross_cutting():
    """Not every module needs a file of its own (some are tested through others), but every
    test file is one module's, or is in CROSS_CUTTING."""
    mirrors = _mirrors()
    strays = sorted(p.name for p in TESTS.glob("test_*.py")
                    if p.name not in mirrors and p.name not in CROSS_CUTTING)
    assert strays == [], (
        f"{strays}: name a test file after the module it tests (pylmer/a/b.py: test_a_b.py) "
        "or, if it is about the package as a whole, add it to CROSS_CUTTING with a reason")


def test_cross_cutting_lists_nothing_else():
    """CROSS_CUTTING names test files that exist and are named after no module."""
    files = {p.name for p in TESTS.glob("test_*.py")}
    assert sorted(set(CROSS_CUTTING) - files) == []
    assert sorted(set(CROSS_CUTTING) & set(_mirrors())) == []
