# `make run` serves the API locally (embedded DynamoDB, offline model); `make test` runs
# every check. Both create the virtualenv and install what they need first.
PYTHON ?= python3
VENV := .venv
SDK_VENV := .venv-sdk
PIP := $(VENV)/bin/pip -q --disable-pip-version-check
PORT ?= 8283

.PHONY: run test lint format clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.local-installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -e '.[local]'
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -e '.[test]'
	touch $@

# The official SDK lives in its own venv: it must work against us unchanged, and its
# pins must not leak into the service's environment.
$(SDK_VENV)/.installed:
	$(PYTHON) -m venv $(SDK_VENV)
	$(SDK_VENV)/bin/pip -q --disable-pip-version-check install 'letta-client==1.7.0'
	touch $@

run: $(VENV)/.local-installed
	PORT=$(PORT) $(VENV)/bin/python -m handler.local

# mypy (strict, pydantic plugin) reads its scope from [tool.mypy] in pyproject.toml: core and infra.
# lint-imports checks the import contracts in [tool.importlinter].
lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-logo

test: lint $(SDK_VENV)/.installed
	$(VENV)/bin/pytest

format: $(VENV)/.test-installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) $(SDK_VENV) .pytest_cache .ruff_cache .mypy_cache .import_linter_cache build *.egg-info .aws-sam

include infra/sam-build.mk
