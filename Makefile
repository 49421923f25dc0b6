# `make run` serves the API locally (embedded DynamoDB, offline model); `make local-api`
# serves template.yaml's REST API through the Lambda entry, as `sam local start-api` would;
# `make test` runs every check. All create the virtualenv and install what they need first.
PYTHON ?= python3
VENV := .venv
SDK_VENV := .venv-sdk
PIP := $(VENV)/bin/pip -q --disable-pip-version-check

.PHONY: run local-api test lint format clean

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

# PORT (and HOST) from the command line or the environment; defaults 8283 and 3000.
run: $(VENV)/.local-installed
	PORT=$(or $(PORT),8283) $(VENV)/bin/python -m handler.local

local-api: $(VENV)/.local-installed
	PORT=$(or $(PORT),3000) $(VENV)/bin/python -m handler.local_api

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
