# shoplens front door: `make help` lists the targets. CI runs `make test`, the same command as a person.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= $(HOME)/.cache/shoplens-venv
PY := $(VENV)/bin/python
CACHE ?= $(HOME)/.cache/shoplens-target
# `cargo test` (engine only) and maturin (feature "python") use different features: separate target dirs
# keep both incremental.
ENGINE_TARGET := $(CACHE)/engine
PY_TARGET := $(CACHE)/python
# clippy with the python feature gets a target dir of its own: sharing maturin's makes the next
# `maturin develop` rebuild polars from scratch (build scripts see a different environment).
CLIPPY_PY_TARGET := $(CACHE)/clippy-python
DEMO_DIR ?= data/demo
WAREHOUSE ?= data/warehouse
SCALE ?= 1.0
# Modules type-checked against the native stub (a result key renamed on one side fails lint).
MYPY_CHECKED := shoplens/stats.py shoplens/experiments shoplens/_analyze.py shoplens/_planner.py \
	shoplens/_compare.py shoplens/_frames.py shoplens/_validate.py shoplens/_types.py shoplens/_display.py \
	shoplens/clv.py shoplens/cohorts.py shoplens/kpis.py shoplens/summary.py shoplens/_pipeline.py
SEED ?= 42
PORT ?= 8050
DIST ?= dist

.PHONY: help venv dev test test-rust test-py lint fmt demo bench clean system-deps
.PHONY: browser serve screenshots loadtest wheel

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed ## create the Python environment with pinned tools

# Debian packages the test suite uses (headless Chromium for the dashboard's browser tests, Java 17 for
# Spark (tests/test_spark.py), docker-compose
# to validate docker-compose.yml without an engine); installs only
# what is missing, so a machine that has them makes no network call.
SYSTEM_PACKAGES := chromium chromium-driver docker-compose openjdk-17-jre-headless
system-deps: ## install the system packages the tests need (root, apt)
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

dev: venv ## build the Rust extension (release) into the environment
	VIRTUAL_ENV=$(VENV) PATH=$(VENV)/bin:$$PATH CARGO_TARGET_DIR=$(PY_TARGET) \
		$(VENV)/bin/maturin develop --release --quiet

test-rust: ## engine tests without Python (cargo test)
	CARGO_TARGET_DIR=$(ENGINE_TARGET) cargo test --release --quiet

test-py: dev ## Python tests (pytest), after building the extension
	cd $(CURDIR) && $(PY) -m pytest -q

test: test-rust test-py ## everything CI runs: cargo test, then the extension and pytest

lint: dev ## rustfmt, clippy -D warnings (with and without Python), ruff, mypy stubtest (strict) and mypy
	cargo fmt --check
	CARGO_TARGET_DIR=$(ENGINE_TARGET) cargo clippy --release --all-targets -- -D warnings
	CARGO_TARGET_DIR=$(CLIPPY_PY_TARGET) cargo clippy --release --features python --lib -- -D warnings
	$(VENV)/bin/ruff check python tests bench dash-app
	$(VENV)/bin/ruff format --check python tests bench dash-app
	$(PY) -m mypy.stubtest shoplens._native
	cd python && $(PY) -m mypy --follow-imports=silent $(MYPY_CHECKED)

fmt: venv ## format Rust and Python sources
	cargo fmt
	$(VENV)/bin/ruff format python tests bench dash-app
	$(VENV)/bin/ruff check --fix python tests bench dash-app

demo: dev ## generate the RetailRocket-scale demo, build the warehouse, print the summary, serve the dashboard
	$(VENV)/bin/shoplens generate --out $(DEMO_DIR) --scale $(SCALE) --seed $(SEED)
	$(VENV)/bin/shoplens build --raw $(DEMO_DIR) --out $(WAREHOUSE)
	$(VENV)/bin/shoplens report --warehouse $(WAREHOUSE)
	$(VENV)/bin/shoplens experiment --warehouse $(WAREHOUSE)
	$(VENV)/bin/shoplens serve --warehouse $(WAREHOUSE) --host 127.0.0.1 --port $(PORT)

bench: dev ## benchmarks (times, ratios to the I/O floor, peak memory); results in docs/benchmarks.md
	$(PY) -m pip install --quiet -r bench/requirements.txt
	$(PY) bench/run.py

wheel: venv ## release wheel into $(DIST): the build command docker/Dockerfile runs (tests/test_ops.py checks)
	VIRTUAL_ENV=$(VENV) PATH=$(VENV)/bin:$$PATH CARGO_TARGET_DIR=$(PY_TARGET) \
		$(VENV)/bin/maturin build --release --out $(DIST)

clean: ## remove demo data and the warehouse (build caches stay in $(CACHE))
	rm -rf data

# --- dashboard -------------------------------------------------------------------------------------
browser: system-deps ## the system chromium that the browser tests and screenshots drive (make system-deps)

serve: dev ## serve the dashboard for $(WAREHOUSE) on 127.0.0.1:$(PORT) (prints a one-time admin password once)
	$(VENV)/bin/shoplens serve --warehouse $(WAREHOUSE) --host 127.0.0.1 --port $(PORT)

screenshots: dev browser ## one 1440x900 screenshot per dashboard page into docs/screenshots (same code as the tests)
	$(PY) tests/dash_browser.py screenshots --warehouse $(WAREHOUSE) --out docs/screenshots

loadtest: dev ## 50 logged-in users changing Home filters every 1-3 s for 60 s against $(WAREHOUSE); figures for docs/benchmarks.md
	$(PY) bench/dashboard_load.py --warehouse $(WAREHOUSE) --users 50 --seconds 60 --think 2
