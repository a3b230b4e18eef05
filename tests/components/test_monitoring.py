"""Monitoring alone: a namespace, Grafana's generated admin password in a Secret (never in the values),
one pinned kube-prometheus-stack release after the nodes, the alert rules after it, and Grafana reached
by port-forward or an internal-only load balancer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from cilium_eks.monitoring import ALERT_RULES, INTERNAL_LB_ANNOTATIONS, RemoteWrite
from components import Monitoring, MonitoringArgs
from tests.components.harness import build, child, children, component, k8s_provider, stand_in, uses_provider
from tooling.mockengine import Graph, RecordedResource, Secret

TOKEN = "cilium-eks:components:Monitoring"
RELEASE = "kubernetes:helm.sh/v3:Release"
SECRET = "kubernetes:core/v1:Secret"
NAMESPACE = "kubernetes:core/v1:Namespace"
PASSWORD = "random:index/randomPassword:RandomPassword"
RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
SERVICE = "kubernetes:core/v1:Service"
STAND_INS = {"k", "nodes-a", "nodes-b"}
OUTPUTS = {"grafana_ui_command", "grafana_admin_password", "release_name"}


def build_monitoring(access: Any = "port-forward", cidrs: Sequence[str] = ("10.20.0.0/16",),
                     remote_write: RemoteWrite | None = None, on_monitor: Any = None) -> Graph:
    def program() -> None:
        provider = k8s_provider()
        Monitoring("mon", MonitoringArgs(
            k8s_provider=provider, nodes=[stand_in("nodes-a", provider), stand_in("nodes-b", provider)],
            storage_class="gp3", cluster_name="blue", region="eu-west-1", grafana_access=access,
            allowed_cidrs=list(cidrs), remote_write=remote_write))

    return build(program, on_monitor=on_monitor)


def monitoring(graph: Graph, outputs: set[str] = OUTPUTS) -> RecordedResource:
    return component(graph, TOKEN, stand_ins=STAND_INS, outputs=outputs)


@pytest.fixture(scope="module")
def graph() -> Graph:
    return build_monitoring()


def test_port_forward_declares_the_stack_and_nothing_exposed(graph: Graph):
    comp = monitoring(graph)
    assert sorted(r.type for r in children(graph, comp)) == sorted([NAMESPACE, PASSWORD, SECRET, RELEASE, RULE])
    command = comp.registered_outputs["grafana_ui_command"]
    assert command.startswith("aws eks update-kubeconfig --region eu-west-1 --name blue ")
    assert "--namespace monitoring port-forward service/kube-prometheus-stack-grafana 3000:80" in command


def test_the_release_is_pinned_and_waits_for_the_nodes_and_the_admin_secret(graph: Graph):
    comp = graph.one(TOKEN)
    release = child(graph, comp, RELEASE)
    assert (release.inputs["chart"], release.inputs["version"], release.inputs["name"]) == (
        "kube-prometheus-stack", "88.5.3", "kube-prometheus-stack")
    assert release.inputs["namespace"] == "monitoring"
    assert {graph.named("nodes-a").urn, graph.named("nodes-b").urn, child(graph, comp, SECRET).urn} <= \
        release.explicit_dependencies
    assert uses_provider(release, graph.named("k").urn)
    values = release.inputs["values"]
    assert values["crds"] == {"enabled": False}
    assert values["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]["spec"][
        "storageClassName"] == "gp3"
    assert "remoteWrite" not in values["prometheus"]["prometheusSpec"]


def test_the_password_is_generated_kept_in_a_secret_and_never_in_the_values(graph: Graph):
    comp = graph.one(TOKEN)
    password = child(graph, comp, PASSWORD).outputs["result"]
    assert len(password) == 32 and child(graph, comp, PASSWORD).inputs["special"] is False
    secret = child(graph, comp, SECRET)
    assert secret.inputs["metadata"]["name"] == "grafana-admin"
    assert secret.inputs["stringData"] == {"admin-user": "admin", "admin-password": password}
    values = child(graph, comp, RELEASE).inputs["values"]
    assert values["grafana"]["admin"] == {"existingSecret": "grafana-admin", "userKey": "admin-user",
                                          "passwordKey": "admin-password"}
    assert password not in repr(values)
    assert isinstance(comp.registered_outputs["grafana_admin_password"], Secret)


def test_the_alert_rules_come_after_the_release(graph: Graph):
    comp = graph.one(TOKEN)
    rule = child(graph, comp, RULE)
    assert child(graph, comp, RELEASE).urn in rule.explicit_dependencies
    assert rule.inputs["metadata"]["labels"] == {"release": "kube-prometheus-stack"}
    assert [r["alert"] for r in rule.inputs["spec"]["groups"][0]["rules"]] == [a.name for a in ALERT_RULES]


def test_remote_write_signs_with_the_given_role():
    rw = RemoteWrite(url="https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write",
                     region="eu-west-1", role_arn="arn:aws:iam::123456789012:role/writer")
    graph = build_monitoring(remote_write=rw)
    values = child(graph, graph.one(TOKEN), RELEASE).inputs["values"]
    assert values["prometheus"]["prometheusSpec"]["remoteWrite"] == [{"url": rw.url, "sigv4": {"region": "eu-west-1"}}]
    assert values["prometheus"]["serviceAccount"] == {
        "create": True, "name": "kube-prometheus-stack-prometheus",
        "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/writer"}}


def test_internal_load_balancer_is_internal_only_and_waits_for_grafana():
    graph = build_monitoring("internal-load-balancer", ["10.20.0.0/16"])
    comp = monitoring(graph, OUTPUTS | {"grafana_ui_url"})
    svc = child(graph, comp, SERVICE)
    assert svc.inputs["metadata"]["annotations"] == dict(INTERNAL_LB_ANNOTATIONS)
    spec = svc.inputs["spec"]
    assert spec["type"] == "LoadBalancer" and spec["loadBalancerSourceRanges"] == ["10.20.0.0/16"]
    assert spec["selector"] == {"app.kubernetes.io/name": "grafana",
                                "app.kubernetes.io/instance": "kube-prometheus-stack"}
    assert spec["ports"] == [{"name": "http", "port": 80, "targetPort": 3000, "protocol": "TCP"}]
    assert {child(graph, comp, RELEASE).urn, graph.named("nodes-a").urn} <= svc.explicit_dependencies


@pytest.mark.parametrize(("access", "cidrs", "message"), [
    ("public-load-balancer", ["10.20.0.0/16"], "grafana_access must be one of"),
    ("internal-load-balancer", [], "narrower than /0"),
    ("internal-load-balancer", ["0.0.0.0/0"], "narrower than /0"),
])
def test_invalid_access_is_refused_before_anything_is_declared(access: str, cidrs: list[str], message: str):
    monitors: list[Any] = []
    with pytest.raises(ValueError, match=message):
        build_monitoring(access, cidrs, on_monitor=monitors.append)
    assert not [r for r in monitors[0].recorded.values() if r.type in (RELEASE, SERVICE, PASSWORD)]
