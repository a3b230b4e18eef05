"""eks-api-not-public: the EKS API endpoint is not open to the whole internet."""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
)

from ..props import (
    UNKNOWN,
    Deferred,
    elements,
    explain,
    get,
    settings,
    world_open,
)
from ..resources import (
    EKS_CLUSTER,
)
from ..schemas import API_SCHEMA


def validate_eks_api_not_public(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != EKS_CLUSTER:
        return
    cfg = settings(args.get_config(), API_SCHEMA)
    forbidden = {str(c).strip() for c in cfg["forbiddenCidrs"]}
    deferred = Deferred()
    vpc = get(args.props, "vpcConfig", {})
    public = get(vpc, "endpointPublicAccess", True)  # AWS default: public
    if deferred.check(public, "vpcConfig.endpointPublicAccess") and public is True:
        cidrs = get(vpc, "publicAccessCidrs")
        listed = elements(cidrs)
        if cidrs is UNKNOWN:
            deferred.unknown("vpcConfig.publicAccessCidrs")
            open_to: list[Any] = []
        elif not listed:
            open_to = ["0.0.0.0/0 (the AWS default when no CIDR is listed)"]
        else:
            open_to = [c for c in listed if world_open(c) or (isinstance(c, str) and c.strip() in forbidden)]
        if open_to:
            report_violation(explain(
                f"EKS cluster {args.name} has a public API endpoint open to {', '.join(map(str, open_to))}.",
                "anyone on the internet can reach the Kubernetes API that controls Cilium, its network "
                "policies and the operator's ENI rights; only credentials stand in the way, and EKS API "
                "endpoints are scanned constantly",
                "list only your VPN/CI egress ranges in `cilium-eks:publicAccessCidrs`, or set "
                "`cilium-eks:endpointPublicAccess` false and reach the API through the VPC "
                "(`cilium-eks:endpointPrivateAccess` true)"), None)
    deferred.finish()
