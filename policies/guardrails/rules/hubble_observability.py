"""hubble-observability: Hubble relay and UI run with TLS; the UI is never internet-facing."""

from __future__ import annotations

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
)

from ..props import (
    Deferred,
    elements,
    explain,
    get,
    path,
    settings,
)
from ..resources import (
    INGRESS,
    SERVICE,
    hubble_ui_exposure,
    is_cilium_release,
    is_hubble_ui_service,
    release_label,
)
from ..schemas import HUBBLE_SCHEMA

_EXPOSED_WHY = ("the Hubble UI has no authentication and shows every flow of the cluster (pods, "
                "services, DNS names, policy verdicts): on the internet it is a map for an attacker")
_EXPOSED_FIX = ("keep `cilium-eks:hubbleUiAccess` at `port-forward`, or `internal-load-balancer` (an NLB "
                "with aws-load-balancer-scheme: internal, reachable from the VPC only)")


def validate_hubble_observability(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    props = args.props
    deferred = Deferred()
    if is_cilium_release(args.resource_type, props):
        cfg = settings(args.get_config(), HUBBLE_SCHEMA)
        label = release_label(args.name, props)
        values = get(props, "values", {})
        checks = [
            ("hubble.enabled", True, True, "flow visibility is off: policy drops and DNS failures cannot be "
                                           "observed"),
            ("hubble.relay.enabled", bool(cfg["requireRelay"]), False,
             "without the relay, `hubble observe` and the UI see one node at a time at best"),
            ("hubble.ui.enabled", bool(cfg["requireUi"]), False, "operators lose the service map and flow UI"),
            ("hubble.tls.enabled", bool(cfg["requireTls"]), True,
             "relay and agents then talk in clear text over the node network: flow data (who talks to whom, "
             "DNS names) is readable on the wire"),
        ]
        for key, required, default, why in checks:
            value = path(values, key, default)
            if required and deferred.check(value, f"values.{key}") and value is not True:
                report_violation(explain(
                    f"{label} has {key}={value!r}.", why,
                    "the program enables Hubble with relay, UI and mTLS in hubble_values "
                    "(cilium_eks/hubble.py); do not override them in `cilium-eks:ciliumExtraValues`"),
                    None)
        if path(values, "hubble.ui.service.type") == "LoadBalancer":
            exposure = hubble_ui_exposure(path(values, "hubble.ui.service.annotations"))
            if exposure is not None:
                report_violation(explain(
                    f"{label} puts hubble-ui behind an internet-facing load balancer ({exposure}).",
                    _EXPOSED_WHY, _EXPOSED_FIX), None)
        if path(values, "hubble.ui.ingress.enabled") is True:
            scheme = get(path(values, "hubble.ui.ingress.annotations"), "alb.ingress.kubernetes.io/scheme")
            if scheme == "internet-facing":
                report_violation(explain(
                    f"{label} exposes hubble-ui through an internet-facing ALB ingress.", _EXPOSED_WHY,
                    _EXPOSED_FIX), None)
    elif args.resource_type == SERVICE and is_hubble_ui_service(props):
        kind = path(props, "spec.type")
        if deferred.check(kind, "spec.type") and kind == "LoadBalancer":
            exposure = hubble_ui_exposure(path(props, "metadata.annotations"))
            if exposure is not None:
                report_violation(explain(
                    f"Service {args.name} puts hubble-ui behind an internet-facing load balancer ({exposure}).",
                    _EXPOSED_WHY, _EXPOSED_FIX), None)
    elif args.resource_type == INGRESS:
        spec = get(props, "spec")
        backends = [path(spec, "defaultBackend.service.name")]
        for rule in elements(get(spec, "rules")):
            backends += [path(p, "backend.service.name") for p in elements(path(rule, "http.paths"))]
        scheme = get(path(props, "metadata.annotations"), "alb.ingress.kubernetes.io/scheme")
        if scheme == "internet-facing" and any(isinstance(b, str) and b.startswith("hubble-ui") for b in backends):
            report_violation(explain(
                f"Ingress {args.name} exposes hubble-ui through an internet-facing ALB.", _EXPOSED_WHY,
                _EXPOSED_FIX), None)
    deferred.finish()
