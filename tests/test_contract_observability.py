"""Contracts of the encryption and metrics features with the pinned upstream artifacts.

* Every Cilium values object, with both features on, still validates against the 1.20.0 chart (schema
  and keys); the committed stacks are covered by tests/test_contract_helm_values.py.
* The kube-prometheus-stack values use only keys of its pinned ``values.yaml`` or, under ``grafana.``, of
  the Grafana subchart's (skipped with the reason when the reference data is absent).
* The PrometheusRule, and the ServiceMonitors the Cilium chart renders from the program's values,
  validate against the pinned CRDs.
* Every alert expression parses (promql-parser, the Rust PromQL parser's Python bindings), and each metric
  it reads is one of the series Cilium 1.20, Hubble or kube-state-metrics exports.
Each check has its negative control.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from cilium_eks.cilium import deep_merge
from cilium_eks.monitoring import ALERT_RULES, CHART, SELECTOR_LABELS, VERSION, kube_prometheus_values, prometheus_rule
from tests.conftest import committed_graph, graph_with
from tooling.contracts import (
    ChartReference,
    CustomResourceDefinition,
    custom_resource_problems,
    helm_values_problems,
    load_chart_reference,
    load_crds,
    undefined_value_paths,
)
from tooling.mockengine import Graph

RELEASE = "kubernetes:helm.sh/v3:Release"
GRAFANA_VALUES = "subcharts/grafana-12.11.1-values.yaml"

#: Every series an alert may read, with where it is defined (Cilium: the v1.20.0 chart's dashboards and
#: ``pkg/metrics``; operator IPAM: ``pkg/ipam/metrics``; kube-state-metrics: the rules kube-prometheus-stack
#: 88.5.3 ships, ``templates/prometheus/rules-1.14/kubernetes-apps.yaml``; ``up``: Prometheus itself).
KNOWN_METRICS: Mapping[str, str] = {
    "cilium_drop_count_total": "pkg/metrics (reason, direction); v1.20.0 chart cilium-dashboard.json",
    "cilium_endpoint_state": "pkg/metrics/metrics.go `endpoint_state` (label endpoint_state)",
    "cilium_operator_ipam_allocation_duration_seconds_count": "pkg/ipam/metrics `allocation_duration_seconds` "
                                                              "histogram (type, status, subnet_id)",
    "cilium_operator_ipam_nodes": "pkg/ipam/metrics `nodes` (category total|in-deficit|at-capacity)",
    "cilium_operator_ipam_available_ips_per_subnet": "pkg/ipam/metrics (subnet_id, availability_zone)",
    "kube_daemonset_status_number_available": "kube-prometheus-stack 88.5.3 kubernetes-apps.yaml L392",
    "kube_daemonset_status_desired_number_scheduled": "kube-prometheus-stack 88.5.3 kubernetes-apps.yaml L382",
    "kube_deployment_status_replicas_available": "kube-prometheus-stack 88.5.3 kubernetes-apps.yaml L171",
    "kube_deployment_spec_replicas": "kube-prometheus-stack 88.5.3 kubernetes-apps.yaml L169",
    "up": "Prometheus: one sample per target and scrape",
}


def release_values(graph: Graph, chart: str) -> dict[str, Any]:
    [r] = [r for r in graph.of_type(RELEASE) if r.inputs.get("chart") == chart]
    return copy.deepcopy(r.inputs["values"])


# --- Cilium values ---------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_cilium_values_with_encryption_and_metrics_validate_against_the_chart(stack: str, reference: Path):
    graph = graph_with(stack, ciliumEncryption="wireguard", observability="prometheus")
    values = release_values(graph, "cilium")
    assert values["encryption"]["enabled"] and values["hubble"]["metrics"]["enabled"]
    assert helm_values_problems(values, load_chart_reference(reference, "1.20.0")) == []


def test_a_misspelt_encryption_or_metrics_key_is_refused(reference: Path):
    values = release_values(committed_graph("prod"), "cilium")
    values["encryption"]["nodeEncrpytion"] = values["encryption"].pop("nodeEncryption")
    values["hubble"]["metrics"]["serviceMonitor"]["trustCRDsExist"] = True  # only under prometheus.serviceMonitor
    problems = helm_values_problems(values, load_chart_reference(reference, "1.20.0"))
    assert len(problems) == 2
    assert any("`encryption.nodeEncrpytion`" in p and "did you mean `encryption.nodeEncryption`" in p for p in problems)
    assert any("`hubble.metrics.serviceMonitor.trustCRDsExist`" in p for p in problems)


def test_hubble_metrics_must_be_a_list(reference: Path):
    values = release_values(committed_graph("prod"), "cilium")
    values["hubble"]["metrics"]["enabled"] = "dns,drop"  # the --set form, not a values list
    problems = helm_values_problems(values, load_chart_reference(reference, "1.20.0"))
    assert problems and problems[0].startswith("`hubble.metrics.enabled`")


# --- kube-prometheus-stack values ------------------------------------------------------------------


def kps_reference(root: Path) -> tuple[ChartReference, ChartReference]:
    """The pinned chart's values, and its Grafana section merged over the Grafana subchart's defaults."""
    text = (root / VERSION / "values.yaml").read_text()
    chart = ChartReference(version=VERSION, defaults=yaml.safe_load(text), values_yaml=text, schema={})
    sub_text = (root / VERSION / GRAFANA_VALUES).read_text()
    grafana = deep_merge(yaml.safe_load(sub_text), chart.defaults["grafana"])
    return chart, ChartReference(version=VERSION, defaults=grafana, values_yaml=sub_text, schema={})


def kps_problems(values: Mapping[str, Any], root: Path) -> list[str]:
    chart, grafana = kps_reference(root)
    top = {k: v for k, v in values.items() if k != "grafana"}
    return [*undefined_value_paths(top, chart),
            *(f"grafana.{p}" for p in undefined_value_paths(values.get("grafana") or {}, grafana))]


@pytest.mark.parametrize("overrides", [{}, {"ampRemoteWrite": True}], ids=["prod", "prod-amp"])
def test_kube_prometheus_values_use_only_keys_of_the_pinned_chart(overrides: dict[str, Any],
                                                                  kube_prometheus_reference: Path):
    graph = graph_with("prod", **overrides) if overrides else committed_graph("prod")
    values = release_values(graph, CHART)
    assert kps_problems(values, kube_prometheus_reference) == []
    assert ("remoteWrite" in values["prometheus"]["prometheusSpec"]) == bool(overrides)


def test_a_key_of_neither_chart_is_refused(kube_prometheus_reference: Path):
    values = kube_prometheus_values(storage_class="gp3")
    values["prometheus"]["prometheusSpec"]["retentionSizeBytes"] = "45GB"
    values["grafana"]["admin"]["existingSecrets"] = "x"
    values["grafana"]["service"] = {"type": "ClusterIP"}  # defined by the Grafana subchart only: accepted
    problems = kps_problems(values, kube_prometheus_reference)
    assert len(problems) == 2
    assert "`prometheus.prometheusSpec.retentionSizeBytes`" in problems[0]
    assert problems[1].startswith("grafana.`admin.existingSecrets`") and "did you mean `admin.existingSecret`" in \
        problems[1]


# --- custom resources against the pinned CRDs ---------------------------------------------------------


@pytest.fixture
def crds(kube_prometheus_reference: Path) -> Mapping[tuple[str, str], CustomResourceDefinition]:
    return load_crds(kube_prometheus_reference / VERSION / "crds")


def test_the_prometheus_rule_validates_against_its_crd(crds: Mapping[tuple[str, str], CustomResourceDefinition]):
    graph = committed_graph("prod")
    [rule] = graph.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
    obj = {"apiVersion": rule.inputs["apiVersion"], "kind": rule.inputs["kind"], "metadata": rule.inputs["metadata"],
           "spec": rule.inputs["spec"]}
    assert obj == prometheus_rule()
    assert custom_resource_problems(obj, crds) == []


def test_a_broken_rule_is_refused(crds: Mapping[tuple[str, str], CustomResourceDefinition]):
    obj = prometheus_rule()
    first = obj["spec"]["groups"][0]["rules"][0]
    first["for"] = "fifteen minutes"
    first["severity"] = "warning"  # belongs under labels
    problems = custom_resource_problems(obj, crds)
    assert any("`spec.groups[0].rules[0].for`" in p for p in problems)
    assert any("severity" in p for p in problems)


def cilium_service_monitors(values: Mapping[str, Any], chart: ChartReference) -> list[dict[str, Any]]:
    """The ServiceMonitors the Cilium 1.20.0 chart renders from these values (templates
    ``cilium-agent/servicemonitor.yaml``, ``cilium-operator/...``, ``hubble/...``, ``hubble-relay/...``):
    its labels, selector and endpoint, with the chart's defaults under the values."""
    v = deep_merge(chart.defaults, values)
    base = {"app.kubernetes.io/part-of": "cilium", "helm.sh/chart": "cilium-1.20.0"}

    def monitor(name: str, sm: Mapping[str, Any], selector: dict[str, str], endpoint: dict[str, Any],
                target_labels: list[str] | None = None) -> dict[str, Any]:
        ep = {**endpoint, "interval": sm["interval"], "path": "/metrics"}
        for key in ("relabelings", "metricRelabelings"):
            if sm.get(key):
                ep[key] = sm[key]
        spec: dict[str, Any] = {"selector": {"matchLabels": selector},
                                "namespaceSelector": {"matchNames": ["kube-system"]}, "endpoints": [ep]}
        if target_labels:
            spec["targetLabels"] = target_labels
        labels = {**base, "app.kubernetes.io/name": name, **(sm.get("labels") or {})}
        return {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
                "metadata": {"name": name, "namespace": "kube-system", "labels": labels}, "spec": spec}

    return [
        monitor("cilium-agent", v["prometheus"]["serviceMonitor"], {"app.kubernetes.io/name": "cilium-agent"},
                {"port": "metrics", "honorLabels": True}, ["k8s-app"]),
        monitor("cilium-operator", v["operator"]["prometheus"]["serviceMonitor"],
                {"io.cilium/app": "operator", "name": "cilium-operator"}, {"port": "metrics", "honorLabels": True},
                ["io.cilium/app"]),
        monitor("hubble", v["hubble"]["metrics"]["serviceMonitor"], {"k8s-app": "hubble"},
                {"port": "hubble-metrics", "honorLabels": True, "scheme": "http"}),
        monitor("hubble-relay", v["hubble"]["relay"]["prometheus"]["serviceMonitor"], {"k8s-app": "hubble-relay"},
                {"port": "metrics"}),
    ]


def test_the_service_monitors_cilium_renders_validate_and_carry_the_selected_label(
        crds: Mapping[tuple[str, str], CustomResourceDefinition], reference: Path):
    chart = load_chart_reference(reference, "1.20.0")
    monitors = cilium_service_monitors(release_values(committed_graph("prod"), "cilium"), chart)
    assert len(monitors) == 4
    for m in monitors:
        assert custom_resource_problems(m, crds) == [], m["metadata"]["name"]
        assert m["metadata"]["labels"]["release"] == SELECTOR_LABELS["release"]
    assert monitors[0]["spec"]["endpoints"][0]["relabelings"][0]["targetLabel"] == "node", "the chart's default"


def test_a_relabeling_the_crd_refuses_is_found(crds: Mapping[tuple[str, str], CustomResourceDefinition],
                                                reference: Path):
    values = release_values(committed_graph("prod"), "cilium")
    values["prometheus"]["serviceMonitor"]["relabelings"] = [{"sourceLabel": "__meta_kubernetes_pod_node_name",
                                                              "action": "copy"}]
    [agent, *_] = cilium_service_monitors(values, load_chart_reference(reference, "1.20.0"))
    problems = custom_resource_problems(agent, crds)
    assert any("sourceLabel" in p for p in problems) and any("copy" in p for p in problems)


# --- alert expressions ------------------------------------------------------------------------------


def selectors(expr: str) -> list[str]:
    names: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            names.append(node.name)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


@pytest.mark.parametrize("rule", ALERT_RULES, ids=lambda r: r.name)
def test_every_alert_expression_parses_and_reads_only_known_metrics(rule: Any):
    used = selectors(rule.expr)
    assert used, "an alert reads at least one series"
    assert set(used) == set(rule.metrics), "the rule's declared metrics are the ones its expression reads"
    assert set(used) <= set(KNOWN_METRICS)
    promql_parser.parse_duration(rule.for_)


@pytest.mark.parametrize("expr", [
    'sum by (pod) (rate(cilium_drop_count_total{reason="Policy denied"}[5m]) > 1',
    'cilium_endpoint_state{endpoint_state=~"not-ready"} >',
    'rate(cilium_drop_count_total[5 minutes])',
])
def test_a_broken_expression_is_refused_by_the_parser(expr: str):
    with pytest.raises(ValueError):
        promql_parser.parse(expr)


def test_an_unknown_metric_is_caught():
    assert not set(selectors('sum(rate(cilium_operator_ipam_allocation_ops[5m])) > 0')) <= set(KNOWN_METRICS)
