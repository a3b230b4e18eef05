"""Cilium alone: the release in ENI mode from CiliumOptions, not waiting, after the CNI removal,
and the operator's least-privilege IRSA role."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cilium_eks.cilium import CiliumOptions, helm_values
from cilium_eks.operator_iam import ENI_WRITE_SCOPES, operator_iam_actions
from components import Cilium, CiliumArgs
from tests.components.harness import (
    REGION,
    build,
    child,
    children,
    component,
    k8s_provider,
    stand_in,
    uses_provider,
)
from tooling.mockengine import Graph
from tooling.mockengine.providers import ACCOUNT_ID

TOKEN = "cilium-eks:components:Cilium"
ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF"
OIDC_ARN = f"arn:aws:iam::111122223333:oidc-provider/{ISSUER}"
OUTPUTS = {"release_name", "version", "operator_role_arn", "operator_actions"}
RELEASE = "kubernetes:helm.sh/v3:Release"
ROLE = "aws:iam/role:Role"
POLICY = "aws:iam/policy:Policy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"


VPC_ID = "vpc-0a1b2c3d4e5f60718"
VPC_ARN = f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:vpc/{VPC_ID}"


def build_cilium(options: CiliumOptions | None = None, *, api_server_host: str | None = None,
                 operator_replicas: int = 2, vpc_id: str | None = VPC_ID) -> Graph:
    def program() -> None:
        provider = k8s_provider()
        removed = [stand_in("aws-node-gone", provider), stand_in("kube-proxy-gone", provider)]
        Cilium("cni", CiliumArgs(
            version="1.19.3", cluster_name="blue", k8s_provider=provider,
            oidc_provider_arn=OIDC_ARN, oidc_issuer=f"https://{ISSUER}", cni_removed=removed,
            options=options or CiliumOptions(), operator_replicas=operator_replicas, api_server_host=api_server_host,
            tags={"team": "net"}, vpc_id=vpc_id))

    return build(program)


def cilium(graph: Graph):
    return component(graph, TOKEN, stand_ins={"k", "aws-node-gone", "kube-proxy-gone"}, outputs=OUTPUTS)


def policy_statements(graph: Graph) -> list[dict[str, Any]]:
    return json.loads(child(graph, cilium(graph), POLICY).inputs["policy"])["Statement"]


def policy_actions(graph: Graph) -> list[str]:
    """Every action the policy grants, whichever statement grants it."""
    return sorted({a for st in policy_statements(graph) for a in st["Action"]})


OPTIONS = {
    "default": CiliumOptions(),
    "prefix-delegation": CiliumOptions(prefix_delegation=True),
    "extra-values": CiliumOptions(extra_values={"eni": {"awsReleaseExcessIPs": True, "instanceTagsFilter": ["a=b"]},
                                                "bpf": {"monitorAggregation": "medium"}}),
}


def test_the_component_declares_the_operator_role_its_policy_and_one_release():
    graph = build_cilium()
    comp = cilium(graph)
    assert sorted(r.type for r in children(graph, comp)) == sorted([ROLE, POLICY, ATTACHMENT, RELEASE])


@pytest.mark.parametrize("case", sorted(OPTIONS))
def test_release_values_are_the_helm_values_of_the_options(case: str):
    options = OPTIONS[case]
    graph = build_cilium(options, operator_replicas=1)
    comp = cilium(graph)
    role = child(graph, comp, ROLE)
    release = child(graph, comp, RELEASE)
    expected: dict[str, Any] = helm_values(options, cluster_name="blue", operator_replicas=1,
                                           operator_role_arn=role.outputs["arn"])
    assert release.inputs["values"] == expected


def test_release_is_the_pinned_chart_and_does_not_wait_for_pods():
    graph = build_cilium()
    release = child(graph, cilium(graph), RELEASE)
    assert release.inputs["chart"] == "cilium"
    assert release.inputs["version"] == "1.19.3"
    assert release.inputs["repositoryOpts"] == {"repo": "https://helm.cilium.io/"}
    assert (release.inputs["name"], release.inputs["namespace"]) == ("cilium", "kube-system")
    assert release.inputs["skipAwait"] is True, "no node exists yet: waiting for pods would deadlock"
    assert uses_provider(release, graph.named("k").urn)


def test_release_waits_for_every_cni_removal():
    graph = build_cilium()
    release = child(graph, cilium(graph), RELEASE)
    removed = {graph.named("aws-node-gone").urn, graph.named("kube-proxy-gone").urn}
    assert removed <= release.explicit_dependencies


def test_operator_role_is_trusted_only_by_the_operator_service_account():
    graph = build_cilium()
    role = child(graph, cilium(graph), ROLE)
    [statement] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"Federated": OIDC_ARN}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {"StringEquals": {
        f"{ISSUER}:sub": "system:serviceaccount:kube-system:cilium-operator",
        f"{ISSUER}:aud": "sts.amazonaws.com",
    }}
    assert role.inputs["tags"] == {"team": "net"}


@pytest.mark.parametrize("case", sorted(OPTIONS))
def test_operator_policy_has_exactly_the_actions_the_values_need(case: str):
    graph = build_cilium(OPTIONS[case])
    comp = cilium(graph)
    values = child(graph, comp, RELEASE).inputs["values"]
    actions = policy_actions(graph)
    assert actions == operator_iam_actions(values)
    assert comp.registered_outputs["operator_actions"] == actions
    policy = child(graph, comp, POLICY)
    attachment = child(graph, comp, ATTACHMENT)
    assert attachment.inputs["policyArn"] == policy.outputs["arn"]
    assert attachment.inputs["role"] == child(graph, comp, ROLE).outputs["name"]


def test_options_that_need_more_actions_get_them():
    assert "ec2:UnassignPrivateIpAddresses" not in policy_actions(build_cilium())
    more = policy_actions(build_cilium(OPTIONS["extra-values"]))
    assert {"ec2:UnassignPrivateIpAddresses", "ec2:DescribeInstances"} <= set(more)


def test_kube_proxy_replacement_points_cilium_at_the_api_server_host():
    graph = build_cilium(CiliumOptions(kube_proxy_replacement=True), api_server_host="api.example.internal")
    values = child(graph, cilium(graph), RELEASE).inputs["values"]
    assert values["kubeProxyReplacement"] is True
    assert (values["k8sServiceHost"], values["k8sServicePort"]) == ("api.example.internal", 443)


def test_the_api_server_host_is_ignored_without_kube_proxy_replacement():
    graph = build_cilium(CiliumOptions(), api_server_host="api.example.internal")
    values = child(graph, cilium(graph), RELEASE).inputs["values"]
    assert "k8sServiceHost" not in values and values["kubeProxyReplacement"] is False


def test_registered_outputs_name_the_release_and_the_role():
    graph = build_cilium()
    comp = cilium(graph)
    assert comp.registered_outputs["release_name"] == "cilium"
    assert comp.registered_outputs["version"] == "1.19.3"
    assert comp.registered_outputs["operator_role_arn"] == child(graph, comp, ROLE).outputs["arn"]


def test_kube_proxy_replacement_without_the_api_server_host_is_refused():
    with pytest.raises(ValueError, match="API server host"):
        build_cilium(CiliumOptions(kube_proxy_replacement=True))


def test_every_write_is_held_to_this_account_region_and_the_given_vpc():
    statements = policy_statements(build_cilium())
    for st in statements:
        writes = [a for a in st["Action"] if a in ENI_WRITE_SCOPES]
        if not writes:
            assert st["Resource"] == "*" and st["Condition"] == {"StringEquals": {"ec2:Region": REGION}}, st["Sid"]
            continue
        assert len(writes) == len(st["Action"]), f"{st['Sid']} mixes reads and writes"
        for arn in st["Resource"]:
            assert arn.startswith(f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:") and arn.endswith("/*"), arn
        vpc = st.get("Condition", {}).get("ArnEquals", {}).get("ec2:Vpc")
        assert vpc in (None, VPC_ARN), st["Sid"]
    vpc_bound = {a for st in statements if st.get("Condition", {}).get("ArnEquals") for a in st["Action"]}
    assert vpc_bound == {"ec2:CreateNetworkInterface", "ec2:AttachNetworkInterface", "ec2:DeleteNetworkInterface",
                         "ec2:ModifyNetworkInterfaceAttribute", "ec2:AssignPrivateIpAddresses"}


def test_the_operators_eni_tags_bound_creation_and_deletion_to_this_cluster():
    statements = policy_statements(build_cilium())
    tags = {"io.cilium/cilium-managed": "true", "io.cilium/cluster-name": "blue"}
    [create] = [st for st in statements if st["Action"] == ["ec2:CreateNetworkInterface"]
                and st["Resource"] == [f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:network-interface/*"]]
    assert create["Condition"] == {"StringEquals": {f"aws:RequestTag/{k}": v for k, v in tags.items()}}
    [delete] = [st for st in statements if "ec2:DeleteNetworkInterface" in st["Action"]]
    assert delete["Condition"]["StringEquals"] == {f"aws:ResourceTag/{k}": v for k, v in tags.items()}
    [tagging] = [st for st in statements if "ec2:CreateTags" in st["Action"]]
    assert tagging["Condition"] == {"StringEquals": {"ec2:CreateAction": "CreateNetworkInterface"}}


def test_without_a_vpc_the_writes_are_not_vpc_bound():
    """The documented default of ``vpc_id``: nothing is invented (the policy pack refuses it)."""
    statements = policy_statements(build_cilium(vpc_id=None))
    assert not [st for st in statements if "ArnEquals" in st.get("Condition", {})]
    assert policy_actions(build_cilium(vpc_id=None)) == policy_actions(build_cilium())
