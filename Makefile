# pylmer developer tasks. `make test` and `make demo` do the whole set-up when needed:
# system packages for scikit-sparse (scripts/ensure-suitesparse.sh), the virtual
# environment .venv and an editable install of pylmer with its test dependencies.

PYTHON ?= python3
VENV := .venv
# glmm (a Rust mixed-model package), the benchmarks' third comparator, lives in its own
# environment; `make bench` runs without it and says so.
GLMM_VENV := .venv-glmm
PY := $(VENV)/bin/python
# Remade whenever pyproject.toml or the compiled sources change, so a change reinstalls.
INSTALLED := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: test demo bench glmm-venv lint docs venv clean distclean

test: $(INSTALLED)
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The command line on two shipped data sets: an LMM (lmer) and a binomial GLMM (glmer).
demo: $(INSTALLED)
	$(VENV)/bin/pylmer datasets
	$(VENV)/bin/pylmer fit "Reaction ~ Days + (Days | Subject)" --data sleepstudy
	$(VENV)/bin/pylmer fit "cbind(incidence, size - incidence) ~ period + (1 | herd)" \
		--data cbpp --family binomial

# pylmer beside lme4 (when Rscript and lme4 are there) and glmm (when $(GLMM_VENV) is there).
bench: $(INSTALLED)
	$(PY) -m benchmarks

# The environment with glmm for `make bench`; not needed by anything else.
glmm-venv:
	PYTHON=$(PYTHON) GLMM_VENV=$(GLMM_VENV) scripts/glmm-venv.sh

lint: $(PY)
	$(PY) -m ruff --version >/dev/null 2>&1 || $(PY) -m pip install --quiet ruff
	$(PY) -m ruff check pylmer tests

# The documentation site (mkdocs.yml) into site/; installs the docs extra when mkdocs is missing.
# First redraws the vignettes' figures (vignettes/figures/, committed) from the vignettes' code;
# a file changes only when its picture does.
docs: $(INSTALLED)
	$(VENV)/bin/mkdocs --version >/dev/null 2>&1 || $(PY) -m pip install -e '.[docs]'
	$(PY) scripts/docs_figures.py
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict -d site

venv: $(INSTALLED)

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null || \
		{ echo "error: pylmer needs Python >= 3.10 ('$(PYTHON)' is missing or older);" \
		       "run make with PYTHON=/path/to/python3.x" >&2; exit 1; }
	PYTHON=$(PYTHON) scripts/ensure-suitesparse.sh
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }

$(INSTALLED): pyproject.toml setup.py pylmer/linalg/_kernels.pyx pylmer/_response.pyx \
		pylmer/linalg/_kernels.pxd pylmer/linalg/_factor.pyx pylmer/linalg/_factor.pxd \
		pylmer/linalg/_many.pyx \
		pylmer/_response.pxd pylmer/_pirls.pyx pylmer/_families.pyx | $(PY)
	PYTHON=$(PYTHON) scripts/ensure-suitesparse.sh
	$(PY) -m pip install -e '.[test]'
	touch $@

clean:
	rm -rf build dist *.egg-info .pytest_cache .hypothesis .ruff_cache .tox
	find . \( -path ./$(VENV) -o -path ./$(GLMM_VENV) \) -prune -o -name __pycache__ -type d \
		-exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) $(GLMM_VENV)
