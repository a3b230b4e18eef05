"""Encryption and metrics in the real program's graph: WireGuard values and why no security-group rule
is added, the CRDs before Cilium, the metrics stack after the nodes, ServiceMonitors Prometheus selects,
dashboards, the Grafana password secret from end to end, the AMP option, and dev unchanged."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest

from cilium_eks.cilium import OWNED_VALUES, helm_values
from cilium_eks.config import ConfigError
from cilium_eks.encryption import WIREGUARD_OVERHEAD, pod_route_mtu
from cilium_eks.known_bad import matching
from cilium_eks.monitoring import SELECTOR_LABELS
from cilium_eks.ordering import check_ordering
from tests.conftest import committed_graph, graph_with
from tests.test_graph import config, max_pods_expression
from tooling.mockengine import Graph, RecordedResource, Secret, decode_struct, run_program
from tooling.mockengine.monitor import RecordingMonitor

RELEASE = "kubernetes:helm.sh/v3:Release"
MNG = "eks:index:ManagedNodeGroup"
SERVICE = "kubernetes:core/v1:Service"
SECRET = "kubernetes:core/v1:Secret"
PASSWORD = "random:index/randomPassword:RandomPassword"
RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
SG_TYPES = ("aws:ec2/securityGroup:SecurityGroup", "aws:ec2/securityGroupRule:SecurityGroupRule",
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
BOTH_ON = {"ciliumEncryption": "wireguard", "observability": "prometheus"}


def release_of(graph: Graph, chart: str) -> RecordedResource:
    [r] = [r for r in graph.of_type(RELEASE) if r.inputs.get("chart") == chart]
    return r


def cilium_values(graph: Graph) -> dict[str, Any]:
    return release_of(graph, "cilium").inputs["values"]


@functools.cache
def dev_on() -> Graph:
    return graph_with("dev", **BOTH_ON)


# --- encryption -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev-on", "prod"])
def test_wireguard_values_when_on(stack: str):
    graph = dev_on() if stack == "dev-on" else committed_graph("prod")
    values = cilium_values(graph)
    assert values["encryption"] == {"enabled": True, "type": "wireguard", "nodeEncryption": False}
    # The pods' MTU comes from Cilium's detection on the primary ENI (9001 - 95 on routes): nothing set.
    assert "MTU" not in values
    assert pod_route_mtu() == 9001 - WIREGUARD_OVERHEAD == 8906


def test_no_security_group_rule_is_needed_and_none_is_added():
    """WireGuard's UDP 51871 flows node IP to node IP. Managed nodes carry the EKS cluster security group
    (their launch template names none, so EKS applies it: launch-templates.adoc), whose default inbound
    rule admits all traffic from itself (sec-group-reqs.adoc), and pod ENIs copy eth0's groups unless
    eni.nodeSpec.securityGroups says otherwise (Cilium eni.rst): no rule to add. The test holds the
    preconditions of that argument."""
    graph = dev_on()
    assert not [r for r in graph if r.type in SG_TYPES and not r.synthetic]
    for lt in graph.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        assert not {"vpcSecurityGroupIds", "securityGroupNames", "networkInterfaces"} & set(lt.inputs), lt.name
    for ng in graph.of_type("aws:eks/nodeGroup:NodeGroup"):
        assert "remoteAccess" not in ng.inputs
    values = cilium_values(graph)
    assert "securityGroups" not in (values["eni"].get("nodeSpec") or {})
    assert "securityGroupTags" not in (values["eni"].get("nodeSpec") or {})


def test_encryption_cannot_be_switched_through_extra_values():
    for path in ("encryption.enabled", "encryption.type", "encryption.nodeEncryption"):
        assert path in OWNED_VALUES
    with pytest.raises(ConfigError, match=r"ciliumExtraValues\.encryption\.enabled"):
        graph_with("prod", ciliumExtraValues={"encryption": {"enabled": False}})


# --- CRDs, Cilium's metrics, the stack after the nodes ----------------------------------------------


def test_the_crds_come_before_cilium_and_need_no_node():
    graph = committed_graph("prod")
    crds, cilium = release_of(graph, "prometheus-operator-crds"), release_of(graph, "cilium")
    assert crds.inputs["version"] == "31.0.1"
    assert crds.urn in cilium.explicit_dependencies and graph.waits_for(cilium.urn, crds.urn)
    assert not any(graph.waits_for(crds.urn, ng.urn) for ng in graph.of_type(MNG))


def test_the_metrics_stack_comes_after_every_node_group_and_its_storage():
    graph = committed_graph("prod")
    kps = release_of(graph, "kube-prometheus-stack")
    assert kps.inputs["version"] == "88.5.3"
    groups = graph.of_type(MNG)
    assert len(groups) == 2 and all(graph.waits_for(kps.urn, ng.urn) for ng in groups)
    [sc] = graph.of_type("kubernetes:storage.k8s.io/v1:StorageClass")
    [addon] = [a for a in graph.of_type("aws:eks/addon:Addon") if a.inputs.get("addonName") == "aws-ebs-csi-driver"]
    assert graph.waits_for(kps.urn, sc.urn) and graph.waits_for(sc.urn, addon.urn)
    assert all(graph.waits_for(addon.urn, ng.urn) for ng in groups)
    assert kps.inputs["values"]["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]["spec"][
        "storageClassName"] == sc.inputs["metadata"]["name"] == "gp3"
    [rule] = graph.of_type(RULE)
    assert graph.waits_for(rule.urn, kps.urn)
    assert all(f.ok for f in check_ordering(graph.dependency_graph()))


def test_service_monitors_are_labelled_for_the_stacks_prometheus_and_dashboards_on():
    graph = committed_graph("prod")
    v = cilium_values(graph)
    kps = release_of(graph, "kube-prometheus-stack")
    # The label Prometheus selects by is `release: <its release name>` (the chart's defaults are kept).
    assert dict(SELECTOR_LABELS) == {"release": kps.inputs["name"]}
    spec = kps.inputs["values"]["prometheus"]["prometheusSpec"]
    assert "serviceMonitorSelectorNilUsesHelmValues" not in spec and "serviceMonitorSelector" not in spec
    for monitor in (v["prometheus"]["serviceMonitor"], v["operator"]["prometheus"]["serviceMonitor"],
                    v["hubble"]["metrics"]["serviceMonitor"], v["hubble"]["relay"]["prometheus"]["serviceMonitor"]):
        assert monitor["enabled"] is True and monitor["labels"] == dict(SELECTOR_LABELS)
    assert v["prometheus"]["enabled"] and v["operator"]["prometheus"]["enabled"]
    assert v["hubble"]["relay"]["prometheus"]["enabled"]
    assert v["prometheus"]["serviceMonitor"]["trustCRDsExist"] is True
    assert v["dashboards"]["enabled"] and v["operator"]["dashboards"]["enabled"]
    assert v["hubble"]["metrics"]["dashboards"]["enabled"]
    assert kps.inputs["values"]["grafana"]["sidecar"]["dashboards"]["label"] == "grafana_dashboard"
    metrics = [m.split(":")[0] for m in v["hubble"]["metrics"]["enabled"]]
    assert metrics == ["dns", "drop", "tcp", "flow", "port-distribution", "icmp", "httpV2"]
    http = v["hubble"]["metrics"]["enabled"][-1]
    assert "source_workload" in http and "destination_workload" in http and "_ip" not in http


def test_the_known_bad_service_monitor_entry_does_not_fire_for_the_stack_and_would_without_trust():
    graph = committed_graph("prod")
    v = cilium_values(graph)
    assert not [e.id for e in matching("1.20.0", v)]
    v = json.loads(json.dumps(v))
    del v["prometheus"]["serviceMonitor"]["trustCRDsExist"]
    assert [e.id for e in matching("1.20.0", v)] == ["service-monitor-without-crds"]


def test_node_exporter_counts_in_the_max_pods_of_every_node():
    prod = committed_graph("prod")
    cfg, without = config("prod"), config("prod", observability="none")
    assert cfg.pod_addressing.host_network_extra == 1 and without.pod_addressing.host_network_extra == 0
    for ng in prod.of_type(MNG):
        got = max_pods_expression(prod, ng)
        assert " + 4 " in got, "agent, envoy, kube-proxy and node-exporter on the host network"
    bare = graph_with("prod", observability="none")
    assert [max_pods_expression(bare, ng) for ng in bare.of_type(MNG)] == [
        max_pods_expression(prod, ng).replace(" + 4 ", " + 3 ") for ng in prod.of_type(MNG)]


# --- the Grafana password -------------------------------------------------------------------------


def secret_wire() -> tuple[Graph, dict[str, dict[str, Any]]]:
    """The prod graph and every resource's inputs as the engine received them, secrets marked."""
    raw: dict[str, dict[str, Any]] = {}

    def keep(monitor: RecordingMonitor) -> None:
        register = monitor.RegisterResource

        def recording(request: Any) -> Any:
            raw[request.name] = decode_struct(request.object, keep_secrets=True)
            return register(request)

        monitor.RegisterResource = recording

    return run_program("prod", on_monitor=keep), raw


def occurrences(value: Any, needle: str, path: str = "") -> list[tuple[str, bool]]:
    """Where ``needle`` appears in ``value``, and whether it sits inside a secret."""
    if isinstance(value, Secret):
        return [(p, True) for p, _ in occurrences(value.value, needle, path)]
    if isinstance(value, dict):
        return [o for k, v in value.items() for o in occurrences(v, needle, f"{path}.{k}")]
    if isinstance(value, list):
        return [o for i, v in enumerate(value) for o in occurrences(v, needle, f"{path}[{i}]")]
    return [(path, False)] if isinstance(value, str) and needle in value else []


def test_the_grafana_password_is_secret_from_end_to_end():
    graph, raw = secret_wire()
    [generator] = graph.of_type(PASSWORD)
    password = generator.outputs["result"]
    [secret] = [s for s in graph.of_type(SECRET) if s.inputs["metadata"]["name"] == "grafana-admin"]
    found = {name: occurrences(inputs, password) for name, inputs in raw.items()}
    assert {name for name, where in found.items() if where} == {secret.name}, "only the Secret receives it"
    assert found[secret.name] == [(".stringData.admin-password", True)], "and as a secret"
    assert isinstance(graph.outputs["grafana_admin_password"], Secret)
    assert graph.outputs["grafana_admin_password"].value == password
    assert not [k for k, v in graph.outputs.items() if k != "grafana_admin_password" and occurrences(v, password)]
    kps = release_of(graph, "kube-prometheus-stack")
    assert kps.inputs["values"]["grafana"]["admin"]["existingSecret"] == secret.inputs["metadata"]["name"]
    assert graph.waits_for(kps.urn, secret.urn)


def test_grafana_is_reached_by_port_forward_and_optionally_an_internal_load_balancer():
    prod = committed_graph("prod")
    assert "port-forward service/kube-prometheus-stack-grafana" in prod.outputs["grafana_ui_command"]
    assert "grafana_ui_url" not in prod.outputs
    lb = graph_with("prod", grafanaAccess="internal-load-balancer")
    [svc] = [s for s in lb.of_type(SERVICE) if s.inputs["metadata"]["name"] == "grafana-internal"]
    assert svc.inputs["metadata"]["annotations"]["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internal"
    assert svc.inputs["spec"]["loadBalancerSourceRanges"] == [config("prod").vpc_cidr]
    assert all(lb.waits_for(svc.urn, ng.urn) for ng in lb.of_type(MNG))
    assert "grafana_ui_url" in lb.outputs


# --- Amazon Managed Prometheus --------------------------------------------------------------------


def test_remote_write_to_a_workspace_of_its_own_with_write_only_irsa():
    graph = graph_with("prod", ampRemoteWrite=True)
    [ws] = graph.of_type("aws:amp/workspace:Workspace")
    [policy] = graph.of_type("aws:iam/rolePolicy:RolePolicy")
    role = graph.get(policy.property_dependencies["role"][0])
    [statement] = json.loads(policy.inputs["policy"])["Statement"]
    assert statement == {"Sid": "RemoteWriteOneWorkspace", "Effect": "Allow", "Action": ["aps:RemoteWrite"],
                         "Resource": ws.outputs["arn"]}
    [trust] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert any(v == "system:serviceaccount:monitoring:kube-prometheus-stack-prometheus"
               for v in trust["Condition"]["StringEquals"].values())
    values = release_of(graph, "kube-prometheus-stack").inputs["values"]["prometheus"]
    url = f"https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/{ws.id}/api/v1/remote_write"
    assert values["prometheusSpec"]["remoteWrite"] == [{"url": url, "sigv4": {"region": "eu-west-1"}}]
    assert values["serviceAccount"]["annotations"] == {"eks.amazonaws.com/role-arn": role.outputs["arn"]}
    assert graph.outputs["amp_workspace_id"] == ws.id and graph.outputs["amp_remote_write_url"] == url
    assert "amp_workspace_id" not in committed_graph("prod").outputs


@pytest.mark.parametrize(("overrides", "key"), [
    ({"ampRemoteWrite": True}, "ampRemoteWrite"),
    ({"grafanaAccess": "internal-load-balancer"}, "grafanaAccess"),
])
def test_monitoring_options_without_the_stack_are_refused(overrides: dict[str, Any], key: str):
    with pytest.raises(ConfigError, match=rf"cilium-eks:{key}.*observability: prometheus"):
        graph_with("dev", **overrides)


# --- dev unchanged --------------------------------------------------------------------------------


def test_dev_is_unchanged_unless_turned_on():
    dev = committed_graph("dev")
    cfg = config("dev")
    assert (cfg.cilium.encryption, cfg.cilium.observability) == ("none", "none")
    assert [r.inputs["chart"] for r in dev.of_type(RELEASE)] == ["cilium"]
    assert not dev.of_type(PASSWORD) and not dev.of_type(RULE)
    assert not {"grafana_ui_command", "grafana_admin_password", "amp_workspace_id"} & set(dev.outputs)
    values = cilium_values(dev)
    assert not {"encryption", "prometheus", "dashboards"} & set(values)
    assert "metrics" not in values["hubble"] and "prometheus" not in values["operator"]
    # What the options add is exactly what `none` leaves out.
    base = helm_values(cfg.cilium, cluster_name="x", operator_replicas=2, operator_role_arn="r")
    on = helm_values(config("dev", **BOTH_ON).cilium, cluster_name="x", operator_replicas=2, operator_role_arn="r")
    assert set(on) - set(base) == {"encryption", "prometheus", "dashboards"}


# --- runbooks -------------------------------------------------------------------------------------


def test_every_alert_links_to_a_runbook_heading_with_symptom_cause_command_and_fix():
    from cilium_eks.monitoring import ALERT_RULES, RUNBOOK_DOC
    from tooling.paths import PROJECT_DIR

    text = (PROJECT_DIR / RUNBOOK_DOC).read_text()
    sections = {s.split("\n", 1)[0].strip(): s for s in text.split("\n### ")[1:]}
    for rule in ALERT_RULES:
        assert rule.rule()["annotations"]["runbook_url"] == f"docs/troubleshooting.md#{rule.name.lower()}"
        section = sections[rule.name].split("\n## ")[0]
        for part in ("**Symptom.**", "**Cause.**", "**Show it.**", "```sh", "**Fix in this project.**"):
            assert part in section, (rule.name, part)
