# SAM build targets for ApiFunction, WorkerFunction and StreamFunction (template.yaml:
# Metadata.BuildMethod: makefile). All ship the same package; only their handlers differ.
# StreamFunction's handler is the script run.sh (Lambda Web Adapter), copied in as well.
#
# Included by the root Makefile. `sam build` runs `make build-<Function>` with
# ARTIFACTS_DIR set to the function's build directory; the recipe installs the
# project (packages core, handler, infra) and its runtime dependencies there,
# as binary wheels for the Lambda runtime: python3.12 on arm64 (Amazon Linux
# 2023, glibc 2.34, so manylinux2014 and manylinux_2_28 wheels both work).
# Cross-platform install: no Docker (`sam build --use-container`) needed.

# Any interpreter with pip works: the target platform is given explicitly. `make build`
# passes the one of .venv-sam (see the root Makefile).
SAM_BUILD_PYTHON ?= python3
SAM_BUILD_PIP_FLAGS ?= --disable-pip-version-check --no-warn-conflicts

.PHONY: build-ApiFunction build-WorkerFunction build-StreamFunction
build-ApiFunction build-WorkerFunction build-StreamFunction:
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set (run via 'sam build')" >&2; exit 1; }
	@# setuptools builds in ./build (in source under `sam build --build-in-source`): a stale
	@# copy there could ship a module deleted since.
	rm -rf build
	$(SAM_BUILD_PYTHON) -m pip install $(SAM_BUILD_PIP_FLAGS) \
		--platform manylinux2014_aarch64 --platform manylinux_2_28_aarch64 \
		--implementation cp --python-version 3.12 --abi cp312 \
		--only-binary=:all: --no-compile --upgrade \
		--target "$(ARTIFACTS_DIR)" .
	rm -rf "$(ARTIFACTS_DIR)/bin"
	@# StreamFunction only: the Handler script the adapter's bootstrap executes.
	$(if $(filter build-StreamFunction,$@),install -m 755 run.sh "$(ARTIFACTS_DIR)/run.sh")
