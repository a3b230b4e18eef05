# Two commands a new user needs (see README):
#   make test               - create .venv, install, lint, type check, run the test suite
#   make plan STACK=dev     - offline plan of a stack (no AWS account, no Pulumi CLI)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STACK ?= dev

.PHONY: install test lint typecheck unit plan

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/pyright

unit: install
	$(BIN)/python -m pytest -q

test: lint typecheck unit

plan: install
	$(BIN)/python -m cilium_eks.plan --stack $(STACK)
