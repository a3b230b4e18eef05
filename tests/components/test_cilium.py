"""Cilium alone: the release in ENI mode from CiliumOptions, not waiting, after the CNI removal,
and the operator's least-privilege IRSA role."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cilium_eks.cilium import CiliumOptions, helm_values
from cilium_eks.operator_iam import operator_iam_actions
from components import Cilium, CiliumArgs
from tests.components.harness import build, child, children, component, k8s_provider, stand_in, uses_provider
from tooling.mockengine import Graph

TOKEN = "cilium-eks:components:Cilium"
ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF"
OIDC_ARN = f"arn:aws:iam::111122223333:oidc-provider/{ISSUER}"
OUTPUTS = {"release_name", "version", "operator_role_arn", "operator_actions"}
RELEASE = "kubernetes:helm.sh/v3:Release"
ROLE = "aws:iam/role:Role"
POLICY = "aws:iam/policy:Policy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"


def build_cilium(options: CiliumOptions | None = None, *, api_server_host: str | None = None,
                 operator_replicas: int = 2) -> Graph:
    def program() -> None:
        provider = k8s_provider()
        removed = [stand_in("aws-node-gone", provider), stand_in("kube-proxy-gone", provider)]
        Cilium("cni", CiliumArgs(
            version="1.19.3", cluster_name="blue", k8s_provider=provider,
            oidc_provider_arn=OIDC_ARN, oidc_issuer=f"https://{ISSUER}", cni_removed=removed,
            options=options or CiliumOptions(), operator_replicas=operator_replicas, api_server_host=api_server_host,
            tags={"team": "net"}))

    return build(program)


def cilium(graph: Graph):
    return component(graph, TOKEN, stand_ins={"k", "aws-node-gone", "kube-proxy-gone"}, outputs=OUTPUTS)


def policy_actions(graph: Graph) -> list[str]:
    [statement] = json.loads(child(graph, cilium(graph), POLICY).inputs["policy"])["Statement"]
    return statement["Action"]


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
