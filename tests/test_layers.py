"""The package's imports flow one way.

An AST walk over ``pylmer/`` reads every import, at module level and inside functions
alike (an import hidden in a function is still a dependency). The tests check:

- the modules' import graph has no cycle;
- no private name (``_x``) is imported from another package of pylmer;
- each layer imports only from the layers below it (``LAYERS``);
- every module is small (at most 600 lines), the compiled sources included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "pylmer"

# From the bottom up. A module may import from its own layer and those below; a package
# named here stands for all its modules. ``__init__`` (the public names) and the command
# line sit above everything.
LAYERS = [
    {"exceptions", "rstyle", "validate", "control", "links", "family", "datasets", "linalg",
     "optimize", "neldermead", "convergence", "formula", "printing", "design", "_kernels",
     "_pirls", "_response", "_families"},
    {"lformula", "objective", "scalar_pirls", "pwrss", "response", "agq", "pirls"},
    {"fitting"},
    {"predict", "inference"},
    {"results"},
    {"modular", "outofcore"},
    {"api", "plots", "diagnostic_plots", "many"},
    {"cli", "__init__"},
]


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
