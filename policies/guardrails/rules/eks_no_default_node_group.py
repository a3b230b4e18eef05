"""eks-no-default-node-group: pulumi-eks must not create its default node group (it would come up before Cilium)."""

from __future__ import annotations

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
)

from ..props import (
    Deferred,
    explain,
    get,
    urn_name,
    urn_type,
)
from ..resources import (
    EKS_CLUSTER_COMPONENT,
    NODE_GROUP_TYPES,
)

_DEFAULT_NODE_GROUP_WHY = (
    "pulumi-eks creates the default node group together with the control plane, before Cilium "
    "is installed: its nodes start without a CNI (or on aws-node), never carry the "
    "node.cilium.io/agent-not-ready taint, and their first pods need a manual restart")
_DEFAULT_NODE_GROUP_FIX = (
    "pass skip_default_node_group=True to eks.Cluster (components/cluster.py) and declare nodes "
    "under the `cilium-eks:nodeGroups` config key; they join after Cilium")


def validate_eks_no_default_node_group(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == EKS_CLUSTER_COMPONENT:
        # Present only where the engine passes component inputs (pulumi-eks's provider does
        # not); the default node group's own resources are caught below either way.
        skip = get(args.props, "skipDefaultNodeGroup")
        if skip is None:
            return
        deferred = Deferred()
        if deferred.check(skip, "skipDefaultNodeGroup") and skip is not True:
            report_violation(explain(
                f"EKS cluster {args.name} sets skipDefaultNodeGroup to {skip!r}, so pulumi-eks adds its "
                "default node group.", _DEFAULT_NODE_GROUP_WHY, _DEFAULT_NODE_GROUP_FIX), None)
        deferred.finish()
    elif args.resource_type in NODE_GROUP_TYPES and urn_type(args.opts.parent) == EKS_CLUSTER_COMPONENT:
        report_violation(explain(
            f"{args.resource_type} {args.name} is the default node group of EKS cluster "
            f"{urn_name(args.opts.parent)}.", _DEFAULT_NODE_GROUP_WHY, _DEFAULT_NODE_GROUP_FIX), None)
