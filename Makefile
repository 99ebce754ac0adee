# statement_pipeline: `make demo`, `make dev` and `make test` work from a fresh clone with
# only Python 3.11 installed; the first one creates .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo dev prod-local prod-local-reset test lint format bench properties mutants screenshot clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/statement-pipeline demo

# DEV_ARGS passes options on, e.g. make dev DEV_ARGS="--port 3001 --months 1".
dev: $(STAMP)
	$(BIN)/statement-pipeline dev $(DEV_ARGS)

# Postgres instance, Redis, code server, two Celery workers, daemon, webserver and local AWS
# (docs/deploy.md), supervised, their state kept in .prod_local/ across starts; needs the
# system's postgresql and redis-server packages, and says so if they are missing.
prod-local: $(STAMP)
	$(BIN)/statement-pipeline prod-local

# The same, from an empty state folder: no runs, sensor cursors or local AWS contents kept.
prod-local-reset: $(STAMP)
	$(BIN)/statement-pipeline prod-local --fresh

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -n 4 --dist worksteal --durations=15

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Both benchmarks run even if the first misses a target; bench fails if either does.
bench: $(STAMP)
	rc=0; $(BIN)/python benchmarks/import_benchmark.py || rc=1; \
	$(BIN)/python benchmarks/capacity_benchmark.py || rc=1; exit $$rc

# The property tests with ten times their examples, from a new random seed each run (CI runs
# them derandomized). Keep each counterexample found as an @example of its test.
properties: $(STAMP)
	HYPOTHESIS_PROFILE=explore STATEMENT_PROPERTY_SCALE=10 $(BIN)/python -m pytest -q \
		-n 2 statement_pipeline_tests/test_properties_csv.py \
		statement_pipeline_tests/test_properties_budget.py

# Mutation testing of statement_pipeline/rules/ with its unit and property tests ([tool.mutmut]
# in pyproject.toml; about 8 minutes on 2 cores). Not part of CI; the score is in
# docs/testing.md. `.venv/bin/mutmut show <name>` prints a surviving mutant.
mutants: $(STAMP)
	rm -rf mutants
	$(BIN)/mutmut run --max-children 2
	$(BIN)/mutmut results

# docs/asset-page.png: the browser test's screenshot of an imported month's asset page.
screenshot: $(STAMP)
	$(BIN)/python -m pytest -q -p no:xdist statement_pipeline_tests/test_browser.py \
		--screenshot-to docs/asset-page.png

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .dagster_home .prod_local
