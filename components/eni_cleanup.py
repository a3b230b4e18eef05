"""EniCleanup: on destroy, delete the ENIs Cilium left behind in this cluster's subnets.

cilium-operator creates pod ENIs tagged ``io.cilium/cluster-name=<cluster.name>`` (with
``io.cilium/cilium-managed=true``, its ENI garbage-collection tags) and garbage-collects the ones
left ``available`` every few minutes (cilium/cilium ``pkg/aws/ipam/eni_gc.go``). Once the nodes
are gone the operator is gone too, and an ENI left ``available`` (a failed attach, a node killed
mid-allocation) then blocks the deletion of its subnet with DependencyViolation. This component
creates nothing; its destroy step runs after the node groups are gone (they are created after
it) and before the subnets are deleted (it is created after them): it waits for this cluster's
tagged ENIs to detach and deletes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_command import local

from cilium_eks.operator_iam import GC_TAG_CLUSTER_NAME as CLUSTER_TAG

TYPE_TOKEN = "cilium-eks:components:EniCleanup"

_DELETE_SCRIPT = """set -euo pipefail
filter="Name=tag:$CLUSTER_TAG,Values=$CLUSTER_NAME"
for attempt in $(seq 1 30); do
  busy=$(aws ec2 describe-network-interfaces --region "$REGION" --filters "$filter" \\
    "Name=status,Values=in-use,attaching,detaching" --query 'length(NetworkInterfaces)' --output text)
  for eni in $(aws ec2 describe-network-interfaces --region "$REGION" --filters "$filter" \\
      "Name=status,Values=available" --query 'NetworkInterfaces[].NetworkInterfaceId' --output text); do
    echo "deleting $eni (left by cilium-operator of $CLUSTER_NAME)"
    aws ec2 delete-network-interface --region "$REGION" --network-interface-id "$eni"
  done
  [ "$busy" = "0" ] && exit 0
  sleep 10
done
echo "ENIs tagged $CLUSTER_TAG=$CLUSTER_NAME are still attached after 5 minutes" >&2
exit 1
"""


@dataclass(frozen=True)
class EniCleanupArgs:
    """Inputs of :class:`EniCleanup`: the Cilium ``cluster.name`` the ENIs are tagged with, the
    region, and the ``subnets`` (resources) the ENIs live in, which are deleted after the cleanup.
    Needs the AWS CLI and credentials where ``pulumi destroy`` runs."""

    cluster_name: str
    region: str
    subnets: Sequence[pulumi.Resource]


class EniCleanup(pulumi.ComponentResource):
    command: local.Command

    def __init__(self, name: str, args: EniCleanupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        self.command = local.Command(
            f"{name}-on-destroy",
            create="true",  # nothing to do until the cluster goes
            delete=_DELETE_SCRIPT,
            interpreter=["/bin/bash", "-c"],
            environment={"CLUSTER_TAG": CLUSTER_TAG, "CLUSTER_NAME": args.cluster_name, "REGION": args.region},
            opts=pulumi.ResourceOptions(
                parent=self,
                # Destroyed before the subnets: no data links the two.
                depends_on=list(args.subnets),
            ),
        )
        self.register_outputs({"cluster_tag": f"{CLUSTER_TAG}={args.cluster_name}"})
