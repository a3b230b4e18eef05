"""HubbleUi alone: nothing exposed by default (a port-forward command), or an internal-only load
balancer for the given CIDRs that waits for the release and the nodes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from cilium_eks.hubble import INTERNAL_LB_ANNOTATIONS, UI_SELECTOR, UI_TARGET_PORT
from components import HubbleUi, HubbleUiArgs
from tests.components.harness import build, child, children, component, k8s_provider, stand_in, uses_provider
from tooling.mockengine import Graph, RecordedResource

# The token predates the class's name (existing stacks' URNs keep it).
TOKEN = "cilium-eks:components:Hubble"
SERVICE = "kubernetes:core/v1:Service"
STAND_INS = {"k", "cilium", "nodes-a", "nodes-b"}


def build_hubble(access: Any, allowed_cidrs: Sequence[str] = ("10.20.0.0/16",), on_monitor: Any = None) -> Graph:
    def program() -> None:
        provider = k8s_provider()
        HubbleUi("hubble", HubbleUiArgs(
            ui_access=access, k8s_provider=provider, cilium_release=stand_in("cilium", provider),
            nodes=[stand_in("nodes-a", provider), stand_in("nodes-b", provider)],
            cluster_name="blue", region="eu-west-1", allowed_cidrs=list(allowed_cidrs)))

    return build(program, on_monitor=on_monitor)


def hubble(graph: Graph, outputs: frozenset[str] = frozenset({"ui_command", "ui_url"})) -> RecordedResource:
    return component(graph, TOKEN, stand_ins=STAND_INS, outputs=outputs)


def test_port_forward_exposes_nothing_and_says_how_to_reach_the_ui():
    graph = build_hubble("port-forward")
    comp = hubble(graph, frozenset({"ui_command"}))  # the engine drops the None ui_url
    assert children(graph, comp) == []
    command = comp.registered_outputs["ui_command"]
    assert command.startswith("aws eks update-kubeconfig --region eu-west-1 --name blue ")
    assert "--namespace kube-system port-forward service/hubble-ui 12000:80" in command


def test_internal_load_balancer_is_internal_only_for_the_allowed_cidrs():
    graph = build_hubble("internal-load-balancer", ["10.20.0.0/16", "192.168.0.0/24"])
    comp = hubble(graph)
    service = child(graph, comp, SERVICE)
    assert service.inputs["metadata"]["namespace"] == "kube-system"
    assert service.inputs["metadata"]["annotations"] == dict(INTERNAL_LB_ANNOTATIONS)
    spec = service.inputs["spec"]
    assert spec["type"] == "LoadBalancer"
    assert spec["loadBalancerSourceRanges"] == ["10.20.0.0/16", "192.168.0.0/24"]
    assert spec["selector"] == dict(UI_SELECTOR)
    assert spec["ports"] == [{"name": "http", "port": 80, "targetPort": UI_TARGET_PORT, "protocol": "TCP"}]
    assert uses_provider(service, graph.named("k").urn)
    waits = {graph.named(n).urn for n in ("cilium", "nodes-a", "nodes-b")}
    assert waits <= service.explicit_dependencies, "its endpoints need the release's pods on nodes"


@pytest.mark.parametrize(("access", "cidrs", "message"), [
    ("public-load-balancer", ["10.20.0.0/16"], "ui_access must be one of"),
    ("internal-load-balancer", [], "narrower than /0"),
    ("internal-load-balancer", ["10.20.0.0/16", "0.0.0.0/0"], "narrower than /0"),
])
def test_invalid_access_is_refused_before_anything_is_exposed(access: str, cidrs: list[str], message: str):
    monitors: list[Any] = []
    with pytest.raises(ValueError, match=message):
        build_hubble(access, cidrs, on_monitor=monitors.append)
    assert not [r for r in monitors[0].recorded.values() if r.type == SERVICE]
