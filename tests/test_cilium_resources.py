"""Production's requests and limits for the Cilium control-plane pods, set through the values.

prod's ``ciliumExtraValues`` give cilium-operator, hubble-relay and both hubble-ui containers
requests and limits (the chart defaults them all to ``{}``); dev keeps the chart's defaults. The
paths are the chart's own (values.yaml of the pinned chart, each defaulting to an empty map), and
the values pass its schema (also held for every stack by test_contract_helm_values.py).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from cilium_eks.cilium import CHART, get_path
from tests.conftest import committed_graph
from tests.test_demo_hardening import quantity
from tooling.contracts import load_chart_reference, values_schema_problems
from tooling.mockengine import Graph

RELEASE = "kubernetes:helm.sh/v3:Release"
PATHS = ("operator.resources", "hubble.relay.resources", "hubble.ui.backend.resources",
         "hubble.ui.frontend.resources")


def release(graph: Graph) -> dict[str, Any]:
    [found] = [r for r in graph.of_type(RELEASE) if r.inputs.get("chart") == CHART]
    return found.inputs


@pytest.mark.parametrize("key", PATHS)
def test_prod_requests_no_more_than_it_limits(key: str):
    resources = get_path(release(committed_graph("prod"))["values"], key)
    assert set(resources) == {"requests", "limits"}, key
    for kind in ("cpu", "memory"):
        request, limit = quantity(resources["requests"][kind]), quantity(resources["limits"][kind])
        assert 0 < request <= limit, (key, kind)


def test_prod_reserves_little_of_its_nodes():
    """What the requests reserve in all (two operators, one relay, one UI pod) stays well below
    one vCPU and one GiB on nodes of 2 and 4 vCPUs and 8 and 16 GiB."""
    values = release(committed_graph("prod"))["values"]
    pods = {"operator.resources": values["operator"]["replicas"], "hubble.relay.resources": 1,
            "hubble.ui.backend.resources": 1, "hubble.ui.frontend.resources": 1}
    cpu = sum(n * quantity(get_path(values, k)["requests"]["cpu"]) for k, n in pods.items())
    memory = sum(n * quantity(get_path(values, k)["requests"]["memory"]) for k, n in pods.items())
    assert values["operator"]["replicas"] == 2
    assert cpu <= 0.5 and memory <= 512 * 2**20, (cpu, memory)


def test_dev_keeps_the_chart_defaults():
    values = release(committed_graph("dev"))["values"]
    assert [k for k in PATHS if get_path(values, k) is not None] == []


def test_the_paths_are_the_charts_resource_maps(reference: Path):
    prod = release(committed_graph("prod"))
    chart = load_chart_reference(reference, prod["version"])
    for key in PATHS:
        assert get_path(chart.defaults, key, "absent") == {}, key
    assert values_schema_problems(prod["values"], chart.schema) == []
    bad = copy.deepcopy(prod["values"])
    bad["hubble"]["relay"]["resources"] = "100m"  # the schema wants an object
    assert values_schema_problems(bad, chart.schema) != []
