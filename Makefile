# Taiwa: `make run` serves the app with demo data; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)

.PHONY: run test test-postgres test-deps install translations messages bench bench-quick clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed translations

# Compiled catalogs (.mo) are built here, never committed.
translations: | $(BIN)/python
	$(BIN)/pybabel compile --use-fuzzy -d server/locale -D messages >/dev/null

# Developers: re-extract messages after changing strings, then translate server/locale/ja.
messages: $(VENV)/.installed
	$(BIN)/python -m server.catalogs

run: $(VENV)/.installed translations
	$(BIN)/taiwa serve --demo --host $(HOST) --port $(PORT)

# Debian chromium for the browser tests, axe-core from npm (package-lock.json),
# Debian redis-server for the scale-out tests, Debian postgresql for the second engine's tests
# (tests/pg_cluster.py starts a throwaway cluster with its initdb and pg_ctl; no service is used).
test-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	[ -z "$$missing" ] || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; }
	@[ -f node_modules/axe-core/axe.min.js ] || npm ci --no-audit --no-fund --loglevel=error

# The whole suite on SQLite, then every test that touches the database again on PostgreSQL (a
# throwaway cluster; tests/conftest.py selects them: the app's fixtures and the socket servers; browser
# tests and tests marked sqlite_only stay on SQLite). tests/test_postgres.py runs in the first pass.
test: $(VENV)/.installed-test translations test-deps
	$(BIN)/python -m pytest -q
	TAIWA_TEST_ENGINES=postgres $(BIN)/python -m pytest -q

test-postgres: $(VENV)/.installed-test translations test-deps
	TAIWA_TEST_ENGINES=postgres $(BIN)/python -m pytest -q

# Benchmarks (not part of `make test`): every scenario against a baseline measured in the same
# run, report in bench/results/latest.md (about 10 minutes); bench-quick: small versions for CI
# (loss and exact counts, no timing) in bench/results/quick.md, under 2 minutes.
# DB=postgres (`make bench DB=postgres`) also runs fan-out, votes, registration and listing on a
# throwaway PostgreSQL cluster beside SQLite, report in bench/results/postgres.md (quick-postgres.md).
BENCH_DB = $(if $(DB),--db $(DB))

bench: $(VENV)/.installed-test translations $(if $(filter postgres,$(DB)),test-deps)
	$(BIN)/python -m bench $(BENCH_DB)

bench-quick: $(VENV)/.installed-test translations $(if $(filter postgres,$(DB)),test-deps)
	$(BIN)/python -m bench --quick $(BENCH_DB)

clean:
	rm -rf $(VENV) node_modules server/locale/*/LC_MESSAGES/*.mo
