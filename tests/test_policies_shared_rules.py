"""The pack rules that run the program's own core on the preview's values: the known-bad table
(cilium-known-bad-combinations), the capacity model (node-capacity) and the config validator
(stack-config-valid). One mutation per guard, each firing exactly its rule."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest

from cilium_eks.config import parse_config
from cilium_eks.karpenter import NODECLASS_TYPE, NODEPOOL_TYPE, max_pods_for, required_instance_types
from tests.test_policies import assert_only, baseline, mutable, one, release, set_prop
from tooling.mockengine import Graph, RecordedResource
from tooling.policy_adapter import evaluate
from tooling.stackfiles import stack_config

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"


def test_committed_stacks_pass_the_shared_rules(stack: str):
    shared = {"cilium-known-bad-combinations", "node-capacity", "stack-config-valid"}
    assert not [v for v in baseline(stack).violations if v.policy in shared]


# --- cilium-known-bad-combinations -----------------------------------------------------------


@pytest.mark.parametrize(("stack", "level"), [("prod", "mandatory"), ("dev", "advisory")])
def test_prefix_delegation_on_1_20_0_is_refused_in_production_and_flagged_elsewhere(stack: str, level: str):
    graph = mutable(stack)
    values = dict(release(graph).outputs["values"])
    values["eni"] = {**values["eni"], "awsEnablePrefixDelegation": True}
    set_prop(release(graph), "values", values)
    # node-capacity reads the same values: it now expects the prefix-delegation expression.
    for lt in graph.of_type(LAUNCH_TEMPLATE):
        _set_expression(lt, _expression(lt).replace("(ips_per_eni - 1)", "(ips_per_eni - 1) * 16"))
    # karpenter-nodepools too: its EC2NodeClasses' max pods is now what Cilium addresses with prefixes.
    _with_prefix_delegation_max_pods(graph, stack)
    assert_only(stack, evaluate(graph), "cilium-known-bad-combinations", "eni-prefix-delegation-cidr-exhaustion",
                "https://github.com/cilium/cilium/issues/47910", "ciliumPrefixDelegation", level=level)


def _with_prefix_delegation_max_pods(graph: Graph, stack: str) -> None:
    raw = stack_config(stack)
    addressing = replace(parse_config(raw, project="cilium-eks", stack=stack, region=raw.get("aws:region"))
                         .pod_addressing, prefix_delegation=True)
    classes = {c.inputs["metadata"]["name"]: c for c in graph.of_type(NODECLASS_TYPE)}
    for pool in graph.of_type(NODEPOOL_TYPE):
        node_class = classes[pool.inputs["spec"]["template"]["spec"]["nodeClassRef"]["name"]]
        max_pods, _ = max_pods_for(required_instance_types(pool.inputs) or [], addressing)
        spec = {**node_class.inputs["spec"], "kubelet": {**node_class.inputs["spec"]["kubelet"], "maxPods": max_pods}}
        set_prop(node_class, "spec", spec)


def test_an_eni_mode_cluster_id_the_chart_refuses_is_caught():
    graph = mutable("prod")
    values = dict(release(graph).outputs["values"])
    values["cluster"] = {**values["cluster"], "id": 200}
    set_prop(release(graph), "values", values)
    assert_only("prod", evaluate(graph), "cilium-known-bad-combinations", "eni-cluster-id-policy-drops",
                "cluster.id")


# --- node-capacity ---------------------------------------------------------------------------


def _expression(lt: RecordedResource) -> str:
    text = base64.b64decode(lt.outputs["userData"]).decode()
    return text.split('"maxPodsExpression": "')[1].split('"')[0]


def _set_expression(lt: RecordedResource, expression: str) -> None:
    text = base64.b64decode(lt.outputs["userData"]).decode()
    text = text.replace(f'"maxPodsExpression": "{_expression(lt)}"', f'"maxPodsExpression": "{expression}"')
    set_prop(lt, "userData", base64.b64encode(text.encode()).decode())


def test_a_max_pods_other_than_cilium_addresses_is_refused():
    graph = mutable("dev")
    lt = one(graph, LAUNCH_TEMPLATE)
    # The VPC CNI's formula: one pod more than Cilium addresses on a t3.large (35 against 34).
    _set_expression(lt, "max_pods")
    assert_only("dev", evaluate(graph), "node-capacity", "sets maxPodsExpression 'max_pods'",
                "Cilium addresses 'default_enis * (ips_per_eni - 1) - 2 + 3 < 110")


def test_a_node_group_without_its_own_launch_template_is_refused():
    graph = mutable("dev")
    del graph.resources[one(graph, LAUNCH_TEMPLATE).urn]
    assert_only("dev", evaluate(graph), "node-capacity", "has no launch template of its own",
                "EKS writes its own NodeConfig")


def test_prefix_delegation_on_a_xen_type_is_refused():
    graph = mutable("prod")
    values = dict(release(graph).outputs["values"])
    values["eni"] = {**values["eni"], "awsEnablePrefixDelegation": True}
    set_prop(release(graph), "values", values)
    for lt in graph.of_type(LAUNCH_TEMPLATE):
        _set_expression(lt, _expression(lt).replace("(ips_per_eni - 1)", "(ips_per_eni - 1) * 16"))
    ng = sorted(graph.of_type(EKS_NODE_GROUP), key=lambda r: r.name)[0]
    set_prop(ng, "instanceTypes", ["m4.large"])  # Xen
    ev = evaluate(graph)
    found = [v for v in ev.violations if v.policy == "node-capacity"]
    assert len(found) == 1 and "m4.large (xen hypervisor) with Cilium prefix delegation" in found[0].message


def test_subnets_too_small_for_the_groups_at_max_size_are_refused():
    graph = mutable("prod")
    # Each prod node group spreads over the three private subnets; at maxSize 6 (system, 30
    # addresses a node) and 12 (general, 60) the busiest subnet needs 2 x 30 + 4 x 60 = 300.
    for s in graph.of_type("aws:ec2/subnet:Subnet"):
        if "-private-0" in s.name:
            set_prop(s, "cidrBlock", "10.20.0.0/24")  # 251 usable
    assert_only("prod", evaluate(graph), "node-capacity", "has 251 usable addresses",
                "the node groups at maxSize need 300")


# --- stack-config-valid ----------------------------------------------------------------------


def _graph(stack: str) -> Graph:
    return mutable(stack)


@pytest.mark.parametrize(("key", "value", "fragment"), [
    ("cilium-eks:vpcCidr", "10.20.0.1/16", "not an IPv4 network"),
    ("cilium-eks:nodeGroups", {"system": {"instanceTypes": ["t3.huge"]}}, "'t3.huge' is not an EC2 instance type"),
])
def test_a_config_the_program_refuses_is_refused_by_the_pack_too(key: str, value: object, fragment: str):
    config = {**stack_config("prod"), key: value}
    ev = evaluate(_graph("prod"), stack_config=config)
    found = [v for v in ev.violations if v.policy == "stack-config-valid"]
    messages = "\n".join(v.message for v in found)
    assert found and {v.level for v in found} == {"mandatory"}
    assert key in messages and fragment in messages and "Fix:" in messages
