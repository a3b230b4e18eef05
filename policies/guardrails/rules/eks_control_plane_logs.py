"""eks-control-plane-logs: the security-relevant EKS control-plane logs are enabled."""

from __future__ import annotations

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
)

from ..props import (
    UNKNOWN,
    elements,
    explain,
    get,
    settings,
    undecidable,
)
from ..resources import (
    EKS_CLUSTER,
)
from ..schemas import LOGS_SCHEMA


def validate_eks_control_plane_logs(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != EKS_CLUSTER:
        return
    cfg = settings(args.get_config(), LOGS_SCHEMA)
    enabled = get(args.props, "enabledClusterLogTypes")
    if enabled is UNKNOWN:
        undecidable("enabledClusterLogTypes")
    have = {t for t in elements(enabled) if isinstance(t, str)}
    missing = [t for t in cfg["requiredLogTypes"] if t not in have]
    if missing:
        report_violation(explain(
            f"EKS cluster {args.name} does not send the {', '.join(missing)} control-plane log(s) to "
            "CloudWatch.",
            "without API, audit and authenticator logs nobody can tell afterwards who changed Cilium's "
            "policies, the aws-node DaemonSet or the operator's service account",
            f"add {', '.join(missing)} to `cilium-eks:clusterLogTypes`"), None)
