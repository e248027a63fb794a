# Quick start: `make run` (the default study, offline) and `make test`.
# Both create .venv with this project installed if it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format docs bench report clean system-deps

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is needed, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the project's dependency list changes.
# The project's extras to install (CI adds slurm for the cluster test: EXTRAS=test,slurm).
EXTRAS ?= test

# The logger plugin (workflow/logger) is installed as a copy: Snakemake only finds plugins
# that are modules on sys.path, which an editable install is not.
$(STAMP): pyproject.toml workflow/logger/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]' ./workflow/logger
	@touch $@

run: $(STAMP)
	$(BIN)/snakemake

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/snakefmt Snakefile workflow/rules

# docs/config.md from the config schema, docs/rulegraph.{dot,svg} from the workflow (the SVG
# needs Graphviz's dot); tests/docs checks they are in sync.
docs: $(STAMP)
	$(BIN)/python -m nnstudy.docs

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

system-deps:
	bash .ci/install-system-deps

clean:
	rm -rf results .snakemake
