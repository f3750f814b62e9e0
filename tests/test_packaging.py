"""Packaging: the sdist (Cython sources, data sets, py.typed, LICENSE; no generated C), the
declared dependencies against pylmer's imports, return annotations of the public functions,
and (slow, needs PyPI) a fresh virtual environment installed from the sdist fitting sleepstudy.
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "pylmer"
NAME, VERSION = "pylmer", "0.1.0"

CYTHON_SOURCES = [
    "pylmer/linalg/_kernels.pyx",
    "pylmer/linalg/_kernels.pxd",
    "pylmer/linalg/_factor.pyx",
    "pylmer/linalg/_factor.pxd",
    "pylmer/_response.pyx",
    "pylmer/_response.pxd",
    "pylmer/_pirls.pyx",
    "pylmer/_families.pyx",
]
# what a copy of the checkout leaves out: VCS, environments, build products, caches
_NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "venv", "build", "dist", "site", "*.egg-info", "__pycache__",
    ".pytest_cache", ".hypothesis", ".tox", ".ruff_cache", "*.so", "*.pyd",
)
# import name -> distribution name, where the two differ
IMPORT_TO_DIST = {"sksparse": "scikit-sparse"}


def _pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)


def _dist_name(requirement: str) -> str:
    """PEP 503-normalized project name of a requirement string ('scikit-sparse>=0.4,<0.5')."""
    name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement).group(1)
    return re.sub(r"[-_.]+", "-", name).lower()


def _build_requirements_present() -> None:
    """--no-isolation builds with this interpreter: skip when its build tools are missing."""
    pytest.importorskip("build")
    pytest.importorskip("Cython")
    import setuptools

    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip(f"setuptools {setuptools.__version__} < 77 (pip install '.[test]')")


def _copy_checkout(dst: Path) -> Path:
    # a copy, so the build writes its egg-info and C files there and not into the checkout;
    # copy2 keeps the times, so up-to-date generated C is not remade (and must not be shipped)
    shutil.copytree(ROOT, dst, ignore=_NOT_SOURCE)
    return dst


def _build_sdist(outdir: Path, workdir: Path) -> Path:
    src = _copy_checkout(workdir / "src")
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(outdir),
         str(src)],
        check=False, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "deprecated" not in (proc.stdout + proc.stderr).lower(), proc.stderr[-4000:]
    (sdist,) = outdir.glob(f"{NAME}-*.tar.gz")
    return sdist


@pytest.fixture(scope="module")
def sdist(tmp_path_factory) -> Path:
    _build_requirements_present()
    work = tmp_path_factory.mktemp("sdist")
    return _build_sdist(work / "dist", work)


# --- metadata -------------------------------------------------------------------------------


def test_pyproject_declares_license_package_data_and_build_requirements():
    meta = _pyproject()
    project = meta["project"]
    # an SPDX expression and the licence file (PEP 639), not the deprecated table
    assert project["license"] == "GPL-2.0-or-later"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "GNU GENERAL PUBLIC LICENSE" in text and "Version 2, June 1991" in text
    assert "END OF TERMS AND CONDITIONS" in text  # the full text, not a stub
    assert (PACKAGE / "py.typed").is_file()
    assert "py.typed" in meta["tool"]["setuptools"]["package-data"]["pylmer"]
    requires = {_dist_name(r) for r in meta["build-system"]["requires"]}
    assert {"setuptools", "cython", "scipy"} <= requires
    manifest = (ROOT / "MANIFEST.in").read_text(encoding="utf-8")
    assert "*.pyx" in manifest and "*.pxd" in manifest


def test_sdist_ships_cython_sources_data_and_typing_marker_not_generated_c(sdist):
    prefix = f"{NAME}-{VERSION}/"
    with tarfile.open(sdist) as tar:
        names = {m.name[len(prefix):] for m in tar.getmembers() if m.isfile()}
        pkg_info = tar.extractfile(prefix + "PKG-INFO").read().decode()
    for path in CYTHON_SOURCES + ["pylmer/py.typed", "LICENSE", "README.md", "setup.py",
                                  "pyproject.toml", "MANIFEST.in"]:
        assert path in names, f"{path} missing from the sdist"
    data = {p.relative_to(ROOT).as_posix()
            for p in (PACKAGE / "datasets" / "data").iterdir() if p.suffix in (".csv", ".json")}
    assert data and data <= names, sorted(data - names)
    # every module of the package
    modules = {p.relative_to(ROOT).as_posix() for p in PACKAGE.rglob("*.py")
               if "__pycache__" not in p.parts}
    assert modules <= names, sorted(modules - names)
    # the C is generated at build time by the Cython of build-system.requires
    assert not [n for n in names if n.endswith((".c", ".so", ".pyd", ".pyc"))]
    assert "License-Expression: GPL-2.0-or-later" in pkg_info
    assert "License-File: LICENSE" in pkg_info


def test_wheel_build_copies_typing_marker_and_data(tmp_path):
    """build_py is the wheel's pure-Python part: py.typed and the data sets go in."""
    _build_requirements_present()
    src = _copy_checkout(tmp_path / "src")
    lib = tmp_path / "lib"
    proc = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(lib)],
        cwd=src, check=False, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert (lib / "pylmer" / "py.typed").is_file()
    assert (lib / "pylmer" / "datasets" / "data" / "sleepstudy.csv").is_file()
    assert (lib / "pylmer" / "linalg" / "_kernels.pxd").is_file()
    assert not list(lib.rglob("*.c"))


# --- dependencies ---------------------------------------------------------------------------


def _is_type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _third_party_imports() -> dict[str, list[tuple[str, bool]]]:
    """{top-level module: [(file:line, imported lazily inside a function), ...]}."""
    found: dict[str, list[tuple[str, bool]]] = {}
    stdlib = set(sys.stdlib_module_names)

    def visit(node: ast.AST, where: str, lazy: bool) -> None:
        if _is_type_checking_block(node):
            return  # annotations only, never imported at run time
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if isinstance(node, ast.ImportFrom):
                names = [] if node.level else [node.module]
            else:
                names = [alias.name for alias in node.names]
            for name in names:
                top = name.split(".")[0]
                if top not in stdlib and top != "pylmer":
                    found.setdefault(top, []).append((f"{where}:{node.lineno}", lazy))
        inner = lazy or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, where, inner)

    for path in sorted(PACKAGE.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        visit(tree, path.relative_to(ROOT).as_posix(), False)
    return found


def test_every_third_party_import_is_declared():
    project = _pyproject()["project"]
    required = {_dist_name(r) for r in project["dependencies"]}
    extras = {_dist_name(r) for name, reqs in project["optional-dependencies"].items()
              if name not in ("test", "lint", "docs") for r in reqs}
    imports = _third_party_imports()
    assert {"numpy", "scipy", "pandas"} <= set(imports)  # the scan sees the package
    undeclared, eager_optional = [], []
    for module, sites in sorted(imports.items()):
        dist = _dist_name(IMPORT_TO_DIST.get(module, module))
        if dist in required:
            continue
        if dist in extras:
            # an optional extra must only be imported when its feature is used
            eager_optional += [f"{module} ({site})" for site, lazy in sites if not lazy]
        else:
            undeclared.append(f"{module} -> {dist} ({sites[0][0]})")
    assert not undeclared, f"imported but not in [project] dependencies: {undeclared}"
    assert not eager_optional, f"optional dependency imported at module level: {eager_optional}"


# --- typing ---------------------------------------------------------------------------------


def test_public_functions_have_return_annotations():
    import pylmer

    functions = {name: getattr(pylmer, name) for name in pylmer.__all__
                 if inspect.isfunction(getattr(pylmer, name))}
    assert {"lmer", "glmer", "lFormula", "fixef"} <= set(functions)
    missing = [name for name, fn in functions.items()
               if inspect.signature(fn).return_annotation is inspect.Signature.empty]
    assert not missing, f"public functions without a return annotation: {missing}"


# --- a fresh install ------------------------------------------------------------------------


@pytest.mark.slow
def test_fresh_venv_installs_sdist_and_fits_sleepstudy(tmp_path):
    """pip install of the sdist in an empty venv (build deps and dependencies from PyPI)."""
    _build_requirements_present()
    sdist = _build_sdist(tmp_path / "dist", tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", str(sdist)],
        check=False, capture_output=True, text=True, timeout=1800, env=env, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    script = textwrap.dedent("""
        import importlib.metadata as md, json, pathlib, sys
        import pylmer, pylmer._response, pylmer._pirls, pylmer._families
        import pylmer.linalg._kernels, pylmer.linalg._factor
        from pylmer import REMLcrit, lmer, load_dataset
        m = lmer("Reaction ~ Days + (Days | Subject)", load_dataset("sleepstudy"))
        pkg = pathlib.Path(pylmer.__file__).parent
        dist = md.distribution("pylmer")
        print(json.dumps({
            "file": pylmer.__file__, "ext": pylmer._pirls.__file__,
            "reml": float(REMLcrit(m)),
            "py_typed": (pkg / "py.typed").is_file(),
            "license": [str(f) for f in dist.files if f.name == "LICENSE"],
            "license_expr": dist.metadata["License-Expression"],
        }))
    """)
    run = subprocess.run([str(python), "-c", script], check=False, capture_output=True,
                         text=True, timeout=600, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-4000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    for key in ("file", "ext"):  # imported from the venv, not from the checkout
        assert Path(out[key]).resolve().is_relative_to(venv.resolve()), out[key]
    assert out["reml"] == pytest.approx(1743.6283, abs=1e-3)
    assert out["py_typed"]
    assert out["license"] and out["license_expr"] == "GPL-2.0-or-later"
