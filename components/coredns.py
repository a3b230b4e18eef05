"""CoreDns: the cluster DNS as the managed EKS add-on, taking over EKS's bootstrap copy.

EKS installs CoreDNS as a self-managed add-on when it bootstraps the cluster, and EKS never
upgrades self-managed add-ons with the control plane. The managed add-on is: its version is the
default EKS gives for the cluster's Kubernetes version (the AWS provider's add-on version lookup),
so raising the Kubernetes version raises it too. It is created after the node groups because an
add-on turns ACTIVE only once its pods run, and pods need nodes networked by Cilium (pulumi-eks
itself skips the CoreDNS add-on when the default node group is skipped, for that reason:
``corednsAddonOptions`` in pulumi-eks ``nodejs/eks/cluster/cluster.ts``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

TYPE_TOKEN = "cilium-eks:components:CoreDns"
ADDON = "coredns"


@dataclass(frozen=True)
class CoreDnsArgs:
    """Inputs of :class:`CoreDns`. ``nodes`` are what the add-on waits for (its pods need them);
    ``kubernetes_version`` picks the add-on version. ``tags`` defaults to none."""

    cluster_name: pulumi.Input[str]
    kubernetes_version: str
    nodes: Sequence[pulumi.Resource]
    tags: Mapping[str, str] = field(default_factory=dict)


class CoreDns(pulumi.ComponentResource):
    addon: aws.eks.Addon
    version: pulumi.Output[str]

    def __init__(self, name: str, args: CoreDnsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        if not args.nodes:
            raise ValueError("the CoreDNS add-on needs the node groups to wait for; got none")
        # most_recent=False: EKS's default version for this Kubernetes version, so the add-on moves
        # when the cluster version does, not whenever AWS publishes a build.
        self.version = aws.eks.get_addon_version_output(
            addon_name=ADDON, kubernetes_version=args.kubernetes_version, most_recent=False,
            opts=pulumi.InvokeOutputOptions(parent=self)).version
        self.addon = aws.eks.Addon(
            f"{name}-addon",
            cluster_name=args.cluster_name,
            addon_name=ADDON,
            addon_version=self.version,
            # Take over the bootstrap copy EKS installed (same Deployment and ConfigMap), and keep
            # the add-on's settings authoritative on upgrades.
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(
                parent=self,
                # No value links the add-on to the nodes, yet it turns ACTIVE only once they run its pods.
                depends_on=list(args.nodes),
            ),
        )
        self.register_outputs({"version": self.version})
