"""NodeGroup alone: a managed node group of a pulumi-eks cluster that joins tainted, after the
Cilium release, in the subnets it is given, with a least-privilege node role."""

from __future__ import annotations

import json

import pulumi_eks as eks
import pytest

from cilium_eks.cilium import AGENT_NOT_READY_TAINT
from cilium_eks.eks import NodeGroupSpec
from components import NodeGroup, NodeGroupArgs
from components.node_group import NODE_POLICIES
from tests.components.harness import build, child, children, component, k8s_provider, stand_in
from tooling.mockengine import Graph, RecordedResource, ResourceRef

TOKEN = "cilium-eks:components:NodeGroup"
MNG = "eks:index:ManagedNodeGroup"
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
SUBNETS = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]
SPEC = NodeGroupSpec(name="general", instance_types=("m6i.large", "m6a.large"), capacity_type="SPOT",
                     min_size=1, desired_size=2, max_size=5, disk_size_gib=40, labels={"tier": "web"})


def build_node_group(max_pods: int | None = None) -> Graph:
    def program() -> None:
        cluster = eks.Cluster("eks", skip_default_node_group=True)
        release = stand_in("cilium", k8s_provider())
        NodeGroup("ng", NodeGroupArgs(cluster=cluster, name_prefix="blue", spec=SPEC, subnet_ids=SUBNETS,
                                      cilium_release=release, max_pods=max_pods, tags={"team": "net"}))

    return build(program)


def node_group(graph: Graph) -> RecordedResource:
    return component(graph, TOKEN, stand_ins={"eks", "k", "cilium"}, outputs={"node_group_name", "role_arn"})


def mng(graph: Graph) -> RecordedResource:
    return child(graph, node_group(graph), MNG)


@pytest.fixture(scope="module")
def graph() -> Graph:
    return build_node_group()


def test_the_component_declares_a_role_its_two_policies_and_the_node_group(graph: Graph):
    assert sorted(r.type for r in children(graph, node_group(graph))) == sorted([ROLE, ATTACHMENT, ATTACHMENT, MNG])


def test_nodes_join_tainted_until_the_cilium_agent_is_ready(graph: Graph):
    assert mng(graph).inputs["taints"] == [dict(AGENT_NOT_READY_TAINT)]


def test_the_node_group_waits_for_the_release_and_its_role_policies(graph: Graph):
    ng = mng(graph)
    attachments = {r.urn for r in children(graph, node_group(graph)) if r.type == ATTACHMENT}
    assert {graph.named("cilium").urn, *attachments} <= ng.explicit_dependencies
    assert graph.waits_for(ng.urn, graph.named("cilium").urn)


def test_the_node_group_belongs_to_the_cluster_and_lives_in_the_given_subnets(graph: Graph):
    ng = mng(graph)
    assert ng.inputs["cluster"] == ResourceRef(graph.named("eks").urn)
    assert ng.inputs["subnetIds"] == SUBNETS
    [aws_ng] = [r for r in graph.descendants(ng.urn) if r.type == "aws:eks/nodeGroup:NodeGroup"]
    assert aws_ng.inputs["subnetIds"] == SUBNETS
    assert node_group(graph).registered_outputs["node_group_name"] == aws_ng.outputs["nodeGroupName"]


def test_the_spec_becomes_the_node_group(graph: Graph):
    inputs = mng(graph).inputs
    assert inputs["nodeGroupNamePrefix"] == "blue-general-"
    assert inputs["instanceTypes"] == ["m6i.large", "m6a.large"]
    assert inputs["capacityType"] == "SPOT"
    assert inputs["diskSize"] == 40
    assert inputs["scalingConfig"] == {"minSize": 1, "desiredSize": 2, "maxSize": 5}
    assert inputs["labels"] == {"tier": "web", "cilium-eks/node-group": "general"}
    assert inputs["operatingSystem"] == "AL2023"
    assert inputs["tags"] == {"team": "net", "Name": "blue-general"}


def test_max_pods_is_left_to_eks_unless_given(graph: Graph):
    assert "kubeletExtraArgs" not in mng(graph).inputs
    assert mng(build_node_group(max_pods=110)).inputs["kubeletExtraArgs"] == "--max-pods=110"


def test_the_node_role_is_for_ec2_with_the_worker_and_ecr_policies_only(graph: Graph):
    comp = node_group(graph)
    role = child(graph, comp, ROLE)
    assert mng(graph).inputs["nodeRole"] == ResourceRef(role.urn, role.id)
    [statement] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"Service": "ec2.amazonaws.com"}
    attachments = [r for r in children(graph, comp) if r.type == ATTACHMENT]
    assert all(a.inputs["role"] == role.outputs["name"] for a in attachments)
    assert sorted(a.inputs["policyArn"] for a in attachments) == sorted(NODE_POLICIES.values())
    assert not any("CNI" in a.inputs["policyArn"] for a in attachments), "the operator, not the node, manages ENIs"
    assert node_group(graph).registered_outputs["role_arn"] == role.outputs["arn"]
