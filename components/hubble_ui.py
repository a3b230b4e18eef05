"""HubbleUi: how people reach the Hubble UI of the Cilium release, and nothing else.

Hubble itself (agent server, relay, UI, mTLS) is switched on through the Cilium release's
values (``cilium_eks.hubble.hubble_values``): one release of the chart, never a second one.
This component only adds the access path to the UI: by default none at all beyond the
cluster (a ``kubectl port-forward`` command as output), or an internal-only load balancer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from cilium_eks.cilium import NAMESPACE as CILIUM_NAMESPACE
from cilium_eks.hubble import (
    INTERNAL_LB_ANNOTATIONS,
    UI_ACCESS_MODES,
    UI_LOCAL_PORT,
    UI_SELECTOR,
    UI_TARGET_PORT,
    HubbleUiAccess,
)
from cilium_eks.network import internal_source_ranges

# The token predates the class's name: kept so existing stacks' URNs do not change.
TYPE_TOKEN = "cilium-eks:components:Hubble"



@dataclass(frozen=True)
class HubbleUiArgs:
    """Inputs of :class:`HubbleUi`.

    ``ui_access`` is ``port-forward`` (default in config; nothing is exposed) or
    ``internal-load-balancer`` (an internal NLB reachable only from ``allowed_cidrs``,
    which must not be empty or 0.0.0.0/0). The load balancer waits for ``nodes``: its
    target pods cannot run before them. ``cluster_name`` and ``region`` build the
    kubeconfig command.
    """

    ui_access: HubbleUiAccess
    k8s_provider: k8s.Provider
    cilium_release: pulumi.Resource
    nodes: Sequence[pulumi.Resource]
    cluster_name: pulumi.Input[str]
    region: str
    allowed_cidrs: pulumi.Input[Sequence[str]]


class HubbleUi(pulumi.ComponentResource):
    ui_command: pulumi.Output[str]
    ui_url: pulumi.Output[str] | None

    def __init__(self, name: str, args: HubbleUiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        if args.ui_access not in UI_ACCESS_MODES:
            raise ValueError(f"ui_access must be one of {UI_ACCESS_MODES}, not {args.ui_access!r}")
        if args.ui_access == "internal-load-balancer" and not isinstance(args.allowed_cidrs, pulumi.Output):
            internal_source_ranges(list(args.allowed_cidrs), "Hubble UI")  # pyright: ignore[reportArgumentType]  # a plain sequence here

        self.ui_command = pulumi.Output.from_input(args.cluster_name).apply(
            lambda cluster: (
                f"aws eks update-kubeconfig --region {args.region} --name {cluster} --alias {cluster} && "
                f"kubectl --context {cluster} --namespace {CILIUM_NAMESPACE} port-forward service/hubble-ui "
                f"{UI_LOCAL_PORT}:80  # then open http://localhost:{UI_LOCAL_PORT}"
            ))
        self.ui_url = None
        if args.ui_access == "internal-load-balancer":
            service = k8s.core.v1.Service(
                f"{name}-ui-internal",
                metadata={"name": "hubble-ui-internal", "namespace": CILIUM_NAMESPACE,
                          "labels": {"app.kubernetes.io/part-of": "cilium", "app.kubernetes.io/name": "hubble-ui"},
                          "annotations": dict(INTERNAL_LB_ANNOTATIONS)},
                spec={
                    "type": "LoadBalancer",
                    "selector": dict(UI_SELECTOR),
                    "ports": [{"name": "http", "port": 80, "target_port": UI_TARGET_PORT, "protocol": "TCP"}],
                    # Known only at deploy time for an adopted VPC: checked then.
                    "load_balancer_source_ranges": pulumi.Output.from_input(args.allowed_cidrs).apply(
                        lambda c: internal_source_ranges(c, "Hubble UI")),
                },
                opts=pulumi.ResourceOptions(
                    parent=self,
                    provider=args.k8s_provider,
                    # The release creates the hubble-ui pods this Service selects, and they
                    # need nodes; Pulumi waits for the Service's endpoints, so it must come
                    # after both. Nothing in the data says so.
                    depends_on=[args.cilium_release, *args.nodes],
                ),
            )
            self.ui_url = service.status.apply(
                lambda s: f"http://{s.load_balancer.ingress[0].hostname}" if s and s.load_balancer
                and s.load_balancer.ingress else "")
        self.register_outputs({"ui_command": self.ui_command, "ui_url": self.ui_url})
