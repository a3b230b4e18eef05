"""Metrics: the in-cluster Prometheus stack (kube-prometheus-stack), what Cilium exports to it, the
alert rules for the failures users hit, how people reach Grafana, and what the stack costs in pods.

Facts, with their sources (kube-prometheus-stack 88.5.3: ``values.yaml`` of the pinned chart, its
templates at tag ``kube-prometheus-stack-88.5.3``, commit ``ea930bae``, of
prometheus-community/helm-charts):

* The chart's Prometheus selects ServiceMonitors, PodMonitors and PrometheusRules labelled
  ``release: <release name>`` while ``*SelectorNilUsesHelmValues`` stay true (the defaults,
  values.yaml L4451, L4476; ``templates/prometheus/prometheus.yaml`` L193-202, L277-283), in every
  namespace (``serviceMonitorNamespaceSelector: {}``). Cilium's ServiceMonitors and this
  project's PrometheusRule carry that label (``SELECTOR_LABELS``); the release name is fixed so
  the label is known before the release exists.
* Its Grafana's dashboard sidecar loads every ConfigMap labelled ``grafana_dashboard: "1"`` in any
  namespace (values.yaml L1536-1542), the label the Cilium chart puts on its dashboards
  (``dashboards.label``/``labelValue``, Cilium 1.20.0 values.yaml L2711-2719).
* The Prometheus Operator CRDs come from the separate ``prometheus-operator-crds`` chart 31.0.1
  (the same operator v0.93.1 as the stack): Helm installs a chart's ``crds/`` once and never
  upgrades them (kube-prometheus-stack README L86-90), while that chart ships them as templates,
  so ``helm upgrade`` updates them. The stack's own copy is therefore off (``crds.enabled: false``).
* ``prometheus-node-exporter`` 4.56.1 (the stack's dependency) runs with ``hostNetwork: true``
  (its values.yaml L382): one pod on every node that takes no pod IP but counts toward the
  kubelet's max pods (the capacity model's host-network pods).
* On EKS the control plane (etcd, scheduler, controller manager) is run by AWS and cannot be
  scraped from the cluster, and kube-proxy serves its metrics on 127.0.0.1: their ServiceMonitors
  would only fire TargetDown, so they are off.
* Amazon Managed Service for Prometheus accepts remote write at
  ``https://aps-workspaces.<region>.amazonaws.com/workspaces/<id>/api/v1/remote_write`` signed with
  SigV4; a Prometheus on EKS gets its credentials through IRSA, and ``sigv4.region`` alone is set
  (AWS "Set up ingestion from an existing Prometheus server in Kubernetes on EC2"; the Prometheus
  CRD's ``remoteWrite[].sigv4``); the action is ``aps:RemoteWrite``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, get_args

from .hubble import INTERNAL_LB_ANNOTATIONS, UI_ACCESS_MODES, HubbleUiAccess

#: ``none``: no metrics stack (Cilium exports nothing). ``prometheus``: kube-prometheus-stack in the
#: cluster, Cilium, Hubble and the operator scraped, dashboards and alert rules.
Observability = Literal["none", "prometheus"]
OBSERVABILITY_MODES: tuple[str, ...] = get_args(Observability)
#: How people reach Grafana: as the Hubble UI (``port-forward`` or an internal-only load balancer).
GrafanaAccess = HubbleUiAccess
GRAFANA_ACCESS_MODES: tuple[str, ...] = UI_ACCESS_MODES

NAMESPACE = "monitoring"
CHART = "kube-prometheus-stack"
REPO = "https://prometheus-community.github.io/helm-charts"
VERSION = "88.5.3"
#: Fixed: the ``release`` label Prometheus selects by is this name.
RELEASE_NAME = "kube-prometheus-stack"
CRDS_CHART = "prometheus-operator-crds"
CRDS_VERSION = "31.0.1"
CRDS_RELEASE_NAME = "prometheus-operator-crds"
#: The CRDs are cluster-scoped; only the release's record lives in a namespace (next to Cilium's).
CRDS_RELEASE_NAMESPACE = "kube-system"
#: The API group the CRDs serve; the Cilium chart checks for it (``templates/validate.yaml`` L75-82).
MONITORING_API = "monitoring.coreos.com/v1"

#: What the stack's Prometheus selects ServiceMonitors and PrometheusRules by.
SELECTOR_LABELS: Mapping[str, str] = MappingProxyType({"release": RELEASE_NAME})

#: ``kube-prometheus-stack.fullname`` is the release name when it contains the chart name
#: (``templates/_helpers.tpl`` L14-25), so the objects are named after it.
PROMETHEUS_SERVICE = f"{RELEASE_NAME}-prometheus"
PROMETHEUS_PORT = 9090
#: Set explicitly (``prometheus.serviceAccount.name``): the IRSA trust for remote write names it.
PROMETHEUS_SERVICE_ACCOUNT = f"{RELEASE_NAME}-prometheus"
#: The Grafana subchart's Service and pod labels for this release (kube-prometheus-stack 88.5.3
#: ``templates/NOTES.txt``: pods ``app.kubernetes.io/name=grafana,app.kubernetes.io/instance=<release>``,
#: objects ``<release>-grafana``); its container listens on 3000 (Grafana values ``service.targetPort``).
GRAFANA_SERVICE = f"{RELEASE_NAME}-grafana"
GRAFANA_SELECTOR: Mapping[str, str] = MappingProxyType(
    {"app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": RELEASE_NAME})
GRAFANA_TARGET_PORT = 3000
GRAFANA_LOCAL_PORT = 3000
GRAFANA_INTERNAL_LB_ANNOTATIONS = INTERNAL_LB_ANNOTATIONS
#: The Secret the program writes the generated admin password into (``grafana.admin.existingSecret``).
GRAFANA_ADMIN_SECRET = "grafana-admin"
GRAFANA_ADMIN_USER = "admin"
GRAFANA_USER_KEY = "admin-user"
GRAFANA_PASSWORD_KEY = "admin-password"

#: The EBS CSI driver's provisioner (the EKS add-on ``aws-ebs-csi-driver``), and the class the stack's volumes use.
EBS_CSI_PROVISIONER = "ebs.csi.aws.com"
EBS_CSI_ADDON = "aws-ebs-csi-driver"
EBS_CSI_NAMESPACE = "kube-system"
EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"
EBS_CSI_POLICY_ARN = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
STORAGE_CLASS = "gp3"
PROMETHEUS_VOLUME = "50Gi"
#: Below the volume: Prometheus deletes the oldest blocks before the disk fills.
PROMETHEUS_RETENTION_SIZE = "45GB"
PROMETHEUS_RETENTION = "15d"
ALERTMANAGER_VOLUME = "2Gi"

#: Prometheus job names of what Cilium exports: the operator names a job after the scraped Service
#: unless ``jobLabel`` says otherwise (Cilium 1.20.0 chart: ``cilium-agent`` and ``cilium-operator``
#: Services, ``hubble-metrics`` and ``hubble-relay-metrics``).
CILIUM_JOBS: Mapping[str, str] = MappingProxyType({
    "cilium-agent": "the Cilium agent on every node (port 9962)",
    "cilium-operator": "cilium-operator, IPAM and EC2 API (port 9963)",
    "hubble-metrics": "Hubble's flow metrics on every node (port 9965)",
    "hubble-relay-metrics": "Hubble Relay (port 9966)",
})

#: Hubble metrics (``hubble.metrics.enabled``): the set the Cilium docs and its dashboards use, each with the
#: namespaces the per-namespace dashboards filter on, and HTTP with the workloads of both ends, so the
#: star-wars demo's requests (tiefighter -> deathstar) show per workload. No IPs as labels: one series per
#: pod IP would grow without bound. L7 metrics appear only for traffic an L7 policy makes visible.
_NS = "labelsContext=source_namespace,destination_namespace"
HUBBLE_METRICS: tuple[str, ...] = (
    f"dns:query;ignoreAAAA;{_NS}",
    f"drop:{_NS}",
    f"tcp:{_NS}",
    f"flow:{_NS}",
    f"port-distribution:{_NS}",
    f"icmp:{_NS}",
    "httpV2:labelsContext=source_namespace,source_workload,destination_namespace,destination_workload,"
    "traffic_direction",
)

AMP_REMOTE_WRITE_ACTION = "aps:RemoteWrite"


def _get(values: Any, path: str) -> Any:
    cur = values
    for part in path.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return None
        cur = cur[part]
    return cur


@dataclass(frozen=True)
class MonitoringSpec:
    """How the metrics stack is reached and where else it writes. ``grafana_access``: as the Hubble UI;
    ``amp_remote_write``: also remote-write every sample to an Amazon Managed Prometheus workspace."""

    grafana_access: GrafanaAccess = "port-forward"
    amp_remote_write: bool = False


@dataclass(frozen=True)
class RemoteWrite:
    """An Amazon Managed Prometheus workspace to write to: its remote-write URL, its region and the IAM
    role Prometheus's service account assumes (any of them may be a Pulumi Output)."""

    url: Any
    region: str
    role_arn: Any


def amp_remote_write_url(region: str, workspace_id: str) -> str:
    return f"https://aps-workspaces.{region}.amazonaws.com/workspaces/{workspace_id}/api/v1/remote_write"


def amp_remote_write_policy(workspace_arn: str) -> dict[str, Any]:
    """Write-only access to one workspace (the managed AmazonPrometheusRemoteWriteAccess grants it on all)."""
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "RemoteWriteOneWorkspace", "Effect": "Allow", "Action": [AMP_REMOTE_WRITE_ACTION],
        "Resource": workspace_arn}]}


def _volume(storage_class: Any, size: str) -> dict[str, Any]:
    return {"volumeClaimTemplate": {"spec": {
        "storageClassName": storage_class, "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": size}}}}}


def kube_prometheus_values(*, storage_class: Any, remote_write: RemoteWrite | None = None) -> dict[str, Any]:
    """The complete values object of the kube-prometheus-stack release. ``storage_class`` (the gp3
    class of the EBS CSI driver) may be an Output, and so may the fields of ``remote_write``."""
    prometheus_sa: dict[str, Any] = {"create": True, "name": PROMETHEUS_SERVICE_ACCOUNT}
    spec: dict[str, Any] = {
        "retention": PROMETHEUS_RETENTION,
        "retentionSize": PROMETHEUS_RETENTION_SIZE,
        "storageSpec": _volume(storage_class, PROMETHEUS_VOLUME),
    }
    if remote_write is not None:
        prometheus_sa["annotations"] = {"eks.amazonaws.com/role-arn": remote_write.role_arn}
        spec["remoteWrite"] = [{"url": remote_write.url, "sigv4": {"region": remote_write.region}}]
    return {
        # Installed before Cilium by the prometheus-operator-crds release, which Helm can upgrade.
        "crds": {"enabled": False},
        "prometheus": {"serviceAccount": prometheus_sa, "prometheusSpec": spec},
        # Silences survive a restart.
        "alertmanager": {"alertmanagerSpec": {"storage": _volume(storage_class, ALERTMANAGER_VOLUME)}},
        "grafana": {
            # The password never appears in the values (nor in Helm's release record): Grafana reads
            # the Secret the program writes.
            "admin": {"existingSecret": GRAFANA_ADMIN_SECRET, "userKey": GRAFANA_USER_KEY,
                      "passwordKey": GRAFANA_PASSWORD_KEY},
            # Stated because Cilium's dashboards depend on them (the chart's defaults).
            "sidecar": {"dashboards": {"enabled": True, "label": "grafana_dashboard", "labelValue": "1",
                                       "searchNamespace": "ALL"}},
        },
        # Run by AWS, or bound to localhost on the nodes: never scrapable from the cluster.
        "kubeControllerManager": {"enabled": False},
        "kubeScheduler": {"enabled": False},
        "kubeEtcd": {"enabled": False},
        "kubeProxy": {"enabled": False},
    }


def host_network_pods(values: Mapping[str, Any]) -> int:
    """Host-network pods a kube-prometheus-stack release with these values puts on every Linux node:
    node-exporter unless ``nodeExporter.enabled`` or ``prometheus-node-exporter.hostNetwork`` is false
    (both default to true)."""
    on = _get(values, "nodeExporter.enabled") is not False
    host = _get(values, "prometheus-node-exporter.hostNetwork") is not False
    return int(on and host)


@dataclass(frozen=True)
class Footprint:
    """The pods the metrics stack runs: ``cluster_pods`` (workload, replicas) somewhere in the cluster,
    ``per_node`` (DaemonSet, host network?) on every node. Every pod off the host network takes a pod IP."""

    cluster_pods: tuple[tuple[str, int], ...]
    per_node: tuple[tuple[str, bool], ...]

    @property
    def cluster_total(self) -> int:
        return sum(n for _, n in self.cluster_pods)

    @property
    def per_node_total(self) -> int:
        return len(self.per_node)

    @property
    def per_node_host_network(self) -> int:
        return sum(1 for _, host in self.per_node if host)

    def pods(self, nodes: int) -> int:
        return self.cluster_total + nodes * self.per_node_total


def footprint(values: Mapping[str, Any]) -> Footprint:
    """What kube-prometheus-stack with these values and the EBS CSI add-on run: the operator,
    kube-state-metrics, Grafana, Prometheus and Alertmanager (one replica each, the chart's defaults),
    the add-on's controller (two replicas) and, per node, node-exporter (host network) and the EBS CSI
    node plugin (counted with a pod IP)."""
    replicas = _get(values, "prometheus.prometheusSpec.replicas")
    am_replicas = _get(values, "alertmanager.alertmanagerSpec.replicas")
    cluster = (
        ("prometheus-operator", 1),
        ("kube-state-metrics", 1),
        ("grafana", 1),
        ("prometheus", replicas if isinstance(replicas, int) else 1),
        ("alertmanager", am_replicas if isinstance(am_replicas, int) else 1),
        ("ebs-csi-controller", 2),
    )
    per_node: list[tuple[str, bool]] = []
    if _get(values, "nodeExporter.enabled") is not False:
        per_node.append(("node-exporter", bool(host_network_pods(values))))
    per_node.append(("ebs-csi-node", False))
    return Footprint(cluster_pods=cluster, per_node=tuple(per_node))


# --------------------------------------------------------------------------------------
# Alert rules
# --------------------------------------------------------------------------------------

#: Where the runbooks are: each alert's ``runbook_url`` is this file and the alert's heading in it.
RUNBOOK_DOC = "docs/troubleshooting.md"


@dataclass(frozen=True)
class AlertRule:
    """One alert. ``metrics`` are the series its expression reads (checked against what Cilium,
    Hubble and kube-state-metrics export); ``runbook`` is its heading's anchor in ``RUNBOOK_DOC``."""

    name: str
    expr: str
    for_: str
    severity: Literal["critical", "warning", "info"]
    summary: str
    description: str
    metrics: tuple[str, ...]

    @property
    def runbook(self) -> str:
        return self.name.lower()

    @property
    def runbook_url(self) -> str:
        return f"{RUNBOOK_DOC}#{self.runbook}"

    def rule(self) -> dict[str, Any]:
        return {"alert": self.name, "expr": self.expr, "for": self.for_,
                "labels": {"severity": self.severity},
                "annotations": {"summary": self.summary, "description": self.description,
                                "runbook_url": self.runbook_url}}


_POLICY_DENIED = 'reason=~"Policy denied.*"'
ALERT_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        "CiliumIpamAllocationFailing",
        'sum by (type, subnet_id) (rate(cilium_operator_ipam_allocation_duration_seconds_count{status!="success"}'
        '[10m])) > 0',
        "15m", "warning",
        "cilium-operator keeps failing to allocate pod IPs or ENIs",
        "ENI/IP allocations of type {{ $labels.type }} in subnet {{ $labels.subnet_id }} fail: EC2 refuses them "
        "(permissions, limits, a full subnet). New pods stay in ContainerCreating.",
        ("cilium_operator_ipam_allocation_duration_seconds_count",)),
    AlertRule(
        "CiliumIpamNodesInDeficit",
        'max(cilium_operator_ipam_nodes{category="in-deficit"}) > 0',
        "15m", "warning",
        "Nodes have needed pod IPs for 15 minutes without getting them",
        "{{ $value }} node(s) are short of the IPs they need (pre-allocation included): the operator cannot "
        "allocate, or the node has no ENI slot left.",
        ("cilium_operator_ipam_nodes",)),
    AlertRule(
        "CiliumIpamNodesAtCapacity",
        'max(cilium_operator_ipam_nodes{category="at-capacity"}) > 0',
        "30m", "info",
        "Nodes have used every ENI and IP their instance type allows",
        "{{ $value }} node(s) can address no more pods: further pods there wait for IPs.",
        ("cilium_operator_ipam_nodes",)),
    AlertRule(
        "CiliumIpamSubnetAlmostFull",
        "max by (subnet_id, availability_zone) (cilium_operator_ipam_available_ips_per_subnet) < 64",
        "15m", "warning",
        "A pod subnet is running out of addresses",
        "Subnet {{ $labels.subnet_id }} ({{ $labels.availability_zone }}) has {{ $value }} free addresses: in "
        "ENI mode every pod takes one, and new nodes there cannot get pod IPs once it is full.",
        ("cilium_operator_ipam_available_ips_per_subnet",)),
    AlertRule(
        "CiliumPolicyDropsRising",
        f"sum by (direction) (rate(cilium_drop_count_total{{{_POLICY_DENIED}}}[5m])) > 1",
        "10m", "warning",
        "Network policies drop more than one packet a second",
        "Cilium drops {{ $value | humanize }} packets/s in direction {{ $labels.direction }} for 'Policy denied': "
        "a new or changed policy may be blocking legitimate traffic.",
        ("cilium_drop_count_total",)),
    AlertRule(
        "CiliumAgentNotReady",
        'kube_daemonset_status_number_available{namespace="kube-system", daemonset="cilium"} < '
        'kube_daemonset_status_desired_number_scheduled{namespace="kube-system", daemonset="cilium"}',
        "10m", "critical",
        "A Cilium agent is not ready",
        "{{ $value }} Cilium agents are available, fewer than the nodes that need one: pods on those nodes "
        "get no network and the nodes keep the agent-not-ready taint.",
        ("kube_daemonset_status_number_available", "kube_daemonset_status_desired_number_scheduled")),
    AlertRule(
        "CiliumAgentMetricsDown",
        'up{job="cilium-agent"} == 0',
        "5m", "warning",
        "Prometheus cannot scrape a Cilium agent",
        "The agent on {{ $labels.node }} does not answer on its metrics port.",
        ("up",)),
    AlertRule(
        "CiliumOperatorNotReady",
        'kube_deployment_status_replicas_available{namespace="kube-system", deployment="cilium-operator"} < '
        'kube_deployment_spec_replicas{namespace="kube-system", deployment="cilium-operator"}',
        "10m", "critical",
        "cilium-operator is not fully available",
        "{{ $value }} cilium-operator replicas are available: without one, no ENI or pod IP is allocated and no "
        "new node loses the agent-not-ready taint.",
        ("kube_deployment_status_replicas_available", "kube_deployment_spec_replicas")),
    AlertRule(
        "CiliumHubbleRelayDown",
        '(kube_deployment_status_replicas_available{namespace="kube-system", deployment="hubble-relay"} < 1) or '
        '(up{job="hubble-relay-metrics"} == 0)',
        "10m", "warning",
        "Hubble Relay is down",
        "`hubble observe` and the Hubble UI see no flows while Hubble Relay is down.",
        ("kube_deployment_status_replicas_available", "up")),
    AlertRule(
        "CiliumEndpointsNotReady",
        'sum by (pod) (cilium_endpoint_state{endpoint_state=~"not-ready|waiting-for-identity|invalid"}) > 0',
        "15m", "warning",
        "Cilium endpoints stay not ready",
        "{{ $value }} endpoints managed by {{ $labels.pod }} have not become ready in 15 minutes: their pods "
        "have no (or an outdated) network policy and may not pass traffic.",
        ("cilium_endpoint_state",)),
)

ALERT_GROUP = "cilium-eks"
PROMETHEUS_RULE_NAME = "cilium-eks-alerts"


def prometheus_rule() -> dict[str, Any]:
    """The PrometheusRule object holding ``ALERT_RULES``, labelled for the stack's Prometheus."""
    return {
        "apiVersion": MONITORING_API,
        "kind": "PrometheusRule",
        "metadata": {"name": PROMETHEUS_RULE_NAME, "namespace": NAMESPACE, "labels": dict(SELECTOR_LABELS)},
        "spec": {"groups": [{"name": ALERT_GROUP, "rules": [a.rule() for a in ALERT_RULES]}]},
    }
