"""Cluster: an EKS control plane with no nodes and no AWS VPC CNI management."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pulumi_kubernetes as k8s

from cilium_eks.eks import CLUSTER_ADMIN_POLICY, ClusterSpec

TYPE_TOKEN = "cilium-eks:components:Cluster"


@dataclass(frozen=True)
class ClusterArgs:
    """Inputs of :class:`Cluster`.

    ``cluster_name`` is the final EKS name (the subnets are tagged with it before the
    cluster exists). ``spec`` holds the version, endpoint access, logs and admins. Nodes
    are never created here: node groups come later, after Cilium.
    ``public_subnet_ids`` may be empty (internal load balancers only).
    ``kube_proxy_addon`` (default True) lets pulumi-eks manage the kube-proxy add-on; turn
    it off when Cilium replaces kube-proxy. ``kms_deletion_window_days`` defaults to 30.
    """

    cluster_name: str
    spec: ClusterSpec
    vpc_id: pulumi.Input[str]
    private_subnet_ids: pulumi.Input[Sequence[str]]
    public_subnet_ids: pulumi.Input[Sequence[str]]
    tags: Mapping[str, str] = field(default_factory=dict)
    kube_proxy_addon: bool = True
    kms_deletion_window_days: int = 30


class Cluster(pulumi.ComponentResource):
    eks: eks.Cluster
    k8s_provider: k8s.Provider
    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    api_server_host: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        c = args.spec
        tags = dict(args.tags)

        key = aws.kms.Key(
            f"{name}-secrets",
            description=f"Envelope encryption of Kubernetes secrets in EKS cluster {args.cluster_name}",
            enable_key_rotation=True,
            deletion_window_in_days=args.kms_deletion_window_days,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.kms.Alias(f"{name}-secrets-alias", name=f"alias/{args.cluster_name}-eks-secrets", target_key_id=key.key_id,
                      opts=pulumi.ResourceOptions(parent=self))

        # Typed so pyright holds every entry to pulumi-eks's AccessEntryArgsDict.
        access_entries: dict[str, eks.AccessEntryArgsDict] = {
            f"admin-{i}": {
                "principal_arn": arn,
                "access_policies": {"cluster-admin": {
                    "policy_arn": CLUSTER_ADMIN_POLICY, "access_scope": {"type": "cluster"}}},
            }
            for i, arn in enumerate(c.admin_arns)
        }

        self.eks = eks.Cluster(
            f"{name}-eks",
            name=args.cluster_name,
            version=c.kubernetes_version,
            vpc_id=args.vpc_id,
            private_subnet_ids=args.private_subnet_ids,
            public_subnet_ids=args.public_subnet_ids,
            node_associate_public_ip_address=False,
            # Nodes come from the node-group components, once Cilium is installed.
            skip_default_node_group=True,
            # Fargate pods can only use the AWS VPC CNI, which this cluster does not run.
            fargate=False,
            # EKS installs aws-node, kube-proxy and CoreDNS while bootstrapping; the
            # aws-node removal below relies on aws-node being there to patch.
            bootstrap_self_managed_addons=True,
            authentication_mode=eks.AuthenticationMode.API,
            access_entries=access_entries or None,
            create_oidc_provider=True,  # IRSA for cilium-operator
            enabled_cluster_log_types=list(c.log_types),
            encryption_config_key_arn=key.arn,
            endpoint_private_access=c.endpoint_private_access,
            endpoint_public_access=c.endpoint_public_access,
            public_access_cidrs=list(c.public_access_cidrs) if c.endpoint_public_access else None,
            # pulumi-eks must not install or manage the VPC CNI: a managed vpc-cni add-on
            # would bring aws-node back on every update.
            use_default_vpc_cni=True,
            # The CoreDNS add-on waits for healthy pods, and pods need nodes that only
            # join after Cilium: creating it here would block the update. EKS's own
            # bootstrap CoreDNS starts as soon as Cilium networks the first node.
            coredns_addon_options={"enabled": False},
            kube_proxy_addon_options={"enabled": args.kube_proxy_addon},
            tags={**tags, "Name": args.cluster_name},
            opts=pulumi.ResourceOptions(parent=self),
        )

        eks_cluster = self.eks.eks_cluster
        self.cluster_name = eks_cluster.name
        self.endpoint = eks_cluster.endpoint
        self.api_server_host = self.endpoint.apply(lambda e: e.removeprefix("https://").rstrip("/"))
        self.oidc_provider_arn = self.eks.oidc_provider_arn
        self.oidc_issuer = self.eks.oidc_issuer
        # The security group EKS creates for the cluster and puts on managed nodes whose launch template
        # names none (pulumi-eks's does not); Karpenter's nodes are pointed at it by a discovery tag.
        self.cluster_security_group_id = eks_cluster.vpc_config.cluster_security_group_id
        # The kubeconfig holds no token (it runs `aws eks get-token`) but does reveal the
        # endpoint and CA; treat it as a secret everywhere it goes.
        self.kubeconfig = pulumi.Output.secret(self.eks.kubeconfig_json)

        self.k8s_provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            # Patches (aws-node) need server-side apply; it is the v4 default, stated here
            # because the program depends on it.
            enable_server_side_apply=True,
            # No delete_unreachable: set permanently, a `pulumi refresh` from an address the API
            # does not admit would silently drop the release, the patches and the Hubble Service
            # from state. When the cluster is really gone, run the destroy with
            # PULUMI_K8S_DELETE_UNREACHABLE=true (docs/deploying.md).
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.register_outputs({
            "cluster_name": self.cluster_name,
            "endpoint": self.endpoint,
            "oidc_provider_arn": self.oidc_provider_arn,
            "cluster_security_group_id": self.cluster_security_group_id,
            "kubeconfig": self.kubeconfig,
            "kms_key_arn": key.arn,
            "access_entries": json.dumps(sorted(access_entries)),
        })
