# The two commands of the README: `make demo` and `make test`. Each bootstraps .venv
# from requirements.lock (pinned) on first use and is safe to run again.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Quiet pip's notes about this machine's local mirror folders; errors still show.
PIP := PIP_DISABLE_PIP_VERSION_CHECK=1 $(BIN)/python -m pip -q

.PHONY: demo test fuzz lint typecheck check bench lock vendor translations clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements.lock 2>&1 | grep -v "^WARNING: Location" || true
	$(PIP) install --no-deps --no-build-isolation -e . 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python -c "import regulars, ibis, duckdb"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/regulars demo --out out/demo

# Spark's tests share one Spark session (seconds to start), so they run in a second,
# single-process step; every other test runs on two workers. Each Spark query costs
# seconds, so the property tests draw 3 examples there (8 elsewhere) unless told otherwise.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not spark"
	SPARK_LOCAL_IP=127.0.0.1 REGULARS_HYPOTHESIS_EXAMPLES=$${REGULARS_HYPOTHESIS_EXAMPLES:-3} \
		$(BIN)/python -m pytest -m spark

# Schemathesis from the OpenAPI schema, longer than in `make test`, on SQLite and then
# PostgreSQL: any server error fails (a few minutes; CI runs it).
fuzz: $(STAMP)
	REGULARS_FUZZ_EXAMPLES=80 $(BIN)/python -m pytest tests/api/test_api_fuzz.py -q
	REGULARS_FUZZ_EXAMPLES=40 REGULARS_FUZZ_DATABASE=postgresql \
		$(BIN)/python -m pytest tests/api/test_api_fuzz.py -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

bench: $(STAMP)
	$(BIN)/python benchmarks/report_scale.py

# Regenerate the lock after changing dependencies in pyproject.toml.
lock: $(STAMP)
	$(PIP) install uv==0.13.9 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 \
		--no-header --annotation-style line -o requirements.lock

# Re-copy the browser assets served from the package (Swagger UI…) from their pinned npm
# packages (vendor/package-lock.json); the copies are committed, so only to upgrade them.
vendor: $(STAMP)
	cd vendor && npm ci --ignore-scripts --no-audit --no-fund
	$(BIN)/python vendor/copy_assets.py

# The web app's texts: extract them, update every language's catalog, compile the .mo files
# (both committed). Translate the new entries in locale/<lang>/LC_MESSAGES/messages.po, then
# run it again to compile.
WEB_LOCALE := src/regulars/web/locale
translations: $(STAMP)
	$(BIN)/pybabel extract -F $(WEB_LOCALE)/babel.cfg -k N_ --no-location \
		--sort-output -o $(WEB_LOCALE)/messages.pot src/regulars/web
	$(BIN)/pybabel update -i $(WEB_LOCALE)/messages.pot -d $(WEB_LOCALE) -D messages \
		--width 100
	$(BIN)/pybabel compile -d $(WEB_LOCALE) -D messages --statistics

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
