"""StarWarsDemo alone: the demo's objects in a namespace of their own, the policy of the stage
asked for, and every workload waiting for the release and the nodes."""

from __future__ import annotations

from typing import Any

import pytest

from cilium_eks import demo
from components import StarWarsDemo, StarWarsDemoArgs
from tests.components.harness import build, children, component, k8s_provider, stand_in, uses_provider
from tests.test_demo_hardening import restricted_problems
from tooling.mockengine import Graph, RecordedResource

TOKEN = "cilium-eks:components:StarWarsDemo"
CNP = "kubernetes:cilium.io/v2:CiliumNetworkPolicy"
NAMESPACE = "kubernetes:core/v1:Namespace"
WORKLOADS = ["kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Pod", "kubernetes:core/v1:Pod",
             "kubernetes:core/v1:Service"]
STAND_INS = {"k", "cilium", "nodes-a", "nodes-b"}


def build_demo(policy: Any, *, with_nodes: bool = True, on_monitor: Any = None) -> Graph:
    def program() -> None:
        provider = k8s_provider()
        nodes = [stand_in("nodes-a", provider), stand_in("nodes-b", provider)] if with_nodes else []
        StarWarsDemo("demo", StarWarsDemoArgs(name_prefix="blue", policy=policy, k8s_provider=provider,
                                              cilium_release=stand_in("cilium", provider), nodes=nodes))

    return build(program, on_monitor=on_monitor)


def star_wars(graph: Graph) -> RecordedResource:
    return component(graph, TOKEN, stand_ins=STAND_INS, outputs={"namespace", "policy_stage"})


@pytest.mark.parametrize("stage", ["none", "l3l4", "l7"])
def test_each_stage_declares_the_workloads_and_its_policy(stage: str):
    graph = build_demo(stage)
    comp = star_wars(graph)
    kinds = sorted(r.type for r in children(graph, comp))
    assert kinds == sorted([NAMESPACE, *WORKLOADS, *([] if stage == "none" else [CNP])])
    policies = [r for r in children(graph, comp) if r.type == CNP]
    assert [p.inputs["spec"] for p in policies] == ([] if stage == "none" else [demo.policy_spec(stage)])
    assert all(p.inputs["metadata"]["name"] == demo.POLICY_NAME for p in policies)
    assert comp.registered_outputs == {"namespace": "blue-demo", "policy_stage": stage}


def test_everything_but_the_namespace_waits_for_the_release_and_every_node_group():
    graph = build_demo("l7")
    waits = {graph.named(n).urn for n in ("cilium", "nodes-a", "nodes-b")}
    for r in children(graph, star_wars(graph)):
        assert uses_provider(r, graph.named("k").urn), r.name
        if r.type == NAMESPACE:
            assert r.explicit_dependencies == frozenset(), "the namespace needs no node"
        else:
            assert waits <= r.explicit_dependencies, r.name


def test_everything_lives_in_the_demo_namespace():
    graph = build_demo("l7")
    [ns] = [r for r in children(graph, star_wars(graph)) if r.type == NAMESPACE]
    assert ns.inputs["metadata"]["name"] == demo.demo_namespace("blue") == "blue-demo"
    for r in children(graph, star_wars(graph)):
        if r is not ns:
            assert r.inputs["metadata"]["namespace"] == "blue-demo", r.name
            assert ns.urn in r.property_dependencies["metadata"], r.name


@pytest.mark.parametrize(("policy", "with_nodes", "message"), [
    ("l5", True, "policy must be one of"),
    ("l7", False, "needs the node groups"),
])
def test_invalid_args_are_refused_before_any_object_is_declared(policy: str, with_nodes: bool, message: str):
    monitors: list[Any] = []
    with pytest.raises(ValueError, match=message):
        build_demo(policy, with_nodes=with_nodes, on_monitor=monitors.append)
    recorded = monitors[0].recorded.values()
    assert not [r for r in recorded if r.type in {NAMESPACE, CNP, *WORKLOADS}]


def test_every_pod_the_component_declares_meets_the_namespace_standard():
    graph = build_demo("none")
    comp = star_wars(graph)
    [ns] = [r for r in children(graph, comp) if r.type == NAMESPACE]
    assert ns.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    pods = {r.inputs["metadata"]["name"]: r.inputs["spec"]["template"]["spec"] if r.type == WORKLOADS[0]
            else r.inputs["spec"] for r in children(graph, comp) if r.type in WORKLOADS[:2]}
    assert sorted(pods) == ["deathstar", "tiefighter", "xwing"]
    assert {name: restricted_problems(spec) for name, spec in pods.items()} == {name: [] for name in pods}
    for spec in pods.values():
        [container] = spec["containers"]
        assert set(container["resources"]) == {"requests", "limits"}
        assert container["readinessProbe"]["tcpSocket"] == container["livenessProbe"]["tcpSocket"] == {"port": 80}
