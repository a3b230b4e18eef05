"""Known-bad combinations: (Cilium version range x Helm values) -> the upstream issue and the safe
alternative. The one owner of such rules: the config validator refuses or warns with them, the
policy pack checks the release it is about to create, and the docs list them.

Each entry is checked against the complete values object of the release (``helm_values``), so it
sees what the chart will see, whatever config key set it. ``refuse`` entries are combinations the
chart or Cilium cannot run at all (its own ``templates/validate.yaml`` fails, or the cluster breaks
everywhere); ``production`` entries are bugs that strict stacks refuse and development stacks are
warned about.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .cilium import as_int, get_path, parse_version

Severity = Literal["refuse", "production"]


def _cluster_id_in_unsafe_range(values: Mapping[str, Any]) -> bool:
    cluster_id = as_int(get_path(values, "cluster.id", 0))
    if cluster_id is None:
        return False
    unsafe = 128 <= cluster_id <= 255 or 384 <= cluster_id <= 511
    allowed = get_path(values, "extraConfig", {}) or {}
    return unsafe and str(allowed.get("allow-unsafe-policy-skb-usage", "")) != "true"


def _service_monitor_without_crds(values: Mapping[str, Any]) -> bool:
    monitors = [("prometheus.enabled", "prometheus.serviceMonitor.enabled"),
                ("operator.prometheus.enabled", "operator.prometheus.serviceMonitor.enabled"),
                ("envoy.prometheus.enabled", "envoy.prometheus.serviceMonitor.enabled"),
                ("hubble.relay.prometheus.enabled", "hubble.relay.prometheus.serviceMonitor.enabled")]
    wanted = any(get_path(values, a) is True and get_path(values, b) is True for a, b in monitors)
    return wanted and get_path(values, "prometheus.serviceMonitor.trustCRDsExist") is not True


@dataclass(frozen=True)
class KnownBad:
    id: str
    #: Cilium versions affected: [first, end) as x.y.z; ``end`` None while no fixed release is known.
    first: str
    end: str | None
    applies: Callable[[Mapping[str, Any]], bool]
    what: str
    url: str
    alternative: str
    severity: Severity
    #: The config keys a user changes to leave the combination.
    keys: tuple[str, ...]

    def affects(self, version: str) -> bool:
        v = parse_version(version)
        lo = parse_version(self.first)
        hi = parse_version(self.end) if self.end else None
        return v is not None and lo is not None and v >= lo and (hi is None or v < hi)

    def matches(self, version: str, values: Mapping[str, Any]) -> bool:
        return self.affects(version) and self.applies(values)

    @property
    def versions(self) -> str:
        return f">= {self.first}" + (f", < {self.end}" if self.end else " (no fixed release yet)")


KNOWN_BAD: tuple[KnownBad, ...] = (
    KnownBad(
        id="eni-prefix-delegation-cidr-exhaustion",
        first="1.20.0", end=None,
        applies=lambda v: get_path(v, "eni.awsEnablePrefixDelegation") is True,
        what="ENI mode runs on the multi-pool allocator since 1.20, and with prefix delegation pods can stay in "
             "ContainerCreating with \"all CIDR ranges are exhausted\" while the ENI still has free /28 prefixes, "
             "until the agent on the node is restarted (open on v1.20.0)",
        url="https://github.com/cilium/cilium/issues/47910",
        alternative="set ciliumPrefixDelegation false (pods take secondary IPs; `make plan` shows the max pods per "
                    "node it gives), or pin a Cilium release whose notes list the fix and raise this entry's `end`",
        severity="production", keys=("ciliumPrefixDelegation", "ciliumVersion")),
    KnownBad(
        id="eni-cluster-id-policy-drops",
        first="1.16.0", end=None,
        applies=_cluster_id_in_unsafe_range,
        what="in ENI mode a cluster.id of 128-255 (or 384-511) makes traffic matched by network policies be "
             "dropped; the chart's templates/validate.yaml refuses it",
        url="https://github.com/cilium/cilium/issues/21330",
        alternative="use a cluster.id from 0 to 127 in ciliumExtraValues",
        severity="refuse", keys=("ciliumExtraValues",)),
    KnownBad(
        id="aws-cni-chaining-without-aws-node",
        first="1.16.0", end=None,
        applies=lambda v: get_path(v, "cni.chainingMode") == "aws-cni",
        what="cni.chainingMode aws-cni chains Cilium behind the AWS VPC CNI, which this program disables "
             "(awsNodeMode); with ENI IPAM on, two IPAMs would allocate the same ENIs",
        url="https://docs.cilium.io/en/stable/installation/cni-chaining-aws-cni/",
        alternative="remove cni.chainingMode from ciliumExtraValues: this project runs Cilium as the only CNI in "
                    "ENI mode",
        severity="refuse", keys=("ciliumExtraValues",)),
    KnownBad(
        id="service-monitor-without-crds",
        first="1.16.0", end=None,
        applies=_service_monitor_without_crds,
        what="a Cilium ServiceMonitor needs the monitoring.coreos.com/v1 CRDs; the chart's "
             "templates/validate.yaml fails the release unless prometheus.serviceMonitor.trustCRDsExist is true",
        url="https://github.com/cilium/cilium/blob/v1.20.0/install/kubernetes/cilium/templates/validate.yaml",
        alternative="set `observability: prometheus` (it installs the CRDs first and sets trustCRDsExist) instead "
                    "of enabling ServiceMonitors through ciliumExtraValues",
        severity="refuse", keys=("ciliumExtraValues",)),
)


def matching(version: str, values: Mapping[str, Any]) -> list[KnownBad]:
    """The entries a release of ``version`` with these values hits."""
    return [k for k in KNOWN_BAD if k.matches(version, values)]
