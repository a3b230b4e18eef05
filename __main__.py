"""EKS networked by Cilium (AWS ENI IPAM) with Hubble: the wiring of the components.

Order of creation, enforced by data and by explicit dependencies:
VPC -> EKS control plane (no nodes) -> aws-node disabled -> Cilium release (not waiting)
-> node groups (tainted until the Cilium agent is ready; after NAT routes and the ENI cleanup)
-> CoreDNS add-on, Hubble UI access, demo; with observability, the Prometheus Operator CRDs before the
Cilium release and the EBS CSI add-on then kube-prometheus-stack after the nodes.
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
    EbsCsiDriver,
    EbsCsiDriverArgs,
    EniCleanup,
    EniCleanupArgs,
    HubbleUi,
    HubbleUiArgs,
    Karpenter,
    KarpenterArgs,
    KarpenterInterruption,
    KarpenterInterruptionArgs,
    ManagedPrometheus,
    ManagedPrometheusArgs,
    Monitoring,
    MonitoringArgs,
    Network,
    NetworkArgs,
    NodeGroup,
    NodeGroupArgs,
    PrometheusCrds,
    PrometheusCrdsArgs,
    StarWarsDemo,
    StarWarsDemoArgs,
)


def main() -> None:
    cfg = read_stack_config()  # raises with every config problem before anything is declared (logs warnings)
    prefix = cfg.name_prefix
    cilium_options = cfg.cilium

    network = Network(f"{prefix}-network", NetworkArgs(
        name_prefix=prefix, cluster_name=cfg.cluster_name, vpc=cfg.network, tags=cfg.tags,
        karpenter_discovery=cfg.karpenter.enabled))

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

    # Cilium's ServiceMonitors are objects of the Prometheus Operator CRDs: those come first.
    prometheus_crds = (PrometheusCrds(f"{prefix}-prometheus-crds", PrometheusCrdsArgs(
        k8s_provider=cluster.k8s_provider)) if cfg.monitoring_enabled else None)

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
        after=[prometheus_crds.release] if prometheus_crds else [],
        tags=cfg.tags,
        vpc_id=network.vpc_id,
        values_secret=cfg.is_secret("ciliumExtraValues"),  # a secret config value stays secret in the release
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
            pod_addressing=cfg.pod_addressing,
            after=[eni_cleanup.command],
            tags=cfg.tags,
        ))
        for group in cfg.node_groups
    ]
    nodes = [g.node_group for g in node_groups]

    CoreDns(f"{prefix}-coredns", CoreDnsArgs(
        cluster_name=cluster.cluster_name, kubernetes_version=cfg.cluster.kubernetes_version, nodes=nodes,
        tags=cfg.tags))

    if cfg.karpenter.enabled:
        interruption = KarpenterInterruption(f"{prefix}-karpenter-interruption", KarpenterInterruptionArgs(
            queue_name=f"{cfg.cluster_name}-karpenter", tags=cfg.tags))
        karpenter = Karpenter(f"{prefix}-karpenter", KarpenterArgs(
            cluster_name=cluster.cluster_name,
            region=cfg.region,
            cluster_security_group_id=cluster.cluster_security_group_id,
            oidc_provider_arn=cluster.oidc_provider_arn,
            oidc_issuer=cluster.oidc_issuer,
            k8s_provider=cluster.k8s_provider,
            nodes=nodes,
            interruption_queue=interruption.queue_name,
            interruption_queue_arn=interruption.queue_arn,
            node_pools=cfg.karpenter.node_pools,
            pod_addressing=cfg.pod_addressing,
            ami_release=cfg.node_ami_release,
            replicas=operator_replicas(cfg.total_min_nodes),
            # The subnets' discovery tags, and the rules that feed the queue, outlive the controller.
            after=[network, *interruption.targets],
            tags=cfg.tags,
        ))
        pulumi.export("karpenter_controller_role_arn", karpenter.controller_role_arn)
        pulumi.export("karpenter_max_pods", karpenter.max_pods)  # NodePool -> its nodes' kubelet max pods

    if cfg.monitoring_enabled:
        storage = EbsCsiDriver(f"{prefix}-ebs-csi", EbsCsiDriverArgs(
            cluster_name=cluster.cluster_name, kubernetes_version=cfg.cluster.kubernetes_version,
            oidc_provider_arn=cluster.oidc_provider_arn, oidc_issuer=cluster.oidc_issuer,
            k8s_provider=cluster.k8s_provider, nodes=nodes, tags=cfg.tags))
        amp = (ManagedPrometheus(f"{prefix}-amp", ManagedPrometheusArgs(
            name_prefix=prefix, region=cfg.region, oidc_provider_arn=cluster.oidc_provider_arn,
            oidc_issuer=cluster.oidc_issuer, tags=cfg.tags)) if cfg.monitoring.amp_remote_write else None)
        monitoring = Monitoring(f"{prefix}-monitoring", MonitoringArgs(
            k8s_provider=cluster.k8s_provider,
            nodes=nodes,
            storage_class=storage.storage_class_name,
            cluster_name=cluster.cluster_name,
            region=cfg.region,
            grafana_access=cfg.monitoring.grafana_access,
            allowed_cidrs=network.vpc_cidrs,
            remote_write=amp.remote_write if amp else None,
        ))
        pulumi.export("grafana_ui_command", monitoring.grafana_ui_command)
        pulumi.export("grafana_admin_password", monitoring.grafana_admin_password)
        if monitoring.grafana_ui_url is not None:
            pulumi.export("grafana_ui_url", monitoring.grafana_ui_url)
        if amp is not None:
            pulumi.export("amp_workspace_id", amp.workspace_id)
            pulumi.export("amp_remote_write_url", amp.remote_write_url)

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
