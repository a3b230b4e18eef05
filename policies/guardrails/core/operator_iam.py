"""cilium-operator's AWS identity in ENI mode: the EC2 actions it needs and its IRSA trust."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from .cilium import get_path

# EC2 actions of cilium-operator in ENI mode (Cilium docs, network/concepts/ipam/eni.rst,
# "Required Privileges"); tests hold this against the reference operator-iam-actions.json.
ACTIONS_ALWAYS: tuple[str, ...] = (
    "ec2:CreateNetworkInterface",
    "ec2:AttachNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:ModifyNetworkInterfaceAttribute",
    "ec2:AssignPrivateIpAddresses",
    "ec2:CreateTags",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeManagedPrefixLists",
    "ec2:GetManagedPrefixListEntries",
)
ACTIONS_CONDITIONAL: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "when_eni_gc_with_default_tags": ("ec2:DescribeTags",),
    "when_awsReleaseExcessIPs": ("ec2:UnassignPrivateIpAddresses",),
    "when_instanceTagsFilter": ("ec2:DescribeInstances",),
    "when_ipv6": ("ec2:AssignIpv6Addresses",),
})
#: Every action the operator can need, whatever the values.
ALLOWED_ACTIONS: tuple[str, ...] = tuple(sorted(
    {*ACTIONS_ALWAYS, *(a for group in ACTIONS_CONDITIONAL.values() for a in group)}))


def operator_iam_actions(values: Mapping[str, Any]) -> list[str]:
    """Exactly the EC2 actions the operator needs for these Helm values, sorted. Reads only
    paths that never carry outputs of other resources, so it works on the values the
    Cilium component builds (with Output leaves)."""
    actions: set[str] = set(ACTIONS_ALWAYS)
    gc_interval = get_path(values, "eni.gcInterval", "")
    if gc_interval not in ("0", "0s") and not get_path(values, "eni.gcTags"):
        actions.update(ACTIONS_CONDITIONAL["when_eni_gc_with_default_tags"])
    if get_path(values, "eni.awsReleaseExcessIPs", False):
        actions.update(ACTIONS_CONDITIONAL["when_awsReleaseExcessIPs"])
    if get_path(values, "eni.instanceTagsFilter"):
        actions.update(ACTIONS_CONDITIONAL["when_instanceTagsFilter"])
    if get_path(values, "ipv6.enabled", False):
        actions.update(ACTIONS_CONDITIONAL["when_ipv6"])
    return sorted(actions)


def policy_document(actions: Sequence[str]) -> dict[str, Any]:
    # The ENI API calls take no resource-level permissions that would narrow this
    # usefully (Describe* never do); the narrowing is the action list.
    return {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "CiliumOperatorEni", "Effect": "Allow", "Action": list(actions), "Resource": "*"}],
    }


def irsa_trust_policy(oidc_provider_arn: str, oidc_issuer: str, namespace: str, service_account: str) -> dict[str, Any]:
    """Trust only one Kubernetes service account of this cluster's OIDC issuer."""
    issuer = oidc_issuer.removeprefix("https://")
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": oidc_provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                f"{issuer}:aud": "sts.amazonaws.com",
            }},
        }],
    }
