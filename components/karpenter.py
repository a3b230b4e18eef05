"""Karpenter: the controller (IRSA role, CRDs, Helm release on the managed nodes) and the nodes it
launches (their role, instance profile and access entry; one EC2NodeClass and one NodePool per pool).

Why IRSA and not EKS Pod Identity: the cluster already has an OIDC provider (cilium-operator uses it)
and Karpenter's chart takes the role as a service-account annotation (``serviceAccount.annotations``,
as its migration guide does: ``migrating-from-cas/scripts/step08-generate-chart.sh`` 4). Pod Identity
would add the ``eks-pod-identity-agent`` add-on, a DaemonSet on every node that must itself start after
Cilium, for no permission Karpenter lacks; ``reference/cloudformation.md`` 95 accepts either.

Order, with the data and ``depends_on`` that make it: the node groups (after Cilium), then the CRD
release, then the controller release, then each EC2NodeClass and its NodePool. ``pulumi destroy`` runs
it backwards: a NodePool is deleted in the foreground (pulumi-kubernetes' default propagation,
``provider/pkg/metadata/overrides.go`` ``DeletionPropagation``), and its NodeClaims block that
(``BlockOwnerDeletion``, kubernetes-sigs/karpenter v1.14.1 ``pkg/controllers/provisioning/scheduling/
nodeclaimtemplate.go`` 157-164) until Karpenter, still running with its IAM and queue, has drained and
terminated their instances; then the EC2NodeClass (whose finalizer deletes its launch templates), the
controller, the CRDs, and only then the node groups, the ENI cleanup and the subnets.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from cilium_eks.capacity import PodAddressing
from cilium_eks.eks import DEFAULT_AMI_RELEASE
from cilium_eks.karpenter import (
    CHART,
    CRD_CHART,
    CRD_RELEASE_NAME,
    DISCOVERY_TAG,
    NAMESPACE,
    NODE_ROLE_POLICIES,
    NODECLASS_API_VERSION,
    NODECLASS_KIND,
    RELEASE_NAME,
    VERSION,
    NodePoolSpec,
    controller_policies,
    controller_trust_policy,
    controller_values,
    crd_values,
    node_class_name,
    node_class_object,
    node_pool_object,
    pool_capacity,
)

TYPE_TOKEN = "cilium-eks:components:Karpenter"
#: A NodePool's deletion waits for its nodes to drain and terminate; 10 minutes is the provider's default.
NODEPOOL_DELETE_TIMEOUT = "30m"


@dataclass(frozen=True)
class KarpenterArgs:
    """Inputs of :class:`Karpenter`.

    ``cluster_name`` is the EKS cluster's name as its output (the access entry and the values wait for
    the cluster through it); ``cluster_security_group_id`` the security group EKS created for it, which
    the managed nodes and their pod ENIs use (pulumi-eks: ``eks_cluster.vpc_config.cluster_security_group_id``):
    it gets the discovery tag, as the subnets must (``NetworkArgs.karpenter_discovery``). ``nodes`` are the
    managed node groups the controller runs on (it waits for them; required). ``interruption_queue`` is the
    queue's name (``KarpenterInterruption``), ``interruption_queue_arn`` its ARN. ``after`` (default none) are
    more resources the controller is created after and destroyed before (the interruption rules, the
    subnets' discovery tags). ``node_pools`` must each allow at least one instance type of the table for
    ``pod_addressing``. ``replicas`` must not exceed the managed nodes that always exist (the chart's
    hostname anti-affinity). ``tags`` defaults to none.
    """

    cluster_name: pulumi.Input[str]
    region: str
    cluster_security_group_id: pulumi.Input[str]
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    k8s_provider: k8s.Provider
    nodes: Sequence[pulumi.Resource]
    interruption_queue: pulumi.Input[str]
    interruption_queue_arn: pulumi.Input[str]
    node_pools: Sequence[NodePoolSpec]
    pod_addressing: PodAddressing = field(default_factory=PodAddressing)
    ami_release: str = DEFAULT_AMI_RELEASE
    replicas: int = 2
    after: Sequence[pulumi.Resource] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


class Karpenter(pulumi.ComponentResource):
    release: k8s.helm.v3.Release
    crd_release: k8s.helm.v3.Release
    controller_role_arn: pulumi.Output[str]
    node_role_arn: pulumi.Output[str]
    instance_profile_name: pulumi.Output[str]
    node_classes: list[k8s.apiextensions.CustomResource]
    node_pools: list[k8s.apiextensions.CustomResource]
    max_pods: dict[str, int]

    def __init__(self, name: str, args: KarpenterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        if not args.nodes:
            raise ValueError("the Karpenter controller needs the managed node groups to run on; got none")
        if not args.node_pools:
            raise ValueError("Karpenter needs at least one NodePool")
        capacities = {p.name: pool_capacity(p, args.pod_addressing) for p in args.node_pools}
        empty = [n for n, c in capacities.items() if c is None]
        if empty:
            raise ValueError(f"NodePool(s) {empty} allow no instance type of the table: no max pods is safe")
        tags = dict(args.tags)
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        partition = aws.get_partition_output(opts=invoke).partition
        account_id = aws.get_caller_identity_output(opts=invoke).account_id

        # --- the nodes' identity --------------------------------------------------------------------
        node_role = aws.iam.Role(
            f"{name}-node-role",
            description="Nodes launched by Karpenter",
            assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
            tags=tags,
            opts=child,
        )
        node_attachments = [
            aws.iam.RolePolicyAttachment(f"{name}-node-{short}", role=node_role.name,
                                         policy_arn=partition.apply(lambda p, a=arn: a.format(partition=p)),
                                         opts=child)
            for short, arn in NODE_ROLE_POLICIES.items()
        ]
        profile = aws.iam.InstanceProfile(
            f"{name}-node-profile",
            name=pulumi.Output.from_input(args.cluster_name).apply(lambda c: f"{c}-karpenter-node"),
            role=node_role.name,
            tags=tags,
            opts=child,
        )
        # EC2_LINUX: the role joins as a node; such entries take no user name, groups or access policies
        # (pulumi-aws eks.AccessEntry `type`). Karpenter's e2e suite joins its nodes the same way
        # (test/pkg/environment/aws/expectations.go 792-796).
        access_entry = aws.eks.AccessEntry(
            f"{name}-node-access",
            cluster_name=args.cluster_name,
            principal_arn=node_role.arn,
            type="EC2_LINUX",
            tags=tags,
            opts=child,
        )
        # The security group the managed nodes and their pod ENIs use: Karpenter's nodes get the same.
        sg_tag = aws.ec2.Tag(f"{name}-cluster-sg-discovery", resource_id=args.cluster_security_group_id,
                             key=DISCOVERY_TAG, value=args.cluster_name, opts=child)

        # --- the controller's identity --------------------------------------------------------------
        role = aws.iam.Role(
            f"{name}-controller",
            description="Karpenter controller (IRSA)",
            assume_role_policy=pulumi.Output.all(args.oidc_provider_arn, args.oidc_issuer).apply(
                lambda a: json.dumps(controller_trust_policy(a[0], a[1]))),
            max_session_duration=3600,
            tags=tags,
            opts=child,
        )
        documents = pulumi.Output.all(args.cluster_name, partition, account_id, node_role.arn,
                                      args.interruption_queue_arn).apply(
            lambda a: controller_policies(cluster_name=a[0], partition=a[1], region=args.region, account_id=a[2],
                                          node_role_arn=a[3], queue_arn=a[4]))
        controller_attachments = []
        for short in ("node-lifecycle", "iam-integration", "eks-integration", "interruption", "resource-discovery"):
            policy = aws.iam.Policy(
                f"{name}-controller-{short}",
                description=f"Karpenter controller: {short.replace('-', ' ')}, scoped to this cluster",
                policy=documents.apply(lambda d, s=short: json.dumps(d[s])),
                tags=tags,
                opts=child,
            )
            controller_attachments.append(aws.iam.RolePolicyAttachment(
                f"{name}-controller-{short}-attach", role=role.name, policy_arn=policy.arn, opts=child))

        # --- in the cluster -------------------------------------------------------------------------
        k8s_child = pulumi.ResourceOptions(parent=self, provider=args.k8s_provider)
        self.crd_release = k8s.helm.v3.Release(
            f"{name}-crds",
            name=CRD_RELEASE_NAME,
            chart=CRD_CHART,
            version=VERSION,
            namespace=NAMESPACE,
            values=crd_values(),
            max_history=10,
            timeout=300,
            opts=k8s_child,
        )
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name=RELEASE_NAME,
            chart=CHART,
            version=VERSION,
            namespace=NAMESPACE,
            # The CRDs are the karpenter-crd release's: Helm never upgrades a chart's crds/.
            skip_crds=True,
            values=controller_values(cluster_name=args.cluster_name, region=args.region,
                                     queue_name=args.interruption_queue, role_arn=role.arn, replicas=args.replicas),
            # The managed nodes exist (it waits for them), so its pods can be ready: wait for them.
            skip_await=False,
            atomic=False,
            max_history=10,
            timeout=300,
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=args.k8s_provider,
                # No value links the controller to what it needs while it runs, and on destroy while it
                # terminates its nodes: the nodes it runs on, the CRDs, its permissions, the queue's rules.
                depends_on=[self.crd_release, *args.nodes, *controller_attachments, *args.after],
            ),
        )

        self.node_classes, self.node_pools, self.max_pods = [], [], {}
        for pool in args.node_pools:
            cap = capacities[pool.name]
            assert cap is not None
            self.max_pods[pool.name] = cap.max_pods
            node_class = pulumi.Output.all(args.cluster_name, profile.name).apply(
                lambda a, p=pool, m=cap.max_pods: node_class_object(
                    p, cluster_name=a[0], ami_release=args.ami_release, instance_profile=a[1], max_pods=m,
                    tags=tags))
            ec2_node_class = k8s.apiextensions.CustomResource(
                f"{name}-nodeclass-{pool.name}",
                api_version=NODECLASS_API_VERSION,
                kind=NODECLASS_KIND,
                metadata={"name": node_class_name(pool)},
                spec=node_class.apply(lambda o: o["spec"]),
                opts=pulumi.ResourceOptions(
                    parent=self, provider=args.k8s_provider,
                    # Its finalizer needs the controller; its selectors need the tags: no data says either.
                    depends_on=[self.release, sg_tag, *args.after]),
            )
            self.node_classes.append(ec2_node_class)
            obj = node_pool_object(pool, [n.instance_type for n in cap.types])
            self.node_pools.append(k8s.apiextensions.CustomResource(
                f"{name}-nodepool-{pool.name}",
                api_version=obj["apiVersion"],
                kind=obj["kind"],
                metadata={**obj["metadata"],
                          # The default, stated: the NodePool is gone only once Karpenter terminated its nodes.
                          "annotations": {"pulumi.com/deletionPropagationPolicy": "foreground"}},
                spec=obj["spec"],
                opts=pulumi.ResourceOptions(
                    parent=self, provider=args.k8s_provider,
                    # Its nodes join with the access entry and its node role's policies, launched by the
                    # controller from the EC2NodeClass: all must outlive them on destroy.
                    depends_on=[ec2_node_class, self.release, access_entry, *node_attachments],
                    custom_timeouts=pulumi.CustomTimeouts(delete=NODEPOOL_DELETE_TIMEOUT)),
            ))

        self.controller_role_arn = role.arn
        self.node_role_arn = node_role.arn
        self.instance_profile_name = profile.name
        self.register_outputs({
            "controller_role_arn": self.controller_role_arn,
            "node_role_arn": self.node_role_arn,
            "instance_profile_name": self.instance_profile_name,
            "release_name": self.release.name,
            "max_pods": dict(self.max_pods),
        })
