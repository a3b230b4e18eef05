"""cilium-operator's AWS identity in ENI mode: the EC2 actions it needs, how far each one reaches,
and its IRSA trust."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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


_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")


def eni_gc_enabled(values: Mapping[str, Any]) -> bool:
    """Whether the operator garbage-collects dangling ENIs: it does when its interval is above
    zero (``if a.ENIGarbageCollectionInterval > 0`` in its AWS allocator's Init, code index id
    54734604977, cilium-ipam.md 5.3). ``eni.gcInterval`` unset means the 5m default; the text is a
    Go duration, so ``0``, ``0s``, ``0m0s`` or a negative one turn GC off. A bare positive number
    (nanoseconds to spf13/cast) or text that is no duration counts as on, the default."""
    text = get_path(values, "eni.gcInterval", "")
    if not isinstance(text, str) or not text.strip():
        return True
    text = text.strip()
    sign, body = (-1, text[1:]) if text.startswith("-") else (1, text.lstrip("+"))
    if re.fullmatch(r"\d+(?:\.\d*)?", body):
        return sign * float(body) > 0
    if not body or _GO_DURATION_PART.sub("", body):
        return True  # not a duration: the operator would refuse it; assume the default
    return sign * sum(float(n) for n, _unit in _GO_DURATION_PART.findall(body)) > 0


def operator_iam_actions(values: Mapping[str, Any]) -> list[str]:
    """Exactly the EC2 actions the operator needs for these Helm values, sorted. Reads only
    paths that never carry outputs of other resources, so it works on the values the
    Cilium component builds (with Output leaves)."""
    actions: set[str] = set(ACTIONS_ALWAYS)
    if eni_gc_enabled(values) and not get_path(values, "eni.gcTags"):
        actions.update(ACTIONS_CONDITIONAL["when_eni_gc_with_default_tags"])
    if get_path(values, "eni.awsReleaseExcessIPs", False):
        actions.update(ACTIONS_CONDITIONAL["when_awsReleaseExcessIPs"])
    if get_path(values, "eni.instanceTagsFilter"):
        actions.update(ACTIONS_CONDITIONAL["when_instanceTagsFilter"])
    if get_path(values, "ipv6.enabled", False):
        actions.update(ACTIONS_CONDITIONAL["when_ipv6"])
    return sorted(actions)


# --------------------------------------------------------------------------------------
# How far each action reaches
# --------------------------------------------------------------------------------------
# Facts from the AWS Service Authorization Reference, "Actions, resources, and condition keys for
# Amazon EC2" (docs.aws.amazon.com/service-authorization/latest/reference/list_ec2.html; the copy
# read is salesforce/policy_sentry policy_sentry/shared/data/docs/list_amazonec2.html, commit
# c0d416c of 2026-05-10), Actions table, one row per resource type an action authorizes:
# - CreateNetworkInterface: network-interface* (aws:RequestTag/${TagKey}, aws:TagKeys; no ec2:Vpc),
#   subnet* and security-group (ec2:Vpc), dependent action ec2:CreateTags.
# - AttachNetworkInterface: instance* (no ec2:Vpc or ec2:Subnet) and network-interface* (ec2:Vpc,
#   ec2:Subnet, ec2:ResourceTag/aws:ResourceTag).
# - ModifyNetworkInterfaceAttribute: network-interface* (ec2:Vpc), instance, security-group and
#   subnet (ec2:Vpc) as optional types.
# - AssignPrivateIpAddresses, UnassignPrivateIpAddresses, AssignIpv6Addresses, DeleteNetworkInterface:
#   network-interface* (ec2:Vpc, ec2:Subnet, ec2:ResourceTag/aws:ResourceTag).
# - CreateTags: every taggable type, and ec2:CreateAction ("the name of a resource-creating API
#   action"), set when the tags come with a create call.
# - Describe*: no resource type (Resource "*" only); every EC2 action takes ec2:Region.
#   GetManagedPrefixListEntries takes prefix-list*, but which lists the operator reads is not
#   decided here (AWS-managed ones among them), so this read stays on "*" like the Describe calls.
# Condition keys table: ec2:Vpc is "the ARN of the VPC" (type ARN); ARNs are
# arn:${Partition}:ec2:${Region}:${Account}:<type>/<id> (Resource types table).
# A request is allowed only if every resource it touches is allowed, and a condition on a key the
# request context does not carry fails; so each statement lists only the resource types whose
# rows carry the key it conditions on.
#
# What cilium-operator does with them (cilium/cilium pkg/aws/api/api.go and pkg/aws/ipam/node.go,
# code index ids 58925341006 / 58590227744, the newest indexed versions, which name 1.20 agents;
# the v1.20.0 tag itself could not be read): it creates an ENI in a subnet of its node's VPC with the
# security groups of the node's eth0 (or the CiliumNode's), tags it in the same call
# (TagSpecifications: eni.eniTags merged with its GC tags, cilium-ipam.md 5.3), attaches it to the
# node and marks it delete-on-termination, then assigns IPs or prefixes to ENIs of the node,
# including eth0 (eni.nodeSpec.firstInterfaceIndex defaults to 0), which EC2 created and Cilium
# never tagged; it deletes an ENI when attaching it fails and, in its GC, ENIs that carry its GC
# tags and are detached. It makes no separate CreateTags call.

#: Mutating actions, per EC2 resource type they authorize, and the conditions that keep each one to
#: this cluster here: ``vpc`` (ec2:Vpc is the cluster's VPC), ``request-tags`` (the create request
#: carries the ownership tags), ``resource-tags`` (the ENI carries them), ``create-action``
#: (ec2:CreateAction is CreateNetworkInterface). An empty tuple: nothing the reference lists for
#: that type narrows it to this cluster, only the ARN (this account and region).
ENI_WRITE_SCOPES: Mapping[str, Mapping[str, tuple[str, ...]]] = MappingProxyType({
    "ec2:CreateNetworkInterface": MappingProxyType(
        {"subnet": ("vpc",), "security-group": ("vpc",), "network-interface": ("request-tags",)}),
    # Without the condition the role could put the ownership tags on any ENI and then delete it.
    "ec2:CreateTags": MappingProxyType({"network-interface": ("create-action",)}),
    # The instance side takes no VPC key; the ENI side keeps attachments to this VPC's ENIs. Not
    # limited by the ownership tags: the ENI is tagged in the create call just before, and a
    # tag-based denial of an attach would make the operator delete every ENI it creates.
    "ec2:AttachNetworkInterface": MappingProxyType({"network-interface": ("vpc",), "instance": ()}),
    "ec2:ModifyNetworkInterfaceAttribute": MappingProxyType(
        {"network-interface": ("vpc",), "security-group": ("vpc",), "subnet": ("vpc",), "instance": ()}),
    # Also used on eth0, which carries no Cilium tag: the VPC is the only narrowing that keeps it.
    "ec2:AssignPrivateIpAddresses": MappingProxyType({"network-interface": ("vpc",)}),
    "ec2:UnassignPrivateIpAddresses": MappingProxyType({"network-interface": ("vpc",)}),
    "ec2:AssignIpv6Addresses": MappingProxyType({"network-interface": ("vpc",)}),
    # The GC deletes only ENIs carrying its GC tags; the undo after a failed attach deletes an ENI
    # just created with them (were that denied, the ENI stays detached and the GC deletes it).
    "ec2:DeleteNetworkInterface": MappingProxyType({"network-interface": ("vpc", "resource-tags")}),
})

#: The GC tags cilium-operator defaults to (pkg/defaults: ENIGarbageCollectionTag*; the cluster
#: tag only when ``cluster.name`` is not the chart's ``default``, else it is auto-detected).
GC_TAG_MANAGED = ("io.cilium/cilium-managed", "true")
GC_TAG_CLUSTER_NAME = "io.cilium/cluster-name"
DEFAULT_CLUSTER_NAME = "default"


def eni_ownership_tags(values: Mapping[str, Any]) -> dict[str, str]:
    """The tags cilium-operator puts on every ENI it creates and selects dangling ENIs by (its GC
    tags), as far as these Helm values decide them: ``eni.gcTags`` when set, else
    ``io.cilium/cilium-managed=true`` and ``io.cilium/cluster-name=<cluster.name>``; none when
    ENI GC is off (the operator then adds only ``eni.eniTags``, which are not merged into the GC's
    selection and so identify nothing to delete)."""
    if not eni_gc_enabled(values):
        return {}
    custom = get_path(values, "eni.gcTags")
    if isinstance(custom, Mapping) and custom:
        return {str(k): v for k, v in custom.items() if isinstance(v, str)}
    tags = {GC_TAG_MANAGED[0]: GC_TAG_MANAGED[1]}
    name = get_path(values, "cluster.name")
    if isinstance(name, str) and name and name != DEFAULT_CLUSTER_NAME:
        tags[GC_TAG_CLUSTER_NAME] = name
    return tags


@dataclass(frozen=True)
class OperatorScope:
    """Where the operator's writes may land: this partition, region and account (the ARNs), the
    cluster's VPC (``vpc_id``; ``None`` leaves the writes unbounded by VPC, which the policy pack
    refuses) and the ENI ownership tags (``eni_ownership_tags``; none when ENI GC is off)."""

    partition: str
    region: str
    account: str
    vpc_id: str | None
    ownership_tags: Mapping[str, str] = field(default_factory=dict)

    def arn(self, resource: str) -> str:
        return f"arn:{self.partition}:ec2:{self.region}:{self.account}:{resource}"

    @property
    def vpc_arn(self) -> str | None:
        return None if self.vpc_id is None else self.arn(f"vpc/{self.vpc_id}")


def _camel(words: Sequence[str]) -> str:
    return "".join(part.capitalize() for w in words for part in re.split(r"[^A-Za-z0-9]+", w))


def _sid(scopes: Sequence[str], rtypes: Sequence[str]) -> str:
    """E.g. ``CiliumOperatorVpcResourceTagsOnNetworkInterface``: what limits which resources."""
    return f"CiliumOperator{_camel(scopes) or 'Unconditioned'}On{_camel(rtypes)}"


def policy_document(actions: Sequence[str], scope: OperatorScope) -> dict[str, Any]:
    """The operator's permissions: ``actions`` (``operator_iam_actions``), each write kept to the
    scope as ``ENI_WRITE_SCOPES`` says; the read-only Describe/Get calls, which take no resource,
    to the region."""
    unscoped = [a for a in actions if a not in ENI_WRITE_SCOPES and not a.split(":", 1)[-1].startswith(
        ("Describe", "Get"))]
    if unscoped:
        raise ValueError(f"no scope decided for {unscoped}: add them to ENI_WRITE_SCOPES")
    vpc_arn = scope.vpc_arn
    conditions: dict[str, dict[str, dict[str, Any]]] = {
        "vpc": {"ArnEquals": {"ec2:Vpc": vpc_arn}} if vpc_arn else {},
        "request-tags": {"StringEquals": {f"aws:RequestTag/{k}": v for k, v in scope.ownership_tags.items()}}
        if scope.ownership_tags else {},
        "resource-tags": {"StringEquals": {f"aws:ResourceTag/{k}": v for k, v in scope.ownership_tags.items()}}
        if scope.ownership_tags else {},
        "create-action": {"StringEquals": {"ec2:CreateAction": "CreateNetworkInterface"}},
    }
    statements: list[dict[str, Any]] = []
    reads = [a for a in actions if a not in ENI_WRITE_SCOPES]
    if reads:
        statements.append({"Sid": "CiliumOperatorRead", "Effect": "Allow", "Action": reads, "Resource": "*",
                           "Condition": {"StringEquals": {"ec2:Region": scope.region}}})
    # One statement per (conditions, resource types) the actions share, in a stable order.
    groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for action in (a for a in actions if a in ENI_WRITE_SCOPES):
        by_scopes: dict[tuple[str, ...], list[str]] = {}
        for rtype, scopes in ENI_WRITE_SCOPES[action].items():
            # only the scopes this stack can state (no VPC or no ownership tags known: none)
            by_scopes.setdefault(tuple(s for s in scopes if conditions[s]), []).append(rtype)
        for scopes, rtypes in by_scopes.items():
            groups.setdefault((scopes, tuple(sorted(rtypes))), []).append(action)
    for (scopes, rtypes), group in sorted(groups.items(), key=lambda g: (g[1], g[0])):
        statement: dict[str, Any] = {"Sid": _sid(scopes, rtypes), "Effect": "Allow", "Action": group,
                                     "Resource": [scope.arn(f"{t}/*") for t in rtypes]}
        condition: dict[str, dict[str, Any]] = {}
        for s in scopes:
            for operator, pairs in conditions[s].items():
                condition.setdefault(operator, {}).update(pairs)
        if condition:
            statement["Condition"] = condition
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


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
