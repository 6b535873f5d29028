# One-command set-up: every target creates .venv on first use (torch pinned and installed first,
# everything else pinned by constraints.txt so that torch never moves).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 2
PY_SOURCES := src tests benchmarks workflow/scripts
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
# Local runs start each job in a fork of a process that has imported the libraries already
# (twinarch.core.forkserver): same code and results, without 6-10 s of imports per job.
WARM := $(BIN)/python -m twinarch.core.forkserver --

.PHONY: venv demo jmini jmini-ladder test test-fast lint dry-run bench bench-demo report clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $@

## The main job: the demo workflow end to end (synthetic data, tiny models, CPU, minutes).
demo: venv
	$(WARM) $(BIN)/snakemake --cores $(CORES)

## The whole study on the miniature real Japanese data in ../shared/data (CPU, under an hour).
jmini: venv
	$(WARM) $(BIN)/snakemake --configfile config/jmini.yaml --cores $(CORES)

## Ettin's size ladder at jmini, after `make jmini`, for seed 0 only (the paper arms' seed-0 models are
## the ladder's top rung): under 30 minutes on 2 cores. Without the overlay it runs jmini's three seeds.
jmini-ladder: venv
	$(WARM) $(BIN)/snakemake --configfile config/jmini.yaml config/jmini-seed0.yaml --cores $(CORES) ladder

## The test suite, slow end-to-end workflow tests included (they run in CI).
test: venv
	$(BIN)/python -m pytest

test-fast: venv
	$(BIN)/python -m pytest -m "not slow"

lint: venv
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/ruff check $(PY_SOURCES)
	$(BIN)/ruff format --check $(PY_SOURCES)

dry-run: venv
	for c in config/config.yaml config/jmini.yaml config/paper.yaml; do $(BIN)/snakemake -n -q --configfile $$c || exit 1; done

## Micro-benchmarks, each a ratio against a baseline in the same run (the demo's own timing is bench-demo;
## bench_scoring.py needs a trained model: run it after `make jmini`).
bench: venv
	for b in benchmarks/bench_*.py; do case $$b in *bench_demo.py|*bench_scoring.py) ;; *) $(BIN)/python $$b || exit 1;; esac; done

## The demo from a clean working directory, timed, with per-rule totals from the benchmark files.
bench-demo: venv
	$(BIN)/python benchmarks/bench_demo.py --cores $(CORES)

report: venv
	$(BIN)/snakemake --cores $(CORES) --report results/report.html

clean:
	rm -rf results logs work .snakemake
