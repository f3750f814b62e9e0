#!/usr/bin/env bash
# Create .venv-glmm: a virtual environment with the Rust mixed-model package glmm (PyPI), the
# third comparator of the benchmarks (python -m benchmarks; see benchmarks/__main__.py). It is
# kept apart from .venv so pylmer's own environment, and `make test`, never see glmm.
#
# Environment:
#   PYTHON        interpreter the environment is made from (default: python3; glmm needs >= 3.10)
#   GLMM_VENV     where to create it (default: .venv-glmm in the repository root)
#   GLMM_VERSION  pip requirement for glmm (default: glmm, the version current on PyPI;
#                 e.g. 'glmm==0.6.2' to pin one)
set -euo pipefail

PYTHON=${PYTHON:-python3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${GLMM_VENV:-$ROOT/.venv-glmm}
GLMM=${GLMM_VERSION:-glmm}

"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || {
    echo "error: glmm needs Python >= 3.10; run with PYTHON=/path/to/python3.x" >&2
    exit 1
}
if [[ ! -x "$VENV/bin/python" ]]; then
    "$PYTHON" -m venv "$VENV" || { rm -rf "$VENV"; exit 1; }
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install "$GLMM" pandas numpy
"$VENV/bin/python" -c 'import importlib.metadata as m; print("glmm", m.version("glmm"), "in '"$VENV"'")'
