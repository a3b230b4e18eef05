"""EKS networked by Cilium (AWS ENI IPAM) with Hubble: the wiring of the components.

Order of creation, enforced by data and by explicit dependencies:
VPC -> EKS control plane (no nodes) -> aws-node disabled -> Cilium release (not waiting)
-> node groups (tainted until the Cilium agent is ready; after NAT routes and the ENI cleanup)
-> CoreDNS add-on, Hubble UI access, demo.
Every pod therefore starts on Cilium; the recipe's manual restart step is never needed. Destroy
runs the other way: load balancers and add-ons, then nodes, then the ENI cleanup, then subnets.
"""

from __future__ import annotations

import pulumi

from cilium_eks.cilium import operator_replicas
from cilium_eks.config.read import read_stack_config
from components import (
    AwsNodeRemoval,
    AwsNodeRemovalArgs,
    Cilium,
    CiliumArgs,
    Cluster,
    ClusterArgs,
    CoreDns,
    CoreDnsArgs,
    EniCleanup,
    EniCleanupArgs,
    HubbleUi,
    HubbleUiArgs,
    Network,
    NetworkArgs,
    NodeGroup,
    NodeGroupArgs,
    StarWarsDemo,
    StarWarsDemoArgs,
)


def main() -> None:
    cfg = read_stack_config()  # raises with every config problem before anything is declared (logs warnings)
    prefix = cfg.name_prefix
    cilium_options = cfg.cilium

    network = Network(f"{prefix}-network", NetworkArgs(
        name_prefix=prefix, cluster_name=cfg.cluster_name, vpc=cfg.network, tags=cfg.tags))

    cluster = Cluster(f"{prefix}-cluster", ClusterArgs(
        cluster_name=cfg.cluster_name,
        spec=cfg.cluster,
        vpc_id=network.vpc_id,
        private_subnet_ids=network.private_subnet_ids,
        public_subnet_ids=network.public_subnet_ids,
        tags=cfg.tags,
        kube_proxy_addon=cilium_options.manage_kube_proxy_addon,
        kms_deletion_window_days=30 if cfg.is_production else 7,
    ))

    cni_removal = AwsNodeRemoval(f"{prefix}-aws-node", AwsNodeRemovalArgs(
        mode=cfg.aws_node_mode,
        k8s_provider=cluster.k8s_provider,
        kubeconfig=cluster.kubeconfig,
        daemonsets=cilium_options.daemonsets_to_disable,
    ))

    cilium = Cilium(f"{prefix}-cilium", CiliumArgs(
        version=cfg.cilium_version,
        options=cilium_options,
        cluster_name=cfg.cluster_name,
        operator_replicas=operator_replicas(cfg.total_min_nodes),
        k8s_provider=cluster.k8s_provider,
        oidc_provider_arn=cluster.oidc_provider_arn,
        oidc_issuer=cluster.oidc_issuer,
        api_server_host=cluster.api_server_host,
        cni_removed=cni_removal.done,
        tags=cfg.tags,
    ))

    eni_cleanup = EniCleanup(f"{prefix}-eni-cleanup", EniCleanupArgs(
        cluster_name=cfg.cluster_name, region=cfg.region, subnets=network.subnets))

    node_groups = [
        NodeGroup(f"{prefix}-nodes-{group.name}", NodeGroupArgs(
            cluster=cluster.eks,
            name_prefix=prefix,
            spec=group,
            subnet_ids=network.routed_private_subnet_ids,
            cilium_release=cilium.release,
            kubernetes_version=cfg.cluster.kubernetes_version,
            ami_release=cfg.node_ami_release,
            pod_addressing=cilium_options.pod_addressing,
            after=[eni_cleanup.command],
            tags=cfg.tags,
        ))
        for group in cfg.node_groups
    ]
    nodes = [g.node_group for g in node_groups]

    CoreDns(f"{prefix}-coredns", CoreDnsArgs(
        cluster_name=cluster.cluster_name, kubernetes_version=cfg.cluster.kubernetes_version, nodes=nodes,
        tags=cfg.tags))

    if cfg.demo_enabled:
        demo = StarWarsDemo(f"{prefix}-demo", StarWarsDemoArgs(
            name_prefix=prefix,
            policy=cfg.demo_policy,
            k8s_provider=cluster.k8s_provider,
            cilium_release=cilium.release,
            nodes=nodes,
        ))
        pulumi.export("demo_namespace", demo.namespace)

    hubble_ui = HubbleUi(f"{prefix}-hubble", HubbleUiArgs(
        ui_access=cfg.hubble_ui_access,
        k8s_provider=cluster.k8s_provider,
        cilium_release=cilium.release,
        nodes=nodes,
        cluster_name=cluster.cluster_name,
        region=cfg.region,
        allowed_cidrs=network.vpc_cidrs,
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
    pulumi.export("hubble_ui_command", hubble_ui.ui_command)
    if hubble_ui.ui_url is not None:
        pulumi.export("hubble_ui_url", hubble_ui.ui_url)


if __name__ == "__main__":
    main()
