# Herald: `make run` serves on http://127.0.0.1:8000, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: run test lint typecheck pytest bench debian-packages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed-run
	$(BIN)/quart --app asgi migrate
	exec $(BIN)/python -m app.serve -c hypercorn.toml asgi:app

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

# The storage tests also run on PostgreSQL, the shared rate limits on Redis, the browser
# tests drive Chromium, the database-fault tests make a file read-only for root too
# (chattr), and a real Alertmanager notifies Herald: install Debian's packages when missing (the tests start their
# own server instances on loopback ports, in temporary directories).
debian-packages:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium fonts-dejavu-core"; \
	command -v chattr >/dev/null 2>&1 || missing="$$missing e2fsprogs"; \
	command -v prometheus-alertmanager >/dev/null 2>&1 || missing="$$missing prometheus-alertmanager"; \
	if [ -n "$$missing" ]; then \
		echo "Installing$$missing from Debian's packages"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
			$$missing >/dev/null; \
	fi

pytest: $(VENV)/.installed-test debian-packages
	HERALD_REQUIRE_SERVERS=1 $(BIN)/pytest

test: lint typecheck pytest

# CPU per request against Quart's hello world, written into docs/benchmarks.md (a few minutes).
bench: $(VENV)/.installed-test debian-packages
	$(BIN)/python bench/cpu.py --write docs/benchmarks.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
