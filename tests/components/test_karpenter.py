"""Karpenter and KarpenterInterruption alone, outside this project's program: what each declares, what waits
for what (so destroy runs backwards), and the IAM scoped to the cluster it is given."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from cilium_eks.cilium import CiliumOptions
from cilium_eks.karpenter import INTERRUPTION_EVENTS, NodePoolSpec, pool_capacity
from components import Karpenter, KarpenterArgs, KarpenterInterruption, KarpenterInterruptionArgs
from tests.components.harness import REGION, build, child, children, component, k8s_provider, stand_in
from tooling.mockengine import ACCOUNT_ID, Graph, RecordedResource
from tooling.mockengine.monitor import RecordingMonitor

TOKEN = "cilium-eks:components:Karpenter"
QUEUE_TOKEN = "cilium-eks:components:KarpenterInterruption"
RELEASE = "kubernetes:helm.sh/v3:Release"
NODEPOOL = "kubernetes:karpenter.sh/v1:NodePool"
NODECLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
POLICY = "aws:iam/policy:Policy"
CLUSTER = "blue"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:blue-karpenter"
STAND_INS = {"k", "nodes-a", "nodes-b", "rules"}
OUTPUTS = {"controller_role_arn", "node_role_arn", "instance_profile_name", "release_name", "max_pods"}
POOLS = (NodePoolSpec(name="small", min_vcpus=2, max_vcpus=2), NodePoolSpec(name="big", min_vcpus=8, max_vcpus=16))


def build_karpenter(*, nodes: tuple[str, ...] = ("nodes-a", "nodes-b"), pools: tuple[NodePoolSpec, ...] = POOLS,
                    on_monitor: Callable[[RecordingMonitor], None] | None = None) -> Graph:
    def program() -> None:
        provider = k8s_provider()
        Karpenter("kp", KarpenterArgs(
            cluster_name=CLUSTER, region=REGION, cluster_security_group_id="sg-0123456789abcdef0",
            oidc_provider_arn=f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/oidc.eks.{REGION}.amazonaws.com/id/ABC",
            oidc_issuer=f"oidc.eks.{REGION}.amazonaws.com/id/ABC", k8s_provider=provider,
            nodes=[stand_in(n, provider) for n in nodes], interruption_queue="blue-karpenter",
            interruption_queue_arn=QUEUE_ARN, node_pools=pools, replicas=1,
            after=[stand_in("rules", provider)], tags={"team": "net"}))

    return build(program, on_monitor=on_monitor)


@pytest.fixture(scope="module")
def graph() -> Graph:
    return build_karpenter()


def karpenter(graph: Graph) -> RecordedResource:
    return component(graph, TOKEN, stand_ins=STAND_INS, outputs=OUTPUTS)


def of(graph: Graph, type_: str) -> list[RecordedResource]:
    return sorted((r for r in children(graph, karpenter(graph)) if r.type == type_), key=lambda r: r.name)


def named(graph: Graph, suffix: str) -> RecordedResource:
    return graph.named(f"kp-{suffix}")


def test_the_component_declares_the_controller_the_node_identity_and_one_class_and_pool_per_pool(graph: Graph):
    types = sorted(r.type for r in children(graph, karpenter(graph)))
    assert types.count(NODEPOOL) == types.count(NODECLASS) == len(POOLS)
    assert types.count(RELEASE) == 2
    assert types.count(POLICY) == 5
    assert types.count("aws:iam/role:Role") == 2
    assert {"aws:eks/accessEntry:AccessEntry", "aws:iam/instanceProfile:InstanceProfile",
            "aws:ec2/tag:Tag"} <= set(types)
    capacities = {p.name: pool_capacity(p, CiliumOptions().pod_addressing) for p in POOLS}
    assert karpenter(graph).registered_outputs["max_pods"] == {
        name: c.max_pods for name, c in capacities.items() if c is not None}


def test_each_pool_gets_its_own_nodeclass_with_its_own_max_pods(graph: Graph):
    by_pool = {r.inputs["metadata"]["name"]: r for r in of(graph, NODECLASS)}
    small = by_pool["small"].inputs["spec"]["kubelet"]["maxPods"]
    big = by_pool["big"].inputs["spec"]["kubelet"]["maxPods"]
    assert small < big, "a 2-vCPU pool addresses fewer pods than a 8-16 vCPU one"
    for pool in of(graph, NODEPOOL):
        ref = pool.inputs["spec"]["template"]["spec"]["nodeClassRef"]
        assert ref == {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": pool.inputs["metadata"]["name"]}


def test_the_controller_release_waits_for_the_nodes_the_crds_its_permissions_and_what_it_is_told(graph: Graph):
    release = named(graph, "release")
    crds = named(graph, "crds")
    attachments = [r.urn for r in children(graph, karpenter(graph)) if r.name.startswith("kp-controller-")
                   and r.name.endswith("-attach")]
    assert len(attachments) == 5
    expected = {crds.urn, *attachments, *(graph.named(n).urn for n in ("nodes-a", "nodes-b", "rules"))}
    assert expected <= release.explicit_dependencies
    assert release.inputs["skipCrds"] is True and release.inputs["skipAwait"] is False
    assert crds.inputs["chart"] == "oci://public.ecr.aws/karpenter/karpenter-crd"
    assert release.inputs["chart"] == "oci://public.ecr.aws/karpenter/karpenter"
    assert release.inputs["version"] == crds.inputs["version"] == "1.14.1"


def test_nodepools_outlive_nothing_they_need(graph: Graph):
    release = named(graph, "release")
    access = child(graph, karpenter(graph), "aws:eks/accessEntry:AccessEntry")
    for pool in of(graph, NODEPOOL):
        node_class = named(graph, f"nodeclass-{pool.inputs['metadata']['name']}")
        for earlier in (node_class, release, access, named(graph, "node-worker"), named(graph, "node-ecr-pull")):
            assert graph.waits_for(pool.urn, earlier.urn), f"{pool.name} does not wait for {earlier.name}"
        # Deleted in the foreground: Pulumi returns once Karpenter terminated the pool's nodes.
        assert pool.inputs["metadata"]["annotations"] == {"pulumi.com/deletionPropagationPolicy": "foreground"}
        assert pool.options["custom_timeouts"]["delete"] == "30m"
    for node_class in of(graph, NODECLASS):
        assert graph.waits_for(node_class.urn, release.urn)
        assert graph.waits_for(node_class.urn, child(graph, karpenter(graph), "aws:ec2/tag:Tag").urn)


def test_the_iam_is_scoped_to_the_cluster_it_is_given(graph: Graph):
    docs = {r.name.removeprefix("kp-controller-"): json.loads(r.inputs["policy"]) for r in of(graph, POLICY)}
    assert set(docs) == {"node-lifecycle", "iam-integration", "eks-integration", "interruption", "resource-discovery"}
    text = json.dumps(docs["node-lifecycle"])
    assert f"kubernetes.io/cluster/{CLUSTER}" in text and '"aws:RequestTag/eks:eks-cluster-name": "blue"' in text
    [pass_role] = docs["iam-integration"]["Statement"]
    assert pass_role["Resource"] == named(graph, "node-role").outputs["arn"]
    [describe] = docs["eks-integration"]["Statement"]
    assert describe["Resource"] == f"arn:aws:eks:{REGION}:{ACCOUNT_ID}:cluster/{CLUSTER}"
    [queue] = docs["interruption"]["Statement"]
    assert queue["Resource"] == QUEUE_ARN
    trust = json.loads(named(graph, "controller").inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Condition"]["StringEquals"][f"oidc.eks.{REGION}.amazonaws.com/id/ABC:sub"] == \
        "system:serviceaccount:kube-system:karpenter"


def test_the_node_role_joins_as_a_node_through_an_ec2_linux_access_entry(graph: Graph):
    access = child(graph, karpenter(graph), "aws:eks/accessEntry:AccessEntry")
    role = named(graph, "node-role")
    assert access.inputs["type"] == "EC2_LINUX"
    assert access.inputs["principalArn"] == role.outputs["arn"] and access.inputs["clusterName"] == CLUSTER
    profile = child(graph, karpenter(graph), "aws:iam/instanceProfile:InstanceProfile")
    assert profile.inputs["role"] == role.outputs["name"]
    assert all(c.inputs["spec"]["instanceProfile"] == profile.outputs["name"] for c in of(graph, NODECLASS))


def test_the_cluster_security_group_gets_the_discovery_tag(graph: Graph):
    tag = child(graph, karpenter(graph), "aws:ec2/tag:Tag")
    assert tag.inputs == {"resourceId": "sg-0123456789abcdef0", "key": "karpenter.sh/discovery", "value": CLUSTER}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"nodes": ()}, "managed node groups"),
    ({"pools": ()}, "at least one NodePool"),
    ({"pools": (NodePoolSpec(name="none", instance_categories=("zz",)),)}, "allow no instance type"),
])
def test_it_refuses_before_declaring_anything(kwargs: dict[str, Any], message: str):
    monitors: list[RecordingMonitor] = []
    with pytest.raises(ValueError, match=message):
        build_karpenter(on_monitor=monitors.append, **kwargs)
    assert not [r for r in monitors[0].recorded.values() if r.type in (RELEASE, NODEPOOL, POLICY)]


# --- KarpenterInterruption -----------------------------------------------------------------------------


def build_queue(queue_name: str = "blue-karpenter") -> Graph:
    return build(lambda: KarpenterInterruption("q", KarpenterInterruptionArgs(queue_name=queue_name,
                                                                              tags={"team": "net"})))


def test_the_queue_keeps_messages_five_minutes_encrypted_and_every_rule_targets_it():
    graph = build_queue()
    comp = component(graph, QUEUE_TOKEN, stand_ins=set(), outputs={"queue_name", "queue_arn", "rule_names"})
    queue = child(graph, comp, "aws:sqs/queue:Queue")
    assert queue.inputs["name"] == "blue-karpenter"
    assert queue.inputs["messageRetentionSeconds"] == 300 and queue.inputs["sqsManagedSseEnabled"] is True
    policy = child(graph, comp, "aws:sqs/queuePolicy:QueuePolicy")
    assert policy.inputs["queueUrl"] == queue.outputs["url"]
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    assert statements["DenyHTTP"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    rules = [r for r in children(graph, comp) if r.type == "aws:cloudwatch/eventRule:EventRule"]
    targets = [r for r in children(graph, comp) if r.type == "aws:cloudwatch/eventTarget:EventTarget"]
    assert {json.dumps(json.loads(r.inputs["eventPattern"]), sort_keys=True) for r in rules} == {
        json.dumps({"source": [s], "detail-type": [d]}, sort_keys=True) for s, d in INTERRUPTION_EVENTS.values()}
    assert sorted(t.inputs["rule"] for t in targets) == sorted(r.outputs["name"] for r in rules)
    assert all(t.inputs["arn"] == queue.outputs["arn"] and policy.urn in t.explicit_dependencies for t in targets)


def test_a_queue_name_that_makes_rule_names_too_long_is_refused():
    with pytest.raises(ValueError, match="longer than 64"):
        build_queue("x" * 44)
