"""cilium-operator-least-privilege on how far the operator's writes reach.

The committed stacks' policies (every write held to the cluster's VPC and to the operator's ENI
tags, as ``cilium_eks.operator_iam.policy_document`` builds them) pass; the same graph with one
statement widened, or with a statement added that grants a write without the conditions, fails
this rule and only this rule.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import graph_with
from tests.test_policies import assert_only, baseline, mutable, operator_policy, set_prop
from tooling.mockengine import Graph
from tooling.policy_adapter import evaluate

RULE = "cilium-operator-least-privilege"
Statements = list[dict[str, Any]]


def _statements(graph: Graph) -> Statements:
    return json.loads(operator_policy(graph).inputs["policy"])["Statement"]


def _edit(graph: Graph, edit: Callable[[Statements], None]) -> None:
    policy = operator_policy(graph)
    doc = json.loads(policy.inputs["policy"])
    edit(doc["Statement"])
    set_prop(policy, "policy", json.dumps(doc))


def _granting(statements: Statements, action: str, resource_type: str) -> dict[str, Any]:
    [found] = [st for st in statements if action in st["Action"]
               and any(f":{resource_type}/" in r for r in st["Resource"])]
    return found


def _vpc_arn(statements: Statements) -> str:
    return _granting(statements, "ec2:AssignPrivateIpAddresses", "network-interface")["Condition"]["ArnEquals"][
        "ec2:Vpc"]


def test_committed_stacks_pass(stack: str):
    assert [v.message for v in baseline(stack).violations if v.policy == RULE] == []


def _drop_vpc(sts: Statements) -> None:
    _granting(sts, "ec2:AssignPrivateIpAddresses", "network-interface").pop("Condition")


def _like_any_vpc(sts: Statements) -> None:
    st = _granting(sts, "ec2:AssignPrivateIpAddresses", "network-interface")
    st["Condition"] = {"ArnLike": {"ec2:Vpc": "arn:aws:ec2:*:*:vpc/*"}}


def _if_exists(sts: Statements) -> None:
    st = _granting(sts, "ec2:AttachNetworkInterface", "network-interface")
    st["Condition"] = {"ArnEqualsIfExists": st["Condition"]["ArnEquals"]}


def _other_vpc(sts: Statements) -> None:
    st = _granting(sts, "ec2:CreateNetworkInterface", "subnet")
    st["Condition"]["ArnEquals"]["ec2:Vpc"] = st["Condition"]["ArnEquals"]["ec2:Vpc"].rsplit("/", 1)[0] + (
        "/vpc-0ffffffffffffffff")


def _two_vpcs(sts: Statements) -> None:
    st = _granting(sts, "ec2:ModifyNetworkInterfaceAttribute", "network-interface")
    vpc = st["Condition"]["ArnEquals"]["ec2:Vpc"]
    st["Condition"]["ArnEquals"]["ec2:Vpc"] = [vpc, vpc.rsplit("/", 1)[0] + "/vpc-0ffffffffffffffff"]


def _extra_star(sts: Statements) -> None:
    sts.append({"Sid": "Extra", "Effect": "Allow", "Action": ["ec2:DeleteNetworkInterface"], "Resource": "*"})


def _tag_anything(sts: Statements) -> None:
    _granting(sts, "ec2:CreateTags", "network-interface").pop("Condition")


def _create_untagged(sts: Statements) -> None:
    _granting(sts, "ec2:CreateNetworkInterface", "network-interface").pop("Condition")


def _delete_untagged(sts: Statements) -> None:
    _granting(sts, "ec2:DeleteNetworkInterface", "network-interface")["Condition"].pop("StringEquals")


def _not_resource(sts: Statements) -> None:
    st = _granting(sts, "ec2:AssignPrivateIpAddresses", "network-interface")
    st["NotResource"] = st.pop("Resource")


@pytest.mark.parametrize(("edit", "fragments"), [
    (_drop_vpc, ["`ec2:AssignPrivateIpAddresses`", "on network-interface in any VPC"]),
    (_like_any_vpc, ["in any VPC (no ArnEquals ec2:Vpc condition"]),
    (_if_exists, ["`ec2:AttachNetworkInterface`", "in any VPC"]),
    (_other_vpc, ["`ec2:CreateNetworkInterface` on subnet in VPC vpc-0ffffffffffffffff, not the cluster's"]),
    (_two_vpcs, ["ec2:Vpc must name exactly the cluster's VPC"]),
    (_extra_star, ["statement Extra grants `ec2:DeleteNetworkInterface` on network-interface in any VPC",
                   "aws:ResourceTag/io.cilium/cluster-name="]),
    (_tag_anything, ["`ec2:CreateTags`", "the role could tag any ENI as the cluster's"]),
    (_create_untagged, ["`ec2:CreateNetworkInterface` on network-interface without requiring the tags",
                        "aws:RequestTag/io.cilium/cluster-name="]),
    (_delete_untagged, ["`ec2:DeleteNetworkInterface`", "aws:ResourceTag/io.cilium/cilium-managed=true"]),
    (_not_resource, ["with NotResource"]),
], ids=["no-vpc", "any-vpc-like", "if-exists", "other-vpc", "two-vpcs", "extra-statement", "tag-anything",
        "create-untagged", "delete-untagged", "not-resource"])
def test_a_write_beyond_the_cluster_is_refused(stack: str, edit: Callable[[Statements], None],
                                              fragments: list[str]):
    graph = mutable(stack)
    _edit(graph, edit)
    new = assert_only(stack, evaluate(graph), RULE, *fragments,
                      "ENI_WRITE_SCOPES")
    assert {v.urn for v in new} == {operator_policy(graph).urn}


def test_equivalent_spellings_of_the_same_scope_pass():
    """Condition keys are case-insensitive, and ec2:Vpc may be compared as a string; the EC2 form
    of the resource-tag key is the same narrowing."""
    graph = mutable("dev")
    vpc = _vpc_arn(_statements(graph))

    def respell(sts: Statements) -> None:
        st = _granting(sts, "ec2:AssignPrivateIpAddresses", "network-interface")
        st["Condition"] = {"StringEquals": {"EC2:VPC": vpc}}
        delete = _granting(sts, "ec2:DeleteNetworkInterface", "network-interface")
        delete["Condition"]["StringEquals"] = {k.replace("aws:", "ec2:"): v
                                              for k, v in delete["Condition"]["StringEquals"].items()}

    _edit(graph, respell)
    assert [v for v in evaluate(graph).violations if v.policy == RULE] == []


def test_with_eni_gc_off_no_tag_is_required():
    graph = graph_with("dev", ciliumExtraValues={"eni": {"gcInterval": "0s"}})
    statements = _statements(graph)
    assert not [st for st in statements if "StringEquals" in st.get("Condition", {})
                and any(k.startswith(("aws:RequestTag", "aws:ResourceTag")) for k in st["Condition"]["StringEquals"])]
    assert [v.message for v in evaluate(graph).violations if v.policy == RULE] == []
