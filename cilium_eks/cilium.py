"""Cilium in AWS ENI IPAM mode: the chart, the options a stack chooses, what they imply, and
the Helm values, built in one place.

``CiliumOptions`` is what a user decides. Everything another part of the cluster must do
because of it is a property here (``daemonsets_to_disable``, ``manage_kube_proxy_addon``,
``needs_api_server_host``; ``pod_addressing`` for the capacity model, read from the values as the
policy pack reads a release's), so the program, the plan, the docs and the policy pack read one
answer. ``helm_values`` is the only function that builds the values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .aws_node import AWS_NODE, KUBE_PROXY
from .capacity import PodAddressing
from .encryption import Encryption
from .hubble import hubble_values
from .monitoring import HUBBLE_METRICS, SELECTOR_LABELS, Observability
from .network import POD_SUBNET_TAG

CHART = "cilium"
REPO = "https://helm.cilium.io/"
NAMESPACE = "kube-system"
#: `cilium status` and the chart's service-account names expect this release name.
RELEASE_NAME = "cilium"
OPERATOR_SERVICE_ACCOUNT = "cilium-operator"

#: Releases this project knows how to configure. Below 1.16 the ENI defaults and value
#: names differ; above the newest minor the chart has not been checked.
MIN_VERSION = (1, 16, 0)
NEWEST_MINOR = (1, 20)
DEFAULT_VERSION = "1.20.0"

#: Taint every node starts with. cilium-operator removes it once the node's agent is ready
#: (``operator.removeNodeTaints``, default true in the chart).
AGENT_NOT_READY_TAINT: Mapping[str, str] = MappingProxyType(
    {"key": "node.cilium.io/agent-not-ready", "value": "true", "effect": "NO_EXECUTE"})

#: Helm value paths that current Cilium charts removed or made obsolete, with the fix.
REMOVED_VALUES: Mapping[str, str] = MappingProxyType({
    "tunnel": "removed in Cilium 1.15 (the chart refuses it); ENI mode needs "
    "`routingMode: native`, which this program already sets",
    "egressMasqueradeInterfaces": "obsolete: since Cilium 1.18 ENI mode does not masquerade "
    "IPv4 by default, and AL2023 names the first NIC `ens5`, not `eth0`",
    "containerRuntime": "removed in Cilium 1.14; the agent detects the runtime itself",
    "installIptablesRules": "removed; use `installNoConntrackIptablesRules` or leave the default",
    "kubeProxyReplacementHealthzBindAddr.strict": "never existed; set `kubeProxyReplacement: true`",
})

#: Values ``helm_values`` sets itself: ENI IPAM, IRSA, Hubble and the ordering depend on them,
#: so extra values may not override them.
OWNED_VALUES = (
    "eni.enabled",
    "eni.iamRole",
    "eni.subnetTagsFilter",
    "ipam.mode",
    "routingMode",
    "cluster.name",
    "operator.replicas",
    "kubeProxyReplacement",
    "k8sServiceHost",
    "k8sServicePort",
    "hubble.enabled",
    "hubble.relay.enabled",
    "hubble.ui.enabled",
    # ciliumEncryption: the policy pack and verify read these as the stack's encryption.
    "encryption.enabled",
    "encryption.type",
    "encryption.nodeEncryption",
    # observability: ServiceMonitors only with the CRDs installed first, labelled for the stack's Prometheus.
    "prometheus.enabled",
    "prometheus.serviceMonitor.enabled",
    "prometheus.serviceMonitor.labels",
    "prometheus.serviceMonitor.trustCRDsExist",
    "operator.prometheus.enabled",
    "operator.prometheus.serviceMonitor.enabled",
    "operator.prometheus.serviceMonitor.labels",
    "hubble.metrics.enabled",
    "hubble.metrics.serviceMonitor.enabled",
    "hubble.metrics.serviceMonitor.labels",
    "hubble.relay.prometheus.enabled",
    "hubble.relay.prometheus.serviceMonitor.enabled",
    "hubble.relay.prometheus.serviceMonitor.labels",
    "dashboards.enabled",
    "operator.dashboards.enabled",
    "hubble.metrics.dashboards.enabled",
)

#: kubeProxyReplacement strings removed in 1.15 (true/false replaced them).
LEGACY_KUBE_PROXY_REPLACEMENT = ("strict", "partial", "probe", "disabled")

#: The value paths that carry outputs of other resources, with how to show them before they exist.
OUTPUT_VALUES: Mapping[str, str] = MappingProxyType({
    "eni.iamRole": "<ARN of the cilium-operator IAM role, known after create>",
    "k8sServiceHost": "<EKS API server host, known after create>",
})


def parse_version(text: str) -> tuple[int, int, int] | None:
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", text)
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


@dataclass(frozen=True)
class CiliumOptions:
    """What a stack decides about Cilium. Defaults: kube-proxy stays, no prefix delegation,
    no encryption, no metrics, no extra values. ``extra_values`` may not set ``REMOVED_VALUES`` or
    ``OWNED_VALUES``. ``observability="prometheus"`` needs the Prometheus Operator CRDs in the cluster
    before the release (its ServiceMonitors are objects of those CRDs)."""

    kube_proxy_replacement: bool = False
    prefix_delegation: bool = False
    extra_values: Mapping[str, Any] = field(default_factory=dict)
    encryption: Encryption = "none"
    observability: Observability = "none"

    @property
    def daemonsets_to_disable(self) -> tuple[str, ...]:
        """kube-system DaemonSets that must not run next to Cilium."""
        return (AWS_NODE, KUBE_PROXY) if self.kube_proxy_replacement else (AWS_NODE,)

    @property
    def manage_kube_proxy_addon(self) -> bool:
        """With kube-proxy replacement Cilium does kube-proxy's job; the EKS add-on would
        keep reinstalling it."""
        return not self.kube_proxy_replacement

    @property
    def needs_api_server_host(self) -> bool:
        """kube-proxy replacement cannot reach the API through the kubernetes Service it
        replaces, so it needs the EKS endpoint host."""
        return self.kube_proxy_replacement

    @property
    def pod_addressing(self) -> PodAddressing:
        """What the capacity model and the nodes' max-pods expression need to know of these options
        (read from the values they produce, as the policy pack reads a release's)."""
        return pod_addressing(helm_values(self, cluster_name="-", operator_replicas=1, operator_role_arn="-",
                                          api_server_host="-"))

def operator_replicas(min_nodes: int) -> int:
    """Two operators for HA, but never more than the nodes that are always there: the
    chart's required anti-affinity would leave a second replica Pending on one node."""
    return 2 if min_nodes >= 2 else 1


def _copy(value: Any) -> Any:
    # Containers are copied so callers never share mutable state; leaves (which may be
    # Pulumi Outputs, which refuse to be deep-copied) are shared.
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm-style merge: maps merge recursively, everything else is replaced."""
    out: dict[str, Any] = _copy(base)
    for k, v in override.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = _copy(v)
    return out


def as_int(value: Any) -> int | None:
    """An integer value as a config, a values object or the engine (JSON numbers arrive as floats) holds it."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def get_path(values: Any, path: str, default: Any = None) -> Any:
    """``values`` along a dotted path of map keys, or ``default``."""
    cur: Any = values
    for part in path.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return default
        cur = cur[part]
    return cur


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Every dotted key path of a nested map, with its value (maps included)."""
    out: dict[str, Any] = {}
    for k, val in values.items():
        path = f"{prefix}{k}"
        out[path] = val
        if isinstance(val, Mapping):
            out.update(flatten(val, path + "."))
    return out


def helm_values(options: CiliumOptions, *, cluster_name: str, operator_replicas: int,
                operator_role_arn: Any, api_server_host: Any | None = None) -> dict[str, Any]:
    """The complete values object of the Cilium release.

    ``operator_role_arn`` and ``api_server_host`` may be Pulumi Outputs (the result is then a
    plain dict with Output leaves, which Pulumi resolves); ``api_server_host`` (the EKS
    endpoint host, no scheme) is required when ``options.needs_api_server_host``.
    """
    owned: dict[str, Any] = {
        "cluster": {"name": cluster_name},
        "eni": {
            "enabled": True,
            "iamRole": operator_role_arn,
            "subnetTagsFilter": [f"{POD_SUBNET_TAG[0]}={POD_SUBNET_TAG[1]}"],
            "awsEnablePrefixDelegation": options.prefix_delegation,
        },
        "ipam": {"mode": "eni"},
        "routingMode": "native",
        "operator": {"replicas": operator_replicas},
        "kubeProxyReplacement": options.kube_proxy_replacement,
    }
    if options.needs_api_server_host:
        if api_server_host is None:
            raise ValueError("kube-proxy replacement needs the API server host")
        owned["k8sServiceHost"] = api_server_host
        owned["k8sServicePort"] = 443
    if options.encryption == "wireguard":
        # MTU: the primary ENI has MTU 9001 and in ENI mode Cilium detects the base MTU from it alone;
        # the pods keep 9001 on their device and route at 9001 - 95 (WireGuard's overhead with padding,
        # cilium/cilium#45940) = 8906, so an encrypted packet still fits the ENI. `MTU` is left unset: it
        # would override that detection (values.yaml L3210). See cilium_eks/encryption.py.
        # nodeEncryption (node-to-node, beta) stays off: open MTU/fragmentation bugs on jumbo frames
        # (cilium/cilium#37919, #46100). Pod-to-pod traffic between nodes is what gets encrypted.
        owned["encryption"] = {"enabled": True, "type": "wireguard", "nodeEncryption": False}
    if options.observability == "prometheus":
        owned.update(_metrics_values())
        owned["operator"].update(_operator_metrics_values())
    return deep_merge(deep_merge(options.extra_values, hubble_values()), owned)


def _service_monitor() -> dict[str, Any]:
    return {"enabled": True, "labels": dict(SELECTOR_LABELS)}


def _metrics_values() -> dict[str, Any]:
    """Agent, Hubble and Hubble Relay metrics with ServiceMonitors the stack's Prometheus selects (its
    `release` label), and the chart's dashboards for Grafana's sidecar."""
    return {
        # trustCRDsExist: the program installs the CRDs before this release (the prometheus-operator-crds
        # release), but the chart's own check (templates/validate.yaml L75-82) asks the rendering client's
        # discovery, which a preview of a stack whose CRDs are new in the same update, or of a cluster not yet
        # created, cannot answer.
        "prometheus": {"enabled": True, "serviceMonitor": {**_service_monitor(), "trustCRDsExist": True}},
        "dashboards": {"enabled": True},
        "hubble": {
            "metrics": {"enabled": list(HUBBLE_METRICS), "serviceMonitor": _service_monitor(),
                        "dashboards": {"enabled": True}},
            "relay": {"prometheus": {"enabled": True, "serviceMonitor": _service_monitor()}},
        },
    }


def _operator_metrics_values() -> dict[str, Any]:
    return {"prometheus": {"enabled": True, "serviceMonitor": _service_monitor()}, "dashboards": {"enabled": True}}


def pod_addressing(values: Mapping[str, Any]) -> PodAddressing:
    """How a release with these values addresses pods on every node (the capacity model's input).

    Host-network pods take no pod IP but count toward the kubelet's max pods: the Cilium agent,
    cilium-envoy unless ``envoy.enabled`` is false (both ``hostNetwork: true`` in the 1.20.0
    chart), kube-proxy unless Cilium replaces it. The agent takes two pod IPs for itself on every
    node (cilium_host and the health endpoint), one more for ingress when Envoy config, ingress or
    Gateway API is on. ``eni.nodeSpec.firstInterfaceIndex`` (default 0) and
    ``ipam.nodeSpec.ipamPreAllocate`` (default 8) as set."""
    def count(path: str, default: int) -> int:
        value = as_int(get_path(values, path))
        return value if value is not None and value >= 0 else default

    envoy = get_path(values, "envoy.enabled") is not False
    kube_proxy = get_path(values, "kubeProxyReplacement") not in (True, "true")
    ingress = any(get_path(values, f"{k}.enabled") is True for k in ("envoyConfig", "ingressController", "gatewayAPI"))
    return PodAddressing(
        prefix_delegation=get_path(values, "eni.awsEnablePrefixDelegation") is True,
        reserved_ips=2 + int(ingress),
        host_network_pods=1 + int(envoy) + int(kube_proxy),
        first_interface_index=count("eni.nodeSpec.firstInterfaceIndex", 0),
        pre_allocate=count("ipam.nodeSpec.ipamPreAllocate", 8))


def chart_name(chart: Any) -> str | None:
    """The bare chart name of a Helm release's ``chart`` input, whatever form it takes:
    ``cilium``, ``cilium/cilium`` (repo/chart), ``oci://quay.io/cilium/charts/cilium``,
    ``https://helm.cilium.io/cilium-1.20.0.tgz`` or a local path."""
    if not isinstance(chart, str) or not chart.strip():
        return None
    last = chart.strip().rstrip("/").rsplit("/", 1)[-1]
    last = last.removesuffix(".tgz").removesuffix(".tar.gz")
    m = re.match(r"^(?P<name>.+?)-\d+\.\d+\.\d+.*$", last)
    return m["name"] if m else last
