# Every target creates .venv when it is missing and installs the project into it: `run`
# only what running needs, the others the development extras too.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed-dev
PLUGIN := plugins/autopilot-pbo

.PHONY: run test bench stress lint format clean

$(RUN_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP) pyproject.toml $(PLUGIN)/pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Two years of weekly cycles on the embedded data (resumes where build/state stands), then
# the walk's report, build/report/index.html.
run: $(RUN_STAMP)
	mkdir -p build
	$(BIN)/autopilot run --init --env dev --state-dir build/state
	$(BIN)/autopilot report --state-dir build/state --out build/report

test: lint
	$(BIN)/python -m pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/bench_state.py
	$(BIN)/python bench/bench_audit.py
	$(BIN)/python bench/bench_paper.py
	$(BIN)/python bench/bench_files.py
	$(BIN)/python bench/bench_meta.py
	$(BIN)/python bench/bench_regimes.py
	$(BIN)/python bench/bench_backtest.py
	$(BIN)/python bench/bench_engine.py
	$(BIN)/python bench/bench_dask.py

# The crash loops of the test suite, with ten times the kills.
stress: $(STAMP)
	AUTOPILOT_CRASH_KILLS=2000 AUTOPILOT_REGISTRY_KILLS=1000 AUTOPILOT_PAPER_KILLS=1000 \
		AUTOPILOT_ENGINE_KILLS=1000 $(BIN)/python -m pytest -q -s tests/reliability/test_crash_loop.py \
		tests/integration/test_registry_processes.py tests/reliability/test_paper_crash_loop.py \
		tests/reliability/test_engine_crash_loop.py

# ruff (lint and format), the import-layer contracts, the type checker.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) build .pytest_cache .hypothesis
