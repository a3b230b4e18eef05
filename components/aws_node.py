"""AwsNodeRemoval: take the AWS VPC CNI (the aws-node DaemonSet) out before Cilium goes in.

EKS installs aws-node while it bootstraps the cluster. Two pod networks on one node
fight over the same ENIs, so aws-node must never run on a node that Cilium manages.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
from pulumi_command import local

from cilium_eks.aws_node import AWS_NODE, AWS_NODE_MODES, DISABLE_SELECTOR, NAMESPACE, AwsNodeMode

TYPE_TOKEN = "cilium-eks:components:AwsNodeRemoval"

_DELETE_SCRIPT = """set -euo pipefail
kc=$(mktemp)
trap 'rm -f "$kc"' EXIT
printf '%s' "$KUBECONFIG_CONTENT" > "$kc"
kubectl --kubeconfig "$kc" --namespace kube-system delete daemonset "$DAEMONSET" --ignore-not-found --wait=true
"""


@dataclass(frozen=True)
class AwsNodeRemovalArgs:
    """Inputs of :class:`AwsNodeRemoval`.

    ``mode`` is ``patch`` (default in config: give the DaemonSet a nodeSelector no node
    carries, with patch-force so the patch owns the field even after EKS rewrites it) or
    ``delete`` (delete the DaemonSet once with kubectl; needs kubectl and the AWS CLI where
    `pulumi up` runs). ``kubeconfig`` is only used by ``delete``. ``daemonsets`` defaults to
    aws-node alone; add ``kube-proxy`` when Cilium replaces it.
    """

    mode: AwsNodeMode
    k8s_provider: k8s.Provider
    kubeconfig: pulumi.Input[str]
    daemonsets: tuple[str, ...] = (AWS_NODE,)


class AwsNodeRemoval(pulumi.ComponentResource):
    #: Resources whose completion means the DaemonSets are out of the way.
    done: list[pulumi.Resource]

    def __init__(self, name: str, args: AwsNodeRemovalArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        if args.mode not in AWS_NODE_MODES:
            raise ValueError(f"AwsNodeRemoval mode must be one of {AWS_NODE_MODES}, not {args.mode!r}")
        self.done = [
            self._patch(name, ds, args) if args.mode == "patch" else self._delete(name, ds, args)
            for ds in args.daemonsets
        ]
        self.register_outputs({"mode": args.mode, "daemonsets": list(args.daemonsets)})

    def _patch(self, name: str, daemonset: str, args: AwsNodeRemovalArgs) -> pulumi.Resource:
        return k8s.apps.v1.DaemonSetPatch(
            f"{name}-{daemonset}-patch",
            metadata={
                "name": daemonset,
                "namespace": NAMESPACE,
                # EKS (and add-on updates) own this DaemonSet; force takes the nodeSelector
                # field over instead of failing on the conflict.
                "annotations": {"pulumi.com/patchForce": "true"},
            },
            spec={"template": {"spec": {"node_selector": dict(DISABLE_SELECTOR)}}},
            opts=pulumi.ResourceOptions(parent=self, provider=args.k8s_provider),
        )

    def _delete(self, name: str, daemonset: str, args: AwsNodeRemovalArgs) -> pulumi.Resource:
        return local.Command(
            f"{name}-{daemonset}-delete",
            create=_DELETE_SCRIPT,
            interpreter=["/bin/bash", "-c"],
            environment={"KUBECONFIG_CONTENT": args.kubeconfig, "DAEMONSET": daemonset},
            # A replaced cluster (new kubeconfig) gets its aws-node deleted again.
            triggers=[args.kubeconfig],
            # Nothing to undo on destroy: the cluster goes with it.
            opts=pulumi.ResourceOptions(parent=self),
        )
