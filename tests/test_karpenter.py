"""Karpenter in the real program's graph: the startup taint on every NodePool, the order (Cilium -> managed
nodes -> CRDs -> controller -> EC2NodeClass -> NodePool) in create and, backwards, in destroy, the IAM scoped to
this cluster, the queue wired to its rules, the discovery tags, and dev unchanged unless it turns Karpenter on."""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest

from cilium_eks.cilium import CHART as CILIUM_CHART
from cilium_eks.cilium import chart_name
from cilium_eks.config import StackConfig, parse_config
from cilium_eks.karpenter import (
    DISCOVERY_TAG,
    INTERRUPTION_EVENTS,
    NODECLASS_TYPE,
    NODEPOOL_TYPE,
    STARTUP_TAINT,
    carries_startup_taint,
    pool_capacity,
    required_instance_types,
)
from cilium_eks.ordering import check_ordering
from tests.conftest import committed_graph, graph_with
from tooling.mockengine import Graph, RecordedResource
from tooling.plan import make_plan
from tooling.plan.capacity import capacity_json, capacity_report, render_capacity
from tooling.stackfiles import stack_config

RELEASE = "kubernetes:helm.sh/v3:Release"
MNG = "eks:index:ManagedNodeGroup"
POLICY = "aws:iam/policy:Policy"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
KARPENTER_RULES = ("karpenter-release-after-nodes", "karpenter-release-after-crds",
                   "nodeclasses-after-karpenter-release", "nodepools-after-karpenter-release",
                   "nodepools-after-nodeclasses")
TWO_POOLS = {"small": {"minVcpus": 2, "maxVcpus": 2}, "arm": {"architectures": ["arm64"], "instanceCategories": ["m"]}}


def prod() -> Graph:
    return committed_graph("prod")


def config(stack: str, **overrides: Any) -> StackConfig:
    raw = {**stack_config(stack), **{f"cilium-eks:{k}": v for k, v in overrides.items()}}
    return parse_config(raw, project="cilium-eks", stack=stack, region=raw.get("aws:region"))


def release(graph: Graph, chart: str) -> RecordedResource:
    [found] = [r for r in graph.of_type(RELEASE) if chart_name(r.inputs.get("chart")) == chart]
    return found


def named(graph: Graph, suffix: str) -> RecordedResource:
    return graph.named(f"{graph.project}-{graph.stack}-{suffix}")


def karpenter_resources(graph: Graph) -> list[RecordedResource]:
    return [r for r in graph if "karpenter" in r.name or r.type in (NODEPOOL_TYPE, NODECLASS_TYPE)]


def policy_docs(graph: Graph) -> dict[str, dict[str, Any]]:
    return {r.name.split("-karpenter-controller-")[1]: json.loads(r.inputs["policy"]) for r in graph.of_type(POLICY)
            if "-karpenter-controller-" in r.name}


# --- the taint, and max pods --------------------------------------------------------------------------


@pytest.mark.parametrize("graph", [pytest.param(prod, id="prod"),
                                   pytest.param(lambda: graph_with("dev", karpenterEnabled=True,
                                                                   karpenterNodePools=TWO_POOLS), id="dev-two-pools")])
def test_every_nodepool_starts_its_nodes_with_the_cilium_taint(graph: Callable[[], Graph]):
    g = graph()
    pools = g.of_type(NODEPOOL_TYPE)
    assert pools
    for p in pools:
        assert p.inputs["spec"]["template"]["spec"]["startupTaints"] == [dict(STARTUP_TAINT)]
        assert carries_startup_taint(p.inputs)
        assert STARTUP_TAINT["key"] == "node.cilium.io/agent-not-ready" and STARTUP_TAINT["effect"] == "NoExecute"


def test_each_nodeclass_gets_the_max_pods_cilium_addresses_on_every_type_its_pool_pins():
    cfg = config("prod")
    graph = prod()
    classes = {c.inputs["metadata"]["name"]: c for c in graph.of_type(NODECLASS_TYPE)}
    for spec in cfg.karpenter.node_pools:
        cap = pool_capacity(spec, cfg.pod_addressing)
        assert cap is not None
        [np] = [p for p in graph.of_type(NODEPOOL_TYPE) if p.inputs["metadata"]["name"] == spec.name]
        assert required_instance_types(np.inputs) == sorted(n.instance_type for n in cap.types)
        kubelet = classes[spec.name].inputs["spec"]["kubelet"]
        assert kubelet["maxPods"] == cap.max_pods == min(n.max_pods for n in cap.types)
        assert kubelet["kubeReserved"] == {"memory": f"{11 * cap.max_pods + 255}Mi"}


def test_the_nodeclass_pins_the_ami_release_and_keeps_pods_off_imds():
    cfg = config("prod")
    [nc] = prod().of_type(NODECLASS_TYPE)
    spec = nc.inputs["spec"]
    assert spec["amiSelectorTerms"] == [{"alias": f"al2023@{cfg.node_ami_release}"}]
    assert spec["metadataOptions"]["httpPutResponseHopLimit"] == 1
    assert spec["metadataOptions"]["httpTokens"] == "required"


# --- order, create and destroy ---------------------------------------------------------------------


def test_the_order_is_cilium_nodes_crds_controller_nodeclass_nodepool():
    graph = prod()
    cilium, crds, controller = (release(graph, c) for c in (CILIUM_CHART, "karpenter-crd", "karpenter"))
    [node_class], [node_pool] = graph.of_type(NODECLASS_TYPE), graph.of_type(NODEPOOL_TYPE)
    groups = graph.of_type(MNG)
    chain = [node_pool, node_class, controller, crds]
    for later, earlier in itertools.pairwise(chain):
        assert graph.waits_for(later.urn, earlier.urn), f"{later.name} does not wait for {earlier.name}"
    assert all(graph.waits_for(controller.urn, g.urn) and graph.waits_for(g.urn, cilium.urn) for g in groups)
    # Destroy runs the waits backwards: nothing the NodePool's nodes need goes before the NodePool.
    needed = [named(graph, s) for s in ("karpenter-node-access", "karpenter-node-worker", "karpenter-node-ecr-pull",
                                        "karpenter-controller-node-lifecycle-attach")]
    assert all(graph.waits_for(node_pool.urn, r.urn) for r in needed)
    assert all(graph.waits_for(controller.urn, t.urn) for t in graph.of_type(TARGET))


def test_every_karpenter_ordering_rule_is_checked_and_holds_on_prod():
    findings = [f for f in check_ordering(prod().dependency_graph()) if f.rule.name in KARPENTER_RULES]
    assert {f.rule.name for f in findings} == set(KARPENTER_RULES)
    assert all(f.ok for f in findings), [f.rule.name for f in findings if not f.ok]


def test_stacks_without_karpenter_have_nothing_to_order():
    assert not [f for f in check_ordering(committed_graph("dev").dependency_graph()) if f.rule.name in KARPENTER_RULES]


def _first(type_: str) -> Callable[[Graph], RecordedResource]:
    return lambda g: sorted(g.of_type(type_), key=lambda r: r.urn)[0]


def _release(chart: str) -> Callable[[Graph], RecordedResource]:
    return lambda g: release(g, chart)


NEGATIVE_CONTROLS: dict[str, tuple[Callable[[Graph], RecordedResource], tuple[Callable[[Graph], RecordedResource], ...],
                                   set[str]]] = {
    "karpenter-release-after-nodes": (_release("karpenter"), (_first(MNG),), set()),
    "karpenter-release-after-crds": (_release("karpenter"), (_release("karpenter-crd"),), set()),
    "nodeclasses-after-karpenter-release": (_first(NODECLASS_TYPE), (_release("karpenter"),), set()),
    # The NodePool also waits for the release through its EC2NodeClass: both edges must go.
    "nodepools-after-karpenter-release": (_first(NODEPOOL_TYPE), (_release("karpenter"), _first(NODECLASS_TYPE)),
                                          {"nodepools-after-nodeclasses"}),
    "nodepools-after-nodeclasses": (_first(NODEPOOL_TYPE), (_first(NODECLASS_TYPE),), set()),
}


@pytest.mark.parametrize("rule", KARPENTER_RULES)
def test_a_missing_karpenter_dependency_is_found(rule: str):
    later, earliers, also = NEGATIVE_CONTROLS[rule]
    broken = copy.deepcopy(prod())
    victim = later(broken)
    for earlier in earliers:
        target = earlier(broken).urn
        victim.dependencies = tuple(d for d in victim.dependencies if d != target)
        victim.property_dependencies = {k: tuple(d for d in v if d != target)
                                        for k, v in victim.property_dependencies.items()}
    failed = [f for f in check_ordering(broken.dependency_graph()) if not f.ok]
    assert {f.rule.name for f in failed} == {rule, *also}
    assert all(f.later is not None and f.later.urn == victim.urn for f in failed)
    assert all(f.ok for f in check_ordering(prod().dependency_graph())), "the committed graph was not altered"


# --- IAM ----------------------------------------------------------------------------------------------


def test_the_controller_assumes_its_role_only_through_its_service_account():
    graph = prod()
    role = named(graph, "karpenter-controller")
    oidc = graph.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    [st] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    issuer = oidc.outputs["url"].removeprefix("https://")
    assert st["Principal"] == {"Federated": oidc.outputs["arn"]}
    assert st["Condition"]["StringEquals"] == {f"{issuer}:sub": "system:serviceaccount:kube-system:karpenter",
                                               f"{issuer}:aud": "sts.amazonaws.com"}
    values = release(graph, "karpenter").inputs["values"]
    assert values["serviceAccount"] == {"name": "karpenter",
                                        "annotations": {"eks.amazonaws.com/role-arn": role.outputs["arn"]}}


def test_the_controllers_iam_is_scoped_to_this_cluster_its_node_role_and_its_queue():
    graph = prod()
    cluster = graph.one("aws:eks/cluster:Cluster").outputs
    docs = policy_docs(graph)
    assert set(docs) == {"node-lifecycle", "iam-integration", "eks-integration", "interruption",
                         "resource-discovery"}
    name = cluster["name"]
    for st in docs["node-lifecycle"]["Statement"]:
        if st["Sid"] != "AllowScopedEC2InstanceAccessActions":  # images, subnets... used, never created
            assert f"kubernetes.io/cluster/{name}" in json.dumps(st["Condition"]), st["Sid"]
    assert docs["eks-integration"]["Statement"][0]["Resource"] == cluster["arn"]
    assert docs["iam-integration"]["Statement"][0]["Resource"] == named(graph, "karpenter-node-role").outputs["arn"]
    queue = graph.one("aws:sqs/queue:Queue")
    assert docs["interruption"]["Statement"][0]["Resource"] == queue.outputs["arn"]
    attached = {a.inputs["policyArn"] for a in graph.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if a.inputs["role"] == named(graph, "karpenter-controller").outputs["name"]}
    assert attached == {p.outputs["arn"] for p in graph.of_type(POLICY) if "-karpenter-controller-" in p.name}


def test_the_nodes_join_through_an_ec2_linux_access_entry_of_their_own_role():
    graph = prod()
    entry = graph.one("aws:eks/accessEntry:AccessEntry")
    role = named(graph, "karpenter-node-role")
    assert entry.inputs["type"] == "EC2_LINUX" and entry.inputs["principalArn"] == role.outputs["arn"]
    assert entry.inputs["clusterName"] == graph.one("aws:eks/cluster:Cluster").outputs["name"]
    policies = {a.inputs["policyArn"] for a in graph.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if a.inputs["role"] == role.outputs["name"]}
    assert policies == {"arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
                        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly"}


# --- the interruption queue ---------------------------------------------------------------------------


def test_the_queue_is_wired_to_every_rule_and_to_the_controller():
    graph = prod()
    queue = graph.one("aws:sqs/queue:Queue")
    rules = graph.of_type(RULE)
    targets = graph.of_type(TARGET)
    assert len(rules) == len(targets) == len(INTERRUPTION_EVENTS) == 5
    patterns = {(tuple(p["source"]), tuple(p["detail-type"])) for p in (json.loads(r.inputs["eventPattern"])
                                                                        for r in rules)}
    assert patterns == {((s,), (d,)) for s, d in INTERRUPTION_EVENTS.values()}
    assert {t.inputs["rule"] for t in targets} == {r.outputs["name"] for r in rules}
    assert all(t.inputs["arn"] == queue.outputs["arn"] for t in targets)
    settings = release(graph, "karpenter").inputs["values"]["settings"]
    assert settings == {"clusterName": graph.one("aws:eks/cluster:Cluster").outputs["name"],
                        "interruptionQueue": queue.outputs["name"]}
    policy = json.loads(graph.one("aws:sqs/queuePolicy:QueuePolicy").inputs["policy"])
    assert {s["Resource"] for s in policy["Statement"]} == {queue.outputs["arn"]}


# --- discovery tags ------------------------------------------------------------------------------------


def test_karpenter_nodes_land_in_the_private_subnets_and_the_cluster_security_group():
    graph = prod()
    name = graph.one("aws:eks/cluster:Cluster").outputs["name"]
    subnets = graph.of_type("aws:ec2/subnet:Subnet")
    tagged = {s.name for s in subnets if s.inputs["tags"].get(DISCOVERY_TAG) == name}
    assert tagged == {s.name for s in subnets if "-private-" in s.name} and tagged
    [sg_tag] = graph.of_type("aws:ec2/tag:Tag")
    cluster_sg = graph.one("aws:eks/cluster:Cluster").outputs["vpcConfig"]["clusterSecurityGroupId"]
    assert sg_tag.inputs == {"resourceId": cluster_sg, "key": DISCOVERY_TAG, "value": name}
    [nc] = graph.of_type(NODECLASS_TYPE)
    assert nc.inputs["spec"]["subnetSelectorTerms"] == nc.inputs["spec"]["securityGroupSelectorTerms"] == [
        {"tags": {DISCOVERY_TAG: name}}]


def test_an_adopted_vpcs_private_subnets_get_the_discovery_tag_too():
    ids = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]
    graph = graph_with("dev", karpenterEnabled=True, existingVpcId="vpc-0123456789abcdef0",
                       existingPrivateSubnetIds=ids)
    tags = {(t.inputs["resourceId"], t.inputs["key"]) for t in graph.of_type("aws:ec2/tag:Tag")}
    assert {(i, DISCOVERY_TAG) for i in ids} <= tags


# --- dev stays as it is ---------------------------------------------------------------------------------


def test_dev_declares_nothing_of_karpenter_and_no_discovery_tag():
    dev = committed_graph("dev")
    assert karpenter_resources(dev) == []
    assert not any(DISCOVERY_TAG in (s.inputs.get("tags") or {}) for s in dev.of_type("aws:ec2/subnet:Subnet"))
    assert not [k for k in dev.outputs if k.startswith("karpenter")]


def test_node_pools_configured_but_disabled_change_nothing():
    dev = committed_graph("dev")
    configured = graph_with("dev", karpenterEnabled=False, karpenterNodePools=TWO_POOLS)

    def shape(g: Graph) -> dict[str, Any]:
        return {r.name: (r.type, json.dumps(r.inputs, sort_keys=True, default=str)) for r in g}

    assert shape(configured) == shape(dev)


def test_turned_on_in_dev_it_brings_the_controller_and_its_pools():
    graph = graph_with("dev", karpenterEnabled=True)
    assert len(graph.of_type(NODEPOOL_TYPE)) == len(graph.of_type(NODECLASS_TYPE)) == 1
    assert release(graph, "karpenter").inputs["values"]["replicas"] == 2  # dev keeps 2 nodes at minimum
    single = graph_with("dev", karpenterEnabled=True,
                        nodeGroups={"general": {"minSize": 1, "desiredSize": 1, "maxSize": 3}})
    assert release(single, "karpenter").inputs["values"]["replicas"] == 1, "the hostname anti-affinity needs 2 nodes"


# --- the plan --------------------------------------------------------------------------------------------


def test_the_plan_shows_each_pools_limits_max_pods_and_worst_case():
    plan = make_plan("prod")
    [cap] = [pool_capacity(p, plan.config.pod_addressing) for p in plan.config.karpenter.node_pools]
    assert cap is not None
    text = "\n".join(render_capacity(capacity_report(plan.config)))
    assert f"  {cap.pool.name}: limits {cap.pool.cpu_limit} vCPUs, {cap.pool.memory_limit}" in text
    assert f"max pods {cap.max_pods} (= {cap.smallest.instance_type}:" in text
    assert (f"worst case: {cap.worst_nodes} x {cap.worst.instance_type} ({cap.worst.vcpus} vCPUs, "
            f"{cap.pod_ips_on(cap.worst)} pod IPs each, the most per vCPU) = {cap.worst_pods} pods") in text
    [doc] = capacity_json(capacity_report(plan.config))["karpenter_node_pools"]
    assert (doc["max_pods"], doc["worst_type"], doc["subnet_nodes"]) == (
        cap.max_pods, cap.worst.instance_type, cap.demand.max_nodes)
    assert "karpenter-nodepool-burst" in {s.label for s in plan.steps.values()}
    assert any("nodepools-after-karpenter-release" in c.text and c.ok for c in plan.checks)
    assert capacity_json(capacity_report(make_plan("dev").config))["karpenter_node_pools"] == []
