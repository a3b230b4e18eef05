"""NodeGroup: an EKS managed node group that joins only once Cilium is in place."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks

from cilium_eks.cilium import AGENT_NOT_READY_TAINT
from cilium_eks.eks import NodeGroupSpec

TYPE_TOKEN = "cilium-eks:components:NodeGroup"

#: What a kubelet needs and nothing else: join the cluster, pull images. No CNI policy:
#: the Cilium operator, not the node, manages ENIs.
NODE_POLICIES = {
    "worker": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "ecr-read": "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
}


@dataclass(frozen=True)
class NodeGroupArgs:
    """Inputs of :class:`NodeGroup`.

    ``cluster`` is the pulumi-eks cluster; ``subnet_ids`` must be private subnets.
    ``cilium_release`` is what the nodes wait for: every pod then starts on Cilium.
    ``max_pods`` (default None: EKS's own value) is the kubelet's max pods when Cilium's
    addressing needs another (``CiliumOptions.max_pods``). ``tags`` defaults to none.
    """

    cluster: eks.Cluster
    name_prefix: str
    spec: NodeGroupSpec
    subnet_ids: pulumi.Input[Sequence[str]]
    cilium_release: pulumi.Resource
    max_pods: int | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


class NodeGroup(pulumi.ComponentResource):
    node_group: eks.ManagedNodeGroup
    node_group_name: pulumi.Output[str]
    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: NodeGroupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        g = args.spec
        tags = dict(args.tags)

        role = aws.iam.Role(
            f"{name}-role",
            description=f"Nodes of group {g.name} in {args.name_prefix}",
            assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        attachments = [
            aws.iam.RolePolicyAttachment(f"{name}-{short}", role=role.name, policy_arn=arn,
                                         opts=pulumi.ResourceOptions(parent=self))
            for short, arn in NODE_POLICIES.items()
        ]

        self.node_group = eks.ManagedNodeGroup(
            f"{name}-mng",
            cluster=args.cluster,
            node_group_name_prefix=f"{args.name_prefix}-{g.name}-",
            node_role=role,
            subnet_ids=args.subnet_ids,
            operating_system=eks.OperatingSystem.AL2023,
            instance_types=list(g.instance_types),
            capacity_type=g.capacity_type,
            disk_size=g.disk_size_gib,
            scaling_config={"min_size": g.min_size, "desired_size": g.desired_size, "max_size": g.max_size},
            labels={**g.labels, "cilium-eks/node-group": g.name},
            # Until the Cilium agent on a node is ready, nothing else may run there;
            # cilium-operator removes this taint once it is.
            taints=[aws.eks.NodeGroupTaintArgs(**AGENT_NOT_READY_TAINT)],
            kubelet_extra_args=f"--max-pods={args.max_pods}" if args.max_pods is not None else None,
            tags={**tags, "Name": f"{args.name_prefix}-{g.name}"},
            opts=pulumi.ResourceOptions(
                parent=self,
                # Nodes must not join before Cilium is installed, or their first pods
                # would come up without a CNI (or on aws-node) and need a manual restart.
                # No value links a node group to the release, so the order is stated.
                depends_on=[args.cilium_release, *attachments],
            ),
        )
        self.node_group_name = self.node_group.node_group.node_group_name
        self.role_arn = role.arn
        self.register_outputs({"node_group_name": self.node_group_name, "role_arn": self.role_arn})
