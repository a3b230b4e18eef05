"""vpc-cni-disabled: aws-node is disabled before Cilium is installed and never reinstalled."""

from __future__ import annotations

from pulumi_policy import (
    ReportViolation,
    StackValidationArgs,
)

from ..core.ordering import disabled_daemonset
from ..props import (
    explain,
    get,
)
from ..resources import (
    EKS_ADDON,
    EKS_VPC_CNI_ADDON,
)
from ..view import StackView


def validate_vpc_cni_disabled(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    view = StackView(args.resources)
    for addon in view.of_type(EKS_ADDON, EKS_VPC_CNI_ADDON):
        if addon.resource_type == EKS_ADDON and get(addon.props, "addonName") != "vpc-cni":
            continue
        report_violation(explain(
            f"{addon.resource_type} {addon.name} installs the managed vpc-cni add-on.",
            "the add-on (re)installs and reconciles the aws-node DaemonSet: two CNIs then fight over the "
            "same ENIs and pod IPs on every node",
            "keep use_default_vpc_cni=True on eks.Cluster (components/cluster.py) and do not declare a "
            "vpc-cni aws.eks.Addon"), addon.urn)
    # cilium_eks.ordering skips this rule when the cluster never installs aws-node.
    for finding in view.ordering("cilium-after-aws-node-removal"):
        release = finding.later
        if release is None:
            continue  # no Cilium release: nothing to order
        if finding.earlier is None:
            report_violation(explain(
                f"Nothing in the stack disables aws-node before Cilium release {release.name}, and the cluster "
                "is created with EKS's self-managed add-ons (aws-node among them).",
                "aws-node and Cilium would both manage pod networking and ENIs on every node",
                "keep the AwsNodeRemoval component (components/aws_node.py) with `cilium-eks:awsNodeMode` "
                "`patch` (a DaemonSetPatch with nodeSelector io.cilium/aws-node-enabled=true) or `delete`, "
                "or create the cluster with bootstrap_self_managed_addons=False"), release.urn)
        elif not finding.ok:
            report_violation(explain(
                f"Cilium release {release.name} does not depend on {finding.earlier.name}, which disables "
                f"{disabled_daemonset(finding.earlier)}.",
                "the engine may install Cilium while aws-node still runs: both CNIs then configure the "
                "same nodes and ENIs",
                finding.rule.fix), release.urn)
