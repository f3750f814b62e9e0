#!/usr/bin/env bash
# Make sure scikit-sparse can be built from source: it needs the SuiteSparse (CHOLMOD)
# headers, a C compiler and the Python headers, and creating the virtual environment needs
# Python's venv module.
#
# On Debian/Ubuntu, whatever is missing is installed with apt-get when we are root or have
# passwordless sudo. Otherwise the script prints what to install and exits with status 1.
#
# Environment:
#   PYTHON                  interpreter the virtual environment will use (default: python3)
#   SUITESPARSE_INCLUDE_DIR directory holding cholmod.h, if not /usr/include/suitesparse
#                           (scikit-sparse's build reads the same variable)
#   PYLMER_NO_APT=1         never run apt-get; only report (used to test the hints)
set -euo pipefail

PYTHON=${PYTHON:-python3}

have_cholmod_header() {
    local dir
    for dir in "${SUITESPARSE_INCLUDE_DIR:-}" /usr/include/suitesparse; do
        [[ -n "$dir" && -f "$dir/cholmod.h" ]] && return 0
    done
    return 1
}

have_c_compiler() {
    command -v "${CC:-cc}" >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1
}

have_python_headers() {
    "$PYTHON" -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'
}

have_venv_module() {
    # Debian ships ensurepip (needed by "python3 -m venv") separately, in python3-venv.
    "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1
}

# Run a command as root: directly, or through passwordless sudo. Fails if neither works.
as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        return 1
    fi
}

can_use_apt() {
    [[ "${PYLMER_NO_APT:-0}" != 1 ]] && command -v apt-get >/dev/null 2>&1 && as_root true
}

print_hints() {
    cat >&2 <<HINTS

pylmer needs scikit-sparse, which is built against SuiteSparse (CHOLMOD). Missing here:
$(printf '  - %s\n' "${missing_what[@]}")

Install them with your system's package manager, then run make again:
  Debian/Ubuntu:  sudo apt-get install ${missing_deb[*]}
  Fedora:         sudo dnf install suitesparse-devel gcc python3-devel
  Homebrew:       brew install suite-sparse
                  (then export SUITESPARSE_INCLUDE_DIR=\$(brew --prefix)/include/suitesparse
                   and SUITESPARSE_LIBRARY_DIR=\$(brew --prefix)/lib)
  conda:          conda install -c conda-forge suitesparse scikit-sparse
HINTS
}

missing_what=()
missing_deb=()
if ! have_cholmod_header; then
    missing_what+=("SuiteSparse headers (cholmod.h in /usr/include/suitesparse)")
    missing_deb+=(libsuitesparse-dev)
fi
if ! have_c_compiler; then
    missing_what+=("a C compiler")
    missing_deb+=(build-essential)
fi
if ! have_python_headers; then
    missing_what+=("Python headers (Python.h) for $PYTHON")
    missing_deb+=(python3-dev)
fi
if ! have_venv_module; then
    missing_what+=("Python's venv module (ensurepip) for $PYTHON")
    missing_deb+=(python3-venv)
fi

if [[ ${#missing_deb[@]} -eq 0 ]]; then
    exit 0
fi

if ! can_use_apt; then
    print_hints
    exit 1
fi

echo "Installing with apt-get: ${missing_deb[*]}"
as_root env DEBIAN_FRONTEND=noninteractive apt-get update
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing_deb[@]}"

if ! have_cholmod_header; then
    echo "error: cholmod.h is still missing after installing libsuitesparse-dev" >&2
    exit 1
fi
