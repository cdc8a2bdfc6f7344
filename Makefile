# attractorlab: two commands for a new user, `make demo` and `make test`.
# The virtual environment is built once and rebuilt only when pyproject.toml or the lock
# file changes. It is installed from the lock (exact versions with sha256 hashes, Python
# 3.11 on Linux): torch first and alone, then the locked packages, then the package itself.
PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
LABSTAMP := $(VENV)/.lab-installed
# CPU build of torch, pinned and installed first and alone (a range would pull CUDA wheels).
# torch stays out of the hashed lock: its wheel (a local CPU build here, PyPI's elsewhere)
# has a different hash on each kind of machine.
TORCH   := torch==2.13.0
LOCK    := requirements/lock.txt
LABLOCK := requirements/lab-lock.txt
# pip-compile: exact pins with hashes, torch resolved at $(TORCH) but left out of the file,
# the build requirements (setuptools, wheel) included so that the package installs without
# unpinned downloads.
COMPILE := CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes \
	--strip-extras --all-build-deps --unsafe-package torch -c requirements/torch.txt \
	--no-emit-index-url --no-emit-find-links

.PHONY: demo test test-all bench venv clean lock lab
.PHONY: docs docs-clean

venv: $(STAMP)

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/attractorlab demo

# The test suite builds the documentation site (tests/test_docs.py), executing the notebooks.
test: $(STAMP)
	$(BIN)/python -m pytest

test-all: $(STAMP)
	$(BIN)/python -m pytest -m ""

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# ---------------------------------------------------------------- documentation
# docs/_build/html/index.html; warnings are errors, notebooks executed through a cache.
docs: $(STAMP)
	$(BIN)/python docs/build.py

docs-clean:
	rm -rf docs/_build docs/_generated docs/api docs/notebooks/*.ipynb

# ---------------------------------------------------------------- JupyterLab
# `make lab` opens notebooks/*.py (jupytext percent files) as notebooks; LAB_ARGS go to
# `jupyter lab` (e.g. LAB_ARGS="--no-browser --port 8890").
LAB_ARGS ?=
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json

$(LABSTAMP): $(STAMP) $(LABLOCK)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LABLOCK)
	mkdir -p $(dir $(LAB_SETTINGS))
	printf '%s\n' '{"@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"python": "Jupytext Notebook"}}}' > $(LAB_SETTINGS)
	touch $(LABSTAMP)

# (--allow-root only where make runs as root, as in containers)
lab: $(LABSTAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/notebooks \
		$(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# ---------------------------------------------------------------- lock files
# Regenerate the locks from the ranges in pyproject.toml (needs the network). The lab lock
# starts from the main lock, so the packages they share keep the same versions.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/pip-compile || $(BIN)/python -m pip install --quiet "pip-tools>=7.4"
	$(COMPILE) --extra dev --extra docs -o $(LOCK) pyproject.toml
	cp $(LOCK) $(LABLOCK)
	$(COMPILE) --extra dev --extra docs --extra lab -o $(LABLOCK) pyproject.toml

clean:
	rm -rf $(VENV) build .pytest_cache results/demo docs/_build docs/_generated docs/api
