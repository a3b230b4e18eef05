"""ManagedPrometheus alone: an AMP workspace, a role only the metrics stack's Prometheus service account
may assume, allowed aps:RemoteWrite on that workspace only, and the remote-write target it hands on."""

from __future__ import annotations

import json

import pytest

from components import ManagedPrometheus, ManagedPrometheusArgs
from tests.components.harness import build, child, children, component
from tooling.mockengine import Graph

TOKEN = "cilium-eks:components:ManagedPrometheus"
WORKSPACE = "aws:amp/workspace:Workspace"
ROLE = "aws:iam/role:Role"
POLICY = "aws:iam/rolePolicy:RolePolicy"
ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/ABC"
OIDC_ARN = f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}"


@pytest.fixture(scope="module")
def graph() -> Graph:
    def program() -> None:
        ManagedPrometheus("amp", ManagedPrometheusArgs(name_prefix="proj-blue", region="eu-west-1",
                                                       oidc_provider_arn=OIDC_ARN, oidc_issuer=ISSUER,
                                                       tags={"team": "net"}))

    return build(program)


def test_workspace_role_and_policy(graph: Graph):
    comp = component(graph, TOKEN, stand_ins=set(),
                     outputs={"workspace_id", "workspace_arn", "remote_write_url", "role_arn"})
    assert sorted(r.type for r in children(graph, comp)) == sorted([WORKSPACE, ROLE, POLICY])
    ws = child(graph, comp, WORKSPACE)
    assert ws.inputs["alias"] == "proj-blue" and ws.inputs["tags"] == {"team": "net"}
    assert comp.registered_outputs["remote_write_url"] == (
        f"https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/{ws.id}/api/v1/remote_write")
    assert comp.registered_outputs["role_arn"] == child(graph, comp, ROLE).outputs["arn"]


def test_only_the_prometheus_service_account_may_write_and_only_there(graph: Graph):
    comp = graph.one(TOKEN)
    [trust] = json.loads(child(graph, comp, ROLE).inputs["assumeRolePolicy"])["Statement"]
    assert trust["Condition"]["StringEquals"][f"{ISSUER}:sub"] == (
        "system:serviceaccount:monitoring:kube-prometheus-stack-prometheus")
    policy = child(graph, comp, POLICY)
    [statement] = json.loads(policy.inputs["policy"])["Statement"]
    assert statement["Action"] == ["aps:RemoteWrite"]
    assert statement["Resource"] == child(graph, comp, WORKSPACE).outputs["arn"]
    assert policy.inputs["role"] == child(graph, comp, ROLE).id
