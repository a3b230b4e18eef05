"""EbsCsiDriver alone: the aws-ebs-csi-driver add-on with its IRSA role (only the controller's service
account, only the AWS managed EBS CSI policy), after the nodes, and a gp3 StorageClass after it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components import EbsCsiDriver, EbsCsiDriverArgs
from tests.components.harness import build, child, children, component, k8s_provider, stand_in, uses_provider
from tooling.mockengine import Graph

TOKEN = "cilium-eks:components:EbsCsiDriver"
ADDON = "aws:eks/addon:Addon"
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/ABC"
OIDC_ARN = f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}"


def build_ebs(nodes: tuple[str, ...] = ("nodes-a",), on_monitor: Any = None) -> Graph:
    def program() -> None:
        provider = k8s_provider()
        EbsCsiDriver("ebs", EbsCsiDriverArgs(
            cluster_name="blue", kubernetes_version="1.34", oidc_provider_arn=OIDC_ARN, oidc_issuer=ISSUER,
            k8s_provider=provider, nodes=[stand_in(n, provider) for n in nodes], tags={"team": "net"}))

    return build(program, on_monitor=on_monitor)


@pytest.fixture(scope="module")
def graph() -> Graph:
    return build_ebs()


def test_role_addon_and_storage_class(graph: Graph):
    comp = component(graph, TOKEN, stand_ins={"k", "nodes-a"}, outputs={"role_arn", "addon_version",
                                                                        "storage_class_name"})
    assert sorted(r.type for r in children(graph, comp)) == sorted([ROLE, ATTACHMENT, ADDON, STORAGE_CLASS])
    assert comp.registered_outputs["storage_class_name"] == "gp3"


def test_the_role_is_trusted_only_by_the_controllers_service_account(graph: Graph):
    comp = graph.one(TOKEN)
    role = child(graph, comp, ROLE)
    [statement] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"Federated": OIDC_ARN}
    assert statement["Condition"]["StringEquals"] == {
        f"{ISSUER}:sub": "system:serviceaccount:kube-system:ebs-csi-controller-sa",
        f"{ISSUER}:aud": "sts.amazonaws.com"}
    attachment = child(graph, comp, ATTACHMENT)
    assert attachment.inputs["policyArn"] == "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
    assert attachment.inputs["role"] == role.outputs["name"]


def test_the_addon_uses_the_role_and_waits_for_the_nodes(graph: Graph):
    comp = graph.one(TOKEN)
    addon = child(graph, comp, ADDON)
    assert addon.inputs["addonName"] == "aws-ebs-csi-driver" and addon.inputs["clusterName"] == "blue"
    assert addon.inputs["serviceAccountRoleArn"] == child(graph, comp, ROLE).outputs["arn"]
    assert addon.inputs["addonVersion"] == "v1.12.4-eksbuild.34"  # EKS's default for 1.34 (the mock's answer)
    assert {graph.named("nodes-a").urn, child(graph, comp, ATTACHMENT).urn} <= addon.explicit_dependencies


def test_the_gp3_class_binds_in_the_pods_zone_after_the_driver(graph: Graph):
    comp = graph.one(TOKEN)
    sc = child(graph, comp, STORAGE_CLASS)
    assert sc.inputs["provisioner"] == "ebs.csi.aws.com"
    assert sc.inputs["parameters"] == {"type": "gp3", "encrypted": "true", "csi.storage.k8s.io/fstype": "ext4"}
    assert sc.inputs["volumeBindingMode"] == "WaitForFirstConsumer" and sc.inputs["allowVolumeExpansion"] is True
    assert child(graph, comp, ADDON).urn in sc.explicit_dependencies
    assert uses_provider(sc, graph.named("k").urn)


def test_without_nodes_nothing_is_declared():
    monitors: list[Any] = []
    with pytest.raises(ValueError, match="node groups to wait for"):
        build_ebs(nodes=(), on_monitor=monitors.append)
    assert not [r for r in monitors[0].recorded.values() if r.type == ADDON]
