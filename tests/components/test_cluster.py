"""Cluster alone: an EKS control plane without nodes, without VPC CNI management, with secrets
encryption, IRSA and the kube-proxy add-on only when asked."""

from __future__ import annotations

import json

import pytest

from cilium_eks.eks import CLUSTER_ADMIN_POLICY, ClusterSpec
from components import Cluster, ClusterArgs
from tests.components.harness import build, child, children, component
from tooling.mockengine import Graph, RecordedResource, Secret

TOKEN = "cilium-eks:components:Cluster"
OUTPUTS = {"cluster_name", "endpoint", "oidc_provider_arn", "cluster_security_group_id", "kubeconfig", "kms_key_arn",
           "access_entries"}
EKS = "eks:index:Cluster"
KEY = "aws:kms/key:Key"
ADMIN = "arn:aws:iam::111122223333:role/platform-admin"
PRIVATE = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]
PUBLIC = ["subnet-0bbbbbbbbbbbbbbb1"]
PUBLIC_SPEC = ClusterSpec(kubernetes_version="1.33", endpoint_public_access=True,
                          public_access_cidrs=("203.0.113.0/24",), admin_arns=(ADMIN,))


def build_cluster(spec: ClusterSpec = PUBLIC_SPEC, *, kube_proxy_addon: bool = True) -> Graph:
    def program() -> None:
        Cluster("cp", ClusterArgs(cluster_name="blue", spec=spec, vpc_id="vpc-0123456789abcdef0",
                                  private_subnet_ids=PRIVATE, public_subnet_ids=PUBLIC, tags={"team": "net"},
                                  kube_proxy_addon=kube_proxy_addon, kms_deletion_window_days=7))

    return build(program)


def cluster(graph: Graph) -> RecordedResource:
    return component(graph, TOKEN, stand_ins=(), outputs=OUTPUTS)


def eks(graph: Graph) -> RecordedResource:
    return child(graph, cluster(graph), EKS)


def created_by_eks(graph: Graph) -> list[RecordedResource]:
    return graph.descendants(eks(graph).urn)


@pytest.fixture(scope="module")
def graph() -> Graph:
    return build_cluster()


def test_the_component_declares_a_key_its_alias_the_eks_cluster_and_a_provider(graph: Graph):
    assert sorted(r.type for r in children(graph, cluster(graph))) == sorted(
        [KEY, "aws:kms/alias:Alias", EKS, "pulumi:providers:kubernetes"])
    assert eks(graph).remote


def test_no_node_group_no_fargate_no_coredns_add_on_and_no_vpc_cni_management(graph: Graph):
    inputs = eks(graph).inputs
    assert inputs["skipDefaultNodeGroup"] is True
    assert inputs["useDefaultVpcCni"] is True
    assert inputs["fargate"] is False
    assert inputs["corednsAddonOptions"] == {"enabled": False}
    assert inputs["bootstrapSelfManagedAddons"] is True, "aws-node must exist for the removal to patch it"
    created = {r.type for r in created_by_eks(graph)}
    assert not created & {"eks:index:NodeGroupV2", "eks:index:VpcCniAddon", "aws:eks/fargateProfile:FargateProfile"}
    addons = {r.inputs["addonName"] for r in created_by_eks(graph) if r.type == "aws:eks/addon:Addon"}
    assert addons == {"kube-proxy"}


def test_the_kube_proxy_add_on_follows_the_args():
    graph = build_cluster(kube_proxy_addon=False)
    assert eks(graph).inputs["kubeProxyAddonOptions"] == {"enabled": False}
    assert not [r for r in created_by_eks(graph) if r.type == "aws:eks/addon:Addon"]


def test_the_spec_and_the_network_become_the_cluster(graph: Graph):
    inputs = eks(graph).inputs
    assert inputs["name"] == "blue" and inputs["version"] == "1.33"
    assert inputs["vpcId"] == "vpc-0123456789abcdef0"
    assert (inputs["privateSubnetIds"], inputs["publicSubnetIds"]) == (PRIVATE, PUBLIC)
    assert inputs["nodeAssociatePublicIpAddress"] is False
    assert (inputs["endpointPrivateAccess"], inputs["endpointPublicAccess"]) == (True, True)
    assert inputs["publicAccessCidrs"] == ["203.0.113.0/24"]
    assert inputs["enabledClusterLogTypes"] == ["api", "audit", "authenticator"]
    assert inputs["tags"] == {"team": "net", "Name": "blue"}


def test_public_access_cidrs_are_not_sent_for_a_private_endpoint():
    graph = build_cluster(ClusterSpec(public_access_cidrs=("203.0.113.0/24",)))
    assert "publicAccessCidrs" not in eks(graph).inputs
    assert "accessEntries" not in eks(graph).inputs


def test_secrets_are_encrypted_with_a_rotated_key_and_admins_get_access_entries(graph: Graph):
    comp = cluster(graph)
    key = child(graph, comp, KEY)
    assert key.inputs["enableKeyRotation"] is True and key.inputs["deletionWindowInDays"] == 7
    alias = child(graph, comp, "aws:kms/alias:Alias")
    assert alias.inputs == {"name": "alias/blue-eks-secrets", "targetKeyId": key.outputs["keyId"]}
    inputs = eks(graph).inputs
    assert inputs["encryptionConfigKeyArn"] == key.outputs["arn"]
    assert inputs["authenticationMode"] == "API" and inputs["createOidcProvider"] is True
    assert inputs["accessEntries"] == {"admin-0": {"principalArn": ADMIN, "accessPolicies": {"cluster-admin": {
        "policyArn": CLUSTER_ADMIN_POLICY, "accessScope": {"type": "cluster"}}}}}


def test_outputs_come_from_the_eks_cluster_and_the_kubeconfig_is_secret(graph: Graph):
    outputs = cluster(graph).registered_outputs
    [aws_cluster] = [r for r in created_by_eks(graph) if r.type == "aws:eks/cluster:Cluster"]
    [oidc] = [r for r in created_by_eks(graph) if r.type == "aws:iam/openIdConnectProvider:OpenIdConnectProvider"]
    assert outputs["cluster_name"] == "blue"
    assert outputs["endpoint"] == aws_cluster.outputs["endpoint"]
    assert outputs["oidc_provider_arn"] == oidc.outputs["arn"]
    assert outputs["cluster_security_group_id"] == aws_cluster.outputs["vpcConfig"]["clusterSecurityGroupId"]
    assert isinstance(outputs["kubeconfig"], Secret)
    assert json.loads(outputs["access_entries"]) == ["admin-0"]


def test_the_kubernetes_provider_uses_the_clusters_kubeconfig_with_server_side_apply(graph: Graph):
    provider = child(graph, cluster(graph), "pulumi:providers:kubernetes")
    kubeconfig = json.loads(provider.inputs["kubeconfig"])
    assert kubeconfig["clusters"][0]["cluster"]["server"] == cluster(graph).registered_outputs["endpoint"]
    assert provider.inputs["enableServerSideApply"] == "true"
    # Never set permanently: a refresh from outside publicAccessCidrs would drop resources from state.
    assert "deleteUnreachable" not in provider.inputs
