# kpitools: `make report` renders the sample company's reports, `make test` runs every test.
# Both create .venv and install the project into it when needed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PERIOD ?= latest-month,latest-quarter
DATA   ?= data/sample
OUT    ?= reports
JOBS   ?= 2
# e.g. BENCH_ARGS="--scales 1 --repeat 1" for a quick run (default: 1, 10 and 24x the sample, 3 runs)
BENCH_ARGS ?=
# e.g. SPARK_BENCH_ARGS="--scales 1 --master local[2]" (default: 10 and 24x the sample on local[2])
SPARK_BENCH_ARGS ?=

.PHONY: install report test lint lab sample bench clean

install: $(STAMP)

# Python writes the bytecode of what it imports into .venv once, and every later process
# (kernels, workers, test runs) reads it: with PYTHONDONTWRITEBYTECODE set (as on the CI
# machines) each would compile pandas, Ibis and the rest again. Compiling only what is
# imported is quicker than compiling all of site-packages at install.
unexport PYTHONDONTWRITEBYTECODE

# uv installs the same packages as pip in half the time (parallel downloads and builds); where
# uv cannot be had or fails, pip does it.
$(STAMP): pyproject.toml
	@echo "installing kpitools and its dependencies into $(VENV) (one to two minutes, once)..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check uv 2>/dev/null || true
	@$(BIN)/python -m uv pip install --python $(BIN)/python --quiet -e '.[dev]' 2>/dev/null || \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)
	@echo "installed into $(VENV)"

report: $(STAMP)
	$(BIN)/kpitools report --data $(DATA) --period $(PERIOD) --out $(OUT) --jobs $(JOBS)

# the tests run on every core (at most four processes); a notebook's cells stay in one process,
# and the Spark tests in one worker (tests/conftest.py), so that the run starts one Spark session
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -n auto --maxprocesses 4
	$(BIN)/pytest -n auto --maxprocesses 4 --dist loadfile --nbval-lax --nbval-current-env notebooks/

lint: $(STAMP)
	$(BIN)/ruff check .

# JupyterLab refuses to start as root unless told to (containers and these machines run as root)
LAB_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks $(LAB_ROOT)

sample: $(STAMP)
	$(BIN)/kpitools sample --out data/sample

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/spark.py $(SPARK_BENCH_ARGS)

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache .hypothesis
