"""Monitoring: the in-cluster metrics stack (kube-prometheus-stack: Prometheus, Alertmanager, Grafana),
Cilium's alert rules, and how people reach Grafana.

What Cilium exports, its ServiceMonitors and its dashboards are values of the Cilium release
(``helm_values`` with ``observability="prometheus"``); this component runs what reads them: one pinned
kube-prometheus-stack release, after the nodes (its pods and volumes need them), Prometheus and
Alertmanager on gp3 volumes, Grafana with an admin password the program generates and keeps secret
(a Kubernetes Secret the chart reads through ``grafana.admin.existingSecret``: the password is never in
the release's values), and a PrometheusRule with the alerts of ``cilium_eks.monitoring.ALERT_RULES``,
created once the stack's operator (and its admission webhook) runs. Grafana is reached like the Hubble
UI: a ``kubectl port-forward`` command, or an internal-only load balancer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from cilium_eks.monitoring import (
    CHART,
    GRAFANA_ACCESS_MODES,
    GRAFANA_ADMIN_SECRET,
    GRAFANA_ADMIN_USER,
    GRAFANA_INTERNAL_LB_ANNOTATIONS,
    GRAFANA_LOCAL_PORT,
    GRAFANA_PASSWORD_KEY,
    GRAFANA_SELECTOR,
    GRAFANA_SERVICE,
    GRAFANA_TARGET_PORT,
    GRAFANA_USER_KEY,
    NAMESPACE,
    RELEASE_NAME,
    REPO,
    VERSION,
    GrafanaAccess,
    RemoteWrite,
    kube_prometheus_values,
    prometheus_rule,
)
from cilium_eks.network import internal_source_ranges

TYPE_TOKEN = "cilium-eks:components:Monitoring"



@dataclass(frozen=True)
class MonitoringArgs:
    """Inputs of :class:`Monitoring`.

    ``nodes`` are what the release waits for (its pods and volumes need them). ``storage_class`` is the
    class of the stack's volumes (the EBS CSI driver's gp3 class: pass its output, so the release waits
    for it). ``grafana_access`` is ``port-forward`` (default; nothing exposed) or
    ``internal-load-balancer`` (an internal NLB reachable only from ``allowed_cidrs``, which must not be
    empty or 0.0.0.0/0). ``remote_write`` (default none) is an Amazon Managed Prometheus workspace to
    write every sample to. ``cluster_name`` and ``region`` build the kubeconfig command.
    """

    k8s_provider: k8s.Provider
    nodes: Sequence[pulumi.Resource]
    storage_class: pulumi.Input[str]
    cluster_name: pulumi.Input[str]
    region: str
    grafana_access: GrafanaAccess = "port-forward"
    allowed_cidrs: pulumi.Input[Sequence[str]] = ()
    remote_write: RemoteWrite | None = None
    version: str = VERSION


class Monitoring(pulumi.ComponentResource):
    release: k8s.helm.v3.Release
    grafana_ui_command: pulumi.Output[str]
    grafana_ui_url: pulumi.Output[str] | None
    grafana_admin_password: pulumi.Output[str]

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        if args.grafana_access not in GRAFANA_ACCESS_MODES:
            raise ValueError(f"grafana_access must be one of {GRAFANA_ACCESS_MODES}, not {args.grafana_access!r}")
        if not args.nodes:
            raise ValueError("the metrics stack needs the node groups to wait for; got none")
        if args.grafana_access == "internal-load-balancer" and not isinstance(args.allowed_cidrs, pulumi.Output):
            internal_source_ranges(list(args.allowed_cidrs), "Grafana")  # pyright: ignore[reportArgumentType]  # a plain sequence here
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.k8s_provider)

        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": NAMESPACE, "labels": {"app.kubernetes.io/managed-by": "pulumi"}},
            opts=k8s_opts,
        )
        password = random.RandomPassword(f"{name}-grafana-password", length=32, special=False,
                                         opts=pulumi.ResourceOptions(parent=self))
        # Secret whatever the provider says of its outputs: it goes into a Secret and a stack output only.
        self.grafana_admin_password = pulumi.Output.secret(password.result)
        admin = k8s.core.v1.Secret(
            f"{name}-grafana-admin",
            metadata={"name": GRAFANA_ADMIN_SECRET, "namespace": namespace.metadata.apply(lambda m: m.name),
                      "labels": {"app.kubernetes.io/managed-by": "pulumi"}},
            type="Opaque",
            string_data={GRAFANA_USER_KEY: GRAFANA_ADMIN_USER, GRAFANA_PASSWORD_KEY: self.grafana_admin_password},
            opts=k8s_opts,
        )
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name=RELEASE_NAME,
            chart=CHART,
            version=args.version,
            repository_opts={"repo": REPO},
            namespace=namespace.metadata.apply(lambda m: m.name),
            values=kube_prometheus_values(storage_class=args.storage_class, remote_write=args.remote_write),
            # Waits for its pods: the alert rules below need the operator's admission webhook running.
            atomic=False,
            cleanup_on_fail=False,
            max_history=10,
            timeout=900,
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=args.k8s_provider,
                # Its pods and volumes need nodes, and Grafana starts only with its admin Secret;
                # no value links the release to either.
                depends_on=[*args.nodes, admin],
            ),
        )
        rule = prometheus_rule()
        k8s.apiextensions.CustomResource(
            f"{name}-alerts",
            api_version=rule["apiVersion"],
            kind=rule["kind"],
            metadata=rule["metadata"],
            spec=rule["spec"],
            opts=pulumi.ResourceOptions(
                parent=self, provider=args.k8s_provider,
                # The operator validates PrometheusRules through its webhook, which the release starts.
                depends_on=[self.release]),
        )

        self.grafana_ui_command = pulumi.Output.from_input(args.cluster_name).apply(
            lambda cluster: (
                f"aws eks update-kubeconfig --region {args.region} --name {cluster} --alias {cluster} && "
                f"kubectl --context {cluster} --namespace {NAMESPACE} port-forward service/{GRAFANA_SERVICE} "
                f"{GRAFANA_LOCAL_PORT}:80  # then open http://localhost:{GRAFANA_LOCAL_PORT} (user "
                f"{GRAFANA_ADMIN_USER}, password: pulumi stack output grafana_admin_password --show-secrets)"
            ))
        self.grafana_ui_url = None
        if args.grafana_access == "internal-load-balancer":
            service = k8s.core.v1.Service(
                f"{name}-grafana-internal",
                metadata={"name": "grafana-internal", "namespace": NAMESPACE,
                          "labels": {"app.kubernetes.io/name": "grafana"},
                          "annotations": dict(GRAFANA_INTERNAL_LB_ANNOTATIONS)},
                spec={
                    "type": "LoadBalancer",
                    "selector": dict(GRAFANA_SELECTOR),
                    "ports": [{"name": "http", "port": 80, "target_port": GRAFANA_TARGET_PORT, "protocol": "TCP"}],
                    # Known only at deploy time for an adopted VPC: checked then.
                    "load_balancer_source_ranges": pulumi.Output.from_input(args.allowed_cidrs).apply(
                        lambda c: internal_source_ranges(c, "Grafana")),
                },
                opts=pulumi.ResourceOptions(
                    parent=self, provider=args.k8s_provider,
                    # Pulumi waits for the Service's endpoints: Grafana's pod, which the release creates on
                    # the nodes. On destroy it goes before the nodes, with its load balancer.
                    depends_on=[self.release, *args.nodes]),
            )
            self.grafana_ui_url = service.status.apply(
                lambda s: f"http://{s.load_balancer.ingress[0].hostname}" if s and s.load_balancer
                and s.load_balancer.ingress else "")
        self.register_outputs({"grafana_ui_command": self.grafana_ui_command, "grafana_ui_url": self.grafana_ui_url,
                               "grafana_admin_password": self.grafana_admin_password,
                               "release_name": self.release.name})
