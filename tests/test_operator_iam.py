"""cilium-operator's permissions, evaluated as IAM evaluates them, on the calls the operator makes.

A small model of IAM's evaluation (an action is allowed when, for every resource the request
touches, some Allow statement matches the action, the resource ARN and all its conditions; a
condition on a key the request context does not carry fails) over request contexts that hold
exactly the condition keys the AWS Service Authorization Reference lists for each action and
resource type ("Actions, resources, and condition keys for Amazon EC2", Actions table). The calls
are the ones cilium-operator makes (cilium/cilium pkg/aws/api/api.go, pkg/aws/ipam/node.go): every
one of them must stay allowed, and the same calls outside the cluster's VPC or on ENIs that are not
its own must be denied.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from cilium_eks.cilium import CiliumOptions, helm_values
from cilium_eks.operator_iam import (
    ALLOWED_ACTIONS,
    ENI_WRITE_SCOPES,
    OperatorScope,
    eni_gc_enabled,
    eni_ownership_tags,
    operator_iam_actions,
    policy_document,
)

REGION, ACCOUNT, PARTITION = "eu-west-1", "123456789012", "aws"
VPC, OTHER_VPC = "vpc-0a1b2c3d4e5f60718", "vpc-0ffffffffffffffff"

#: Condition keys each (action, resource type) request context carries, from the reference's
#: Actions table (only the families the policy could use; ``/*`` stands for ``/${TagKey}``).
#: Every EC2 action also carries ec2:Region; CreateTags also ec2:CreateAction.
SAR_KEYS: Mapping[tuple[str, str], frozenset[str]] = {
    ("ec2:CreateNetworkInterface", "network-interface"): frozenset({"aws:RequestTag/*", "aws:TagKeys"}),
    ("ec2:CreateNetworkInterface", "subnet"): frozenset({"aws:ResourceTag/*", "ec2:ResourceTag/*", "ec2:Vpc"}),
    ("ec2:CreateNetworkInterface", "security-group"): frozenset({"aws:ResourceTag/*", "ec2:ResourceTag/*", "ec2:Vpc"}),
    ("ec2:CreateTags", "network-interface"): frozenset(
        {"aws:RequestTag/*", "aws:ResourceTag/*", "ec2:ResourceTag/*", "aws:TagKeys", "ec2:Subnet", "ec2:Vpc",
         "ec2:CreateAction"}),
    ("ec2:AttachNetworkInterface", "instance"): frozenset({"aws:ResourceTag/*", "ec2:ResourceTag/*"}),
    ("ec2:ModifyNetworkInterfaceAttribute", "instance"): frozenset({"aws:ResourceTag/*", "ec2:ResourceTag/*"}),
    **{(a, "network-interface"): frozenset({"aws:ResourceTag/*", "ec2:ResourceTag/*", "ec2:Subnet", "ec2:Vpc"})
       for a in ("ec2:AttachNetworkInterface", "ec2:ModifyNetworkInterfaceAttribute", "ec2:AssignPrivateIpAddresses",
                 "ec2:UnassignPrivateIpAddresses", "ec2:AssignIpv6Addresses", "ec2:DeleteNetworkInterface")},
}


@dataclass(frozen=True)
class Res:
    """An EC2 resource a request touches: its type, id, VPC and tags."""

    rtype: str
    rid: str
    vpc: str | None = VPC
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return f"arn:{PARTITION}:ec2:{REGION}:{ACCOUNT}:{self.rtype}/{self.rid}"


def _context(action: str, res: Res, region: str, request_tags: Mapping[str, str],
             create_action: str | None) -> dict[str, str]:
    available = SAR_KEYS[(action, res.rtype)] if res.rtype != "*" else frozenset()
    facts: dict[str, str] = {"ec2:Region": region}
    if create_action is not None and "ec2:CreateAction" in available:
        facts["ec2:CreateAction"] = create_action
    if res.vpc is not None:
        facts["ec2:Vpc"] = f"arn:{PARTITION}:ec2:{REGION}:{ACCOUNT}:vpc/{res.vpc}"
    for k, v in res.tags.items():
        facts[f"aws:ResourceTag/{k}"] = facts[f"ec2:ResourceTag/{k}"] = v
    for k, v in request_tags.items():
        facts[f"aws:RequestTag/{k}"] = v
    return {k: v for k, v in facts.items()
            if k == "ec2:Region" or k in available or f"{k.split('/', 1)[0]}/*" in available}


def _wildcard(pattern: str, text: str, *, fold: bool = False) -> bool:
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, text, re.IGNORECASE if fold else 0) is not None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statement_allows(st: Mapping[str, Any], action: str, arn: str, ctx: Mapping[str, str]) -> bool:
    if st["Effect"] != "Allow" or not any(_wildcard(a, action, fold=True) for a in _as_list(st["Action"])):
        return False
    if not any(_wildcard(r, arn) for r in _as_list(st["Resource"])):
        return False
    folded = {k.lower(): v for k, v in ctx.items()}
    for operator, block in st.get("Condition", {}).items():
        assert operator in ("StringEquals", "ArnEquals"), f"the model does not evaluate {operator}"
        for key, values in block.items():
            if folded.get(key.lower()) not in _as_list(values):
                return False
    return True


def allowed(doc: Mapping[str, Any], action: str, *resources: Res, region: str = REGION,
            request_tags: Mapping[str, str] | None = None, create_action: str | None = None) -> bool:
    for res in resources:
        arn = "*" if res.rtype == "*" else res.arn
        ctx = _context(action, res, region, request_tags or {}, create_action)
        if not any(_statement_allows(st, action, arn, ctx) for st in doc["Statement"]):
            return False
    return True


def document(extra_values: Mapping[str, Any] | None = None, vpc: str | None = VPC
             ) -> tuple[dict[str, Any], dict[str, str]]:
    values = helm_values(CiliumOptions(extra_values=dict(extra_values or {})), cluster_name="blue",
                         operator_replicas=2, operator_role_arn="arn:aws:iam::123456789012:role/op")
    tags = eni_ownership_tags(values)
    scope = OperatorScope(partition=PARTITION, region=REGION, account=ACCOUNT, vpc_id=vpc, ownership_tags=tags)
    return policy_document(operator_iam_actions(values), scope), tags


CLUSTER_TAGS = {"io.cilium/cilium-managed": "true", "io.cilium/cluster-name": "blue"}
SUBNET = Res("subnet", "subnet-0aaaaaaaaaaaaaaaa")
NODE_SG = Res("security-group", "sg-0aaaaaaaaaaaaaaaa")
NEW_ENI = Res("network-interface", "eni-0new000000000000", tags=CLUSTER_TAGS)
ETH0 = Res("network-interface", "eni-0eth000000000000")  # created by EC2 with the instance: no Cilium tag
NODE = Res("instance", "i-0aaaaaaaaaaaaaaaa", vpc=None)
ANYWHERE = Res("*", "*", vpc=None)


def create_eni(doc: Mapping[str, Any], subnet: Res, sg: Res, tags: Mapping[str, str]) -> bool:
    """CreateNetworkInterface with TagSpecifications: the create itself, and ec2:CreateTags on the
    new ENI, which EC2 authorizes too when tags come with the create call."""
    eni = Res("network-interface", "eni-0new000000000000", vpc=None)  # not yet in any VPC: no ec2:Vpc key
    return (allowed(doc, "ec2:CreateNetworkInterface", eni, subnet, sg, request_tags=tags)
            and (not tags or allowed(doc, "ec2:CreateTags", eni, request_tags=tags,
                                     create_action="CreateNetworkInterface")))


# --- every call the operator makes stays allowed ---------------------------------------------


@pytest.mark.parametrize("extra", [{}, {"eni": {"awsReleaseExcessIPs": True}}, {"ipv6": {"enabled": True}},
                                   {"eni": {"eniTags": {"team": "net"}}}],
                         ids=["default", "release-excess-ips", "ipv6", "eni-tags"])
def test_the_operators_own_calls_are_allowed(extra: dict[str, Any]):
    doc, tags = document(extra)
    assert tags == CLUSTER_TAGS
    extra_tags = extra.get("eni", {}).get("eniTags", {})
    assert create_eni(doc, SUBNET, NODE_SG, {**extra_tags, **tags})
    assert allowed(doc, "ec2:AttachNetworkInterface", NEW_ENI, NODE)
    assert allowed(doc, "ec2:ModifyNetworkInterfaceAttribute", NEW_ENI, NODE)
    for eni in (ETH0, NEW_ENI):  # IPs and prefixes go on eth0 too (firstInterfaceIndex 0)
        assert allowed(doc, "ec2:AssignPrivateIpAddresses", eni)
    assert allowed(doc, "ec2:DeleteNetworkInterface", NEW_ENI)  # GC and the undo of a failed attach
    for action in (a for a in operator_iam_actions(helm_values(
            CiliumOptions(extra_values=extra), cluster_name="blue", operator_replicas=2, operator_role_arn="-"))
            if a not in ENI_WRITE_SCOPES):
        assert allowed(doc, action, ANYWHERE), action
    if extra.get("eni", {}).get("awsReleaseExcessIPs"):
        assert allowed(doc, "ec2:UnassignPrivateIpAddresses", ETH0)
    if extra.get("ipv6"):
        assert allowed(doc, "ec2:AssignIpv6Addresses", NEW_ENI)


def test_with_eni_gc_off_the_operator_still_creates_and_deletes_its_enis():
    doc, tags = document({"eni": {"gcInterval": "0s"}})
    assert tags == {}
    untagged = Res("network-interface", "eni-0new000000000000")
    assert create_eni(doc, SUBNET, NODE_SG, {})
    assert allowed(doc, "ec2:DeleteNetworkInterface", untagged)
    assert not allowed(doc, "ec2:DeleteNetworkInterface", Res("network-interface", "eni-0x", vpc=OTHER_VPC))


def test_custom_gc_tags_are_the_ones_required():
    doc, tags = document({"eni": {"gcTags": {"owner": "blue-cilium"}}})
    assert tags == {"owner": "blue-cilium"}
    assert create_eni(doc, SUBNET, NODE_SG, tags)
    assert not create_eni(doc, SUBNET, NODE_SG, CLUSTER_TAGS)
    assert allowed(doc, "ec2:DeleteNetworkInterface", Res("network-interface", "eni-0x", tags=tags))
    assert not allowed(doc, "ec2:DeleteNetworkInterface", NEW_ENI)


# --- the same calls beyond the cluster are denied -------------------------------------------


def test_writes_outside_the_cluster_are_denied():
    doc, tags = document()
    other_subnet = Res("subnet", "subnet-0bbbbbbbbbbbbbbbb", vpc=OTHER_VPC)
    other_sg = Res("security-group", "sg-0bbbbbbbbbbbbbbbb", vpc=OTHER_VPC)
    foreign_eni = Res("network-interface", "eni-0ccccccccccccccc", vpc=OTHER_VPC, tags=CLUSTER_TAGS)
    assert not create_eni(doc, other_subnet, NODE_SG, tags)
    assert not create_eni(doc, SUBNET, other_sg, tags)
    assert not create_eni(doc, SUBNET, NODE_SG, {**tags, "io.cilium/cluster-name": "green"})
    assert not create_eni(doc, SUBNET, NODE_SG, {})
    assert not allowed(doc, "ec2:AttachNetworkInterface", foreign_eni, NODE)
    assert not allowed(doc, "ec2:AssignPrivateIpAddresses", foreign_eni)
    assert not allowed(doc, "ec2:ModifyNetworkInterfaceAttribute", foreign_eni, NODE)
    # deletion: only the operator's own ENIs, only in the cluster's VPC
    assert not allowed(doc, "ec2:DeleteNetworkInterface", ETH0)
    assert not allowed(doc, "ec2:DeleteNetworkInterface", foreign_eni)
    # tags: only on an ENI being created, never on an existing one (which would make it deletable)
    assert not allowed(doc, "ec2:CreateTags", ETH0, request_tags=tags)
    # reads: this region only
    assert not allowed(doc, "ec2:DescribeNetworkInterfaces", ANYWHERE, region="us-east-1")


def test_the_model_denies_what_iam_denies():
    """The evaluation model itself: a condition on a key the context lacks fails, statements add up."""
    st = {"Effect": "Allow", "Action": "ec2:CreateNetworkInterface", "Resource": "*",
          "Condition": {"ArnEquals": {"ec2:Vpc": f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/{VPC}"}}}
    # the new ENI carries no ec2:Vpc in a create: a VPC condition alone can never allow the create
    assert not create_eni({"Statement": [st]}, SUBNET, NODE_SG, {})
    either = {"Statement": [st, {**st, "Resource": f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-interface/*",
                                 "Condition": {}}]}
    assert create_eni(either, SUBNET, NODE_SG, {})


# --- the pieces -------------------------------------------------------------------------------


def test_every_action_the_operator_may_need_has_a_decided_scope():
    scope = OperatorScope(partition=PARTITION, region=REGION, account=ACCOUNT, vpc_id=VPC)
    doc = policy_document(ALLOWED_ACTIONS, scope)
    assert sorted({a for st in doc["Statement"] for a in _as_list(st["Action"])}) == sorted(ALLOWED_ACTIONS)
    with pytest.raises(ValueError, match="ec2:RunInstances"):
        policy_document([*ALLOWED_ACTIONS, "ec2:RunInstances"], scope)


def test_statement_ids_are_unique_whatever_can_be_stated():
    gc_off = {"eni": {"gcInterval": "0"}}
    for extra, vpc in (({}, VPC), ({}, None), (gc_off, None), (gc_off, VPC)):
        doc, _ = document(extra, vpc)
        sids = [st["Sid"] for st in doc["Statement"]]
        assert len(sids) == len(set(sids)) and all(re.fullmatch(r"[A-Za-z0-9]+", s) for s in sids), sids


@pytest.mark.parametrize(("interval", "enabled"), [
    (None, True), ("", True), ("5m", True), ("1h30m", True), ("300", True), ("0.5s", True),
    ("0", False), ("0s", False), ("0m0s", False), ("-5m", False), ("0.0s", False),
])
def test_eni_gc_follows_the_operators_duration(interval: str | None, enabled: bool):
    values: dict[str, Any] = {"eni": {} if interval is None else {"gcInterval": interval}}
    assert eni_gc_enabled(values) is enabled


def test_ownership_tags_follow_the_values():
    def tags(**eni: Any) -> dict[str, str]:
        return eni_ownership_tags({"cluster": {"name": eni.pop("cluster", "blue")}, "eni": eni})

    assert tags() == CLUSTER_TAGS
    assert tags(gcTags={"a": "b"}) == {"a": "b"}
    assert tags(gcInterval="0s", gcTags={"a": "b"}) == {}
    # the chart's default name: the operator detects the EKS name itself, so it cannot be required
    assert tags(cluster="default") == {"io.cilium/cilium-managed": "true"}
