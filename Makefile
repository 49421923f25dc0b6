# `make run` serves the API locally (embedded DynamoDB, offline model); `make local-api`
# serves template.yaml's REST API through the Lambda entry, as `sam local start-api` would;
# `make test` runs every check. All create the virtualenv and install what they need first.
# `make build` and `make deploy` package and deploy to AWS with the SAM CLI (README: Deploying).
PYTHON ?= python3
VENV := .venv
SDK_VENV := .venv-sdk
SAM_VENV := .venv-sam
# Another SAM CLI may be used instead: `make build SAM=sam`.
SAM ?= $(SAM_VENV)/bin/sam
PIP := $(VENV)/bin/pip -q --disable-pip-version-check

.PHONY: run local-api test fuzz lint format clean build deploy bench

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

# The SAM CLI pins its own boto3 and friends: it lives in its own venv, never in .venv.
$(SAM_VENV)/bin/sam:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip -q --disable-pip-version-check install 'aws-sam-cli>=1.130,<2' || { \
		echo "Could not install the SAM CLI into $(SAM_VENV). Install it on its own" >&2; \
		echo "(pipx install aws-sam-cli, or brew install aws-sam-cli), then: make $(MAKECMDGOALS) SAM=sam" >&2; \
		rm -rf $(SAM_VENV); exit 1; }

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

# Prints the benchmark table and writes it to docs/benchmarks.md (about 5 minutes here).
# Not part of `make test`: it measures, it does not assert.
bench: $(VENV)/.test-installed
	$(VENV)/bin/python -m bench

# Schemathesis against the app's OpenAPI document, longer than `make test`'s pass (same
# fixed seed; FUZZ_EXAMPLES examples per operation).
fuzz: $(VENV)/.test-installed
	FUZZ_EXAMPLES=$(or $(FUZZ_EXAMPLES),100) $(VENV)/bin/pytest tests/api/test_fuzz.py

format: $(VENV)/.test-installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# `sam build` runs build-ApiFunction and build-WorkerFunction (infra/sam-build.mk): pip
# installs Lambda's arm64 wheels, so no Docker is needed. In source: a copy of the folder
# first would copy the virtualenvs too.
build: $(if $(filter $(SAM_VENV)/%,$(SAM)),$(SAM))
	@command -v $(SAM) >/dev/null || { echo "No SAM CLI at '$(SAM)': pipx install aws-sam-cli" >&2; exit 1; }
	SAM_BUILD_PYTHON=$(if $(filter $(SAM_VENV)/%,$(SAM)),$(abspath $(SAM_VENV))/bin/python,python3) \
		$(SAM) build --build-in-source

# The first deploy asks for the stack name, the region and the parameters and saves them
# in samconfig.toml; later ones reuse them.
deploy: build
	@if [ -f samconfig.toml ]; then $(SAM) deploy; else $(SAM) deploy --guided; fi

clean:
	rm -rf $(VENV) $(SDK_VENV) $(SAM_VENV) .pytest_cache .ruff_cache .mypy_cache .import_linter_cache build *.egg-info .aws-sam

include infra/sam-build.mk
