"""traffic-encrypted: pod traffic between nodes is encrypted by Cilium (``encryption.enabled`` with a type
Cilium encrypts with: WireGuard, as ``cilium-eks:ciliumEncryption: wireguard`` sets, or IPsec).

Mandatory in a production stack, advisory elsewhere (like ``eks-api-not-public``): inside a VPC pod
traffic otherwise crosses the network in clear text, which audits of regulated workloads refuse.
Read on the Cilium release's values, as the chart renders them (``encryption.enabled``,
``encryption.type``: Cilium 1.20.0 ``values.yaml`` L1151-1158; the default type is ``ipsec``).
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs

from ..core.encryption import ENCRYPTION_MODES, WIREGUARD_PORT
from ..props import Deferred, explain, get, path
from ..resources import is_cilium_release

#: Encryption types of the chart (``encryption.type``: "ipsec, wireguard or ztunnel"); ztunnel encrypts only
#: what is enrolled in its mesh, not every pod.
ENCRYPTING_TYPES = ("wireguard", "ipsec")

_WHY = ("without it, pod-to-pod traffic between nodes crosses the VPC in clear text: anything that can read the "
        "network path (a mirrored ENI, a compromised node) reads it, and audits ask for encryption in transit")
_FIX = (f"set `cilium-eks:ciliumEncryption` to `wireguard` (one of {', '.join(ENCRYPTION_MODES)}): Cilium's "
        f"WireGuard tunnel, UDP {WIREGUARD_PORT} between the nodes, which the EKS cluster security group already "
        "admits; do not override `encryption.*` in `cilium-eks:ciliumExtraValues`")


def validate_traffic_encrypted(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if not is_cilium_release(args.resource_type, args.props):
        return
    deferred = Deferred()
    values = get(args.props, "values", {})
    enabled = path(values, "encryption.enabled", False)
    kind = path(values, "encryption.type", "ipsec")  # the chart's default type
    if deferred.check(enabled, "values.encryption.enabled") and enabled is not True:
        report_violation(explain(
            f"The Cilium release does not encrypt traffic between nodes (encryption.enabled={enabled!r}).",
            _WHY, _FIX), None)
    elif enabled is True and deferred.check(kind, "values.encryption.type") and kind not in ENCRYPTING_TYPES:
        report_violation(explain(
            f"The Cilium release sets encryption.type={kind!r}, which does not encrypt every pod's traffic "
            "between nodes.",
            _WHY, _FIX), None)
    deferred.finish()
