# Two commands a new user needs (see README):
#   make test               - create .venv from uv.lock, lint, type check, run the test suite
#   make plan STACK=dev     - offline plan of a stack (no AWS account, no Pulumi CLI)
# With the Pulumi CLI, the AWS CLI and AWS credentials (`make doctor STACK=dev` says what is missing):
#   make preview|up|destroy|verify STACK=dev [ARGS="--yes"]
# `make reference` downloads the pinned upstream reference data the contract tests read.
# State goes to .pulumi-state/ (file backend) unless PULUMI_BACKEND_URL is set; secrets use
# PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE. Everything runs through scripts/stack.py.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STACK ?= dev
ARGS ?=
STACK_PY := $(PYTHON) scripts/stack.py

# Checked with any Python (even 2.x) before scripts/stack.py runs, so an old one gets a sentence,
# not a SyntaxError.
CHECK_PYTHON = @$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1 || { \
	echo "make: this project needs Python 3.11 or newer; PYTHON=$(PYTHON) is: $$(command -v $(PYTHON) >/dev/null 2>&1 && $(PYTHON) -V 2>&1 || echo 'not found')." >&2; \
	echo "      Install Python 3.11+ (https://www.python.org/downloads/, 'brew install python@3.12'," >&2; \
	echo "      'sudo apt-get install python3.12 python3.12-venv') and run e.g.: make $@ PYTHON=python3.12" >&2; \
	exit 1; }

.PHONY: install test lint typecheck unit plan doctor preview up destroy verify reference

# .venv exactly as uv.lock says (the pinned uv is installed first on a fresh clone).
install:
	$(CHECK_PYTHON)
	@$(STACK_PY) install

lint: install
	$(BIN)/ruff check .
	$(BIN)/zizmor --offline --no-progress --config .github/zizmor.yml .github/workflows/

# The second run is the type check's negative control: it passes only if pyright still rejects
# the wrong TypedDict keys in tests/typecheck_negative/ (kept out of pytest: pyright takes seconds).
typecheck: install
	$(BIN)/pyright
	$(BIN)/pyright -p tests/typecheck_negative/pyrightconfig.json

unit: install
	$(BIN)/python -m pytest -q

test: lint typecheck unit

# Downloads the pinned upstream reference data (Cilium, Karpenter, kube-prometheus-stack: chart
# values, schemas, CRDs, docs) into a cache outside git that the contract tests read.
# `python -m tooling.reference status` shows what is where; CI reads ../shared instead.
reference:
	$(CHECK_PYTHON)
	@$(PYTHON) -m tooling.reference download $(ARGS)

plan doctor preview up destroy verify:
	$(CHECK_PYTHON)
	@$(STACK_PY) $@ --stack $(STACK) $(ARGS)
