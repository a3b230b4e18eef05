"""NodeGroup: an EKS managed node group that joins only once Cilium is in place, on a pinned AMI,
with the max pods Cilium can address.

Why a launch template with an explicit AMI id (pulumi-eks ``amiId``): with an EKS AMI chosen by
EKS, EKS writes its own nodeadm NodeConfig with ``maxPods`` sized for the VPC CNI, which wins over
anything else; and pulumi-eks re-reads the *recommended* AMI from SSM on every run whenever it
builds user data (``getRecommendedAMI``, pulumi-eks ``nodejs/eks/nodes/nodegroup.ts``), so every
AMI AWS publishes would roll the nodes. With ``amiId`` pulumi-eks writes the nodeadm user data
itself and appends our NodeConfig part (``nodeadmExtraOptions``, ``nodes/userdata.ts``), and the
AMI changes only when the pinned release does.

The max pods go in as nodeadm's ``spec.kubelet.maxPodsExpression``: nodeadm evaluates it on the
node for its own instance type and sizes kube-reserved memory from the result
(awslabs/amazon-eks-ami ``nodeadm/internal/kubelet/eni_max_pods.go``); a ``maxPods`` value or a
``--max-pods`` flag would leave kube-reserved sized for the VPC CNI's count.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks

from cilium_eks import instance_types
from cilium_eks.capacity import PodAddressing, group_cap
from cilium_eks.cilium import AGENT_NOT_READY_TAINT
from cilium_eks.eks import DEFAULT_AMI_RELEASE, NodeGroupSpec, ami_architecture, ami_parameter

TYPE_TOKEN = "cilium-eks:components:NodeGroup"

#: What a kubelet needs and nothing else: join the cluster, pull images. No CNI policy:
#: the Cilium operator, not the node, manages ENIs.
NODE_POLICIES = {
    "worker": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "ecr-read": "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
}


def node_config(max_pods_expression: str) -> str:
    """The nodeadm NodeConfig part merged over the one pulumi-eks writes (cluster, endpoint, CA)."""
    return "---\n" + json.dumps({"apiVersion": "node.eks.aws/v1alpha1", "kind": "NodeConfig",
                                 "spec": {"kubelet": {"maxPodsExpression": max_pods_expression}}}, indent=2) + "\n"


@dataclass(frozen=True)
class NodeGroupArgs:
    """Inputs of :class:`NodeGroup`.

    ``cluster`` is the pulumi-eks cluster; ``subnet_ids`` must be private subnets (and should
    carry their NAT routes: nodes pull images and reach the API as they boot).
    ``cilium_release`` is what the nodes wait for: every pod then starts on Cilium. ``after``
    (default none) are more resources the group is created after and destroyed before.
    ``kubernetes_version`` and ``ami_release`` (``vYYYYMMDD``, default the newest checked one)
    pick the EKS-optimized AL2023 AMI; the architecture follows the instance types, which must
    share one. ``pod_addressing`` (default: secondary IPs, agent + envoy + kube-proxy on the host
    network) gives the max-pods expression. ``tags`` defaults to none.
    """

    cluster: eks.Cluster
    name_prefix: str
    spec: NodeGroupSpec
    subnet_ids: pulumi.Input[Sequence[str]]
    cilium_release: pulumi.Resource
    kubernetes_version: str
    ami_release: str = DEFAULT_AMI_RELEASE
    pod_addressing: PodAddressing = field(default_factory=PodAddressing)
    after: Sequence[pulumi.Resource] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


class NodeGroup(pulumi.ComponentResource):
    node_group: eks.ManagedNodeGroup
    node_group_name: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    max_pods_expression: str

    def __init__(self, name: str, args: NodeGroupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        g = args.spec
        tags = dict(args.tags)
        child = pulumi.ResourceOptions(parent=self)

        role = aws.iam.Role(
            f"{name}-role",
            description=f"Nodes of group {g.name} in {args.name_prefix}",
            assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
            tags=tags,
            opts=child,
        )
        attachments = [
            aws.iam.RolePolicyAttachment(f"{name}-{short}", role=role.name, policy_arn=arn, opts=child)
            for short, arn in NODE_POLICIES.items()
        ]

        types = [instance_types.lookup(t) for t in g.instance_types]
        known = [t for t in types if t is not None]
        parameter: pulumi.Input[str]
        if known:
            parameter = ami_parameter(args.kubernetes_version, ami_architecture(known[0].architecture),
                                      args.ami_release)
        else:
            # A type newer than the table: EC2 says which architecture it is (nodeadm finds its
            # ENI limits on the node itself, so the max-pods expression needs nothing more).
            described = aws.ec2.get_instance_type_output(instance_type=g.instance_types[0],
                                                         opts=pulumi.InvokeOutputOptions(parent=self))
            parameter = described.supported_architectures.apply(lambda archs: ami_parameter(
                args.kubernetes_version, ami_architecture("arm64" if "arm64" in archs else "amd64"),
                args.ami_release))
        ami_id = aws.ssm.get_parameter_output(name=parameter, opts=pulumi.InvokeOutputOptions(parent=self)).value
        self.max_pods_expression = args.pod_addressing.expression(group_cap(types))

        self.node_group = eks.ManagedNodeGroup(
            f"{name}-mng",
            cluster=args.cluster,
            node_group_name_prefix=f"{args.name_prefix}-{g.name}-",
            node_role=role,
            subnet_ids=args.subnet_ids,
            ami_id=ami_id,
            nodeadm_extra_options=[eks.NodeadmOptionsArgs(content_type="application/node.eks.aws",
                                                          content=node_config(self.max_pods_expression))],
            instance_types=list(g.instance_types),
            capacity_type=g.capacity_type,
            disk_size=g.disk_size_gib,
            scaling_config={"min_size": g.min_size, "desired_size": g.desired_size, "max_size": g.max_size},
            labels={**g.labels, "cilium-eks/node-group": g.name},
            # Until the Cilium agent on a node is ready, nothing else may run there;
            # cilium-operator removes this taint once it is.
            taints=[aws.eks.NodeGroupTaintArgs(**AGENT_NOT_READY_TAINT)],
            tags={**tags, "Name": f"{args.name_prefix}-{g.name}"},
            opts=pulumi.ResourceOptions(
                parent=self,
                # Nodes must not join before Cilium is installed, or their first pods
                # would come up without a CNI (or on aws-node) and need a manual restart.
                # No value links a node group to the release, so the order is stated.
                depends_on=[args.cilium_release, *args.after, *attachments],
            ),
        )
        self.node_group_name = self.node_group.node_group.node_group_name
        self.role_arn = role.arn
        self.register_outputs({"node_group_name": self.node_group_name, "role_arn": self.role_arn,
                               "max_pods_expression": self.max_pods_expression})
