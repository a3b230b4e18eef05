"""EKS networked by Cilium (AWS ENI IPAM) with Hubble: the wiring of the components.

Order of creation, enforced by data and by explicit dependencies:
VPC -> EKS control plane (no nodes) -> aws-node disabled -> Cilium release (not waiting)
-> node groups (tainted until the Cilium agent is ready) -> Hubble access.
Every pod therefore starts on Cilium; the recipe's manual restart step is never needed.
"""

from __future__ import annotations

import pulumi

from cilium_eks.config import read_stack_config
from components.aws_node import AwsNodeRemoval, AwsNodeRemovalArgs
from components.cilium import Cilium, CiliumArgs
from components.cluster import Cluster, ClusterArgs
from components.hubble import Hubble, HubbleArgs
from components.network import Network, NetworkArgs
from components.node_group import NodeGroup, NodeGroupArgs
from components.star_wars_demo import StarWarsDemo, StarWarsDemoArgs


def main() -> None:
    cfg = read_stack_config()  # raises with every config problem before anything is declared
    prefix = cfg.name_prefix
    kpr = cfg.cilium.kube_proxy_replacement

    network = Network(f"{prefix}-network", NetworkArgs(
        name_prefix=prefix, cluster_name=cfg.cluster_name, network=cfg.network, tags=cfg.tags))

    cluster = Cluster(f"{prefix}-cluster", ClusterArgs(
        cluster_name=cfg.cluster_name,
        cluster=cfg.cluster,
        vpc_id=network.vpc_id,
        private_subnet_ids=network.private_subnet_ids,
        public_subnet_ids=network.public_subnet_ids,
        tags=cfg.tags,
        # With kube-proxy replacement Cilium does kube-proxy's job; the EKS add-on would
        # keep reinstalling it.
        kube_proxy_addon=not kpr,
        kms_deletion_window_days=30 if cfg.is_production else 7,
    ))

    cni_removal = AwsNodeRemoval(f"{prefix}-aws-node", AwsNodeRemovalArgs(
        mode=cfg.aws_node_mode,
        k8s_provider=cluster.k8s_provider,
        kubeconfig=cluster.kubeconfig,
        daemonsets=("aws-node", "kube-proxy") if kpr else ("aws-node",),
    ))

    cilium = Cilium(f"{prefix}-cilium", CiliumArgs(
        config=cfg,
        k8s_provider=cluster.k8s_provider,
        oidc_provider_arn=cluster.oidc_provider_arn,
        oidc_issuer=cluster.oidc_issuer,
        api_server_host=cluster.api_server_host,
        cni_removed=cni_removal.done,
        tags=cfg.tags,
    ))

    node_groups = [
        NodeGroup(f"{prefix}-nodes-{group.name}", NodeGroupArgs(
            cluster=cluster.eks,
            name_prefix=prefix,
            group=group,
            subnet_ids=network.private_subnet_ids,
            cilium_release=cilium.release,
            prefix_delegation=cfg.cilium.prefix_delegation,
            tags=cfg.tags,
        ))
        for group in cfg.node_groups
    ]

    if cfg.demo_enabled:
        demo = StarWarsDemo(f"{prefix}-demo", StarWarsDemoArgs(
            name_prefix=prefix,
            policy=cfg.demo_policy,
            k8s_provider=cluster.k8s_provider,
            cilium_release=cilium.release,
            nodes=[g.node_group for g in node_groups],
        ))
        pulumi.export("demo_namespace", demo.namespace)

    hubble = Hubble(f"{prefix}-hubble", HubbleArgs(
        ui_access=cfg.hubble_ui_access,
        k8s_provider=cluster.k8s_provider,
        cilium_release=cilium.release,
        nodes=[g.node_group for g in node_groups],
        cluster_name=cluster.cluster_name,
        region=cfg.region,
        allowed_cidrs=[cfg.network.vpc_cidr],
    ))

    pulumi.export("vpc_id", network.vpc_id)
    pulumi.export("private_subnet_ids", network.private_subnet_ids)
    pulumi.export("public_subnet_ids", network.public_subnet_ids)
    pulumi.export("cluster_name", cluster.cluster_name)
    pulumi.export("cluster_endpoint", cluster.endpoint)
    pulumi.export("oidc_provider_arn", cluster.oidc_provider_arn)
    pulumi.export("kubeconfig", cluster.kubeconfig)
    pulumi.export("cilium_version", cilium.version)
    pulumi.export("cilium_operator_role_arn", cilium.operator_role_arn)
    pulumi.export("node_group_names", pulumi.Output.all(*[g.node_group_name for g in node_groups]))
    pulumi.export("hubble_ui_command", hubble.ui_command)
    if hubble.ui_url is not None:
        pulumi.export("hubble_ui_url", hubble.ui_url)


if __name__ == "__main__":
    main()
