# Ombud. `make run` serves the demo; `make test` runs the test suite.
# Everything is bootstrapped from the package index: a tools venv with a
# pinned uv, then the project venv from uv.lock.
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run install test test-browser bench lint check clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

install: $(VENV)/.synced

run: install
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py demo_setup
	DEBUG=1 PYTHON=$(PY) sh scripts/serve.sh

# The tests install the Debian packages they need (Dovecot, Chromium) when run as root.
test: install
	sh scripts/system-deps.sh dovecot
	$(PY) -m pytest -m "not browser" -n auto $(PYTEST_ARGS)

test-browser: install
	sh scripts/system-deps.sh chromium
	$(PY) -m pytest -m browser $(PYTEST_ARGS)

bench: install
	$(PY) scripts/bench.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

check: install
	$(PY) manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) $(TOOLS)
