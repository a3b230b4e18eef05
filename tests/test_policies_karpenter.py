"""karpenter-nodepools on the program's own graphs: prod (Karpenter on) passes, and each thing the rule
guards, broken once on a copy of prod's graph, makes that rule and only that rule fire."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from cilium_eks import instance_types
from cilium_eks.karpenter import NODECLASS_TYPE, NODEPOOL_TYPE, STARTUP_TAINT, eni_limited_pods
from tests.conftest import committed_graph, graph_with
from tests.test_policies import assert_only, baseline, mutable, one, set_prop
from tooling.mockengine import Graph, RecordedResource
from tooling.policy_adapter import evaluate

RULE = "karpenter-nodepools"


def node_pool(graph: Graph) -> RecordedResource:
    return one(graph, NODEPOOL_TYPE)


def node_class(graph: Graph) -> RecordedResource:
    return one(graph, NODECLASS_TYPE)


def edit_spec(r: RecordedResource, change: Callable[[dict[str, Any]], None]) -> None:
    """Change a custom resource's spec as the engine would see it (inputs and outputs alike)."""
    spec = copy.deepcopy(r.inputs["spec"])
    change(spec)
    set_prop(r, "spec", spec)


def requirements(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return spec["template"]["spec"]["requirements"]


def pinned(spec: dict[str, Any]) -> dict[str, Any]:
    [req] = [r for r in requirements(spec) if r["key"] == "node.kubernetes.io/instance-type"]
    return req


def test_prod_runs_karpenter_and_the_rule_passes_on_it():
    graph = committed_graph("prod")
    assert len(graph.of_type(NODEPOOL_TYPE)) == len(graph.of_type(NODECLASS_TYPE)) == 1
    assert baseline("prod").of(RULE) == []


def test_without_karpenter_the_rule_has_nothing_to_check():
    assert committed_graph("dev").of_type(NODEPOOL_TYPE) == []
    assert baseline("dev").of(RULE) == []


def test_a_stack_with_several_pools_passes_too():
    graph = graph_with("dev", karpenterEnabled=True, karpenterNodePools={
        "small": {"minVcpus": 2, "maxVcpus": 2}, "arm": {"architectures": ["arm64"], "instanceCategories": ["m"]}})
    assert len(graph.of_type(NODEPOOL_TYPE)) == 2
    assert evaluate(graph).of(RULE) == []


def test_a_nodepool_without_the_startup_taint_is_refused():
    graph = mutable("prod")
    edit_spec(node_pool(graph), lambda s: s["template"]["spec"].pop("startupTaints"))
    (v,) = assert_only("prod", evaluate(graph), RULE, "does not declare Cilium's taint", "cztack#895", "found: none")
    assert v.urn == node_pool(graph).urn


def test_the_startup_taint_with_another_effect_is_refused():
    # Karpenter matches startup taints by key and effect: NoSchedule would not cover the NoExecute taint.
    graph = mutable("prod")
    edit_spec(node_pool(graph), lambda s: s["template"]["spec"]["startupTaints"][0].update(effect="NoSchedule"))
    assert_only("prod", evaluate(graph), RULE, f"found: {STARTUP_TAINT['key']}:NoSchedule")


def test_a_nodepool_that_pins_no_instance_types_is_refused():
    graph = mutable("prod")
    edit_spec(node_pool(graph), lambda s: requirements(s).remove(pinned(s)))
    assert_only("prod", evaluate(graph), RULE, "pins no instance types")


def test_an_instance_type_the_table_does_not_know_is_refused():
    graph = mutable("prod")
    edit_spec(node_pool(graph), lambda s: pinned(s)["values"].append("m99z.xlarge"))
    assert instance_types.lookup("m99z.xlarge") is None
    assert_only("prod", evaluate(graph), RULE, "m99z.xlarge", "does not know")


def test_a_smaller_type_in_the_pool_makes_its_max_pods_too_many():
    # m6i.large addresses fewer pods than the pool's xlarge types: the NodeClass's number is now unsafe.
    graph = mutable("prod")
    edit_spec(node_pool(graph), lambda s: pinned(s)["values"].append("m6i.large"))
    assert_only("prod", evaluate(graph), RULE, "on m6i.large, the pool's type with the fewest",
                "hang in ContainerCreating")


@pytest.mark.parametrize(("delta", "fragment"), [(1, "hang in ContainerCreating"), (-1, "wasted nodes")])
def test_a_max_pods_other_than_what_cilium_addresses_is_refused(delta: int, fragment: str):
    graph = mutable("prod")
    expected = node_class(graph).inputs["spec"]["kubelet"]["maxPods"]
    edit_spec(node_class(graph), lambda s: s["kubelet"].update(maxPods=expected + delta))
    (v,) = assert_only("prod", evaluate(graph), RULE, f"max pods {expected + delta}", fragment)
    assert v.urn == node_class(graph).urn


def test_a_nodeclass_without_max_pods_falls_back_to_the_vpc_cni_formula_and_is_refused():
    graph = mutable("prod")
    edit_spec(node_class(graph), lambda s: s["kubelet"].pop("maxPods"))
    smallest = instance_types.lookup("c6i.2xlarge")
    assert smallest is not None
    # The message shows what Karpenter would compute itself on the pool's smallest type (the VPC CNI's
    # formula; equal to Cilium's only while host-network pods - agent IPs happens to be 2).
    assert_only("prod", evaluate(graph), RULE, "sets no kubelet.maxPods", f"({eni_limited_pods(smallest)} on")


def test_a_nodepool_whose_nodeclass_the_stack_does_not_declare_is_refused():
    graph = mutable("prod")
    edit_spec(node_pool(graph), lambda s: s["template"]["spec"]["nodeClassRef"].update(name="elsewhere"))
    assert_only("prod", evaluate(graph), RULE, "'elsewhere', which this stack does not declare")
