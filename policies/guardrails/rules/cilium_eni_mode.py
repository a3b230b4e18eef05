"""cilium-eni-mode: the Cilium release runs AWS ENI IPAM with native routing and no removed chart values."""

from __future__ import annotations

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
)

from ..core.cilium import REMOVED_VALUES as REMOVED_CILIUM_VALUES
from ..props import (
    UNKNOWN,
    Deferred,
    elements,
    explain,
    flatten,
    get,
    path,
    settings,
    undecidable,
)
from ..resources import (
    is_cilium_release,
    release_label,
)
from ..schemas import ENI_MODE_SCHEMA


def validate_cilium_eni_mode(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if not is_cilium_release(args.resource_type, args.props):
        return
    cfg = settings(args.get_config(), ENI_MODE_SCHEMA)
    label = release_label(args.name, args.props)
    deferred = Deferred()
    values = get(args.props, "values", {})
    if values is UNKNOWN:
        undecidable("values")
    owned_fix = ("the program sets it in cilium_eks/cilium.py (helm_values); do not override it "
                 "through `cilium-eks:ciliumExtraValues`")

    eni = path(values, "eni.enabled")
    if deferred.check(eni, "values.eni.enabled") and eni is not True:
        report_violation(explain(
            f"{label} has eni.enabled={eni!r}; it must be true.",
            "without it Cilium runs cluster-pool IPAM with overlay addresses: pods get no VPC IPs, AWS "
            "security groups and VPC routing no longer see them, and the operator's ENI role is unused",
            owned_fix), None)
    mode = path(values, "ipam.mode")
    if deferred.check(mode, "values.ipam.mode") and mode != "eni":
        report_violation(explain(
            f"{label} has ipam.mode={mode!r}; it must be `eni`.",
            "the agent and operator then disagree on who allocates pod IPs: ENI IPAM needs ipam.mode eni "
            "(what `cilium install` sets on EKS)", owned_fix), None)
    routing = path(values, "routingMode")
    if deferred.check(routing, "values.routingMode") and routing != "native":
        report_violation(explain(
            f"{label} has routingMode={routing!r}; it must be `native`.",
            "pod IPs are VPC addresses in ENI mode; encapsulating them (the chart's tunnel default) breaks "
            "VPC routing to pods and halves the MTU budget", owned_fix), None)

    removed: dict[str, str] = dict(REMOVED_CILIUM_VALUES)
    for extra in cfg["removedValues"]:
        removed.setdefault(str(extra), "refused by this policy pack's config (removedValues)")
    version = get(args.props, "version")
    chart = f"chart {version}" if isinstance(version, str) and version else "the current chart"
    for key in flatten(values):
        for gone, why in removed.items():
            if key == gone or key.startswith(gone + "."):
                report_violation(explain(
                    f"{label} sets `{key}`, which {chart} no longer accepts.",
                    f"`{gone}` is {why}",
                    f"remove `{key}` from `cilium-eks:ciliumExtraValues` (or wherever the release values "
                    "are built)"), None)

    files = get(args.props, "valueYamlFiles")
    if files is not None and files is not UNKNOWN and elements(files) and not cfg["allowValueYamlFiles"]:
        report_violation(explain(
            f"{label} takes values from valueYamlFiles, which this policy pack cannot read.",
            "a file could re-enable tunnelling, switch IPAM or set a removed key and no check would see it",
            "pass every value through `values` (`cilium-eks:ciliumExtraValues`), or set this policy's "
            "allowValueYamlFiles config to true after reviewing the files"), None)
    deferred.finish()
