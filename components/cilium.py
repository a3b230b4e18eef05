"""Cilium: the CNI in AWS ENI IPAM mode, its operator's IRSA role, and Hubble, in one release."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from cilium_eks.cilium import CHART, NAMESPACE, OPERATOR_SERVICE_ACCOUNT, RELEASE_NAME, REPO, CiliumOptions, helm_values
from cilium_eks.operator_iam import (
    OperatorScope,
    eni_ownership_tags,
    irsa_trust_policy,
    operator_iam_actions,
    policy_document,
)

TYPE_TOKEN = "cilium-eks:components:Cilium"


@dataclass(frozen=True)
class CiliumArgs:
    """Inputs of :class:`Cilium`.

    ``version`` is an exact chart version (``x.y.z``); ``options`` what the stack chose
    (default: ENI IPAM without kube-proxy replacement or prefix delegation).
    ``cluster_name`` becomes Cilium's ``cluster.name``. ``operator_replicas`` must not exceed
    the nodes that always exist (``cilium_eks.cilium.operator_replicas`` decides it).
    ``cni_removed`` are the resources that take aws-node (and kube-proxy) out of the way;
    the release waits for them (no data links the two, so it is an explicit dependency).
    ``api_server_host`` is required when ``options.needs_api_server_host`` (kube-proxy
    replacement) and ignored otherwise. ``tags`` defaults to none. ``vpc_id`` is the cluster's
    VPC, to which the operator's ENI writes are held (``cilium_eks.operator_iam.ENI_WRITE_SCOPES``);
    ``None`` (the default) leaves them unbounded by VPC, which the policy pack refuses.
    """

    version: str
    cluster_name: str
    k8s_provider: k8s.Provider
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    cni_removed: Sequence[pulumi.Resource]
    options: CiliumOptions = field(default_factory=CiliumOptions)
    operator_replicas: int = 2
    api_server_host: pulumi.Input[str] | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    #: The values hold a secret (a secret ``ciliumExtraValues``): the release takes them as an
    #: ``Output.secret``, and so does the operator's policy, which copies tag values out of them.
    #: Default False.
    values_secret: bool = False
    vpc_id: pulumi.Input[str] | None = None
    #: More resources the release waits for: the Prometheus Operator CRDs its ServiceMonitors are objects of
    #: (``options.observability == "prometheus"``). Default none.
    after: Sequence[pulumi.Resource] = ()


class Cilium(pulumi.ComponentResource):
    release: k8s.helm.v3.Release
    operator_role_arn: pulumi.Output[str]
    version: pulumi.Output[str]

    def __init__(self, name: str, args: CiliumArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        tags = dict(args.tags)

        trust = pulumi.Output.all(args.oidc_provider_arn, args.oidc_issuer).apply(
            lambda a: json.dumps(irsa_trust_policy(a[0], a[1], NAMESPACE, OPERATOR_SERVICE_ACCOUNT)))
        role = aws.iam.Role(
            f"{name}-operator",
            description=f"cilium-operator of {args.cluster_name}: manages pod ENIs (IRSA)",
            assume_role_policy=trust,
            max_session_duration=3600,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        values = helm_values(
            args.options,
            cluster_name=args.cluster_name,
            operator_replicas=args.operator_replicas,
            operator_role_arn=role.arn,
            api_server_host=args.api_server_host if args.options.needs_api_server_host else None,
        )
        # The action list follows the chart options actually used (GC tags, release of
        # excess IPs, instance filters); it never reads the Output leaves.
        actions = operator_iam_actions(values)
        # The writes are held to this account, region and VPC and to the ENIs the operator tags.
        invoke = pulumi.InvokeOutputOptions(parent=self)
        ownership_tags = eni_ownership_tags(values)
        document = pulumi.Output.all(
            aws.get_partition_output(opts=invoke).partition, aws.get_region_output(opts=invoke).region,
            aws.get_caller_identity_output(opts=invoke).account_id, args.vpc_id,
        ).apply(lambda a: json.dumps(policy_document(actions, OperatorScope(
            partition=a[0], region=a[1], account=a[2], vpc_id=a[3], ownership_tags=ownership_tags))))
        if args.values_secret:  # eni_ownership_tags copies tag values out of the (secret) values
            document = pulumi.Output.secret(document)
        policy = aws.iam.Policy(
            f"{name}-operator-eni",
            # (unchanged text: IAM cannot update a policy's description, a new one replaces the policy)
            description="EC2 ENI actions cilium-operator needs in ENI IPAM mode, nothing more",
            policy=document,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicyAttachment(f"{name}-operator-eni-attach", role=role.name, policy_arn=policy.arn,
                                     opts=pulumi.ResourceOptions(parent=self))

        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name=RELEASE_NAME,
            chart=CHART,
            version=args.version,
            repository_opts={"repo": REPO},
            namespace=NAMESPACE,
            # A secret in the values stays one: the SDK sends the whole input as a secret, and
            # pulumi-kubernetes keeps the secret parts of a Release's inputs secret in its checked
            # inputs and its state (pulumi-kubernetes v4.32.0 provider/pkg/provider/helm_release.go
            # L410-412 and L1267-1272, annotateSecrets in provider.go L3455-3499; the whole input
            # set is also stored as the secret `__inputs`).
            values=pulumi.Output.secret(values) if args.values_secret else values,
            # No node exists yet, so no Cilium pod can be ready: waiting would deadlock
            # (the node groups wait for this release).
            skip_await=True,
            atomic=False,
            cleanup_on_fail=False,
            max_history=10,
            timeout=600,
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=args.k8s_provider,
                # aws-node must be out of the way before the first Cilium agent starts; no
                # value links the two resources, so the order is stated here.
                depends_on=[*args.cni_removed, *args.after],
            ),
        )
        self.operator_role_arn = role.arn
        self.version = pulumi.Output.from_input(args.version)
        self.register_outputs({
            "release_name": self.release.name,
            "version": self.version,
            "operator_role_arn": self.operator_role_arn,
            "operator_actions": actions,
        })
