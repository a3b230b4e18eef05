"""Shared fixtures: the program's graph per committed stack, and the reference data."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

from tooling import reference as reference_data
from tooling.mockengine import Graph, run_program
from tooling.stackfiles import stack_config, stack_files

STACKS = sorted(stack_files())
#: The legacy variable: the ``cilium`` directory of the reference data (still honoured).
REFERENCE_ENV = reference_data.LEGACY_CILIUM_DIR_ENV


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


def reference_unavailable(relpath: str) -> str:
    """Why a test that needs ``relpath`` (``../shared`` layout) skips on this machine."""
    return (f"upstream reference data not available: {relpath}; run `{reference_data.DOWNLOAD_COMMAND}` "
            f"(downloads the pinned upstream files into {reference_data.cache_dir()}); "
            f"CI sets {reference_data.DIR_ENV}=../shared")


def reference_path(relpath: str) -> Path:
    """The reference file or directory ``relpath`` (e.g. ``cilium/1.20.0/templates/validate.yaml``)
    from ``$CILIUM_EKS_REFERENCE_DIR`` (CI: ../shared), the legacy ``$CILIUM_REFERENCE_DIR``
    or the download cache, in that order; skips the calling test when none has it."""
    path = reference_data.reference_file(relpath) or reference_data.reference_directory(relpath)
    if path is None:
        pytest.skip(reference_unavailable(relpath))
    return path


@pytest.fixture
def reference() -> Path:
    """The upstream Cilium reference data: the ``cilium`` directory (../shared/cilium in CI)."""
    return reference_path("cilium")


@pytest.fixture
def karpenter_reference() -> Path:
    """The Karpenter reference data: the ``karpenter`` directory (``<version>/values.yaml``,
    ``<version>/crds/``)."""
    return reference_path("karpenter")


@pytest.fixture
def kube_prometheus_reference() -> Path:
    """The kube-prometheus-stack reference data: the ``kube-prometheus-stack`` directory
    (``<version>/values.yaml``, ``<version>/crds/``, ``<version>/subcharts/``)."""
    return reference_path("kube-prometheus-stack")
