"""CoreDns alone: the managed EKS CoreDNS add-on, at EKS's default version for the cluster's
Kubernetes version, taking over the bootstrap copy, created only once nodes exist."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from components import CoreDns, CoreDnsArgs
from tests.components.harness import build, child, children, component, k8s_provider, stand_in
from tooling.mockengine import Graph, RecordedResource
from tooling.mockengine.monitor import RecordingMonitor

TOKEN = "cilium-eks:components:CoreDns"
ADDON = "aws:eks/addon:Addon"
GET_ADDON_VERSION = "aws:eks/getAddonVersion:getAddonVersion"
STAND_INS = {"k", "nodes-a", "nodes-b"}


def build_coredns(kubernetes_version: str = "1.33", *, nodes: Sequence[str] = ("nodes-a", "nodes-b"),
                  on_monitor: Callable[[RecordingMonitor], None] | None = None) -> Graph:
    def program() -> None:
        provider = k8s_provider()
        CoreDns("dns", CoreDnsArgs(cluster_name="blue", kubernetes_version=kubernetes_version,
                                   nodes=[stand_in(n, provider) for n in nodes], tags={"team": "net"}))

    return build(program, on_monitor=on_monitor)


def version_lookups(kubernetes_version: str = "1.33") -> tuple[Graph, list[dict[str, Any]]]:
    monitors: list[RecordingMonitor] = []
    graph = build_coredns(kubernetes_version, on_monitor=monitors.append)
    return graph, [args for token, args in monitors[0].engine_mocks.invokes if token == GET_ADDON_VERSION]


def coredns(graph: Graph) -> RecordedResource:
    return component(graph, TOKEN, stand_ins=STAND_INS, outputs={"version"})


def addon(graph: Graph) -> RecordedResource:
    return child(graph, coredns(graph), ADDON)


@pytest.fixture(scope="module")
def graph() -> Graph:
    return build_coredns()


def test_the_component_declares_the_coredns_add_on_only(graph: Graph):
    assert [r.type for r in children(graph, coredns(graph))] == [ADDON]
    inputs = addon(graph).inputs
    assert inputs["addonName"] == "coredns"
    assert inputs["clusterName"] == "blue"
    assert inputs["tags"] == {"team": "net"}


@pytest.mark.parametrize("kubernetes_version", ["1.33", "1.34"])
def test_the_version_is_eks_default_for_the_kubernetes_version(kubernetes_version: str):
    graph, lookups = version_lookups(kubernetes_version)
    # most_recent=False: EKS's default build for that version, not whatever AWS published last.
    assert lookups == [{"addonName": "coredns", "kubernetesVersion": kubernetes_version, "mostRecent": False}]
    # The mock answers v1.12.4-eksbuild.<minor>: the add-on takes what the lookup returned.
    expected = f"v1.12.4-eksbuild.{kubernetes_version.split('.')[1]}"
    assert addon(graph).inputs["addonVersion"] == expected
    assert coredns(graph).registered_outputs["version"] == expected


def test_another_kubernetes_version_is_another_add_on_version():
    assert addon(build_coredns("1.34")).inputs["addonVersion"] != addon(build_coredns("1.33")).inputs["addonVersion"]


def test_conflicts_are_overwritten_on_create_and_on_update(graph: Graph):
    # Create takes over the copy EKS bootstrapped; update keeps the add-on's settings authoritative.
    inputs = addon(graph).inputs
    assert inputs["resolveConflictsOnCreate"] == "OVERWRITE"
    assert inputs["resolveConflictsOnUpdate"] == "OVERWRITE"


def test_the_add_on_waits_for_every_node_group(graph: Graph):
    a = addon(graph)
    nodes = {graph.named(n).urn for n in ("nodes-a", "nodes-b")}
    # No value links them: the order is stated with depends_on.
    assert nodes <= a.explicit_dependencies
    assert all(graph.waits_for(a.urn, n) for n in nodes)


def test_without_nodes_it_refuses_before_declaring_anything():
    monitors: list[RecordingMonitor] = []
    with pytest.raises(ValueError, match="node groups"):
        build_coredns(nodes=(), on_monitor=monitors.append)
    assert not [r for r in monitors[0].recorded.values() if r.type == ADDON]
