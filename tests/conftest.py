"""Shared fixtures: the program's graph per committed stack, and the reference data."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import pytest

from tooling.mockengine import Graph, run_program
from tooling.paths import PROJECT_DIR
from tooling.stackfiles import stack_config, stack_files

STACKS = sorted(stack_files())
REFERENCE_ENV = "CILIUM_REFERENCE_DIR"


@functools.cache
def committed_graph(stack: str) -> Graph:
    """The graph of a committed stack file, evaluated once per test session.
    Tests must treat it as read-only (copy before mutating)."""
    return run_program(stack)


def graph_with(stack: str, **overrides: Any) -> Graph:
    """The graph of a committed stack with some config keys changed (not cached)."""
    return run_program(stack, overrides=overrides)


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def graph(stack: str) -> Graph:
    return committed_graph(stack)


@pytest.fixture
def raw_config(stack: str) -> dict[str, Any]:
    return stack_config(stack)


def reference_dir() -> Path | None:
    value = os.environ.get(REFERENCE_ENV)
    if not value:
        return None
    path = Path(value)
    if not path.is_absolute():
        path = (PROJECT_DIR / path).resolve()
    return path if path.is_dir() else None


@pytest.fixture
def reference() -> Path:
    """The upstream Cilium reference data (../shared/cilium in CI)."""
    path = reference_dir()
    if path is None:
        pytest.skip(f"upstream Cilium reference data not available: set {REFERENCE_ENV} to its directory "
                    "(.ci/run sets ../shared/cilium); a user's clone does not have it")
    return path
