"""NodeGroup alone: a managed node group of a pulumi-eks cluster that joins tainted, after the
Cilium release (and whatever else it is told to follow), in the subnets it is given, with a
least-privilege node role, on the pinned EKS-optimized AL2023 AMI, and with the max pods Cilium
can address (nodeadm's maxPodsExpression in the launch template's user data)."""

from __future__ import annotations

import base64
import email
import json
from collections.abc import Callable
from typing import Any

import pulumi_eks as eks
import pytest

from cilium_eks import instance_types
from cilium_eks.capacity import PodAddressing, group_cap
from cilium_eks.cilium import AGENT_NOT_READY_TAINT
from cilium_eks.eks import DEFAULT_AMI_RELEASE, NodeGroupSpec, ami_parameter
from components import NodeGroup, NodeGroupArgs
from components.node_group import NODE_POLICIES
from tests.components.harness import build, child, children, component, k8s_provider, stand_in
from tooling.mockengine import Graph, RecordedResource, ResourceRef
from tooling.mockengine.monitor import RecordingMonitor
from tooling.mockengine.providers import hex_id

TOKEN = "cilium-eks:components:NodeGroup"
OUTPUTS = {"node_group_name", "role_arn", "max_pods_expression"}
MNG = "eks:index:ManagedNodeGroup"
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
AWS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
GET_PARAMETER = "aws:ssm/getParameter:getParameter"
GET_INSTANCE_TYPE = "aws:ec2/getInstanceType:getInstanceType"
NODEADM = "application/node.eks.aws"
SUBNETS = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]
K8S_VERSION = "1.33"
SPEC = NodeGroupSpec(name="general", instance_types=("m6i.large", "m6a.large"), capacity_type="SPOT",
                     min_size=1, desired_size=2, max_size=5, disk_size_gib=40, labels={"tier": "web"})
STAND_INS = {"eks", "k", "cilium", "cleanup"}


def spec(*types: str) -> NodeGroupSpec:
    return NodeGroupSpec(name="general", instance_types=types, capacity_type="ON_DEMAND",
                         min_size=1, desired_size=1, max_size=2, disk_size_gib=20, labels={})


def build_node_group(spec: NodeGroupSpec = SPEC, *, on_monitor: Callable[[RecordingMonitor], None] | None = None,
                     **args: Any) -> Graph:
    def program() -> None:
        cluster = eks.Cluster("eks", skip_default_node_group=True)
        provider = k8s_provider()
        release = stand_in("cilium", provider)
        cleanup = stand_in("cleanup", provider)
        NodeGroup("ng", NodeGroupArgs(cluster=cluster, name_prefix="blue", spec=spec, subnet_ids=SUBNETS,
                                      cilium_release=release, kubernetes_version=K8S_VERSION, after=[cleanup],
                                      tags={"team": "net"}, **args))

    return build(program, on_monitor=on_monitor)


def invokes_of(spec: NodeGroupSpec = SPEC, **args: Any) -> tuple[Graph, list[tuple[str, dict[str, Any]]]]:
    """The graph, and the invokes (data-source reads) the program made."""
    monitors: list[RecordingMonitor] = []
    graph = build_node_group(spec, on_monitor=monitors.append, **args)
    return graph, monitors[0].engine_mocks.invokes


def node_group(graph: Graph) -> RecordedResource:
    return component(graph, TOKEN, stand_ins=STAND_INS, outputs=OUTPUTS)


def mng(graph: Graph) -> RecordedResource:
    return child(graph, node_group(graph), MNG)


def launch_template(graph: Graph) -> RecordedResource:
    """The launch template pulumi-eks builds for the group (recorded by the mock, under the group)."""
    [lt] = [r for r in graph.descendants(mng(graph).urn) if r.type == LAUNCH_TEMPLATE]
    return lt


def node_configs(graph: Graph) -> list[dict[str, Any]]:
    """The nodeadm NodeConfig documents in the launch template's MIME multipart user data, in order."""
    mime = email.message_from_bytes(base64.b64decode(launch_template(graph).inputs["userData"]))
    assert mime.is_multipart()
    parts = [p for p in mime.walk() if not p.is_multipart()]
    assert parts and all(p.get_content_type() == NODEADM for p in parts)
    docs = []
    for p in parts:
        text = p.get_payload(decode=True).decode().strip()
        docs.append(json.loads(text.removeprefix("---")))
    assert all(d["apiVersion"] == "node.eks.aws/v1alpha1" and d["kind"] == "NodeConfig" for d in docs)
    return docs


def max_pods_expressions(graph: Graph) -> list[str]:
    return [d["spec"]["kubelet"]["maxPodsExpression"] for d in node_configs(graph)
            if "maxPodsExpression" in d["spec"].get("kubelet", {})]


def parameters_read(invokes: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [args["name"] for token, args in invokes if token == GET_PARAMETER]


@pytest.fixture(scope="module")
def graph() -> Graph:
    return build_node_group()


def test_the_component_declares_a_role_its_two_policies_and_the_node_group(graph: Graph):
    assert sorted(r.type for r in children(graph, node_group(graph))) == sorted([ROLE, ATTACHMENT, ATTACHMENT, MNG])


def test_nodes_join_tainted_until_the_cilium_agent_is_ready(graph: Graph):
    assert mng(graph).inputs["taints"] == [dict(AGENT_NOT_READY_TAINT)]
    # pulumi-eks writes the taints into the kubelet flags of the launch template's user data too.
    [flags] = [d["spec"]["kubelet"]["flags"] for d in node_configs(graph) if "flags" in d["spec"].get("kubelet", {})]
    taint = AGENT_NOT_READY_TAINT
    assert f"--register-with-taints={taint['key']}={taint['value']}:NoExecute" in flags


def test_the_node_group_waits_for_the_release_what_it_follows_and_its_role_policies(graph: Graph):
    ng = mng(graph)
    attachments = {r.urn for r in children(graph, node_group(graph)) if r.type == ATTACHMENT}
    cilium, cleanup = graph.named("cilium").urn, graph.named("cleanup").urn
    assert {cilium, cleanup, *attachments} <= ng.explicit_dependencies
    assert graph.waits_for(ng.urn, cilium) and graph.waits_for(ng.urn, cleanup)
    # Nothing the group follows may wait for it (destroy deletes the group first).
    assert not graph.waits_for(cleanup, ng.urn)


def test_without_after_the_group_waits_for_the_release_and_role_policies_only():
    def program() -> None:
        cluster = eks.Cluster("eks", skip_default_node_group=True)
        release = stand_in("cilium", k8s_provider())
        NodeGroup("ng", NodeGroupArgs(cluster=cluster, name_prefix="blue", spec=SPEC, subnet_ids=SUBNETS,
                                      cilium_release=release, kubernetes_version=K8S_VERSION))

    graph = build(program)
    comp = component(graph, TOKEN, stand_ins={"eks", "k", "cilium"}, outputs=OUTPUTS)
    ng = child(graph, comp, MNG)
    attachments = {r.urn for r in children(graph, comp) if r.type == ATTACHMENT}
    assert ng.explicit_dependencies == {graph.named("cilium").urn, *attachments}


def test_the_node_group_belongs_to_the_cluster_and_lives_in_the_given_subnets(graph: Graph):
    ng = mng(graph)
    assert ng.inputs["cluster"] == ResourceRef(graph.named("eks").urn)
    assert ng.inputs["subnetIds"] == SUBNETS
    [aws_ng] = [r for r in graph.descendants(ng.urn) if r.type == AWS_NODE_GROUP]
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
    assert inputs["tags"] == {"team": "net", "Name": "blue-general"}
    # With an AMI id, pulumi-eks puts the disk in its launch template.
    assert launch_template(graph).inputs["blockDeviceMappings"][0]["ebs"]["volumeSize"] == 40


def test_the_group_runs_from_a_launch_template_with_no_kubelet_flags_of_its_own(graph: Graph):
    inputs = mng(graph).inputs
    assert "kubeletExtraArgs" not in inputs and "bootstrapExtraArgs" not in inputs
    assert "operatingSystem" not in inputs, "the AMI id decides the operating system"
    [aws_ng] = [r for r in graph.descendants(mng(graph).urn) if r.type == AWS_NODE_GROUP]
    lt = launch_template(graph)
    assert aws_ng.inputs["launchTemplate"]["id"] == lt.id
    assert "amiType" not in aws_ng.inputs and "diskSize" not in aws_ng.inputs
    flags = [f for d in node_configs(graph) for f in d["spec"].get("kubelet", {}).get("flags", [])]
    assert not any(f.startswith("--max-pods") for f in flags), "max pods come from the expression only"


# --- max pods ------------------------------------------------------------------------------


def test_the_user_data_carries_the_capacity_models_max_pods_expression(graph: Graph):
    types = [instance_types.lookup(t) for t in SPEC.instance_types]
    expected = PodAddressing().expression(group_cap(types))
    assert max_pods_expressions(graph) == [expected]
    # Our part is a nodeadm option of the group, merged after pulumi-eks's own parts.
    [option] = mng(graph).inputs["nodeadmExtraOptions"]
    assert option["contentType"] == NODEADM
    assert node_configs(graph)[-1]["spec"]["kubelet"]["maxPodsExpression"] == expected
    assert node_configs(graph)[0]["spec"]["cluster"]["name"], "pulumi-eks's cluster part comes first"
    assert node_group(graph).registered_outputs["max_pods_expression"] == expected
    # Secondary IPs: every ENI's slots but the primary, minus the agent's, plus host-network pods, capped.
    assert expected == "default_enis * (ips_per_eni - 1) - 2 + 3 < 110 ? default_enis * (ips_per_eni - 1) - 2 + 3 : 110"


def test_prefix_delegation_multiplies_the_addresses_by_sixteen(graph: Graph):
    delegated = PodAddressing(prefix_delegation=True)
    [expression] = max_pods_expressions(build_node_group(pod_addressing=delegated))
    assert expression == delegated.expression(110)
    assert expression != max_pods_expressions(graph)[0]
    assert "default_enis * (ips_per_eni - 1) * 16 - 2 + 3" in expression
    assert "* 16" not in max_pods_expressions(graph)[0]


def test_the_pod_addressing_options_reach_the_expression():
    addressing = PodAddressing(reserved_ips=3, host_network_pods=2, first_interface_index=1)
    [expression] = max_pods_expressions(build_node_group(pod_addressing=addressing))
    assert expression == "(default_enis - 1) * (ips_per_eni - 1) - 3 + 2 < 110 ? " \
                         "(default_enis - 1) * (ips_per_eni - 1) - 3 + 2 : 110"


def test_a_large_type_is_capped_at_250_and_a_group_at_its_smallest_types_cap():
    large = spec("m6i.8xlarge")
    assert instance_types.lookup("m6i.8xlarge").vcpus >= 30  # type: ignore[union-attr]
    [expression] = max_pods_expressions(build_node_group(large))
    assert expression.endswith(": 250")
    [mixed] = max_pods_expressions(build_node_group(spec("m6i.8xlarge", "m6i.large")))
    assert mixed.endswith(": 110")


# --- the AMI -------------------------------------------------------------------------------


def test_the_ami_id_comes_from_the_ssm_parameter_of_the_pinned_release():
    graph, invokes = invokes_of()
    parameter = ami_parameter(K8S_VERSION, "x86_64", DEFAULT_AMI_RELEASE)
    assert parameter == (f"/aws/service/eks/optimized-ami/{K8S_VERSION}/amazon-linux-2023/x86_64/standard/"
                         f"amazon-eks-node-al2023-x86_64-standard-{K8S_VERSION}-{DEFAULT_AMI_RELEASE}/image_id")
    assert parameters_read(invokes) == [parameter]
    # The mock answers an EKS AMI parameter with an id derived from its name.
    ami = "ami-" + hex_id(parameter)
    assert mng(graph).inputs["amiId"] == ami
    assert launch_template(graph).inputs["imageId"] == ami
    assert not any(token == GET_INSTANCE_TYPE for token, _ in invokes), "the table knows m6i and m6a"


def test_another_release_or_kubernetes_version_is_another_ami():
    graph, invokes = invokes_of(ami_release="v20250101")
    [parameter] = parameters_read(invokes)
    assert parameter == ami_parameter(K8S_VERSION, "x86_64", "v20250101")
    assert "-1.33-v20250101/" in parameter
    assert mng(graph).inputs["amiId"] == "ami-" + hex_id(parameter)
    assert mng(graph).inputs["amiId"] != mng(build_node_group()).inputs["amiId"]


def test_an_arm64_group_uses_the_arm64_parameter():
    graph, invokes = invokes_of(spec("m7g.large"))
    assert instance_types.lookup("m7g.large").architecture == "arm64"  # type: ignore[union-attr]
    [parameter] = parameters_read(invokes)
    assert parameter == ami_parameter(K8S_VERSION, "arm64", DEFAULT_AMI_RELEASE)
    assert "/amazon-linux-2023/arm64/standard/amazon-eks-node-al2023-arm64-standard-" in parameter
    assert launch_template(graph).inputs["imageId"] == "ami-" + hex_id(parameter)
    assert not any(token == GET_INSTANCE_TYPE for token, _ in invokes)


@pytest.mark.parametrize(("type_", "arch"), [("z9q.large", "x86_64"), ("z9g.large", "arm64")])
def test_a_type_the_table_does_not_know_asks_ec2_for_its_architecture(type_: str, arch: str):
    assert instance_types.lookup(type_) is None
    graph, invokes = invokes_of(spec(type_))
    assert [args for token, args in invokes if token == GET_INSTANCE_TYPE] == [{"instanceType": type_}]
    [parameter] = parameters_read(invokes)
    assert parameter == ami_parameter(K8S_VERSION, arch, DEFAULT_AMI_RELEASE)
    assert mng(graph).inputs["amiId"] == "ami-" + hex_id(parameter)
    # nodeadm evaluates the expression on the node; the cap of an unknown type is EKS's 110.
    assert max_pods_expressions(graph) == [PodAddressing().expression(110)]


# --- IAM -----------------------------------------------------------------------------------


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
